// Unit tests of the request/response shapes (no server, no model).
#include "api/api.h"

#include <gtest/gtest.h>

#include "api/chat.h"
#include "api/converse.h"
#include "api/errors.h"
#include "api/event_stream.h"
#include "api/invoke_body.h"

namespace basalt::api {
namespace {

using catalog::RequestFamily;

PromptPlan MustParse(RequestFamily f, const char* body) {
  auto plan = ParseInvokeBody(f, Json::parse(body));
  EXPECT_TRUE(plan.ok()) << plan.status().ToString();
  return plan.ok() ? *plan : PromptPlan{};
}

std::string ErrorOf(RequestFamily f, const char* body) {
  auto plan = ParseInvokeBody(f, Json::parse(body));
  EXPECT_FALSE(plan.ok()) << body;
  return plan.ok() ? "" : plan.status().message();
}

TEST(InvokeBody, AnthropicTextTurns) {
  PromptPlan p = MustParse(
      RequestFamily::kAnthropicText,
      R"({"prompt":"You are kind.\n\nHuman: hi\n\nAssistant: hello\n\nHuman: tell me\n\nAssistant: Sure,","max_tokens_to_sample":7,"temperature":0.2,"stop_sequences":["END"]})");
  EXPECT_EQ(p.system, "You are kind.");
  ASSERT_EQ(p.messages.size(), 3u);
  EXPECT_EQ(p.messages[0].role, "user");
  EXPECT_EQ(p.messages[0].content, "hi");
  EXPECT_EQ(p.messages[1].content, "hello");
  EXPECT_EQ(p.messages[2].content, "tell me");
  EXPECT_EQ(p.prefill, "Sure,");
  EXPECT_EQ(p.sampling.max_tokens, 7);
  EXPECT_FLOAT_EQ(p.sampling.temperature, 0.2f);
  EXPECT_EQ(p.sampling.top_k, 250);
  ASSERT_EQ(p.sampling.stop.size(), 2u);
  EXPECT_EQ(p.sampling.stop[1], "\n\nHuman:");
}

TEST(InvokeBody, AnthropicTextErrors) {
  EXPECT_NE(ErrorOf(RequestFamily::kAnthropicText, R"({"prompt":"hi","max_tokens_to_sample":5})")
                .find("must start with"),
            std::string::npos);
  EXPECT_NE(ErrorOf(RequestFamily::kAnthropicText,
                    R"({"prompt":"\n\nHuman: hi","max_tokens_to_sample":5})")
                .find("must end with"),
            std::string::npos);
  EXPECT_EQ(ErrorOf(RequestFamily::kAnthropicText, R"({"prompt":"\n\nHuman: hi\n\nAssistant:"})"),
            "Malformed input request: #: required key [max_tokens_to_sample] not found, please "
            "reformat your input and try again.");
  EXPECT_NE(
      ErrorOf(RequestFamily::kAnthropicText,
              R"({"prompt":"\n\nHuman: hi\n\nAssistant:","max_tokens_to_sample":5,"top_k":501})")
          .find("#/top_k: 501 is not less or equal to 500"),
      std::string::npos);
}

TEST(InvokeBody, MessagesWithToolsAndPrefill) {
  PromptPlan p = MustParse(RequestFamily::kAnthropicMessages, R"({
    "anthropic_version":"bedrock-2023-05-31","max_tokens":100,"system":[{"type":"text","text":"S"}],
    "messages":[{"role":"user","content":"weather?"},
                {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"get_weather","input":{"city":"Paris"}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny"}]},
                {"role":"assistant","content":"It is"}],
    "tools":[{"name":"get_weather","description":"d","input_schema":{"type":"object"}}],
    "tool_choice":{"type":"any"}})");
  EXPECT_EQ(p.system, "S");
  ASSERT_EQ(p.messages.size(), 3u);
  EXPECT_NE(p.messages[1].content.find("<tool_call>"), std::string::npos);
  EXPECT_NE(p.messages[1].content.find("\"city\":\"Paris\""), std::string::npos);
  EXPECT_NE(p.messages[2].content.find("<tool_response>\nsunny\n</tool_response>"),
            std::string::npos);
  EXPECT_EQ(p.prefill, "It is");
  EXPECT_EQ(p.tool_choice, ToolChoice::kAny);
  ASSERT_EQ(p.tools.size(), 1u);
  EXPECT_NE(
      ErrorOf(
          RequestFamily::kAnthropicMessages,
          R"({"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"assistant","content":"x"}]})")
          .find("first message"),
      std::string::npos);
}

