//===- Status.h - MLIR-free error values ------------------------*- C++ -*-===//
//
// The readers, the quantization library and the runtime link no LLVM, so they
// report errors with these small value types instead of llvm::Error. A failed
// Status carries a message that names the place (file, tensor, field).
//
//===----------------------------------------------------------------------===//

#ifndef QC_SUPPORT_STATUS_H
#define QC_SUPPORT_STATUS_H

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace qc {

/// Success, or a failure with a human-readable message.
class [[nodiscard]] Status {
public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.message_ = std::move(message);
    return s;
  }

  bool isOk() const { return !message_.has_value(); }
  explicit operator bool() const { return isOk(); }
  const std::string &message() const {
    assert(!isOk() && "no message on a successful Status");
    return *message_;
  }

  /// Prefixes the message with context, e.g. the file being read.
  Status withContext(const std::string &context) && {
    if (message_)
      message_ = context + ": " + *message_;
    return std::move(*this);
  }

private:
  std::optional<std::string> message_;
};

/// A value of type T, or the Status explaining why there is none.
template <typename T> class [[nodiscard]] StatusOr {
public:
  StatusOr(T value) : storage_(std::move(value)) {}
  StatusOr(Status status) : storage_(std::move(status)) {
    assert(!std::get<Status>(storage_).isOk() &&
           "StatusOr needs a value or a failed Status");
  }

  bool isOk() const { return std::holds_alternative<T>(storage_); }
  explicit operator bool() const { return isOk(); }

  const Status &status() const {
    static const Status okStatus;
    return isOk() ? okStatus : std::get<Status>(storage_);
  }
  T &value() & { return std::get<T>(storage_); }
  const T &value() const & { return std::get<T>(storage_); }
  T &&value() && { return std::get<T>(std::move(storage_)); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }
  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }

private:
  std::variant<T, Status> storage_;
};

} // namespace qc

/// Returns early from a function returning Status or StatusOr on failure.
#define QC_RETURN_IF_ERROR(expr)                                               \
  do {                                                                         \
    ::qc::Status qcStatus_ = (expr);                                           \
    if (!qcStatus_.isOk())                                                     \
      return qcStatus_;                                                        \
  } while (false)

#define QC_CONCAT_INNER(a, b) a##b
#define QC_CONCAT(a, b) QC_CONCAT_INNER(a, b)

/// `QC_ASSIGN_OR_RETURN(auto x, makeX());` binds the value or returns the
/// failure.
#define QC_ASSIGN_OR_RETURN(lhs, expr)                                         \
  QC_ASSIGN_OR_RETURN_IMPL(QC_CONCAT(qcStatusOr_, __LINE__), lhs, expr)
#define QC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)                               \
  auto tmp = (expr);                                                           \
  if (!tmp.isOk())                                                             \
    return tmp.status();                                                       \
  lhs = std::move(tmp).value()

#endif // QC_SUPPORT_STATUS_H
