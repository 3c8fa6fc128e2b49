// A model call made for an app: an inner Call through Converse / InvokeModel (app_invoke.h).
#include "api/app_invoke.h"

#include <spdlog/spdlog.h>

#include <random>

#include "api/api.h"
#include "api/call.h"
#include "api/event_stream.h"
#include "http/http_server.h"

namespace basalt::api {

void AppCallCancel::Cancel() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    callbacks.swap(callbacks_);
  }
  for (auto& cb : callbacks) cb();
}

bool AppCallCancel::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

void AppCallCancel::OnCancel(std::function<void()> callback) {
  {
    std::lock_guard lock(mu_);
    if (!cancelled_) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

Status StatusFromWire(const std::string& type, const std::string& message) {
  if (type == "ValidationException") return Status::InvalidArgument(message);
  if (type == "AccessDeniedException") return Status::PermissionDenied(message);
  if (type == "ResourceNotFoundException") return Status::NotFound(message);
  if (type == "ThrottlingException") return Status::ResourceExhausted(message);
  if (type == "ServiceQuotaExceededException") {
    return Status::ResourceExhausted(message, "ServiceQuotaExceeded");
  }
  if (type == "ModelNotReadyException") {
    return Status(StatusCode::kUnavailable, message, "ModelNotReady");
  }
  if (type == "ServiceUnavailableException") return Status::Unavailable(message);
  if (type == "ModelTimeoutException") return Status::DeadlineExceeded(message);
  if (type == "ConflictException") return Status::AlreadyExists(message);
  return Status::Internal(message.empty() ? "The model call failed." : message);
}

namespace {

// The event stream's exception member ("throttlingException") as an error type
// ("ThrottlingException").
std::string WireType(std::string member) {
  if (!member.empty())
    member[0] = static_cast<char>(toupper(static_cast<unsigned char>(member[0])));
  return member;
}

std::string HeaderOf(const EventStreamMessage& m, const std::string& name) {
  for (const auto& [k, v] : m.headers) {
    if (k == name) return v;
  }
  return "";
}

// The inner call's ResponseWriter: captures a plain reply, or decodes the ConverseStream
// event stream as it arrives. Closed() and OnClose() follow the call's AppCallCancel, so a
// stop cancels the engine job exactly as a client that goes away does.
class CapturingWriter : public http::ResponseWriter {
 public:
  CapturingWriter(std::shared_ptr<AppCallCancel> cancel,
                  std::function<void(const std::string&)> on_delta)
      : cancel_(std::move(cancel)), on_delta_(std::move(on_delta)) {}

  void Respond(int status, std::vector<http::Header> headers, std::string body) override {
    status_ = status;
    if (status / 100 == 2) {
      body_ = std::move(body);
      return;
    }
    for (const auto& h : headers) {
      if (Lower(h.name) == "x-amzn-errortype") error_type_ = h.value;
    }
    Json j = Json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("message") && j["message"].is_string()) {
      error_message_ = j["message"].get<std::string>();
    } else {
      error_message_ = body;
    }
    if (error_type_.empty()) error_type_ = "InternalServerException";
  }
  void StartStream(int status, std::vector<http::Header>) override { status_ = status; }
  bool Write(std::string data) override {
    buffer_ += data;
    while (buffer_.size() >= 4) {
      uint32_t total = (uint32_t(uint8_t(buffer_[0])) << 24) |
                       (uint32_t(uint8_t(buffer_[1])) << 16) |
                       (uint32_t(uint8_t(buffer_[2])) << 8) | uint32_t(uint8_t(buffer_[3]));
      if (total < 16 || buffer_.size() < total) break;
      auto messages = DecodeEventStream(std::string_view(buffer_).substr(0, total));
      buffer_.erase(0, total);
      if (!messages.ok()) {
        error_type_ = "InternalServerException";
        error_message_ = messages.status().message();
        continue;
      }
      for (const auto& m : *messages) Handle(m);
    }
    return !cancel_->cancelled();
  }
  void Finish() override {}
  bool Closed() const override { return cancel_->cancelled(); }
  void OnClose(std::function<void()> callback) override { cancel_->OnCancel(std::move(callback)); }

  int status_ = 0;
  std::string body_;  // a plain 2xx reply
  std::string error_type_, error_message_;
  std::string text_;
  std::string stop_reason_;

 private:
  void Handle(const EventStreamMessage& m) {
    Json payload = Json::parse(m.payload, nullptr, false);
    if (HeaderOf(m, ":message-type") == "exception") {
      error_type_ = WireType(HeaderOf(m, ":exception-type"));
      error_message_ = payload.is_object() ? payload.value("message", "") : m.payload;
      return;
    }
    if (!payload.is_object()) return;
    std::string type = HeaderOf(m, ":event-type");
    if (type == "contentBlockDelta" && payload.contains("delta") && payload["delta"].is_object() &&
        payload["delta"].contains("text") && payload["delta"]["text"].is_string()) {
      std::string delta = payload["delta"]["text"].get<std::string>();
      if (delta.empty()) return;
      text_ += delta;
      if (on_delta_) on_delta_(delta);
    } else if (type == "messageStop") {
      stop_reason_ = payload.value("stopReason", "");
    }
  }

  std::shared_ptr<AppCallCancel> cancel_;
  std::function<void(const std::string&)> on_delta_;
  std::string buffer_;
};

Json ConverseBody(const AppCallRequest& r) {
  Json body = Json::object();
  if (!r.system.empty()) body["system"] = Json::array({{{"text", r.system}}});
  Json messages = Json::array();
  for (const auto& [role, text] : r.messages) {
    messages.push_back({{"role", role}, {"content", Json::array({{{"text", text}}})}});
  }
  body["messages"] = std::move(messages);
  body["inferenceConfig"] = {
      {"maxTokens", r.max_tokens}, {"temperature", r.temperature}, {"topP", r.top_p}};
  if (r.seed != 0) body["additionalModelRequestFields"] = {{"seed", r.seed}};
  if (!r.output_config.is_null()) body["outputConfig"] = r.output_config;
  return body;
}

// Amazon Titan Image Generator's TEXT_IMAGE body.
Json TitanImageBody(const AppCallRequest& r) {
  int64_t seed = r.image_seed;
  if (seed <= 0) {
    static thread_local std::mt19937_64 rng(std::random_device{}());
    seed = static_cast<int64_t>(rng() % 2147483646);
  }
  Json params = {{"text", r.prompt}};
  if (!r.negative_prompt.empty()) params["negativeText"] = r.negative_prompt;
  return {{"taskType", "TEXT_IMAGE"},
          {"textToImageParams", params},
          {"imageGenerationConfig",
           {{"numberOfImages", 1},
            {"width", r.width},
            {"height", r.height},
            {"cfgScale", 8.0},
            {"seed", seed % 2147483647}}}};
}

// The id an image widget with model "" calls when no image model is served: the SDK caller's
// answer for it ("The provided model identifier is invalid.") is the widget's error.
constexpr const char* kDefaultImageModel = "amazon.titan-image-generator-v2:0";

}  // namespace

AppCallResult BedrockApi::InvokeForApp(const Call& outer, const AppCallRequest& request) {
  AppCallResult result;
  std::string model = request.model_id;
  if (model.empty()) {
    auto models = AppModels(outer, request.image ? "image-generation" : "text-generation");
    if (!models.empty()) {
      model = models.front();
    } else if (request.image) {
      model = kDefaultImageModel;
    } else {
      result.status = Status::InvalidArgument(
          "No text model is available to you: ask an administrator for access to a model.");
      result.error_type = "ValidationException";
      result.error_message = result.status.message();
      return result;
    }
  }
  result.model_id = model;
  auto cancel = request.cancel ? request.cancel : std::make_shared<AppCallCancel>();
  auto writer = std::make_shared<CapturingWriter>(cancel, request.on_delta);
  // The outer caller going away cancels the call, as it would its own SDK call.
  if (outer.writer) {
    outer.writer->OnClose([weak = std::weak_ptr<AppCallCancel>(cancel)] {
      if (auto c = weak.lock()) c->Cancel();
    });
  }

  Call call;
  call.request.method = "POST";
  call.request.target = "/model/" + model + (request.image ? "/invoke" : "/converse-stream");
  call.request.authority = outer.request.authority;
  call.request.remote_address = outer.request.remote_address;
  call.request.headers = {{"content-type", "application/json"}};
  call.request.body = (request.image ? TitanImageBody(request) : ConverseBody(request))
                          .dump(-1, ' ', false, Json::error_handler_t::replace);
  call.writer = writer;
  call.request_id = NewRequestId();
  call.start = std::chrono::steady_clock::now();
  call.principal = outer.principal;
  call.identity = outer.identity;
  call.region = outer.region;
  call.quota = outer.quota;
  call.quota.source = "app";
  call.quota.estimated_tokens = 0;
  call.path = call.request.target;
  call.source = "app";
  call.app_id = request.app_id;
  call.on_usage = [&result](const metering::UsageRecord& rec) {
    result.input_tokens = rec.input_tokens;
    result.output_tokens = rec.output_tokens;
    result.image_count = rec.images;
    result.cost = rec.cost;
    result.cost_nanos = rec.cost_nanos;
    result.outcome = rec.outcome;
  };
  result.request_id = call.request_id;
  try {
    if (request.image) {
      InvokeModel(call, model, false);
    } else {
      Converse(call, model, true);
    }
  } catch (const std::exception& e) {
    spdlog::error("app {} request {}: unhandled exception: {}", request.app_id, call.request_id,
                  e.what());
    writer->error_type_ = "InternalServerException";
    writer->error_message_ = "Internal server error";
  }
  result.cancelled = cancel->cancelled();
  result.text = std::move(writer->text_);
  result.stop_reason = std::move(writer->stop_reason_);
  if (!writer->error_type_.empty()) {
    result.error_type = writer->error_type_;
    result.error_message = writer->error_message_;
    result.status = StatusFromWire(result.error_type, result.error_message);
    return result;
  }
  if (request.image && !writer->body_.empty()) {
    Json j = Json::parse(writer->body_, nullptr, false);
    if (j.is_object() && j.contains("images") && j["images"].is_array()) {
      for (const auto& img : j["images"]) {
        if (img.is_string()) result.images.push_back(img.get<std::string>());
      }
    }
  }
  if (result.cancelled && result.outcome.empty()) result.outcome = "client_gone";
  return result;
}

}  // namespace basalt::api
