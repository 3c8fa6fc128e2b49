#include "api/event_stream.h"

#include <zlib.h>

namespace basalt::api {
namespace {

constexpr size_t kPreludeSize = 12;  // total length, headers length, prelude CRC
constexpr size_t kOverhead = kPreludeSize + 4;
// botocore's limits; a larger message would be refused by the client anyway.
constexpr size_t kMaxHeadersLength = 128 * 1024;
constexpr size_t kMaxPayloadLength = 24 * 1024 * 1024;

constexpr uint8_t kTypeString = 7;

void PutU8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }

void PutU16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xFF));
  }
}

uint64_t GetBE(std::string_view data, size_t pos, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(data[pos + i]);
  return v;
}

template <typename Signed, typename Unsigned>
std::string SignedText(uint64_t raw) {
  return std::to_string(static_cast<Signed>(static_cast<Unsigned>(raw)));
}

// Parses the header block; every value is rendered as text (see the header file).
StatusOr<std::vector<std::pair<std::string, std::string>>> DecodeHeaders(std::string_view block) {
  std::vector<std::pair<std::string, std::string>> headers;
  size_t pos = 0;
  auto need = [&](size_t n) { return block.size() - pos >= n; };
  while (pos < block.size()) {
    size_t name_len = static_cast<uint8_t>(block[pos++]);
    if (name_len == 0 || !need(name_len + 1)) {
      return Status::InvalidArgument("event-stream header name overruns the header block");
    }
    std::string name(block.substr(pos, name_len));
    pos += name_len;
    uint8_t type = static_cast<uint8_t>(block[pos++]);
    std::string value;
    switch (type) {
      case 0:
        value = "true";
        break;
      case 1:
        value = "false";
        break;
      case 2:
      case 3:
      case 4:
      case 5:
      case 8: {
        static constexpr size_t kWidth[] = {0, 0, 1, 2, 4, 8, 0, 0, 8};
        size_t width = kWidth[type];
        if (!need(width)) return Status::InvalidArgument("event-stream header value overruns");
        uint64_t raw = GetBE(block, pos, width);
        pos += width;
        if (type == 2) value = SignedText<int8_t, uint8_t>(raw);
        if (type == 3) value = SignedText<int16_t, uint16_t>(raw);
        if (type == 4) value = SignedText<int32_t, uint32_t>(raw);
        if (type == 5 || type == 8) value = SignedText<int64_t, uint64_t>(raw);
        break;
      }
      case 6:
      case 7: {
        if (!need(2)) return Status::InvalidArgument("event-stream header value overruns");
        size_t len = GetBE(block, pos, 2);
        pos += 2;
        if (!need(len)) return Status::InvalidArgument("event-stream header value overruns");
        value.assign(block.substr(pos, len));  // byte arrays are kept as raw bytes
        pos += len;
        break;
      }
      case 9: {
        if (!need(16)) return Status::InvalidArgument("event-stream header value overruns");
        static constexpr char kHex[] = "0123456789abcdef";
        for (size_t i = 0; i < 16; ++i) {
          if (i == 4 || i == 6 || i == 8 || i == 10) value.push_back('-');
          uint8_t b = static_cast<uint8_t>(block[pos + i]);
          value.push_back(kHex[b >> 4]);
          value.push_back(kHex[b & 0xF]);
        }
        pos += 16;
        break;
      }
      default:
        return Status::InvalidArgument("unknown event-stream header type " + std::to_string(type));
    }
    // botocore refuses repeated names (DuplicateHeader); so do we.
    for (const auto& h : headers) {
      if (h.first == name) return Status::InvalidArgument("duplicate event-stream header " + name);
    }
    headers.emplace_back(std::move(name), std::move(value));
  }
  return headers;
}

}  // namespace

uint32_t Crc32(std::string_view data, uint32_t crc) {
  return static_cast<uint32_t>(
      crc32_z(crc, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

std::string EncodeEventStreamMessage(const EventStreamMessage& message) {
  std::string headers;
  for (const auto& [name, value] : message.headers) {
    // Names are our own constants (< 256 bytes); values are short strings (< 64 KiB).
    PutU8(headers, static_cast<uint8_t>(name.size()));
    headers.append(name);
    PutU8(headers, kTypeString);
    PutU16(headers, static_cast<uint16_t>(value.size()));
    headers.append(value);
  }
  const uint32_t total = static_cast<uint32_t>(kOverhead + headers.size() + message.payload.size());
  std::string out;
  out.reserve(total);
  PutU32(out, total);
  PutU32(out, static_cast<uint32_t>(headers.size()));
  PutU32(out, Crc32(out));
  out.append(headers);
  out.append(message.payload);
  PutU32(out, Crc32(out));
  return out;
}

std::string EncodeEvent(std::string_view event_type, std::string_view json_payload) {
  EventStreamMessage m;
  // The header order of captured Bedrock frames.
  m.headers = {{":event-type", std::string(event_type)},
               {":content-type", "application/json"},
               {":message-type", "event"}};
  m.payload = std::string(json_payload);
  return EncodeEventStreamMessage(m);
}

std::string EncodeException(std::string_view exception_type, std::string_view json_payload) {
  EventStreamMessage m;
  m.headers = {{":exception-type", std::string(exception_type)},
               {":content-type", "application/json"},
               {":message-type", "exception"}};
  m.payload = std::string(json_payload);
  return EncodeEventStreamMessage(m);
}

StatusOr<std::vector<EventStreamMessage>> DecodeEventStream(std::string_view data) {
  std::vector<EventStreamMessage> messages;
  size_t offset = 0;
  while (offset < data.size()) {
    std::string_view rest = data.substr(offset);
    std::string where =
        " (message " + std::to_string(messages.size()) + " at byte " + std::to_string(offset) + ")";
    if (rest.size() < kPreludeSize) {
      return Status::InvalidArgument("truncated event-stream prelude" + where);
    }
    const uint32_t total = static_cast<uint32_t>(GetBE(rest, 0, 4));
    const uint32_t headers_length = static_cast<uint32_t>(GetBE(rest, 4, 4));
    const uint32_t prelude_crc = static_cast<uint32_t>(GetBE(rest, 8, 4));
    if (Crc32(rest.substr(0, 8)) != prelude_crc) {
      return Status::InvalidArgument("event-stream prelude CRC mismatch" + where);
    }
    if (total < kOverhead || headers_length > total - kOverhead) {
      return Status::InvalidArgument("bad event-stream lengths" + where);
    }
    if (headers_length > kMaxHeadersLength ||
        total - kOverhead - headers_length > kMaxPayloadLength) {
      return Status::InvalidArgument("event-stream message exceeds size limits" + where);
    }
    if (rest.size() < total) {
      return Status::InvalidArgument("truncated event-stream message" + where);
    }
    const uint32_t message_crc = static_cast<uint32_t>(GetBE(rest, total - 4, 4));
    if (Crc32(rest.substr(0, total - 4)) != message_crc) {
      return Status::InvalidArgument("event-stream message CRC mismatch" + where);
    }
    auto headers = DecodeHeaders(rest.substr(kPreludeSize, headers_length));
    if (!headers.ok()) return Status::InvalidArgument(headers.status().message() + where);
    EventStreamMessage m;
    m.headers = std::move(headers).value();
    m.payload.assign(
        rest.substr(kPreludeSize + headers_length, total - kOverhead - headers_length));
    messages.push_back(std::move(m));
    offset += total;
  }
  return messages;
}

}  // namespace basalt::api
