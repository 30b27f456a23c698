//===- DType.cpp - Element types of stored tensors ------------------------===//

#include "qc/Model/DType.h"

#include <array>

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

} // namespace qc
