// The one place that turns a Status into a Bedrock-shaped error: HTTP status, the
// x-amzn-ErrorType header and {"message": ...}, or, once a stream has started, an
// event-stream exception message with the lowerCamel member name.
#pragma once

#include <string>

#include "common/status.h"

namespace basalt::api {

struct ErrorReply {
  int http_status = 500;
  std::string type;  // e.g. "ValidationException"
  std::string message;
};

ErrorReply MapStatus(const Status& status);

// JSON body {"message": ...} for a reply.
std::string ErrorBody(const ErrorReply& reply);

// Which stream a mid-stream error is encoded for: the exceptions each union models differ.
enum class StreamKind { kInvokeModel, kConverse };

// An exception event for a stream that already sent its 200: the modelled member name
// (lowerCamel) when the stream's union has one, else internalServerException.
std::string EncodeStreamError(const Status& status, StreamKind kind);

}  // namespace basalt::api
