#include "common/status.h"

#include <cstdio>
#include <cstdlib>

namespace basalt {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    case StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case StatusCode::kNotFound:
      return "NOT_FOUND";
    case StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case StatusCode::kInternal:
      return "INTERNAL";
    case StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case StatusCode::kCancelled:
      return "CANCELLED";
    case StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
  }
  return "UNKNOWN";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = StatusCodeName(code_);
  if (!reason_.empty()) s += "(" + reason_ + ")";
  s += ": " + message_;
  return s;
}

namespace internal {

void DieOnBadStatusOrAccess(const Status& status) {
  std::fprintf(stderr, "basalt: StatusOr::value() on an error: %s\n", status.ToString().c_str());
  std::abort();
}

}  // namespace internal

}  // namespace basalt
