//===- DType.cpp - Element types of stored tensors ------------------------===//

#include "qc/Model/DType.h"

#include <array>
#include <cstring>

namespace qc {

namespace {
struct DTypeEntry {
  DType type;
  std::string_view name;
  uint64_t size;
};

// One table drives parsing, naming and sizes, so they cannot disagree.
constexpr std::array<DTypeEntry, 10> kEntries = {{
    {DType::F64, "F64", 8},
    {DType::F32, "F32", 4},
    {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8},
    {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},
    {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},
    {DType::Bool, "BOOL", 1},
}};

constexpr std::array<DType, kEntries.size()> kAll = [] {
  std::array<DType, kEntries.size()> all{};
  for (size_t i = 0; i < kEntries.size(); ++i)
    all[i] = kEntries[i].type;
  return all;
}();

constexpr bool entriesInEnumOrder() {
  for (size_t i = 0; i < kEntries.size(); ++i)
    if (static_cast<size_t>(kEntries[i].type) != i)
      return false;
  return true;
}
static_assert(entriesInEnumOrder(), "entry() indexes kEntries by DType");

const DTypeEntry &entry(DType type) {
  return kEntries[static_cast<size_t>(type)];
}
} // namespace

std::span<const DType> allDTypes() { return kAll; }

std::optional<DType> parseDType(std::string_view name) {
  for (const DTypeEntry &e : kEntries)
    if (e.name == name)
      return e.type;
  return std::nullopt;
}

std::string_view dtypeName(DType type) { return entry(type).name; }

uint64_t dtypeSize(DType type) { return entry(type).size; }

bool isFloatingPoint(DType type) {
  return type == DType::F64 || type == DType::F32 || type == DType::F16 ||
         type == DType::BF16;
}

std::optional<size_t> findNonFinite(DType type,
                                    std::span<const uint8_t> bytes) {
  // Non-finite values have an all-ones exponent.
  auto scan = [&](auto word, auto exponent) -> std::optional<size_t> {
    using Word = decltype(word);
    for (size_t i = 0; i < bytes.size() / sizeof(Word); ++i) {
      Word w;
      std::memcpy(&w, bytes.data() + i * sizeof(Word), sizeof(Word));
      if ((w & exponent) == exponent)
        return i;
    }
    return std::nullopt;
  };
  switch (type) {
  case DType::F64:
    return scan(uint64_t(), uint64_t(0x7ff0000000000000));
  case DType::F32:
    return scan(uint32_t(), uint32_t(0x7f800000));
  case DType::F16:
    return scan(uint16_t(), uint16_t(0x7c00));
  case DType::BF16:
    return scan(uint16_t(), uint16_t(0x7f80));
  default:
    return std::nullopt;
  }
}

} // namespace qc