TEST(InvokeBody, TitanLlamaMistralDefaults) {
  PromptPlan t = MustParse(RequestFamily::kTitanText, R"({"inputText":"hi"})");
  EXPECT_EQ(t.sampling.max_tokens, 512);
  EXPECT_FLOAT_EQ(t.sampling.temperature, 0.7f);
  ASSERT_EQ(t.messages.size(), 1u);
  PromptPlan l =
      MustParse(RequestFamily::kMetaLlama, R"({"prompt":"<|begin_of_text|>x","max_gen_len":9})");
  EXPECT_TRUE(l.raw);
  EXPECT_EQ(l.sampling.max_tokens, 9);
  PromptPlan m =
      MustParse(RequestFamily::kMistral, R"({"prompt":"<s>[INST] x [/INST]","stop":["a"]})");
  EXPECT_EQ(m.sampling.top_k, 50);
  EXPECT_EQ(m.sampling.stop, std::vector<std::string>{"a"});
  EXPECT_NE(ErrorOf(RequestFamily::kTitanText,
                    R"({"inputText":"hi","textGenerationConfig":{"maxTokenCount":"x"}})")
                .find("#/textGenerationConfig/maxTokenCount: expected type: Integer"),
            std::string::npos);
}

TEST(Render, StopReasonsPerFamily) {
  GenerationResult r;
  r.text = "Hi";
  r.reason = engine::FinishReason::kLength;
  r.usage = {5, 3, 0};
  EXPECT_EQ(
      RenderInvokeResponse(RequestFamily::kAnthropicText, "anthropic.claude-v2", r)["stop_reason"],
      "max_tokens");
  EXPECT_EQ(
      RenderInvokeResponse(RequestFamily::kTitanText, "x", r)["results"][0]["completionReason"],
      "LENGTH");
  EXPECT_EQ(RenderInvokeResponse(RequestFamily::kMetaLlama, "x", r)["stop_reason"], "length");
  r.reason = engine::FinishReason::kStopSequence;
  r.stop = "END";
  Json m = RenderInvokeResponse(RequestFamily::kAnthropicMessages,
                                "anthropic.claude-3-haiku-20240307-v1:0", r);
  EXPECT_EQ(m["stop_reason"], "stop_sequence");
  EXPECT_EQ(m["stop_sequence"], "END");
  EXPECT_EQ(m["model"], "claude-3-haiku-20240307");
  EXPECT_EQ(RenderConverseResponse(r)["stopReason"], "stop_sequence");
  EXPECT_EQ(RenderConverseResponse(r)["usage"]["totalTokens"], 8);
}

TEST(Render, StreamFinalChunkCarriesMetrics) {
  InvokeStreamRenderer s(RequestFamily::kMetaLlama, "m", 7);
  EXPECT_TRUE(s.Start().empty());
  auto d = s.Delta("Once", 1);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0]["prompt_token_count"], 7);
  EXPECT_TRUE(s.Delta(" upon", 1)[0]["prompt_token_count"].is_null());
  GenerationResult r;
  r.usage = {7, 2, 0};
  r.latency_ms = 10;
  r.first_byte_ms = 4;
  auto f = s.Finish(r);
  EXPECT_EQ(f.back()["amazon-bedrock-invocationMetrics"]["outputTokenCount"], 2);
  EXPECT_EQ(f.back()["amazon-bedrock-invocationMetrics"]["firstByteLatency"], 4);
  EXPECT_EQ(f.back()["stop_reason"], "stop");
}

