//===- WeightPacker.cpp - Storage bytes of compiled weights ---------------===//

#include "qc/Quant/WeightPacker.h"

#include "qc/Quant/AWQ.h"
#include "qc/Quant/AWQCheckpoint.h"
#include "qc/Quant/AWQLayouts.h"
#include "qc/Quant/BnBCheckpoint.h"
#include "qc/Quant/DynamicMap.h"
#include "qc/Quant/Half.h"
#include "qc/Quant/Int8.h"
#include "qc/Quant/TensorRef.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

namespace qc::quant {

namespace {

using Kind = QuantSchemeDesc::Kind;
using Int8Mode = QuantSchemeDesc::Int8Mode;
using Shape = std::vector<int64_t>;

/// Nested blocksize of bitsandbytes' double quantization (and of the
/// compiler's BnB4Attr::kNestedBlockSize).
constexpr int64_t kNestedBlocksize = 256;

template <typename T> std::vector<uint8_t> toBytes(std::span<const T> values) {
  std::vector<uint8_t> out(values.size_bytes());
  if (!out.empty())
    std::memcpy(out.data(), values.data(), out.size());
  return out;
}
template <typename T> std::vector<uint8_t> toBytes(const std::vector<T> &v) {
  return toBytes(std::span<const T>(v));
}

template <typename T> std::vector<T> fromBytes(std::span<const uint8_t> b) {
  std::vector<T> out(b.size() / sizeof(T));
  if (!out.empty())
    std::memcpy(out.data(), b.data(), out.size() * sizeof(T));
  return out;
}

uint64_t byteCount(const PackedTensor &t) {
  uint64_t n = dtypeSize(t.dtype);
  for (int64_t d : t.shape)
    n *= static_cast<uint64_t>(d);
  return n;
}

/// Resolves tensor names of a WeightIndex for the TensorLookup importers; the
/// TensorRefs live as long as this object.
class IndexLookup {
public:
  explicit IndexLookup(const WeightIndex &ckpt) : ckpt_(ckpt) {}

