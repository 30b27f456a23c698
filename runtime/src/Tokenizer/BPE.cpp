//===- BPE.cpp - Byte-level BPE model -------------------------------------===//

#include "BPE.h"
#include "ByteLevel.h"

#include <limits>
#include <mutex>
#include <queue>

namespace qc::runtime::detail {

namespace {
// The cache holds short pieces only (words, not long runs of spaces) and is
// cleared when full: cheap, and a hostile text cannot grow it without bound.
constexpr size_t kMaxCachedPieceBytes = 64;
constexpr size_t kCacheCapacity = 1 << 15;

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }
} // namespace

struct BPEModel::Cache {
  std::mutex mutex;
  StringMap<std::vector<int32_t>> entries;
};

BPEModel::BPEModel() : cache_(std::make_unique<Cache>()) { byteIds_.fill(-1); }
BPEModel::BPEModel(BPEModel &&) noexcept = default;
BPEModel &BPEModel::operator=(BPEModel &&) noexcept = default;
BPEModel::~BPEModel() = default;

StatusOr<BPEModel> BPEModel::fromJson(const Json &config) {
  constexpr std::string_view where = "BPE model";
  BPEModel model;
  const Json *vocab = findMember(config, "vocab");
  if (!vocab || !vocab->is_object())
    return Status::error("BPE model: 'vocab' must be an object");
  model.vocab_.reserve(vocab->size());
  for (const auto &[token, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() > std::numeric_limits<int32_t>::max())
      return Status::error("BPE model: the id of token " + quote(token) +
                           " must be a non-negative 32-bit integer");
    model.vocab_.emplace(token, static_cast<int32_t>(id.get<int64_t>()));
  }
  for (int b = 0; b < 256; ++b) {
    auto it = model.vocab_.find(byteLevelEncode(std::string(1, char(b))));
    if (it != model.vocab_.end())
      model.byteIds_[b] = it->second;
  }

  // Options that change the algorithm are refused rather than ignored.
  QC_ASSIGN_OR_RETURN(bool byteFallback,
                      boolMember(config, "byte_fallback", false, where));
  if (byteFallback)
    return Status::error("BPE model: byte_fallback (SentencePiece-style BPE) "
                         "is not supported, only byte-level BPE");
  for (const char *affix :
       {"continuing_subword_prefix", "end_of_word_suffix"}) {
    QC_ASSIGN_OR_RETURN(auto value, stringMember(config, affix, where));
    if (value && !value->empty())
      return Status::error("BPE model: '" + std::string(affix) +
                           "' is not supported");
  }
  if (const Json *dropout = findMember(config, "dropout"))
    if (!dropout->is_number() || dropout->get<double>() != 0.0)
      return Status::error("BPE model: dropout is not supported (encoding must "
                           "be deterministic)");
  QC_ASSIGN_OR_RETURN(model.ignoreMerges_,
                      boolMember(config, "ignore_merges", false, where));
  QC_ASSIGN_OR_RETURN(auto unknown, stringMember(config, "unk_token", where));
  if (unknown) {
    auto it = model.vocab_.find(*unknown);
    if (it == model.vocab_.end())
      return Status::error("BPE model: unk_token " + quote(*unknown) +
                           " is not in the vocabulary");
    model.unknownId_ = it->second;
  }

  const Json *merges = findMember(config, "merges");
  if (!merges || !merges->is_array())
    return Status::error("BPE model: 'merges' must be an array");
  if (merges->size() > size_t(std::numeric_limits<int32_t>::max()))
    return Status::error("BPE model: too many merges");
  model.merges_.reserve(merges->size());
  int32_t rank = 0;
  for (const Json &merge : *merges) {
    std::string left, right;
    std::string where = "BPE model: merge " + std::to_string(rank);
    if (merge.is_string()) {
      // The legacy "a b" spelling; byte-level tokens never contain a space.
      const auto &line = merge.get_ref<const std::string &>();
      size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != line.npos)
        return Status::error(where + " " + quote(line) +
                             " is not two tokens separated by one space");
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      return Status::error(
          where + " must be a string \"a b\" or a pair [\"a\", \"b\"]");
    }
    int32_t ids[3];
    const std::string *names[3] = {&left, &right, nullptr};
    std::string merged = left + right;
    names[2] = &merged;
    for (int k = 0; k < 3; ++k) {
      auto it = model.vocab_.find(*names[k]);
      if (it == model.vocab_.end())
        return Status::error(where + " (" + quote(left) + ", " + quote(right) +
                             "): token " + quote(*names[k]) +
                             " is not in the vocabulary");
      ids[k] = it->second;
    }
    // Like Hugging Face, a repeated pair takes the rank of its last listing.
    model.merges_.insert_or_assign(pairKey(ids[0], ids[1]),
                                   Merge{rank, ids[2]});
    ++rank;
  }
  return model;
}

std::vector<int32_t> BPEModel::mergePiece(std::string_view bytes) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next; // -1 at the ends
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(bytes.size());
  for (char c : bytes) {
    int32_t id = byteIds_[static_cast<uint8_t>(c)];
    // Hugging Face maps a byte missing from the vocabulary to unk_token, or
    // drops it when there is none.
    if (id < 0 && !unknownId_)
      continue;
    int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({id < 0 ? *unknownId_ : id, index - 1, index + 1, true});
  }
  if (symbols.empty())
    return {};
  symbols.back().next = -1;

  // Candidate merges ordered by (rank, position); entries made stale by an
  // earlier merge are skipped when popped.
  struct Candidate {
    int32_t rank, pos, left, right, result;
    bool operator>(const Candidate &o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto push = [&](int32_t pos) {
    if (pos < 0 || symbols[pos].next < 0)
      return;
    const Symbol &l = symbols[pos], &r = symbols[l.next];
    auto it = merges_.find(pairKey(l.id, r.id));
    if (it != merges_.end())
      queue.push({it->second.rank, pos, l.id, r.id, it->second.result});
  };
  for (int32_t i = 0; i + 1 < int32_t(symbols.size()); ++i)
    push(i);

  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Symbol &l = symbols[c.pos];
    if (!l.alive || l.next < 0 || l.id != c.left ||
        symbols[l.next].id != c.right)
      continue;
    Symbol &r = symbols[l.next];
    l.id = c.result;
    r.alive = false;
    l.next = r.next;
    if (r.next >= 0)
      symbols[r.next].prev = c.pos;
    push(l.prev);
    push(c.pos);
  }

  std::vector<int32_t> ids;
  for (const Symbol &s : symbols)
    if (s.alive)
      ids.push_back(s.id);
  return ids;
}

void BPEModel::encodePiece(std::string_view bytes,
                           std::vector<int32_t> &ids) const {
  if (ignoreMerges_) {
    auto it = vocab_.find(byteLevelEncode(bytes));
    if (it != vocab_.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  bool cacheable = bytes.size() <= kMaxCachedPieceBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto it = cache_->entries.find(bytes);
    if (it != cache_->entries.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> merged = mergePiece(bytes);
  ids.insert(ids.end(), merged.begin(), merged.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (cache_->entries.size() >= kCacheCapacity)
      cache_->entries.clear();
    cache_->entries.emplace(std::string(bytes), std::move(merged));
  }
}

} // namespace qc::runtime::detail
