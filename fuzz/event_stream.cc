// Fuzz target: event-stream framing (src/api/event_stream.h).
//
// Input: byte 0 picks the mode.
//   even  the rest is decoded as a stream; it must not crash. A decoded stream, re-encoded
//         (every header becomes a string), must decode to the same messages.
//   odd   the rest describes one message: byte n = header count (mod 16), then per header
//         a 1-byte name length (0 -> 1), name, 2-byte value length, value; the remainder
//         is the payload. decode(encode(m)) must equal m (names distinct, as the format
//         requires).
#include <set>
#include <string>

#include "api/event_stream.h"
#include "fuzz_util.h"

namespace basalt::fuzz {
namespace {

using api::EventStreamMessage;

bool SameMessages(const std::vector<EventStreamMessage>& a,
                  const std::vector<EventStreamMessage>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].headers != b[i].headers || a[i].payload != b[i].payload) return false;
  }
  return true;
}

void DecodeArbitrary(std::string_view bytes) {
  auto decoded = api::DecodeEventStream(bytes);
  if (!decoded.ok()) return;
  std::string again;
  for (const auto& m : *decoded) {
    size_t header_bytes = 0;
    for (const auto& [name, value] : m.headers) {
      if (value.size() > 0xFFFF) return;
      header_bytes += 1 + name.size() + 1 + 2 + value.size();
    }
    if (header_bytes > 128 * 1024) return;  // a string header block may outgrow the limit
    again += api::EncodeEventStreamMessage(m);
  }
  auto redecoded = api::DecodeEventStream(again);
  if (!redecoded.ok()) std::fprintf(stderr, "%s\n", redecoded.status().ToString().c_str());
  FUZZ_CHECK(redecoded.ok());
  FUZZ_CHECK(SameMessages(*decoded, *redecoded));
}

void RoundTrip(std::string_view in) {
  EventStreamMessage m;
  size_t pos = 0;
  auto take = [&](size_t n) {
    std::string_view s = in.substr(pos, n);
    pos += s.size();
    return s;
  };
  if (in.empty()) return;
  size_t count = static_cast<uint8_t>(in[pos++]) % 16;
  std::set<std::string> names;
  for (size_t i = 0; i < count && pos < in.size(); ++i) {
    size_t name_len = std::max<size_t>(1, static_cast<uint8_t>(in[pos++]));
    std::string name(take(name_len));
    if (name.empty()) break;
    std::string_view len_bytes = take(2);
    size_t value_len = len_bytes.size() == 2 ? (static_cast<uint8_t>(len_bytes[0]) << 8) |
                                                   static_cast<uint8_t>(len_bytes[1])
                                             : 0;
    std::string value(take(value_len));
    if (!names.insert(name).second) continue;
    m.headers.emplace_back(std::move(name), std::move(value));
  }
  m.payload = std::string(in.substr(std::min(pos, in.size())));
  size_t header_bytes = 0;
  for (const auto& [name, value] : m.headers) header_bytes += 4 + name.size() + value.size();
  if (header_bytes > 128 * 1024) return;  // over the format's header block limit
  std::string wire = api::EncodeEventStreamMessage(m);
  auto decoded = api::DecodeEventStream(wire + wire);
  if (!decoded.ok()) std::fprintf(stderr, "%s\n", decoded.status().ToString().c_str());
  FUZZ_CHECK(decoded.ok());
  FUZZ_CHECK(decoded->size() == 2);
  FUZZ_CHECK(SameMessages({m, m}, *decoded));
}

}  // namespace
}  // namespace basalt::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace basalt::fuzz;
  if (size == 0) return 0;
  std::string_view rest = AsView(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    DecodeArbitrary(rest);
  } else {
    RoundTrip(rest);
  }
  return 0;
}
