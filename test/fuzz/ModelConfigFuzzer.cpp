//===- ModelConfigFuzzer.cpp - libFuzzer: config.json ---------------------===//
//
// Any text: a validated ModelConfig whose parameter list can be built, or an
// error naming the field.
//
//===----------------------------------------------------------------------===//

#include "qc/Model/LlamaWeights.h"
#include "qc/Model/ModelConfig.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  auto config = qc::parseModelConfig(text, "config.json");
  if (config)
    (void)qc::expectedWeights(*config);
  return 0;
}
