// The Bedrock HTTP API: routes raw request paths to the runtime operations (InvokeModel,
// InvokeModelWithResponseStream, Converse, ConverseStream, CountTokens) and the control-plane
// catalog operations, authenticates every call, and renders every reply (errors included) in
// the service's wire shape. See docs/bedrock-api.md.
//
// Thread-safety: Handle() is called concurrently from the HTTP server's worker threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "catalog/catalog.h"
#include "engine/engine.h"
#include "http/http_server.h"
#include "store/store.h"

namespace basalt::api {

struct ApiOptions {
  std::string default_region = "us-east-1";
  int default_max_tokens = 4096;  // Converse without inferenceConfig.maxTokens
  std::function<std::chrono::system_clock::time_point()> clock = [] {
    return std::chrono::system_clock::now();
  };
};

class BedrockApi {
 public:
  // `store` and `engine` must outlive the API.
  BedrockApi(store::Store* store, engine::Engine* engine,
             std::shared_ptr<const catalog::Catalog> catalog, ApiOptions options);

  void Handle(http::Request request, std::shared_ptr<http::ResponseWriter> writer);

  struct Call;  // one request in flight (defined in api.cc)

 private:
  void Dispatch(Call& call);
  void InvokeModel(Call& call, const std::string& model_id, bool stream);
  void Converse(Call& call, const std::string& model_id, bool stream);
  void CountTokens(Call& call, const std::string& model_id);
  void ListFoundationModels(Call& call);
  void GetFoundationModel(Call& call, const std::string& model_id);

  store::Store* store_;
  engine::Engine* engine_;
  std::shared_ptr<const catalog::Catalog> catalog_;
  ApiOptions options_;
};

// RFC 7231 date for the Date header.
std::string HttpDate(std::chrono::system_clock::time_point t);
std::string NewRequestId();
// Percent-decodes one path segment; kInvalidArgument on a bad escape.
StatusOr<std::string> PercentDecode(std::string_view s);

}  // namespace basalt::api
