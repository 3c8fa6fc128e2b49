// Converse / ConverseStream bodies (shared/docs/bedrock-api.md A.3, A.4): parsing into a PromptPlan
// and rendering the response and the stream events.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "api/chat.h"
#include "api/invoke_body.h"
#include "api/json_body.h"

namespace basalt::api {

// Validation failures use the service's wording ("1 validation error detected: ...", "A
// conversation must start with a user message. ...").
StatusOr<PromptPlan> ParseConverseBody(const Json& body, int default_max_tokens);

Json RenderConverseResponse(const GenerationResult& result);

using StreamEvent = std::pair<std::string, Json>;  // :event-type, payload

class ConverseStreamRenderer {
 public:
  std::vector<StreamEvent> Start();
  std::vector<StreamEvent> Delta(const std::string& text);
  std::vector<StreamEvent> Finish(const GenerationResult& result);

 private:
  bool text_started_ = false;
};

const char* ConverseStopReason(const GenerationResult& result);

// For structured output: marks `result` malformed (stopReason malformed_model_output) when the
// generation ended on its own but `full_text` (everything generated, streamed parts included)
// is not JSON that fits the plan's schema. Answers cut off by max_tokens or a stop sequence
// keep their stop reason and their partial text, as on Bedrock.
void CheckStructuredOutput(const PromptPlan& plan, const std::string& full_text,
                           GenerationResult* result);

}  // namespace basalt::api
