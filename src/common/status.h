// Status and StatusOr: the one error type of Basalt (leveldb-sized).
// Codes describe the problem, not the transport; api/errors.cc is the single place that
// turns a Status into an HTTP status and a Bedrock error type. `reason` refines a code
// where Bedrock distinguishes cases (e.g. "InvalidSignature" under kUnauthenticated).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace basalt {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kUnauthenticated,
  kPermissionDenied,
  kNotFound,
  kResourceExhausted,
  kUnavailable,
  kInternal,
  kDeadlineExceeded,
  kFailedPrecondition,
  kCancelled,
  kAlreadyExists,
};

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, std::string reason = {})
      : code_(code), message_(std::move(message)), reason_(std::move(reason)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status Unauthenticated(std::string m, std::string reason = {}) {
    return {StatusCode::kUnauthenticated, std::move(m), std::move(reason)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status ResourceExhausted(std::string m, std::string reason = {}) {
    return {StatusCode::kResourceExhausted, std::move(m), std::move(reason)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) {
    return {StatusCode::kDeadlineExceeded, std::move(m)};
  }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& reason() const { return reason_; }
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string reason_;
};

namespace internal {
// Logs "StatusOr::value() on an error: <status>" and aborts.
[[noreturn]] void DieOnBadStatusOrAccess(const Status& status);
}  // namespace internal

// Holds a value or a non-OK Status.
template <typename T>
class StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) {
    // An OK status carries no value: keep ok() false rather than promise one.
    if (status_.ok()) status_ = Status::Internal("StatusOr built from an OK status");
  }
  StatusOr(T value) : value_(std::move(value)) {}

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // Reading the value of an error is a bug: every accessor checks, in every build, and
  // aborts with the status rather than read an empty optional (undefined behaviour).
  T& value() & { return Checked(), *value_; }
  const T& value() const& { return Checked(), *value_; }
  T&& value() && { return Checked(), std::move(*value_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void Checked() const {
    if (!value_.has_value()) internal::DieOnBadStatusOrAccess(status_);
  }

  Status status_;
  std::optional<T> value_;
};

const char* StatusCodeName(StatusCode code);

}  // namespace basalt

#define BASALT_RETURN_IF_ERROR(expr) \
  do {                               \
    ::basalt::Status _st = (expr);   \
    if (!_st.ok()) return _st;       \
  } while (0)

#define BASALT_STATUS_CONCAT_INNER(a, b) a##b
#define BASALT_STATUS_CONCAT(a, b) BASALT_STATUS_CONCAT_INNER(a, b)
#define BASALT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(*tmp)
// `lhs = value of expr`, or returns its Status. `lhs` may declare a variable.
#define BASALT_ASSIGN_OR_RETURN(lhs, expr) \
  BASALT_ASSIGN_OR_RETURN_IMPL(BASALT_STATUS_CONCAT(_status_or_, __LINE__), lhs, expr)
