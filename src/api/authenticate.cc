#include "api/authenticate.h"

#include "auth/sigv4.h"

namespace basalt::api {
namespace {

constexpr const char* kInvalidToken = "The security token included in the request is invalid.";

Status InvalidToken() { return Status::Unauthenticated(kInvalidToken); }

StatusOr<Principal> FromAccessKey(store::Store& store, const std::string& access_key_id,
                                  std::string* secret) {
  auto key = store.GetAccessKey(access_key_id);
  if (!key.ok()) {
    if (key.status().code() == StatusCode::kNotFound) return InvalidToken();
    return key.status();
  }
  if (key->status != "Active") return InvalidToken();
  *secret = key->secret_access_key;
  Principal p;
  p.account_id = key->account_id;
  p.user_id = key->user_id;
  p.access_key_id = key->access_key_id;
  return p;
}

}  // namespace

StatusOr<Principal> Authenticate(store::Store& store, const http::Request& request,
                                 std::chrono::system_clock::time_point now) {
  const std::string* header = request.FindHeader("authorization");
  if (header == nullptr || header->empty()) {
    return Status::Unauthenticated("Missing Authentication Token", "MissingAuthenticationToken");
  }
  std::string_view value = *header;
  if (value.rfind("Bearer ", 0) == 0 || value.rfind("bearer ", 0) == 0) {
    std::string token(value.substr(7));
    while (!token.empty() && token.back() == ' ') token.pop_back();
    if (token.rfind("bedrock-api-key-", 0) == 0) {
      auto parsed = auth::ParseShortTermToken(token);
      if (!parsed.ok()) return InvalidToken();
      std::string secret;
      auto p = FromAccessKey(store, parsed->access_key_id, &secret);
      if (!p.ok()) return p.status();
      Status st = auth::VerifyShortTermToken(*parsed, secret, now);
      if (!st.ok()) return st;
      p->region = parsed->region;
      p->method = "bearer";
      return p;
    }
    auto key = store.FindApiKeyByToken(token);
    if (!key.ok()) {
      if (key.status().code() == StatusCode::kNotFound) return InvalidToken();
      return key.status();
    }
    if (key->status != "Active") return InvalidToken();
    if (key->expires_at != 0 &&
        key->expires_at <=
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()) {
      return Status::Unauthenticated("The security token included in the request is expired",
                                     "ExpiredToken");
    }
    Principal p;
    p.account_id = key->account_id;
    p.user_id = key->user_id;
    p.api_key_id = key->id;
    p.method = "bearer";
    return p;
  }
  if (value.rfind("AWS4-HMAC-SHA256", 0) != 0) {
    return Status::Unauthenticated(
        "Authorization header requires 'Credential' parameter. Authorization header requires "
        "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter.",
        "IncompleteSignature");
  }
  auto parsed = auth::ParseAuthorization(value);
  if (!parsed.ok()) return parsed.status();
  std::string secret;
  auto p = FromAccessKey(store, parsed->access_key_id, &secret);
  if (!p.ok()) return p.status();
  auth::SignedRequest sr;
  sr.method = request.method;
  sr.raw_target = request.target;
  sr.authority = request.authority;
  sr.headers.reserve(request.headers.size());
  for (const auto& h : request.headers) sr.headers.emplace_back(h.name, h.value);
  sr.body = request.body;
  Status st = auth::VerifySigV4(sr, *parsed, secret, now);
  if (!st.ok()) return st;
  p->region = parsed->region;
  p->method = "sigv4";
  return p;
}

}  // namespace basalt::api
