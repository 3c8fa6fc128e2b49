// A provider-neutral generation plan built from any request shape (Converse, Anthropic
// Messages, a raw prompt), and the tool-calling convention Basalt uses with chat models.
//
// Tools: llama.cpp's built-in template engine cannot render tool definitions, so tools are
// described in the system prompt in the Hermes/Qwen2.5 form (<tools>...</tools>, answers in
// <tool_call>{"name":...,"arguments":...}</tool_call>), which instruct models of those
// families were trained on. A required tool choice is enforced with a GBNF grammar.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/json_body.h"
#include "engine/engine.h"
#include "grammar/json_schema.h"

namespace basalt::api {

struct ToolSpec {
  std::string name;
  std::string description;
  Json input_schema = Json::object();
};

enum class ToolChoice { kAuto, kAny, kTool, kNone };

struct ToolCall {
  std::string id;
  std::string name;
  Json input = Json::object();
};

struct PromptPlan {
  bool raw = false;  // `raw_prompt` is used as is (Llama, Mistral, Titan bodies)
  std::string raw_prompt;
  std::string system;
  std::vector<engine::ChatMessage> messages;  // flattened to text
  std::string prefill;                        // a trailing partial assistant turn to continue
  std::vector<ToolSpec> tools;
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_choice_name;
  engine::SamplingParams sampling;
  // Structured output (Converse outputConfig): the answer is JSON following `output_schema`,
  // enforced by `output_grammar` (GBNF whose top rule is "js-top").
  std::shared_ptr<const grammar::SchemaJson> output_schema;
  std::string output_grammar;
  std::string output_schema_text;  // as the client sent it, for the system prompt
  std::string output_schema_name;
};

// True when `text` parses as JSON and validates against the plan's output schema (or when
// the plan has none). Patterns are left to the grammar (client regexes are not run here).
bool StructuredOutputValid(const PromptPlan& plan, const std::string& text);

// Bounds on stop sequences, which the engine matches against every generated token.
inline constexpr size_t kMaxStopSequences = 2500;
inline constexpr size_t kMaxStopSequenceBytes = 512;
inline constexpr size_t kMaxStopSequencesTotalBytes = 4096;

// Formats the plan for `engine_model` (chat template, tools) into a GenerateRequest.
// kInvalidArgument when the stop sequences exceed the bounds above.

StatusOr<engine::GenerateRequest> BuildGenerateRequest(engine::Engine& engine,
                                                       const std::string& engine_model,
                                                       const PromptPlan& plan);

std::string RenderToolCallText(const std::string& name, const Json& input);
std::string RenderToolResultText(const std::string& content);

struct ParsedOutput {
  std::string text;  // text outside tool calls, trimmed
  std::vector<ToolCall> calls;
};
// Extracts <tool_call> blocks naming known tools. Text that is not a valid call stays text.
ParsedOutput ParseToolCalls(const std::string& output, const std::vector<ToolSpec>& tools);

// A fresh id like the service's ("tooluse_" + 22 url-safe characters).
std::string NewToolUseId(const char* prefix = "tooluse_");

// How many leading bytes of `text` can be streamed now without risking emitting part of a
// "<tool_call>" opener: everything before a possible opener prefix at its end.
size_t SafeTextPrefix(const std::string& text);

}  // namespace basalt::api
