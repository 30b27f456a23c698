//===- BPE.h - Byte-level BPE model -----------------------------*- C++ -*-===//
//
// Private to the tokenizer. The "model" of a tokenizer.json with type "BPE":
// a vocabulary from byte-level spellings to ids and a ranked list of merges.
// A piece is encoded like Hugging Face does: start from one symbol per byte,
// then repeatedly merge the adjacent pair with the lowest merge rank (the
// leftmost one on ties) until no pair has a merge.
//
//===----------------------------------------------------------------------===//

#ifndef QC_RUNTIME_TOKENIZER_BPE_H
#define QC_RUNTIME_TOKENIZER_BPE_H

#include "Json.h"

#include "qc/Support/Status.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qc::runtime::detail {

/// Hash for maps keyed by std::string that are looked up by string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return std::hash<std::string_view>()(s);
  }
};
template <typename T>
using StringMap =
    std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

class BPEModel {
public:
  /// `config` is the "model" value of tokenizer.json.
  static StatusOr<BPEModel> fromJson(const Json &config);

  BPEModel(BPEModel &&) noexcept;
  BPEModel &operator=(BPEModel &&) noexcept;
  ~BPEModel();

  /// Appends the ids of one pre-tokenized piece (raw bytes). Thread-safe.
  void encodePiece(std::string_view bytes, std::vector<int32_t> &ids) const;

  /// The vocabulary: byte-level spelling -> id.
  const StringMap<int32_t> &vocab() const { return vocab_; }

private:
  BPEModel();
  std::vector<int32_t> mergePiece(std::string_view bytes) const;

  struct Merge {
    int32_t rank;
    int32_t result;
  };
  static uint64_t pairKey(int32_t a, int32_t b) {
    return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
  }

  StringMap<int32_t> vocab_;
  std::unordered_map<uint64_t, Merge> merges_;
  /// The id of each single byte, or -1 when the vocabulary lacks it.
  std::array<int32_t, 256> byteIds_;
  std::optional<int32_t> unknownId_;
  bool ignoreMerges_ = false;

  /// Pieces repeat (" the", " of"), so their ids are cached.
  struct Cache;
  std::unique_ptr<Cache> cache_;
};

} // namespace qc::runtime::detail

#endif // QC_RUNTIME_TOKENIZER_BPE_H