  const TensorRef *find(std::string_view name) {
    if (auto it = cache_.find(name); it != cache_.end())
      return &it->second;
    const TensorInfo *info = ckpt_.find(name);
    if (!info)
      return nullptr;
    TensorRef ref{info->dtype, info->shape, ckpt_.data(name)};
    return &cache_.emplace(std::string(name), std::move(ref)).first->second;
  }
  TensorLookup lookup() {
    return [this](std::string_view name) { return find(name); };
  }

private:
  const WeightIndex &ckpt_;
  std::map<std::string, TensorRef, std::less<>> cache_;
};

/// AutoAWQ's pseudo_quantize_tensor with zero_point=False, stored as codes
/// q + 8 with zero 8 so that the GEMM packing and dequantizeAwq apply
/// unchanged. Arithmetic as awqQuantizeGroup: fp16 after every operation for
/// F16 weights, fp32 otherwise, codes derived from the fp16 scale.
StatusOr<AwqCodes> awqQuantizeSymmetric(const WeightMatrix &w,
                                        int64_t groupSize) {
  QC_RETURN_IF_ERROR(validateWeights(w));
  QC_RETURN_IF_ERROR(
      std::move(checkAwqShape(w.rows, w.cols, groupSize)).withContext(w.name));
  const bool f16 = w.type == DType::F16;
  auto r = [f16](float v) { return f16 ? roundToHalf(v) : v; };
  const int64_t groups = w.cols / groupSize;
  AwqCodes out;
  out.outFeatures = w.rows;
  out.inFeatures = w.cols;
  out.groupSize = groupSize;
  out.q.resize(w.values.size());
  out.zeros.assign(w.rows * groups, 8);
  out.scales.resize(w.rows * groups);
  for (int64_t n = 0; n < w.rows; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t begin = n * w.cols + g * groupSize;
      auto values = w.values.subspan(begin, groupSize);
      float absmax = 0.0f;
      for (float v : values)
        absmax = std::max(absmax, std::fabs(v));
      uint16_t &scale = out.scales[n * groups + g];
      // max_val.clamp(min=1e-5) / max_int, max_int = 7.
      scale = floatToHalf(std::max(absmax, r(1e-5f)) / 7.0f);
      float s = halfToFloat(scale);
      if (!std::isfinite(s))
        return Status::error(w.name + ": the value range of row " +
                             std::to_string(n) + ", group " +
                             std::to_string(g) + " overflows an fp16 scale");
      for (int64_t i = 0; i < groupSize; ++i)
        out.q[begin + i] = static_cast<uint8_t>(
            std::clamp(std::nearbyint(r(values[i] / s)), -8.0f, 7.0f) + 8.0f);
    }
  return out;
}

/// Weight-only int8: quantizeInt8PerChannel's scale rounded to the stored
/// fp16, and the codes recomputed from it where the rounding changed it.
StatusOr<Int8RowWeight> quantizeInt8WeightOnly(const WeightMatrix &w) {
  QC_ASSIGN_OR_RETURN(Int8RowWeight q, quantizeInt8PerChannel(w));
  for (int64_t n = 0; n < q.outFeatures; ++n) {
    float s = roundToHalf(q.scale[n]);
    if (!std::isfinite(s))
      return Status::error(w.name + ": the scale of row " + std::to_string(n) +
                           " overflows fp16");
    if (s == q.scale[n])
      continue;
    q.scale[n] = s;
    for (int64_t kk = 0; kk < q.inFeatures; ++kk) {
      // An fp16 scale that underflowed to 0 leaves the row at code 0.
      float v = s == 0.0f ? 0.0f : w.values[n * w.cols + kk] / s;
      q.q[n * w.cols + kk] =
          static_cast<int8_t>(std::clamp(std::nearbyint(v), -127.0f, 127.0f));
    }
  }
  return q;
}

// The fill functions write the storage tensors of `out` (a packedLayout) from
// the library's structures; quantization and import share them.

Status fillAwq(std::vector<PackedTensor> &out, const AwqGemmWeight &w,
               const QuantSchemeDesc &s) {
  QC_ASSIGN_OR_RETURN(
      std::vector<int32_t> words,
      awqFromGemm(s.awqLayout, w.qweight, w.outFeatures, w.inFeatures));
  out.front().bytes = toBytes(words);
  if (out.size() == 3)
    out[1].bytes = toBytes(w.qzeros);
  out.back().bytes = toBytes(w.scales);
  return Status::ok();
}

void fillBnb4(std::vector<PackedTensor> &out, const Bnb4Weight &w) {
  out[0].bytes = w.packed;
  if (!w.nested) {
    out[1].bytes = toBytes(w.absmax);
    return;
  }
  out[1].bytes = w.qabsmax;
  out[2].bytes = toBytes(w.nestedAbsmax);
  out[3].bytes = toBytes(std::span<const float>(&w.offset, 1));
}

void fillInt8(std::vector<PackedTensor> &out, std::span<const int8_t> q,
              std::span<const float> scales) {
  out[0].bytes = toBytes(q);
  if (out[1].dtype == DType::F16)
    out[1].bytes = toBytes(floatToHalf(scales));
  else
    out[1].bytes = toBytes(scales);
}

/// Guards the ABI: every tensor holds exactly its shape's bytes.
StatusOr<std::vector<PackedTensor>> finish(std::vector<PackedTensor> out,
                                           std::string_view module) {
  for (const PackedTensor &t : out)
    if (t.bytes.size() != byteCount(t))
      return Status::error(std::string(module) + "." + t.suffix + ": " +
                           std::to_string(t.bytes.size()) + " bytes for " +
                           describeTensor(t.dtype, t.shape));
  return out;
}

std::string shapeOf(int64_t n, int64_t k) {
  return formatShape(std::vector<int64_t>{n, k});
}

} // namespace

std::string describeScheme(const QuantSchemeDesc &s) {
  switch (s.kind) {
  case Kind::AWQ:
    return "awq(group_size=" + std::to_string(s.groupSize) +
           (s.zeroPoint ? ", zero_point" : ", symmetric") +
           (s.awqLayout == AwqPackageLayout::Mma   ? ", mma)"
            : s.awqLayout == AwqPackageLayout::Cpu ? ", cpu)"
                                            : ")");
  case Kind::BnB4:
    return "bnb4(" + std::string(bnb4TypeName(s.bnbType)) +
           ", block_size=" + std::to_string(s.blockSize) +
           (s.doubleQuant ? ", double_quant)" : ")");
  case Kind::Int8:
    return s.int8Mode == Int8Mode::WeightOnly ? "int8(weight_only)"
           : s.int8Mode == Int8Mode::LLMInt8  ? "int8(llm_int8)"
                                              : "int8(w8a8)";
  }
  return "unknown scheme";
}

Status checkSchemeShape(const QuantSchemeDesc &s, int64_t n, int64_t k) {
  // 2^40 elements bounds every product below, as the bnb checks do.
  if (n <= 0 || k <= 0 || k > (int64_t(1) << 40) / n)
    return Status::error("linear layer " + shapeOf(n, k) +
                         " must be non-empty and below 2^40 elements");
  switch (s.kind) {
  case Kind::AWQ:
    return checkAwqShape(n, k, s.groupSize);
  case Kind::BnB4:
    if (s.blockSize <= 0 || k % s.blockSize != 0)
      return Status::error("bnb4 block_size " + std::to_string(s.blockSize) +
                           " does not divide K=" + std::to_string(k) +
                           " (blocks would span rows)");
    if ((n * k) % 2 != 0)
      return Status::error("bnb4 needs an even number of elements, got " +
                           shapeOf(n, k));
    return Status::ok();
  case Kind::Int8:
    return Status::ok();
  }
  return Status::error("unknown quantization scheme");
}

StatusOr<std::vector<PackedTensor>> packedLayout(const QuantSchemeDesc &s,
                                                 int64_t n, int64_t k) {
  QC_RETURN_IF_ERROR(checkSchemeShape(s, n, k));
  std::vector<PackedTensor> out;
  switch (s.kind) {
  case Kind::AWQ: {
    const int64_t groups = k / s.groupSize;
    if (s.awqLayout == AwqPackageLayout::Mma &&
        (n % kAwqMmaTileFeatures != 0 || k % kAwqMmaTileDepth != 0))
      return Status::error("AWQ mma layout needs N a multiple of 16 and K "
                           "of 64, got " +
                           shapeOf(n, k));
    if (s.awqLayout == AwqPackageLayout::Cpu && n % kAwqCpuTileFeatures != 0)
      return Status::error("AWQ cpu layout needs N a multiple of 64, got " +
                           shapeOf(n, k));
    out.push_back(
        {"qweight", DType::I32, awqQweightShape(s.awqLayout, n, k), {}});
    if (s.zeroPoint)
      out.push_back({"qzeros", DType::I32, {groups, n / kAwqPack}, {}});
    out.push_back({"scales", DType::F16, {groups, n}, {}});
    break;
  }
  case Kind::BnB4: {
    const int64_t blocks = n * k / s.blockSize;
    out.push_back({"codes", DType::I8, {n * k / 2}, {}});
    if (!s.doubleQuant) {
      out.push_back({"absmax", DType::F32, {blocks}, {}});
      break;
    }
    out.push_back({"absmax", DType::I8, {blocks}, {}});
    out.push_back({"nested_absmax",
                   DType::F32,
                   {(blocks + kNestedBlocksize - 1) / kNestedBlocksize},
                   {}});
    out.push_back({"nested_offset", DType::F32, {1}, {}});
    break;
  }
  case Kind::Int8:
    out.push_back({"qweight", DType::I8, {n, k}, {}});
    out.push_back({"scales",
                   s.int8Mode == Int8Mode::WeightOnly ? DType::F16 : DType::F32,
                   {n},
                   {}});
    break;
  }
  return out;
}

StatusOr<std::vector<uint8_t>>
convertFloatTensor(const TensorInfo &info, std::span<const uint8_t> bytes,
                   DType target) {
  auto supported = [](DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16;
  };
  if (!supported(info.dtype) || !supported(target))
    return Status::error(
        info.name + ": cannot convert " + std::string(dtypeName(info.dtype)) +
        " to " + std::string(dtypeName(target)) + " (only F32, F16 and BF16)");
  int64_t elements = info.numElements();
  if (elements < 0 ||
      bytes.size() != static_cast<uint64_t>(elements) * dtypeSize(info.dtype))
    return Status::error(info.name + ": " + std::to_string(bytes.size()) +
                         " bytes do not hold " +
                         describeTensor(info.dtype, info.shape));
  // One NaN or infinity would turn every logit into NaN.
  if (std::optional<size_t> bad = findNonFinite(info.dtype, bytes))
    return Status::error(info.name +
                         ": non-finite value (NaN or infinity) "
                         "at flat index " +
                         std::to_string(*bad));
  if (info.dtype == target)
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
  QC_ASSIGN_OR_RETURN(std::vector<float> values,
                      widenToFloat(info.dtype, bytes, info.name));
  if (target == DType::F32)
    return toBytes(values);
  std::vector<uint8_t> out = toBytes(
      target == DType::F16 ? floatToHalf(values) : floatToBFloat16(values));
  // Finite in, infinite out: the value does not fit the narrower type.
  if (std::optional<size_t> bad = findNonFinite(target, out))
    return Status::error(info.name + ": value " + std::to_string(values[*bad]) +
                         " at flat index " + std::to_string(*bad) +
                         " overflows " + std::string(dtypeName(target)));
  return out;
}

StatusOr<FloatWeight> loadLinearWeight(const WeightIndex &ckpt,
                                       std::string_view module, int64_t n,
                                       int64_t k) {
  FloatWeight w;
  w.name = std::string(module) + ".weight";
  const TensorInfo *info = ckpt.find(w.name);
  if (!info)
    return Status::error("missing tensor " + w.name + " (expected a float " +
                         shapeOf(n, k) + " weight)");
  if (info->dtype != DType::F32 && info->dtype != DType::F16 &&
      info->dtype != DType::BF16)
    return Status::error(w.name +
                         ": expected an F32, F16 or BF16 weight, got " +
                         describeTensor(info->dtype, info->shape));
  if (info->shape != Shape{n, k})
    return Status::error(w.name + ": expected shape " + shapeOf(n, k) +
                         ", got " + describeTensor(info->dtype, info->shape));
  QC_ASSIGN_OR_RETURN(w.values,
                      widenToFloat(info->dtype, ckpt.data(w.name), w.name));
  w.dtype = info->dtype;
  w.rows = n;
  w.cols = k;
  return w;
}

StatusOr<std::vector<PackedTensor>> quantizeWeight(const WeightMatrix &w,
                                                   const QuantSchemeDesc &s) {
  auto layout = packedLayout(s, w.rows, w.cols);
  if (!layout)
    return Status(layout.status()).withContext(w.name);
  std::vector<PackedTensor> out = std::move(layout).value();
  switch (s.kind) {
  case Kind::AWQ: {
    QC_ASSIGN_OR_RETURN(AwqCodes codes,
                        s.zeroPoint ? awqQuantizeRtn(w, s.groupSize)
                                    : awqQuantizeSymmetric(w, s.groupSize));
    QC_ASSIGN_OR_RETURN(AwqGemmWeight gemm, packAwqGemm(codes));
    QC_RETURN_IF_ERROR(fillAwq(out, gemm, s));
    break;
  }
  case Kind::BnB4: {
    QC_ASSIGN_OR_RETURN(Bnb4Weight q,
                        quantizeBnb4(w, s.bnbType, s.blockSize, s.doubleQuant));
    fillBnb4(out, q);
    break;
  }
  case Kind::Int8:
    if (s.int8Mode == Int8Mode::LLMInt8) {
      QC_ASSIGN_OR_RETURN(LlmInt8Weight q, quantizeLlmInt8(w));
      fillInt8(out, q.cb, q.scb);
    } else {
      QC_ASSIGN_OR_RETURN(Int8RowWeight q, s.int8Mode == Int8Mode::W8A8
                                               ? quantizeInt8PerChannel(w)
                                               : quantizeInt8WeightOnly(w));
      fillInt8(out, q.q, q.scale);
    }
    break;
  }
  return finish(std::move(out), w.name);
}

StatusOr<std::vector<PackedTensor>> quantizeLinear(const WeightIndex &ckpt,
                                                   std::string_view module,
                                                   const QuantSchemeDesc &s,
                                                   int64_t n, int64_t k) {
  QC_ASSIGN_OR_RETURN(FloatWeight w, loadLinearWeight(ckpt, module, n, k));
  return quantizeWeight(w.matrix(), s);
}

namespace {

/// Reads storage tensors that a checkpoint holds as they are.
Status copyStored(const TensorLookup &lookup, const std::string &m,
                  std::vector<PackedTensor> &out) {
  for (PackedTensor &t : out) {
    QC_ASSIGN_OR_RETURN(
        const TensorRef *ref,
        requireTensor(lookup, m + "." + t.suffix, t.dtype, {t.shape}));
    t.bytes.assign(ref->bytes.begin(), ref->bytes.end());
  }
  return Status::ok();
}

StatusOr<std::vector<PackedTensor>>
importAwq(const TensorLookup &lookup, const std::string &m,
          const QuantSchemeDesc &s, int64_t n, int64_t k,
          std::string_view version, std::vector<PackedTensor> out) {
  AwqLayout layout;
  if (version == "gemm")
    layout = AwqLayout::Gemm;
  else if (version == "gemv")
    layout = AwqLayout::Gemv;
  else if (version == "llm-awq")
    layout = AwqLayout::LlmAwq;
  else
    return Status::error(m + ": unknown AWQ version \"" + std::string(version) +
                         "\" (expected gemm, gemv or llm-awq)");
  if (!s.zeroPoint) {
    // Only AutoAWQ GEMM has a symmetric form (transformers' loader always
    // allocates qzeros, so such checkpoints may hold them, all 8).
    if (layout != AwqLayout::Gemm)
      return Status::error(m +
                           ": AWQ without zero point is only supported "
                           "in the gemm layout, not " +
                           std::string(version));
    // The checkpoint stores GEMM; the other layouts are converted from it.
    PackedTensor &qweight = out.front();
    const std::vector<int64_t> storedShape = qweight.shape;
    qweight.shape = {k, n / kAwqPack};
    QC_RETURN_IF_ERROR(copyStored(lookup, m, out));
    qweight.shape = storedShape;
    if (s.awqLayout != AwqPackageLayout::Gemm) {
      QC_ASSIGN_OR_RETURN(
          std::vector<int32_t> words,
          awqFromGemm(s.awqLayout, fromBytes<int32_t>(qweight.bytes), n, k));
      qweight.bytes = toBytes(words);
    }
    if (lookup(m + ".qzeros")) {
      QC_ASSIGN_OR_RETURN(const TensorRef *zeros,
                          requireTensor(lookup, m + ".qzeros", DType::I32,
                                        {{k / s.groupSize, n / kAwqPack}}));
      for (int32_t word : fromBytes<int32_t>(zeros->bytes))
        if (word != kAwqSymmetricZeros)
          return Status::error(m + ".qzeros: zero_point is false but the "
                                   "stored zeros are not all 8");
    }
    return out;
  }
  QC_ASSIGN_OR_RETURN(AwqGemmWeight w,
                      importAwqWeight(lookup, m, layout, s.groupSize));
  if (w.outFeatures != n || w.inFeatures != k)
    return Status::error(m + ".qweight: holds a " +
                         shapeOf(w.outFeatures, w.inFeatures) +
                         " layer, expected " + shapeOf(n, k));
  QC_RETURN_IF_ERROR(fillAwq(out, w, s));
  return out;
}

StatusOr<std::vector<PackedTensor>> importBnb4(const TensorLookup &lookup,
                                               const std::string &m,
                                               const QuantSchemeDesc &s,
                                               int64_t n, int64_t k,
                                               std::vector<PackedTensor> out) {
  const std::string w = m + ".weight";
  QC_ASSIGN_OR_RETURN(Bnb4Weight q, importBnb4Weight(lookup, m));
  if (q.shape != Shape{n, k})
    return Status::error(w + ": quant_state shape " + formatShape(q.shape) +
                         ", expected " + shapeOf(n, k));
  if (q.type != s.bnbType || q.blocksize != s.blockSize ||
      q.nested != s.doubleQuant)
    return Status::error(w + ": stored as bnb4(" +
                         std::string(bnb4TypeName(q.type)) +
                         ", block_size=" + std::to_string(q.blocksize) +
                         (q.nested ? ", double_quant)" : ")") + ", expected " +
                         describeScheme(s));
  if (q.nested) {
    if (q.nestedBlocksize != kNestedBlocksize)
      return Status::error(w + ": nested_blocksize " +
                           std::to_string(q.nestedBlocksize) +
                           " is not supported, only 256");
    // The compiled code dequantizes with dynamicMapSigned(); a map from
    // another PyTorch version differs by an ulp at most.
    auto map = dynamicMapSigned();
    for (size_t i = 0; i < map.size(); ++i)
      if (!(std::fabs(q.nestedCode[i] - map[i]) <= 1e-6f))
        return Status::error(w + ".nested_quant_map: entry " +
                             std::to_string(i) +
                             " differs from bitsandbytes' dynamic map");
  }
  fillBnb4(out, q);
  return out;
}

StatusOr<std::vector<PackedTensor>> importInt8(const TensorLookup &lookup,
                                               const std::string &m,
                                               const QuantSchemeDesc &s,
                                               int64_t n, int64_t k,
                                               std::vector<PackedTensor> out) {
  if (s.int8Mode != Int8Mode::LLMInt8) {
    // qc's own format: the storage tensors themselves.
    QC_RETURN_IF_ERROR(copyStored(lookup, m, out));
    return out;
  }
  QC_ASSIGN_OR_RETURN(LlmInt8Weight q, importBnb8Weight(lookup, m));
  if (q.outFeatures != n || q.inFeatures != k)
    return Status::error(m + ".weight: holds a " +
                         shapeOf(q.outFeatures, q.inFeatures) +
                         " layer, expected " + shapeOf(n, k));
  fillInt8(out, q.cb, q.scb);
  return out;
}

} // namespace

StatusOr<std::vector<PackedTensor>>
importQuantizedLinear(const WeightIndex &ckpt, std::string_view module,
                      const QuantSchemeDesc &s, int64_t n, int64_t k,
                      std::string_view awqVersion) {
  const std::string m(module);
  auto layout = packedLayout(s, n, k);
  if (!layout)
    return Status(layout.status()).withContext(m);
  IndexLookup index(ckpt);
  TensorLookup lookup = index.lookup();
  StatusOr<std::vector<PackedTensor>> out =
      s.kind == Kind::AWQ
          ? importAwq(lookup, m, s, n, k, awqVersion, std::move(*layout))
      : s.kind == Kind::BnB4
          ? importBnb4(lookup, m, s, n, k, std::move(*layout))
          : importInt8(lookup, m, s, n, k, std::move(*layout));
  if (!out)
    return out.status();
  return finish(std::move(out).value(), module);
}

StatusOr<std::vector<float>>
dequantizePacked(std::span<const PackedTensor> packed, const QuantSchemeDesc &s,
                 int64_t n, int64_t k, DType weightType) {
  QC_ASSIGN_OR_RETURN(std::vector<PackedTensor> layout, packedLayout(s, n, k));
  if (packed.size() != layout.size())
    return Status::error(describeScheme(s) + ": expected " +
                         std::to_string(layout.size()) + " tensors, got " +
                         std::to_string(packed.size()));
  for (size_t i = 0; i < layout.size(); ++i) {
    const PackedTensor &t = packed[i];
    if (t.suffix != layout[i].suffix || t.dtype != layout[i].dtype ||
        t.shape != layout[i].shape || t.bytes.size() != byteCount(layout[i]))
      return Status::error(describeScheme(s) + ": tensor " + std::to_string(i) +
                           " should be " + layout[i].suffix + " " +
                           describeTensor(layout[i].dtype, layout[i].shape) +
                           ", got " + t.suffix + " " +
                           describeTensor(t.dtype, t.shape) + " with " +
                           std::to_string(t.bytes.size()) + " bytes");
  }
  switch (s.kind) {
  case Kind::AWQ: {
    AwqGemmWeight w{n,           k,
                    s.groupSize, fromBytes<int32_t>(packed[0].bytes),
                    {},          fromBytes<uint16_t>(packed.back().bytes)};
    QC_ASSIGN_OR_RETURN(w.qweight, awqToGemm(s.awqLayout, w.qweight, n, k));
    if (s.zeroPoint)
      w.qzeros = fromBytes<int32_t>(packed[1].bytes);
    else
      w.qzeros.assign((k / s.groupSize) * (n / kAwqPack), kAwqSymmetricZeros);
    QC_ASSIGN_OR_RETURN(AwqCodes codes, unpackAwqGemm(w));
    return dequantizeAwq(codes);
  }
  case Kind::BnB4: {
    Bnb4Weight w;
    w.type = s.bnbType;
    w.blocksize = s.blockSize;
    w.shape = {n, k};
    w.dtype = weightType;
    w.packed = packed[0].bytes;
    if (!s.doubleQuant) {
      w.absmax = fromBytes<float>(packed[1].bytes);
    } else {
      w.nested = true;
      w.qabsmax = packed[1].bytes;
      w.nestedAbsmax = fromBytes<float>(packed[2].bytes);
      w.offset = fromBytes<float>(packed[3].bytes)[0];
      w.nestedBlocksize = kNestedBlocksize;
      auto map = dynamicMapSigned();
      w.nestedCode.assign(map.begin(), map.end());
    }
    return dequantizeBnb4(w);
  }
  case Kind::Int8: {
    std::vector<int8_t> q = fromBytes<int8_t>(packed[0].bytes);
    if (s.int8Mode == Int8Mode::LLMInt8)
      return dequantizeLlmInt8(
          {n, k, std::move(q), fromBytes<float>(packed[1].bytes)});
    std::vector<float> scale =
        s.int8Mode == Int8Mode::W8A8
            ? fromBytes<float>(packed[1].bytes)
            : halfToFloat(fromBytes<uint16_t>(packed[1].bytes));
    return dequantizeInt8PerChannel({n, k, std::move(q), std::move(scale)});
  }
  }
  return Status::error("unknown quantization scheme");
}

bool isDecoderLinear(std::string_view module) {
  static constexpr std::string_view kLinears[] = {
      ".self_attn.q_proj", ".self_attn.k_proj", ".self_attn.v_proj",
      ".self_attn.o_proj", ".mlp.gate_proj",    ".mlp.up_proj",
      ".mlp.down_proj"};
  return module.starts_with("model.layers.") &&
         std::any_of(std::begin(kLinears), std::end(kLinears),
                     [&](std::string_view s) { return module.ends_with(s); });
}

} // namespace qc::quant
