// A model call made for an app (docs/apps.md): a widget's Converse stream, a chatbot turn,
// Generate's structured-output Converse, or an image widget's InvokeModel with an Amazon Titan
// Image Generator body. It runs as the runner's principal (the caller of the run), with source
// "app" and the app's id on the usage record, through exactly the path an SDK call takes:
// BedrockApi::Converse / InvokeModel with the same admission (region, policies, model access,
// quotas including the daily app credits), metering (usage record, checkpoints, quota
// settlement, invocation log) and cancellation. The call is an inner BedrockApi::Call with a
// synthetic request and a capturing ResponseWriter that decodes the event stream.
//
// Private to the api folder.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "api/json_body.h"
#include "common/status.h"

namespace basalt::api {

// Stops a model call made for an app: the engine job is cancelled, and what was generated so
// far is billed (outcome "client_gone", as for an SDK caller that went away). Thread-safe.
class AppCallCancel {
 public:
  // Idempotent; runs the registered callbacks once, on the calling thread.
  void Cancel();
  bool cancelled() const;
  // Runs `callback` when Cancel() is called (at once when it already was).
  void OnCancel(std::function<void()> callback);

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  std::vector<std::function<void()>> callbacks_;
};

struct AppCallRequest {
  std::string app_id;    // on the usage record; required
  std::string model_id;  // "" = the first model of the kind the caller may use
  bool image = false;    // InvokeModel with a Titan image body instead of ConverseStream

  // Text (Converse): the system prompt ("" = none) and the conversation, which must start
  // with a user turn and alternate (Converse's own rules and messages apply).
  std::string system;
  std::vector<std::pair<std::string, std::string>> messages;  // role ("user"/"assistant"), text
  double temperature = 0.7;
  double top_p = 0.9;
  int max_tokens = 512;
  int64_t seed = 0;    // 0 = none (additionalModelRequestFields.seed otherwise)
  Json output_config;  // Converse outputConfig (structured output); null = none
  // Text as it is generated (on the calling thread). Optional.
  std::function<void(const std::string& delta)> on_delta;

  // Image (Titan TEXT_IMAGE).
  std::string prompt;
  std::string negative_prompt;
  int width = 512;
  int height = 512;
  int64_t image_seed = 0;  // 0 = a random seed

  std::shared_ptr<AppCallCancel> cancel;  // optional
};

struct AppCallResult {
  // Ok, or the error the call ended with; error_type and error_message are its wire form
  // (the x-amzn-ErrorType and message an SDK caller would see, e.g. "ValidationException").
  Status status;
  std::string error_type;
  std::string error_message;
  std::string model_id;             // the model called (the default resolved)
  std::string request_id;           // of the invocation (its usage record)
  std::string text;                 // all text generated (also when stopped part-way)
  std::vector<std::string> images;  // base64 PNG
  std::string stop_reason;          // Converse's ("end_turn", "max_tokens", ...)
  // From the usage record as written (priced by the price book); zero when none was written.
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t image_count = 0;
  double cost = 0;
  int64_t cost_nanos = 0;
  std::string outcome;  // "success", "client_gone", "client_error", ...
  bool cancelled = false;
};

// Maps an error reply's wire type and message back to a Status (the inverse of MapStatus for
// the types a model call can answer).
Status StatusFromWire(const std::string& type, const std::string& message);

}  // namespace basalt::api
