// Administration over HTTP (/basalt/admin/...): parses the path and body, calls the
// administration service (admin/admin.h, which authorizes) and sends its reply. The routes and
// shapes are in docs/admin.md.
#include <algorithm>
#include <cstdint>
#include <optional>

#include "admin/admin.h"
#include "api/api.h"
#include "api/authorize.h"
#include "api/call.h"
#include "api/errors.h"
#include "auth/sigv4.h"

namespace basalt::api {

namespace {

// Policy documents in a body may be a JSON object or the document as a string (IAM's form).
StatusOr<std::string> PolicyDocument(const Json& body) {
  if (!body.contains("document") || body["document"].is_null()) {
    return RequiredString(body, "document", 6144);
  }
  if (body["document"].is_object()) return body["document"].dump();
  return RequiredString(body, "document", 6144);
}

// An integer member that must be positive when present. Another type is passed on as 0, so
// that the service refuses it with its own wording, after authorization.
std::optional<int64_t> OptionalSeconds(const Json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return std::nullopt;
  const Json& v = body[key];
  return v.is_number_integer() ? v.get<int64_t>() : 0;
}

}  // namespace

void BedrockApi::Admin(Call& call, const std::vector<std::string>& rest) {
  auto now = options_.clock();
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  // Optional string members; a member of another type is refused, never read as absent.
  for (const char* key : {"accountId", "userId", "status", "name", "role", "modelId", "state",
                          "accessKeyId", "region", "password"}) {
    auto v = OptionalString(*body, key, 2048);
    if (!v.ok()) return SendError(call, v.status(), now);
  }
  auto opt_string = [&](const char* key) -> std::string {
    return body->contains(key) && (*body)[key].is_string() ? (*body)[key].get<std::string>() : "";
  };
  // Path segments after /basalt/admin, percent-decoded.
  std::vector<std::string> seg;
  for (const auto& s : rest) {
    auto d = PercentDecode(s);
    if (!d.ok()) return SendError(call, d.status(), now);
    seg.push_back(std::move(*d));
  }
  const std::string& method = call.request.method;
  const std::string what = seg.empty() ? "" : seg[0];
  const size_t n = seg.size();
  auto is = [&](const char* m, const char* first, size_t count) {
    return method == m && what == first && n == count;
  };

  admin::Caller caller =
      admin::Caller::User(call.principal.account_id, call.principal.user_id, call.identity.arn,
                          call.identity.policies, call.identity.context);
  admin::Service service(store_, admin::ServiceOptions{options_.clock, call.region});
  std::optional<StatusOr<admin::Json>> reply;

  if (is("GET", "accounts", 1)) {
    reply = service.ListAccounts(caller);
  } else if (is("POST", "accounts", 1)) {
    reply = service.CreateAccount(caller, opt_string("name"));
  } else if (is("GET", "users", 1)) {
    reply = service.ListUsers(caller, QueryParam(call.query, "accountId"));
  } else if (is("POST", "users", 1)) {
    admin::CreateUserRequest request{opt_string("accountId"), opt_string("name"),
                                     opt_string("role"), std::nullopt};
    if (body->contains("policies")) {
      const Json& list = (*body)["policies"];
      bool names = list.is_array();
      for (size_t i = 0; names && i < list.size(); ++i) names = list[i].is_string();
      if (!names) {
        return SendError(call, Status::InvalidArgument("policies must be a list of names"), now);
      }
      request.policies = list.get<std::vector<std::string>>();
    }
    reply = service.CreateUser(caller, request);
  } else if (is("GET", "users", 2)) {
    reply = service.GetUser(caller, seg[1]);
  } else if (is("GET", "users", 3) && seg[2] == "policies") {
    reply = service.ListAttachedUserPolicies(caller, seg[1]);
  } else if (is("PUT", "users", 4) && seg[2] == "policies") {
    reply = service.AttachUserPolicy(caller, seg[1], seg[3]);
  } else if (is("DELETE", "users", 4) && seg[2] == "policies") {
    reply = service.DetachUserPolicy(caller, seg[1], seg[3]);
  } else if (is("PUT", "users", 3) && seg[2] == "password") {
    admin::SetUserPasswordRequest request{seg[1], opt_string("password"), false};
    if (body->contains("generate")) {
      if (!(*body)["generate"].is_boolean()) {
        return SendError(call, Status::InvalidArgument("generate must be true or false"), now);
      }
      request.generate = (*body)["generate"].get<bool>();
    }
    reply = service.SetUserPassword(caller, request);
  } else if (is("DELETE", "users", 3) && seg[2] == "password") {
    reply = service.DeleteUserPassword(caller, seg[1]);
  } else if (is("GET", "policies", 1)) {
    reply = service.ListPolicies(caller, QueryParam(call.query, "accountId"));
  } else if (is("PUT", "policies", 2)) {
    auto document = PolicyDocument(*body);
    if (!document.ok()) return SendError(call, document.status(), now);
    reply = service.PutPolicy(caller, opt_string("accountId"), seg[1], *document);
  } else if (is("GET", "access-keys", 1)) {
    reply = service.ListAccessKeys(caller, QueryParam(call.query, "userId"));
  } else if (is("POST", "access-keys", 1)) {
    reply = service.CreateAccessKey(caller, opt_string("userId"));
  } else if (is("PUT", "access-keys", 2)) {
    reply = service.UpdateAccessKey(caller, seg[1], opt_string("status"));
  } else if (is("DELETE", "access-keys", 2)) {
    reply = service.DeleteAccessKey(caller, seg[1]);
  } else if (is("GET", "api-keys", 1)) {
    reply = service.ListApiKeys(caller, QueryParam(call.query, "userId"));
  } else if (is("POST", "api-keys", 1)) {
    reply = service.CreateApiKey(
        caller, {opt_string("userId"), OptionalSeconds(*body, "expiresInSeconds")});
  } else if (what == "api-keys" && n == 2 && (method == "PUT" || method == "DELETE")) {
    // API keys are found through their owner: ?userId= or the body's userId (default: caller).
    std::string owner = QueryParam(call.query, "userId");
    if (owner.empty()) owner = opt_string("userId");
    reply = method == "PUT" ? service.UpdateApiKey(caller, owner, seg[1], opt_string("status"))
                            : service.DeleteApiKey(caller, owner, seg[1]);
  } else if (is("POST", "short-term-api-keys", 1)) {
    admin::CreateShortTermApiKeyRequest request{opt_string("accessKeyId"), opt_string("region")};
    if (auto s = OptionalSeconds(*body, "expiresInSeconds"); s.has_value()) {
      request.expires_in_seconds = static_cast<int>(std::clamp<int64_t>(*s, 0, INT32_MAX));
    }
    reply = service.CreateShortTermApiKey(caller, request);
  } else if (is("GET", "model-access", 1)) {
    reply = service.ListModelAccess(caller, QueryParam(call.query, "accountId"));
  } else if (is("PUT", "model-access", 1)) {
    reply = service.SetModelAccess(caller, opt_string("accountId"), opt_string("modelId"),
                                   opt_string("state"));
  } else if (is("GET", "model-access-requests", 1)) {
    reply = service.ListModelAccessRequests(caller);
  }
  if (!reply.has_value()) {
    return SendError(
        call, Status::NotFound("Unknown administration operation " + method + " " + call.path),
        now);
  }
  if (!reply->ok()) return SendError(call, reply->status(), now);
  SendJson(call, 200, Json(**reply), now);
}

}  // namespace basalt::api
