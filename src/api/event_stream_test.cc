#include "api/event_stream.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace basalt::api {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

std::string StringHeader(std::string_view name, std::string_view value) {
  std::string out;
  out.push_back(static_cast<char>(name.size()));
  out.append(name);
  out.push_back(7);
  out.push_back(static_cast<char>(value.size() >> 8));
  out.push_back(static_cast<char>(value.size() & 0xFF));
  out.append(value);
  return out;
}

void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xFF));
  }
}

// Builds a frame from raw parts with correct CRCs (to reach the checks after the CRCs).
std::string RawFrame(uint32_t total, uint32_t headers_length, std::string_view rest) {
  std::string out;
  PutU32(out, total);
  PutU32(out, headers_length);
  PutU32(out, Crc32(out));
  out.append(rest);
  PutU32(out, Crc32(out));
  return out;
}

// The worked example of bedrock-api.md section C: a `chunk` event of InvokeModelWithResponseStream.
// The base64 is {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}.
constexpr char kWorkedPayload[] =
    R"({"bytes":")"
    "eyJ0eXBlIjoiY29udGVudF9ibG9ja19kZWx0YSIsImluZGV4IjowLCJkZWx0YSI6eyJ0eXBlIjoidGV4dF9kZWx0YSIs"
    "InRleHQiOiJIaSJ9fQ=="
    R"(","p":"abcdefgh"})";

TEST(EventStream, Crc32MatchesZlib) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);  // the CRC-32/IEEE check value
  EXPECT_EQ(Crc32(""), 0u);
  EXPECT_EQ(Crc32("56789", Crc32("1234")), Crc32("123456789"));
}

TEST(EventStream, WorkedExample) {
  std::string frame = EncodeEvent("chunk", kWorkedPayload);
  ASSERT_EQ(sizeof(kWorkedPayload) - 1, 139u);
  ASSERT_EQ(frame.size(), 230u);
  EXPECT_EQ(frame.substr(0, 12),
            Bytes({0x00, 0x00, 0x00, 0xe6, 0x00, 0x00, 0x00, 0x4b, 0x23, 0xb8, 0x75, 0x0e}));
  std::string headers = Bytes({0x0b}) + ":event-type" + Bytes({0x07, 0x00, 0x05}) + "chunk" +
                        Bytes({0x0d}) + ":content-type" + Bytes({0x07, 0x00, 0x10}) +
                        "application/json" + Bytes({0x0d}) + ":message-type" +
                        Bytes({0x07, 0x00, 0x05}) + "event";
  ASSERT_EQ(headers.size(), 0x4Bu);
  EXPECT_EQ(frame.substr(12, 0x4B), headers);
  EXPECT_EQ(frame.substr(12 + 0x4B, 139), kWorkedPayload);
  uint32_t crc = Crc32(std::string_view(frame).substr(0, 226));
  std::string crc_bytes;
  PutU32(crc_bytes, crc);
  EXPECT_EQ(frame.substr(226), crc_bytes);

  auto decoded = DecodeEventStream(frame);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->size(), 1u);
  EXPECT_EQ((*decoded)[0].payload, kWorkedPayload);
  EXPECT_EQ((*decoded)[0].headers,
            (std::vector<std::pair<std::string, std::string>>{{":event-type", "chunk"},
                                                              {":content-type", "application/json"},
                                                              {":message-type", "event"}}));
}

std::vector<EventStreamMessage> SampleMessages() {
  std::vector<EventStreamMessage> out;
  out.push_back({{{":event-type", "messageStart"},
                  {":content-type", "application/json"},
                  {":message-type", "event"}},
                 R"({"role":"assistant","p":"abc"})"});
  out.push_back({{{":event-type", "contentBlockDelta"},
                  {":content-type", "application/json"},
                  {":message-type", "event"}},
                 R"({"contentBlockIndex":0,"delta":{"text":"h\u00e9llo \ud83d\ude00"}})"});
  out.push_back({{{":exception-type", "throttlingException"},
                  {":content-type", "application/json"},
                  {":message-type", "exception"}},
                 R"({"message":"Too many requests, please wait before trying again."})"});
  out.push_back(
      {{{":message-type", "error"}, {":error-code", "InternalFailure"}, {":error-message", "boom"}},
       ""});
  out.push_back({{}, std::string(70000, 'x')});  // no headers, payload past 64 KiB
  return out;
}

