// The vnd.amazon.eventstream binary framing used by Bedrock's streaming operations.
// See docs/event-stream.md. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace basalt::api {

struct EventStreamMessage {
  std::vector<std::pair<std::string, std::string>> headers;  // all string-typed (type 7)
  std::string payload;
};

// Encodes one message: prelude, prelude CRC, headers, payload, message CRC (CRC-32/IEEE).
std::string EncodeEventStreamMessage(const EventStreamMessage& message);

// `:message-type event` with `:event-type`, `:content-type application/json`.
std::string EncodeEvent(std::string_view event_type, std::string_view json_payload);
// `:message-type exception` with `:exception-type` (lowerCamel, e.g. "throttlingException").
std::string EncodeException(std::string_view exception_type, std::string_view json_payload);

// Decodes every message in `data` (any header type is accepted; non-string values are
// rendered as text). Returns kInvalidArgument on a bad length or CRC. For tests and tools.
StatusOr<std::vector<EventStreamMessage>> DecodeEventStream(std::string_view data);

uint32_t Crc32(std::string_view data, uint32_t crc = 0);

}  // namespace basalt::api
