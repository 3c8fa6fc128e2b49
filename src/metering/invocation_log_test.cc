#include "metering/invocation_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "metering/test_util.h"

namespace basalt::metering {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

InvocationLogEntry Entry(const std::string& id) {
  InvocationLogEntry e;
  e.request_id = id;
  e.timestamp_ms = 1'717'203'723'456;  // 2024-06-01T01:02:03.456Z
  e.account_id = "123456789012";
  e.identity_arn = "arn:aws:iam::123456789012:user/alice";
  e.region = "us-east-1";
  e.model_id = "anthropic.claude-v2";
  e.operation = "InvokeModel";
  e.input_body_json = R"({"prompt":"Hello","max_tokens_to_sample":20})";
  e.output_body_json = R"({"completion":" Hi","stop_reason":"stop_sequence"})";
  e.input_tokens = 3;
  e.output_tokens = 2;
  return e;
}

std::vector<Json> ReadJsonLines(const fs::path& file) {
  std::vector<Json> out;
  for (const std::string& line : testing::Lines(testing::ReadFile(file))) {
    Json j = Json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
    out.push_back(j);
  }
  return out;
}

class InvocationLogTest : public testing::TempDirTest {
 protected:
  LoggingConfig Enabled() {
    LoggingConfig c;
    c.enabled = true;
    c.folder = Path("logs");
    return c;
  }
  fs::path Live() { return dir_ / "logs" / InvocationLogger::kFileName; }
};

TEST_F(InvocationLogTest, DisabledWritesNothing) {
  InvocationLogger logger;
  LoggingConfig c = Enabled();
  c.enabled = false;
  logger.SetConfig(c);
  EXPECT_TRUE(logger.Write(Entry("r1")).ok());
  EXPECT_FALSE(fs::exists(dir_ / "logs"));
  InvocationLogger default_logger;
  EXPECT_FALSE(default_logger.config().enabled);
  EXPECT_TRUE(default_logger.Write(Entry("r2")).ok());
}

TEST_F(InvocationLogTest, WritesBedrockShapedLines) {
  InvocationLogger logger(Enabled());
  ASSERT_TRUE(logger.Write(Entry("r1")).ok());
  InvocationLogEntry bad = Entry("r2");
  bad.input_body_json = "not json {";
  bad.output_body_json = "";
  bad.error_code = "ValidationException";
  ASSERT_TRUE(logger.Write(bad).ok());

  // Written through, not buffered: visible before the logger goes away.
  std::vector<Json> lines = ReadJsonLines(Live());
  ASSERT_EQ(lines.size(), 2u);
  const Json& j = lines[0];
  EXPECT_EQ(j["schemaType"], "ModelInvocationLog");
  EXPECT_EQ(j["schemaVersion"], "1.0");
  EXPECT_EQ(j["timestamp"], "2024-06-01T01:02:03Z");
  EXPECT_EQ(j["accountId"], "123456789012");
  EXPECT_EQ(j["identity"]["arn"], "arn:aws:iam::123456789012:user/alice");
  EXPECT_EQ(j["region"], "us-east-1");
  EXPECT_EQ(j["requestId"], "r1");
  EXPECT_EQ(j["operation"], "InvokeModel");
  EXPECT_EQ(j["modelId"], "anthropic.claude-v2");
  EXPECT_EQ(j["input"]["inputContentType"], "application/json");
  ASSERT_TRUE(j["input"]["inputBodyJson"].is_object());
  EXPECT_EQ(j["input"]["inputBodyJson"]["prompt"], "Hello");
  EXPECT_EQ(j["input"]["inputTokenCount"], 3);
  EXPECT_EQ(j["output"]["outputContentType"], "application/json");
  EXPECT_EQ(j["output"]["outputBodyJson"]["completion"], " Hi");
  EXPECT_EQ(j["output"]["outputTokenCount"], 2);
  EXPECT_FALSE(j.contains("errorCode"));

  const Json& e = lines[1];
  EXPECT_EQ(e["input"]["inputBodyJson"], "not json {");  // kept as a string
  EXPECT_FALSE(e["output"].contains("outputBodyJson"));
  EXPECT_EQ(e["errorCode"], "ValidationException");

  struct stat st{};
  ASSERT_EQ(::stat(Live().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(InvocationLogTest, TextDataDeliveryOffOmitsBodies) {
  LoggingConfig c = Enabled();
  c.text_data_delivery = false;
  InvocationLogger logger(c);
  ASSERT_TRUE(logger.Write(Entry("r1")).ok());
  std::vector<Json> lines = ReadJsonLines(Live());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_FALSE(lines[0]["input"].contains("inputBodyJson"));
  EXPECT_FALSE(lines[0]["output"].contains("outputBodyJson"));
  EXPECT_EQ(lines[0]["input"]["inputTokenCount"], 3);
  EXPECT_EQ(lines[0]["output"]["outputTokenCount"], 2);
  EXPECT_EQ(testing::ReadFile(Live()).find("Hello"), std::string::npos);
}

TEST_F(InvocationLogTest, ImageDataDeliveryGovernsImageBodies) {
  InvocationLogEntry e = Entry("img");
  e.model_id = "amazon.titan-image-generator-v1";
  e.output_body_json = R"({"images":["iVBORw0KGgoPNGBYTES"],"error":null})";
  e.output_has_images = true;
  e.output_body_without_images_json = R"({"images":["<image omitted>"],"error":null})";
  for (bool images : {false, true}) {
    LoggingConfig c = Enabled();
    c.folder = Path(images ? "with" : "without");
    c.image_data_delivery = images;
    InvocationLogger logger(c);
    ASSERT_TRUE(logger.Write(e).ok());
    std::vector<Json> lines =
        ReadJsonLines(dir_ / (images ? "with" : "without") / InvocationLogger::kFileName);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0]["output"]["outputBodyJson"]["images"][0],
              images ? "iVBORw0KGgoPNGBYTES" : "<image omitted>");
    EXPECT_EQ(lines[0]["input"]["inputBodyJson"]["prompt"], "Hello");
  }
}

TEST_F(InvocationLogTest, InvalidUtf8DoesNotBreakTheLine) {
  InvocationLogger logger(Enabled());
  InvocationLogEntry e = Entry("r1");
  e.input_body_json = "\xff\xfe raw";
  e.model_id = "bad\xc3";
  ASSERT_TRUE(logger.Write(e).ok());
  EXPECT_EQ(ReadJsonLines(Live()).size(), 1u);
}

TEST_F(InvocationLogTest, RotatesBySizeAndKeepsMaxFiles) {
  LoggingConfig c = Enabled();
  const std::string one_line = [&] {
    InvocationLogger probe(c);
    EXPECT_TRUE(probe.Write(Entry("r-00")).ok());
    return testing::ReadFile(Live());
  }();
  fs::remove(Live());
  c.max_file_bytes = static_cast<int64_t>(one_line.size()) * 3;  // three lines per file
  c.max_files = 2;
  InvocationLogger logger(c);
  for (int i = 0; i < 20; ++i) {
    char id[8];
    std::snprintf(id, sizeof(id), "r-%02d", i);
    ASSERT_TRUE(logger.Write(Entry(id)).ok());
  }
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_ / "logs")) {
    names.insert(e.path().filename().string());
  }
  EXPECT_EQ(names, (std::set<std::string>{"model-invocations.jsonl", "model-invocations.1.jsonl",
                                          "model-invocations.2.jsonl"}));
  // Newest in the live file, then .1, then .2; 20 = 6 full files + 2 lines.
  auto ids = [&](const std::string& name) {
    std::vector<std::string> out;
    for (const Json& j : ReadJsonLines(dir_ / "logs" / name)) out.push_back(j["requestId"]);
    EXPECT_LE(fs::file_size(dir_ / "logs" / name), static_cast<uintmax_t>(c.max_file_bytes));
    return out;
  };
  EXPECT_EQ(ids("model-invocations.jsonl"), (std::vector<std::string>{"r-18", "r-19"}));
  EXPECT_EQ(ids("model-invocations.1.jsonl"), (std::vector<std::string>{"r-15", "r-16", "r-17"}));
  EXPECT_EQ(ids("model-invocations.2.jsonl"), (std::vector<std::string>{"r-12", "r-13", "r-14"}));