TEST(EventStream, RoundTrip) {
  std::vector<EventStreamMessage> messages = SampleMessages();
  std::string stream;
  for (const auto& m : messages) stream += EncodeEventStreamMessage(m);
  stream += EncodeException("validationException", R"({"message":"bad"})");
  auto decoded = DecodeEventStream(stream);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->size(), messages.size() + 1);
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ((*decoded)[i].headers, messages[i].headers) << i;
    EXPECT_EQ((*decoded)[i].payload, messages[i].payload) << i;
  }
  EXPECT_EQ(decoded->back().headers[0].second, "validationException");
  EXPECT_EQ(decoded->back().headers[2].second, "exception");
  EXPECT_TRUE(DecodeEventStream("").ok());
  EXPECT_TRUE(DecodeEventStream("")->empty());
}

TEST(EventStream, DetectsCorruption) {
  const std::string frame = EncodeEvent("chunk", kWorkedPayload);
  // Any flipped bit anywhere is caught by one of the two CRCs.
  for (size_t i = 0; i < frame.size(); ++i) {
    std::string bad = frame;
    bad[i] ^= 0x10;
    auto decoded = DecodeEventStream(bad);
    EXPECT_FALSE(decoded.ok()) << "byte " << i;
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
    }
  }
  EXPECT_NE(DecodeEventStream(std::string(frame).replace(8, 1, "\x24"))
                .status()
                .message()
                .find("prelude CRC"),
            std::string::npos);
  std::string payload_flip = frame;
  payload_flip[120] ^= 1;
  EXPECT_NE(DecodeEventStream(payload_flip).status().message().find("message CRC"),
            std::string::npos);
  // Truncation, in the prelude and in the body; and a good frame followed by garbage.
  EXPECT_FALSE(DecodeEventStream(frame.substr(0, 11)).ok());
  EXPECT_FALSE(DecodeEventStream(frame.substr(0, 229)).ok());
  EXPECT_FALSE(DecodeEventStream(frame + frame.substr(0, 20)).ok());
}

TEST(EventStream, RejectsBadLengthsAndHeaders) {
  // Lengths with valid CRCs.
  EXPECT_FALSE(DecodeEventStream(RawFrame(15, 0, "")).ok());      // shorter than the overhead
  EXPECT_FALSE(DecodeEventStream(RawFrame(20, 5, "abcd")).ok());  // headers past the end
  EXPECT_FALSE(DecodeEventStream(RawFrame(16 + 200000, 200000, std::string(200000, 'a'))).ok());
  // Header block errors.
  EXPECT_FALSE(DecodeEventStream(RawFrame(16 + 3, 3, Bytes({5, 'a', 'b'}))).ok());  // name overrun
  std::string unknown_type = Bytes({1, 'a', 42});
  EXPECT_FALSE(DecodeEventStream(RawFrame(16 + 3, 3, unknown_type)).ok());
  std::string short_value = Bytes({1, 'a', 7, 0, 9, 'x'});
  EXPECT_FALSE(DecodeEventStream(RawFrame(16 + 6, 6, short_value)).ok());
  std::string dup = StringHeader("a", "1") + StringHeader("a", "2");
  EXPECT_FALSE(
      DecodeEventStream(RawFrame(16 + dup.size(), static_cast<uint32_t>(dup.size()), dup)).ok());
  // A valid frame with no headers and no payload.
  auto empty = DecodeEventStream(RawFrame(16, 0, ""));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 1u);
}

TEST(EventStream, DecodesEveryHeaderType) {
  std::string h;
  h += Bytes({1, 't', 0});
  h += Bytes({1, 'f', 1});
  h += Bytes({1, 'b', 2, 0xFF});
  h += Bytes({1, 's', 3, 0x80, 0x00});
  h += Bytes({1, 'i', 4, 0x00, 0x01, 0x00, 0x00});
  h += Bytes({1, 'l', 5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE});
  h += Bytes({1, 'y', 6, 0x00, 0x02, 0x00, 0xFF});
  h += StringHeader("str", "v");
  h += Bytes({2, 't', 's', 8, 0x00, 0x00, 0x01, 0x94, 0xb9, 0x4f, 0x0e, 0x00});
  h += Bytes({1, 'u', 9, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67,
              0x89, 0xab, 0xcd, 0xef});
  auto decoded = DecodeEventStream(RawFrame(static_cast<uint32_t>(16 + h.size() + 2),
                                            static_cast<uint32_t>(h.size()), h + "{}"));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->size(), 1u);
  EXPECT_EQ((*decoded)[0].payload, "{}");
  std::vector<std::pair<std::string, std::string>> expected = {
      {"t", "true"},
      {"f", "false"},
      {"b", "-1"},
      {"s", "-32768"},
      {"i", "65536"},
      {"l", "-2"},
      {"y", std::string("\x00\xff", 2)},
      {"str", "v"},
      {"ts", std::to_string(0x0194b94f0e00LL)},
      {"u", "12345678-9abc-def0-0123-456789abcdef"}};
  EXPECT_EQ((*decoded)[0].headers, expected);
}

