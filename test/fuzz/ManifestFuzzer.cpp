//===- ManifestFuzzer.cpp - libFuzzer: a package's manifest.json ----------===//
//
// Any text: a manifest whose kernel signature can be formed, or an error.
// (The kernel library and weights checks that follow are file based; the
// lit tests tamper with those.)
//
//===----------------------------------------------------------------------===//

#include "qc/runtime/Package.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  auto manifest = qc::runtime::parseManifest(text, "manifest.json");
  if (!manifest)
    return 0;
  (void)qc::runtime::signatureOf(*manifest).text();
  return 0;
}