  // Fewer files kept later: the extra old ones go at the next rotation.
  c.max_files = 1;
  logger.SetConfig(c);
  for (int i = 20; i < 24; ++i) ASSERT_TRUE(logger.Write(Entry("r-" + std::to_string(i))).ok());
  names.clear();
  for (const auto& e : fs::directory_iterator(dir_ / "logs")) {
    names.insert(e.path().filename().string());
  }
  EXPECT_EQ(names, (std::set<std::string>{"model-invocations.jsonl", "model-invocations.1.jsonl"}));
}

TEST_F(InvocationLogTest, ConcurrentWritersProduceWholeLines) {
  InvocationLogger logger(Enabled());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&logger, t] {
      for (int i = 0; i < 100; ++i) {
        EXPECT_TRUE(logger.Write(Entry(std::to_string(t) + "-" + std::to_string(i))).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<Json> lines = ReadJsonLines(Live());
  EXPECT_EQ(lines.size(), 400u);
  std::set<std::string> ids;
  for (const Json& j : lines) ids.insert(j["requestId"].get<std::string>());
  EXPECT_EQ(ids.size(), 400u);
}

TEST_F(InvocationLogTest, SetConfigMovesToTheNewFolder) {
  InvocationLogger logger(Enabled());
  ASSERT_TRUE(logger.Write(Entry("r1")).ok());
  LoggingConfig c = Enabled();
  c.folder = Path("other");
  logger.SetConfig(c);
  EXPECT_EQ(logger.config().folder, Path("other"));
  ASSERT_TRUE(logger.Write(Entry("r2")).ok());
  EXPECT_EQ(ReadJsonLines(Live()).size(), 1u);
  EXPECT_EQ(ReadJsonLines(dir_ / "other" / InvocationLogger::kFileName).size(), 1u);
  c.folder.clear();
  logger.SetConfig(c);
  EXPECT_EQ(logger.Write(Entry("r3")).code(), StatusCode::kFailedPrecondition);
}

InvocationLogEntry EntryFor(const std::string& account, const std::string& prompt) {
  InvocationLogEntry e;
  e.request_id = "r-" + prompt;
  e.account_id = account;
  e.model_id = "m";
  e.operation = "Converse";
  e.input_body_json = "{\"p\":\"" + prompt + "\"}";
  return e;
}

// Issue 7: one account's PutModelInvocationLoggingConfiguration logged every account.
TEST_F(InvocationLogTest, EachAccountLogsOnlyItsOwnInvocations) {
  InvocationLogs logs(Path("invocation-logs"));
  auto cfg = ParseLoggingConfig(R"({"s3Config":{"bucketName":"bkt1","keyPrefix":"p/q/"}})");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  logs.Configure("222", *cfg);
  EXPECT_FALSE(logs.Enabled("111"));
  ASSERT_TRUE(logs.Write(EntryFor("111", "operator-secret")).ok());
  ASSERT_TRUE(logs.Write(EntryFor("222", "tenant-prompt")).ok());
  const fs::path file = fs::path(logs.FolderOf("222", "s3/bkt1/p/q")) / "model-invocations.jsonl";
  std::string text = testing::ReadFile(file);
  EXPECT_NE(text.find("tenant-prompt"), std::string::npos);
  EXPECT_EQ(text.find("operator-secret"), std::string::npos);
  EXPECT_FALSE(fs::exists(Path("invocation-logs") + "/111"));
  logs.Remove("222");
  ASSERT_TRUE(logs.Write(EntryFor("222", "after-delete")).ok());
  EXPECT_EQ(testing::ReadFile(file).find("after-delete"), std::string::npos);
}

TEST(ParseLoggingConfigTest, RefusesBadTypesAndPaths) {
  for (const char* bad : {
           R"({})",
           R"({"s3Config":{"bucketName":"ok-bucket"},"textDataDeliveryEnabled":"yes"})",
           R"({"s3Config":"bucket"})",
           R"({"s3Config":{"bucketName":".."}})",
           R"({"s3Config":{"bucketName":"b/../../x"}})",
           R"({"s3Config":{"bucketName":"bkt","keyPrefix":"a/../../../etc"}})",
           R"({"s3Config":{"bucketName":"bkt","keyPrefix":"a\u0000b"}})",
           R"({"cloudWatchConfig":{"logGroupName":"g"}})",
           R"({"cloudWatchConfig":{"logGroupName":"/","roleArn":"r"}})",
           R"({"cloudWatchConfig":{"logGroupName":5,"roleArn":"r"}})",
           R"([1])",
       }) {
    auto parsed = ParseLoggingConfig(bad);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  auto both = ParseLoggingConfig(
      R"({"s3Config":{"bucketName":"bkt"},"cloudWatchConfig":{"logGroupName":"/aws/x#1",)"
      R"("roleArn":"arn:aws:iam::1:role/r"},"textDataDeliveryEnabled":false})");
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(both->destinations, (std::vector<std::string>{"s3/bkt", "cloudwatch/aws/x#1"}));
  EXPECT_FALSE(both->text_data_delivery);
}

}  // namespace
}  // namespace basalt::metering
