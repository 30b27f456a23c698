//===- quant-bench.cpp - numerics checks and benchmarks of packages -------===//
//
//   quant-bench compare OUT REF [--logits A:B --max-rel-l2 X]... [--tokens A:B]...
//       Compares tensors of two safetensors files (e.g. quant-run
//       --logits-out against HF reference data): relative L2 error of float
//       tensors, exact equality of token ids. Exits 1 on any violation.
//   quant-bench ids FILE NAME
//       Prints an integer tensor as a comma-separated list (for --prompt-ids).
//
//===----------------------------------------------------------------------===//

#include "qc/Model/SafeTensors.h"
#include "qc/Quant/Half.h"

#include <cmath>
#include <cstring>
#include <iostream>
#include <string>

using namespace qc;

namespace {

StatusOr<std::vector<double>> readValues(const SafeTensorsFile &file,
                                         const std::string &name) {
  const TensorInfo *info = file.find(name);
  if (!info)
    return Status::error(file.path() + ": no tensor '" + name + "'");
  std::span<const uint8_t> bytes = file.data(*info);
  std::vector<double> out(info->numElements());
  for (size_t i = 0; i < out.size(); ++i) {
    const uint8_t *p = bytes.data() + i * dtypeSize(info->dtype);
    switch (info->dtype) {
    case DType::F32: { float v; std::memcpy(&v, p, 4); out[i] = v; break; }
    case DType::F16: { uint16_t v; std::memcpy(&v, p, 2); out[i] = quant::halfToFloat(v); break; }
    case DType::I64: { int64_t v; std::memcpy(&v, p, 8); out[i] = double(v); break; }
    case DType::I32: { int32_t v; std::memcpy(&v, p, 4); out[i] = v; break; }
    default:
      return Status::error(file.path() + ": tensor '" + name +
                           "' has an unsupported dtype");
    }
  }
  return out;
}

std::pair<std::string, std::string> splitPair(const std::string &s) {
  size_t colon = s.find(':');
  return {s.substr(0, colon), colon == std::string::npos ? s : s.substr(colon + 1)};
}

int compare(int argc, char **argv) {
  if (argc < 4) {
    std::cerr << "usage: quant-bench compare OUT REF [--logits A:B --max-rel-l2 X] [--tokens A:B]\n";
    return 2;
  }
  auto out = SafeTensorsFile::open(argv[2]);
  auto ref = SafeTensorsFile::open(argv[3]);
  if (!out || !ref) {
    std::cerr << "quant-bench: error: "
              << (!out ? out.status() : ref.status()).message() << "\n";
    return 1;
  }
  bool ok = true;
  for (int i = 4; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "quant-bench: error: " << flag << " needs a value\n";
      return 2;
    }
    auto [a, b] = splitPair(argv[++i]);
    auto x = readValues(**out, a);
    auto y = readValues(**ref, b);
    if (!x || !y) {
      std::cerr << "quant-bench: error: " << (!x ? x.status() : y.status()).message() << "\n";
      return 1;
    }
    if (flag == "--logits") {
      if (i + 2 >= argc || std::string(argv[i + 1]) != "--max-rel-l2") {
        std::cerr << "quant-bench: error: --logits needs --max-rel-l2 X\n";
        return 2;
      }
      double limit = std::stod(argv[i + 2]);
      i += 2;
      if (x->size() != y->size()) {
        std::cout << a << " vs " << b << ": " << x->size() << " vs "
                  << y->size() << " elements: FAIL\n";
        ok = false;
        continue;
      }
      double num = 0, den = 0;
      for (size_t k = 0; k < x->size(); ++k) {
        num += ((*x)[k] - (*y)[k]) * ((*x)[k] - (*y)[k]);
        den += (*y)[k] * (*y)[k];
      }
      double rel = std::sqrt(num / den);
      bool pass = rel <= limit;
      ok &= pass;
      std::cout << a << " vs " << b << ": relative L2 " << rel << " (limit "
                << limit << "): " << (pass ? "ok" : "FAIL") << "\n";
    } else if (flag == "--tokens") {
      size_t same = 0;
      while (same < x->size() && same < y->size() && (*x)[same] == (*y)[same])
        ++same;
      bool pass = x->size() == y->size() && same == x->size();
      ok &= pass;
      std::cout << a << " vs " << b << ": " << same << " of " << y->size()
                << " tokens equal: " << (pass ? "ok" : "FAIL") << "\n";
    } else {
      std::cerr << "quant-bench: error: unknown flag " << flag << "\n";
      return 2;
    }
  }
  return ok ? 0 : 1;
}

int ids(int argc, char **argv) {
  if (argc != 4) {
    std::cerr << "usage: quant-bench ids FILE NAME\n";
    return 2;
  }
  auto file = SafeTensorsFile::open(argv[2]);
  if (!file) {
    std::cerr << "quant-bench: error: " << file.status().message() << "\n";
    return 1;
  }
  auto values = readValues(**file, argv[3]);
  if (!values) {
    std::cerr << "quant-bench: error: " << values.status().message() << "\n";
    return 1;
  }
  for (size_t i = 0; i < values->size(); ++i)
    std::cout << (i ? "," : "") << int64_t((*values)[i]);
  std::cout << "\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "compare")
    return compare(argc, argv);
  if (command == "ids")
    return ids(argc, argv);
  std::cerr << "usage: quant-bench compare|ids ...\n";
  return 2;
}
