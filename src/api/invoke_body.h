// Provider-native InvokeModel bodies (shared/docs/bedrock-api.md section B): parsing into a
// PromptPlan, and rendering responses and stream chunks in each family's own shape.
#pragma once

#include <string>
#include <vector>

#include "api/chat.h"
#include "api/json_body.h"
#include "catalog/catalog.h"
#include "engine/engine.h"

namespace basalt::api {

// Parses `body` for `family`. kInvalidArgument with Bedrock's "Malformed input request"
// wording names the offending key.
StatusOr<PromptPlan> ParseInvokeBody(catalog::RequestFamily family, const Json& body);

struct GenerationResult {
  std::string text;  // visible text (tool calls removed when parsed)
  std::vector<ToolCall> calls;
  engine::FinishReason reason = engine::FinishReason::kEndOfGeneration;
  std::string stop;  // matched stop sequence
  engine::Usage usage;
  int64_t latency_ms = 0;
  int64_t first_byte_ms = 0;
  bool malformed_output = false;  // structured output finished but does not fit its schema
};

// The InvokeModel response body.
Json RenderInvokeResponse(catalog::RequestFamily family, const std::string& model_id,
                          const GenerationResult& result);

// Produces the chunk objects of InvokeModelWithResponseStream (each is base64-wrapped into
// one `chunk` event by the caller). The last chunk of Finish() carries
// amazon-bedrock-invocationMetrics.
class InvokeStreamRenderer {
 public:
  InvokeStreamRenderer(catalog::RequestFamily family, std::string model_id, int input_tokens)
      : family_(family), model_id_(std::move(model_id)), input_tokens_(input_tokens) {}

  std::vector<Json> Start();
  std::vector<Json> Delta(const std::string& text, int tokens);
  std::vector<Json> Finish(const GenerationResult& result);

 private:
  catalog::RequestFamily family_;
  std::string model_id_;
  int input_tokens_;
  int output_tokens_ = 0;
  bool first_delta_ = true;
  bool text_block_open_ = false;
  int block_index_ = 0;
};

// "anthropic.claude-3-haiku-20240307-v1:0" -> "claude-3-haiku-20240307".
std::string AnthropicModelName(const std::string& model_id);
std::string NewMessageId();

}  // namespace basalt::api
