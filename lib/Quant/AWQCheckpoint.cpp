//===- AWQCheckpoint.cpp - AWQ checkpoint tensors -------------------------===//

#include "qc/Quant/AWQCheckpoint.h"

#include "qc/Quant/AWQLayouts.h"

#include <cstdint>
#include <cstring>
#include <string>

namespace qc::quant {

namespace {

template <typename T> std::vector<T> readAs(const TensorRef &t) {
  std::vector<T> out(t.bytes.size() / sizeof(T));
  std::memcpy(out.data(), t.bytes.data(), out.size() * sizeof(T));
  return out;
}

/// The 2-D shape of `key` whatever its contents, for deriving N and K.
StatusOr<std::vector<int64_t>> shapeOf(const TensorLookup &lookup,
                                       const std::string &key, DType dtype,
                                       const char *expected) {
  const TensorRef *t = lookup(key);
  if (!t)
    return Status::error("missing tensor " + key + " (expected " +
                         std::string(dtypeName(dtype)) + " " + expected + ")");
  if (t->dtype != dtype || t->shape.size() != 2 || t->shape[0] <= 0 ||
      t->shape[1] <= 0 || t->shape[0] > INT32_MAX || t->shape[1] > INT32_MAX)
    return Status::error(key + ": expected " + std::string(dtypeName(dtype)) +
                         " " + expected + ", got " +
                         describeTensor(t->dtype, t->shape));
  return t->shape;
}

} // namespace

StatusOr<AwqGemmWeight> importAwqWeight(const TensorLookup &lookup,
                                        std::string_view prefix,
                                        AwqLayout layout, int64_t groupSize) {
  const std::string p(prefix);
  const int64_t g = groupSize;
  if (layout == AwqLayout::Gemm) {
    QC_ASSIGN_OR_RETURN(
        auto qShape, shapeOf(lookup, p + ".qweight", DType::I32, "[K, N/8]"));
    const int64_t k = qShape[0], n = qShape[1] * kAwqPack;
    QC_RETURN_IF_ERROR(
        std::move(checkAwqShape(n, k, g)).withContext(p + ".qweight"));
    AwqGemmWeight w{n, k, g, {}, {}, {}};
    QC_ASSIGN_OR_RETURN(
        const TensorRef *qweight,
        requireTensor(lookup, p + ".qweight", DType::I32, {{k, n / kAwqPack}}));
    QC_ASSIGN_OR_RETURN(const TensorRef *qzeros,
                        requireTensor(lookup, p + ".qzeros", DType::I32,
                                      {{k / g, n / kAwqPack}}));
    QC_ASSIGN_OR_RETURN(
        const TensorRef *scales,
        requireTensor(lookup, p + ".scales", DType::F16, {{k / g, n}}));
    w.qweight = readAs<int32_t>(*qweight);
    w.qzeros = readAs<int32_t>(*qzeros);
    w.scales = readAs<uint16_t>(*scales);
    return w;
  }
  if (layout == AwqLayout::Gemv) {
    QC_ASSIGN_OR_RETURN(
        auto qShape, shapeOf(lookup, p + ".qweight", DType::I32, "[N, K/8]"));
    const int64_t n = qShape[0], k = qShape[1] * kAwqPack;
    QC_RETURN_IF_ERROR(
        std::move(checkAwqShape(n, k, g)).withContext(p + ".qweight"));
    QC_ASSIGN_OR_RETURN(int64_t zw, awqZerosWidth(k, g));
    AwqGemvWeight w{n, k, g, {}, {}, {}};
    QC_ASSIGN_OR_RETURN(
        const TensorRef *qweight,
        requireTensor(lookup, p + ".qweight", DType::I32, {{n, k / kAwqPack}}));
    QC_ASSIGN_OR_RETURN(
        const TensorRef *qzeros,
        requireTensor(lookup, p + ".qzeros", DType::I32, {{n, zw}}));
    QC_ASSIGN_OR_RETURN(
        const TensorRef *scales,
        requireTensor(lookup, p + ".scales", DType::F16, {{n, zw * kAwqPack}}));
    w.qweight = readAs<int32_t>(*qweight);
    w.qzeros = readAs<int32_t>(*qzeros);
    w.scales = readAs<uint16_t>(*scales);
    return awqGemvToGemm(w);
  }
  QC_ASSIGN_OR_RETURN(auto qShape,
                      shapeOf(lookup, p + ".qweight", DType::I16, "[N/4, K]"));
  const int64_t n = qShape[0] * 4, k = qShape[1];
  QC_RETURN_IF_ERROR(
      std::move(checkAwqShape(n, k, g)).withContext(p + ".qweight"));
  QC_ASSIGN_OR_RETURN(int64_t zw, awqZerosWidth(k, g));
  LlmAwqWeight w{n, k, g, {}, {}, {}};
  QC_ASSIGN_OR_RETURN(
      const TensorRef *qweight,
      requireTensor(lookup, p + ".qweight", DType::I16, {{n / 4, k}}));
  QC_ASSIGN_OR_RETURN(
      const TensorRef *scales,
      requireTensor(lookup, p + ".scales", DType::F16, {{zw * kAwqPack, n}}));
  QC_ASSIGN_OR_RETURN(const TensorRef *scaledZeros,
                      requireTensor(lookup, p + ".scaled_zeros", DType::F16,
                                    {{zw * kAwqPack, n}}));
  w.qweight = readAs<int16_t>(*qweight);
  w.scales = readAs<uint16_t>(*scales);
  w.scaledZeros = readAs<uint16_t>(*scaledZeros);
  return llmAwqToGemm(w);
}

} // namespace qc::quant
