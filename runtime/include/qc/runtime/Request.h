//===- Request.h - A generation request -------------------------*- C++ -*-===//

#ifndef QC_RUNTIME_REQUEST_H
#define QC_RUNTIME_REQUEST_H

#include "qc/runtime/KVCache.h"
#include "qc/runtime/Sampling.h"

#include <cstdint>
#include <vector>

namespace qc::runtime {

/// Requests are KV-cache sequences of their own, named by the same id.
using RequestId = SeqId;

struct Request {
  RequestId id = 0;
  std::vector<int32_t> prompt;
  /// Generation stops after this many new tokens.
  int32_t maxNewTokens = 0;
  /// Generation stops after any of these (which is kept in the output).
  std::vector<int32_t> stopTokens;
  SamplingParams sampling;
};

enum class FinishReason {
  Stop,        ///< generated a stop token
  Length,      ///< generated maxNewTokens tokens
  ContextFull, ///< reached the KV cache's maximum sequence length
  Aborted,     ///< removed by abortRequest
};

inline const char *finishReasonName(FinishReason reason) {
  switch (reason) {
  case FinishReason::Stop:
    return "stop";
  case FinishReason::Length:
    return "length";
  case FinishReason::ContextFull:
    return "context_full";
  case FinishReason::Aborted:
    return "aborted";
  }
  return "unknown";
}

} // namespace qc::runtime

#endif // QC_RUNTIME_REQUEST_H
