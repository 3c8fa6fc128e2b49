// Private to the api folder: one request in flight, and the reply and parsing helpers that
// every operation group (runtime.cc, control_plane.cc, reports.cc, admin_api.cc) shares.
#pragma once

#include <chrono>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "api/api.h"
#include "api/authenticate.h"
#include "api/authorize.h"
#include "api/json_body.h"
#include "http/http_server.h"
#include "metering/quota.h"

namespace basalt::api {

struct BedrockApi::Call {
  http::Request request;
  std::shared_ptr<http::ResponseWriter> writer;
  std::string request_id;
  std::chrono::steady_clock::time_point start;
  Principal principal;
  Identity identity;
  std::string region;
  metering::QuotaRequest quota;
  bool quota_admitted = false;
  std::string path;  // raw path without the query
  std::string query;
  bool responded = false;
  // Where the call came from, as usage records say: "api" (SigV4, bearer) or "console".
  std::string source = "api";
  // A model call made for an app (app_invoke.cc): the app id for the usage record, and a hook
  // that receives the invocation's usage record (priced) once it is written.
  std::string app_id;
  std::function<void(const metering::UsageRecord&)> on_usage;
  // An image model call (images.cc): what FinishInvocation meters and logs.
  int64_t images = 0;         // images delivered
  std::string image_size;     // "512x512"
  std::string image_quality;  // "standard", "premium"
  int64_t image_steps = 0;
  std::string prompt_used;            // the translated prompt, when one was
  std::string output_without_images;  // the response body logged without image data delivery
};

inline constexpr const char* kInvalidModel = "The provided model identifier is invalid.";

std::vector<http::Header> BaseHeaders(const std::string& request_id,
                                      const std::string& content_type,
                                      std::chrono::system_clock::time_point now);
// Sends a Bedrock-shaped error reply (errors.cc maps the Status).
void SendError(BedrockApi::Call& call, const Status& status,
               std::chrono::system_clock::time_point now, std::vector<http::Header> extra = {});
void SendJson(BedrockApi::Call& call, int status, const Json& body,
              std::chrono::system_clock::time_point now, std::vector<http::Header> extra = {});

// The first value of query parameter `name`, percent-decoded ('+' is a space); "" when absent
// or malformed.
std::string QueryParam(const std::string& query, const std::string& name);

// Parses a JSON request body of the control plane or the admin API; an empty body is {}.
// kInvalidArgument for invalid JSON, a non-object, or nesting deeper than kMaxJsonDepth.
StatusOr<Json> ControlBody(const std::string& body);
// A required string member of 1..max_len bytes, with the service's validation wording.
StatusOr<std::string> RequiredString(const Json& body, const char* field, size_t max_len = 2048);
// An optional member that must be a string when present.
StatusOr<std::string> OptionalString(const Json& body, const char* field, size_t max_len = 2048);

std::string Lower(std::string s);
bool StartsWithAny(const std::string& s, std::initializer_list<const char*> prefixes);

}  // namespace basalt::api