// ---------------------------------------------------------------------------------------------
// Cross-check with botocore's parser (the one boto3 uses on Bedrock streams).

struct ScriptResult {
  int exit_code = -1;
  std::string out;
};

ScriptResult RunScript(const std::string& frames, int chunk) {
  const char* root = std::getenv("BASALT_SOURCE_DIR");
  std::string script =
      std::string(root ? root : ".") + "/tests/fixtures/eventstream/check_with_botocore.py";
  auto path = std::filesystem::temp_directory_path() /
              ("basalt_es_" + std::to_string(::getpid()) + "_" + std::to_string(chunk) + ".bin");
  {
    std::ofstream f(path, std::ios::binary);
    f.write(frames.data(), static_cast<std::streamsize>(frames.size()));
  }
  std::string command =
      "python3 '" + script + "' '" + path.string() + "' " + std::to_string(chunk) + " 2>/dev/null";
  ScriptResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) result.out.append(buf, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::filesystem::remove(path);
  return result;
}

bool PythonMissing(const ScriptResult& r) { return r.exit_code == 77 || r.exit_code == 127; }

TEST(EventStreamBotocore, ParsesOurFrames) {
  std::vector<EventStreamMessage> messages = SampleMessages();
  std::string stream = EncodeEvent("chunk", kWorkedPayload);
  for (const auto& m : messages) stream += EncodeEventStreamMessage(m);
  stream +=
      EncodeException("modelStreamErrorException", R"({"message":"x","originalStatusCode":500})");
  for (int chunk : {61, 1 << 20}) {
    ScriptResult r = RunScript(stream, chunk);
    if (PythonMissing(r)) GTEST_SKIP() << "python3 with botocore is not available";
    ASSERT_EQ(r.exit_code, 0) << r.out;
    nlohmann::json json = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_FALSE(json.is_discarded()) << r.out;
    EXPECT_FALSE(json.contains("leftover_bytes"));
    const auto& got = json["messages"];
    ASSERT_EQ(got.size(), messages.size() + 2);

    auto expect_message = [&](const nlohmann::json& g, const EventStreamMessage& want) {
      ASSERT_EQ(g["headers"].size(), want.headers.size());
      for (size_t i = 0; i < want.headers.size(); ++i) {
        EXPECT_EQ(g["headers"][i][0].get<std::string>(), want.headers[i].first);
        EXPECT_EQ(g["headers"][i][1].get<std::string>(), want.headers[i].second);
      }
      EXPECT_EQ(g["payload"].get<std::string>(), want.payload);
    };
    EventStreamMessage worked{{{":event-type", "chunk"},
                               {":content-type", "application/json"},
                               {":message-type", "event"}},
                              kWorkedPayload};
    expect_message(got[0], worked);
    for (size_t i = 0; i < messages.size(); ++i) expect_message(got[i + 1], messages[i]);
    EXPECT_EQ(got.back()["headers"][0][1].get<std::string>(), "modelStreamErrorException");
    EXPECT_EQ(got.back()["headers"][2][1].get<std::string>(), "exception");
  }
}

TEST(EventStreamBotocore, RejectsBadCrcLikeUs) {
  std::string frame = EncodeEvent("chunk", kWorkedPayload);
  std::string bad = frame;
  bad[150] ^= 1;
  ScriptResult r = RunScript(frame + bad, 64);
  if (PythonMissing(r)) GTEST_SKIP() << "python3 with botocore is not available";
  EXPECT_EQ(r.exit_code, 2) << r.out;
  nlohmann::json json = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << r.out;
  EXPECT_EQ(json["error"].get<std::string>(), "ChecksumMismatch");
  EXPECT_EQ(json["messages"].size(), 1u);  // the good frame before it was delivered
  EXPECT_FALSE(DecodeEventStream(frame + bad).ok());
}

}  // namespace
}  // namespace basalt::api
