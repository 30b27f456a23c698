//===- SafeTensorsFuzzer.cpp - libFuzzer: the safetensors reader ----------===//
//
// Any bytes: either a validated file whose every tensor's bytes can be read,
// or an error; never a crash, hang or out-of-bounds read.
//
//===----------------------------------------------------------------------===//

#include "qc/Model/DType.h"
#include "qc/Model/SafeTensors.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto file = qc::SafeTensorsFile::fromBuffer(
      std::vector<uint8_t>(data, data + size), "fuzz.safetensors");
  if (!file)
    return 0;
  uint64_t sum = 0;
  for (const qc::TensorInfo &t : (*file)->tensors()) {
    std::span<const uint8_t> bytes = (*file)->data(t);
    if (!bytes.empty())
      sum += bytes.front() + bytes.back();
    (void)qc::findNonFinite(t.dtype, bytes);
  }
  return sum == 1 ? 0 : 0;
}