TEST(Converse, ValidationWording) {
  auto bad = [](const char* body) {
    auto p = ParseConverseBody(Json::parse(body), 100);
    EXPECT_FALSE(p.ok()) << body;
    return p.ok() ? "" : p.status().message();
  };
  EXPECT_NE(bad(R"({"messages":[]})").find("must start with a user message"), std::string::npos);
  EXPECT_NE(
      bad(R"({"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"user","content":[{"text":"b"}]}]})")
          .find("alternate"),
      std::string::npos);
  EXPECT_NE(
      bad(R"({"messages":[{"role":"user","content":[{"text":"a"}]}],"inferenceConfig":{"temperature":2}})")
          .find("'inferenceConfig.temperature' failed to satisfy constraint: Member must "
                "have value less than or equal to 1"),
      std::string::npos);
  EXPECT_NE(
      bad(R"({"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"AA=="}}}]}]})")
          .find("image"),
      std::string::npos);
  auto ok = ParseConverseBody(
      Json::parse(
          R"({"system":[{"text":"S"}],"messages":[{"role":"user","content":[{"text":"a"},{"document":{"format":"txt","name":"n","source":{"bytes":"aGVsbG8="}}}]}],
      "inferenceConfig":{"maxTokens":9,"stopSequences":["x"]},"additionalModelRequestFields":{"top_k":3},
      "toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"tool":{"name":"f"}}}})"),
      100);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->messages[0].content, "a\nDocument \"n\":\nhello");
  EXPECT_EQ(ok->sampling.max_tokens, 9);
  EXPECT_EQ(ok->sampling.top_k, 3);
  EXPECT_EQ(ok->tool_choice, ToolChoice::kTool);
}

TEST(Tools, ParseCallsAndSafePrefix) {
  std::vector<ToolSpec> tools{{"get_weather", "", Json::object()}};
  ParsedOutput out = ParseToolCalls(
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Paris\"}}\n</tool_call>",
      tools);
  EXPECT_EQ(out.text, "Let me check.");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].name, "get_weather");
  EXPECT_EQ(out.calls[0].input["city"], "Paris");
  EXPECT_EQ(out.calls[0].id.rfind("tooluse_", 0), 0u);
  // Unknown tools and broken JSON stay text.
  EXPECT_TRUE(ParseToolCalls("<tool_call>{\"name\":\"x\"}</tool_call>", tools).calls.empty());
  EXPECT_TRUE(ParseToolCalls("<tool_call>{oops</tool_call>", tools).calls.empty());
  EXPECT_EQ(SafeTextPrefix("hello <tool"), 6u);
  EXPECT_EQ(SafeTextPrefix("hello <tool_call> x"), 6u);
  EXPECT_EQ(SafeTextPrefix("hello"), 5u);
  EXPECT_EQ(SafeTextPrefix("a < b"), 5u);
}

TEST(Errors, MapStatus) {
  EXPECT_EQ(MapStatus(Status::InvalidArgument("x")).http_status, 400);
  EXPECT_EQ(MapStatus(Status::InvalidArgument("x")).type, "ValidationException");
  EXPECT_EQ(MapStatus(Status::Unauthenticated("x", "InvalidSignature")).type,
            "InvalidSignatureException");
  EXPECT_EQ(MapStatus(Status::Unauthenticated("x")).type, "UnrecognizedClientException");
  EXPECT_EQ(MapStatus(Status::ResourceExhausted("x")).http_status, 429);
  EXPECT_EQ(MapStatus(Status::ResourceExhausted("x", "ServiceQuotaExceeded")).http_status, 400);
  EXPECT_EQ(MapStatus(Status::PermissionDenied("x")).type, "AccessDeniedException");
  EXPECT_EQ(MapStatus(Status::NotFound("x")).http_status, 404);
  EXPECT_EQ(MapStatus(Status::Internal("x")).http_status, 500);
  auto frames = DecodeEventStream(
      EncodeStreamError(Status::ResourceExhausted("slow down"), StreamKind::kConverse));
  ASSERT_TRUE(frames.ok());
  ASSERT_EQ(frames->size(), 1u);
  std::map<std::string, std::string> h((*frames)[0].headers.begin(), (*frames)[0].headers.end());
  EXPECT_EQ(h[":message-type"], "exception");
  EXPECT_EQ(h[":exception-type"], "throttlingException");
  EXPECT_EQ((*frames)[0].payload, R"({"message":"slow down"})");
}

TEST(Helpers, DateRequestIdPercentDecode) {
  EXPECT_EQ(HttpDate(std::chrono::system_clock::from_time_t(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
  std::string id = NewRequestId();
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(NewRequestId(), id);
  EXPECT_EQ(PercentDecode("anthropic.claude-v2%3A1").value(), "anthropic.claude-v2:1");
  EXPECT_EQ(PercentDecode("arn%3Aaws%2Fx").value(), "arn:aws/x");
  EXPECT_FALSE(PercentDecode("bad%2").ok());
}

}  // namespace
}  // namespace basalt::api
