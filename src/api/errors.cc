#include "api/errors.h"

#include <nlohmann/json.hpp>

#include "api/event_stream.h"

namespace basalt::api {

ErrorReply MapStatus(const Status& status) {
  const std::string& reason = status.reason();
  switch (status.code()) {
    case StatusCode::kOk:
      return {200, "", ""};
    case StatusCode::kInvalidArgument:
      return {400, "ValidationException", status.message()};
    case StatusCode::kUnauthenticated:
      if (reason == "InvalidSignature") return {403, "InvalidSignatureException", status.message()};
      if (reason == "IncompleteSignature") {
        return {400, "IncompleteSignatureException", status.message()};
      }
      if (reason == "MissingAuthenticationToken") {
        return {403, "MissingAuthenticationTokenException", status.message()};
      }
      if (reason == "ExpiredToken") return {403, "ExpiredTokenException", status.message()};
      // The console's sign-in and session failures: 401, as a browser app expects.
      if (reason == "ConsoleAuth") return {401, "UnrecognizedClientException", status.message()};
      return {403, "UnrecognizedClientException", status.message()};
    case StatusCode::kPermissionDenied:
      return {403, "AccessDeniedException", status.message()};
    case StatusCode::kNotFound:
      return {404, "ResourceNotFoundException", status.message()};
    case StatusCode::kResourceExhausted:
      if (reason == "ServiceQuotaExceeded") {
        return {400, "ServiceQuotaExceededException", status.message()};
      }
      return {429, "ThrottlingException", status.message()};
    case StatusCode::kUnavailable:
      if (reason == "ModelNotReady") return {429, "ModelNotReadyException", status.message()};
      return {503, "ServiceUnavailableException", status.message()};
    case StatusCode::kDeadlineExceeded:
      return {408, "ModelTimeoutException", status.message()};
    case StatusCode::kAlreadyExists:
      return {400, "ConflictException", status.message()};
    case StatusCode::kFailedPrecondition:
      // An edit based on a version that is no longer current (apps: the editor reloads).
      if (reason == "Conflict") return {409, "ConflictException", status.message()};
      // A model whose files cannot be used (an image checkpoint cut short or corrupt): the
      // model failed, not the request; not retried by the SDKs, unlike 429/5xx.
      if (reason == "ModelError") return {424, "ModelErrorException", status.message()};
      return {400, "ValidationException", status.message()};
    case StatusCode::kCancelled:
    case StatusCode::kInternal:
      break;
  }
  return {500, "InternalServerException", status.message()};
}

std::string ErrorBody(const ErrorReply& reply) {
  return nlohmann::json{{"message", reply.message}}.dump(-1, ' ', false,
                                                         nlohmann::json::error_handler_t::replace);
}

std::string EncodeStreamError(const Status& status, StreamKind kind) {
  ErrorReply reply = MapStatus(status);
  std::string member;
  if (reply.type == "ValidationException")
    member = "validationException";
  else if (reply.type == "ThrottlingException")
    member = "throttlingException";
  else if (reply.type == "ServiceUnavailableException")
    member = "serviceUnavailableException";
  else if (reply.type == "ModelTimeoutException" && kind == StreamKind::kInvokeModel) {
    member = "modelTimeoutException";
  } else {
    member = "internalServerException";
  }
  return EncodeException(member, ErrorBody(reply));
}

}  // namespace basalt::api
