// OpenID Connect relying party for member sign-in (docs/apps.md, "Members"): provider
// configuration (--oidc-config), discovery (/.well-known/openid-configuration), the
// authorization-code flow with PKCE S256, state and nonce, the code exchange at the token
// endpoint (client_secret_post or client_secret_basic), and ID token verification against the
// provider's JWKS (RS256 and ES256 through OpenSSL EVP; iss, aud, azp, exp, iat, nonce).
//
// Fetches go over HTTPS with the certificate checked against the system store (SSL_CERT_FILE
// can name a bundle). Plain http is accepted only for loopback issuers (127.0.0.0/8, ::1,
// localhost): tests and development run a provider on this machine. Every fetch has a
// deadline and a size cap, and redirects are not followed.
//
// Thread-safety: the free functions are pure. A Provider may be used from many threads at
// once (its discovery document and key set are cached under a mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace basalt::console::oidc {

// One entry of the --oidc-config JSON list:
//   {"id": "google", "label": "Google", "issuer": "https://accounts.google.com",
//    "clientId": "…", "clientSecret": "…", "scopes": "openid email profile",
//    "tokenEndpointAuth": "client_secret_post" | "client_secret_basic"}
struct ProviderConfig {
  std::string id;     // [a-z0-9-]{1,32}: the {id} in /console/oidc/{id}/start
  std::string label;  // "Sign in with <label>"
  std::string issuer;
  std::string client_id;
  std::string client_secret;
  std::string scopes = "openid email profile";
  // "" = the first of the provider's advertised methods we support (post, then basic).
  std::string token_endpoint_auth;
};

// kInvalidArgument naming the entry and field for a bad document.
StatusOr<std::vector<ProviderConfig>> ParseProviderConfigs(std::string_view json);
StatusOr<std::vector<ProviderConfig>> LoadProviderConfigs(const std::string& path);

// An absolute http(s) URL split for a client.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-case, no IPv6 brackets
  uint16_t port = 0;
  std::string target;  // "/path?query", never empty
  std::string HostHeader() const;
};
StatusOr<Url> ParseUrl(std::string_view text);
bool IsLoopbackHost(std::string_view host);
// https, or http to a loopback host. kInvalidArgument otherwise.
Status CheckFetchUrl(std::string_view url);

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};
struct FetchOptions {
  std::chrono::milliseconds timeout{10'000};  // the whole exchange, connect included
  size_t max_body_bytes = 1 << 20;
};
// One HTTP/1.1 exchange (GET when body is empty and method is "GET"). No redirects.
// kUnavailable for network, TLS and timeout failures; kInvalidArgument for a refused URL;
// kResourceExhausted when the reply is larger than the cap.
StatusOr<HttpResponse> Fetch(const std::string& method, const std::string& url,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             const std::string& body, const FetchOptions& options = {});
using Fetcher = std::function<StatusOr<HttpResponse>(
    const std::string& method, const std::string& url,
    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body)>;

std::string Base64UrlEncode(std::string_view data);
std::optional<std::string> Base64UrlDecode(std::string_view text);
// RFC 7636 S256: BASE64URL(SHA256(ASCII(verifier))).
std::string PkceChallengeS256(std::string_view verifier);
// application/x-www-form-urlencoded component.
std::string FormEncode(std::string_view s);

struct Discovery {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  std::vector<std::string> token_endpoint_auth_methods;
};
// Parses a discovery document and checks that its issuer is `expected_issuer` exactly and
// its endpoints pass CheckFetchUrl (the authorization endpoint must be http(s)).
StatusOr<Discovery> ParseDiscovery(std::string_view json, const std::string& expected_issuer);

// A JSON Web Key Set's usable signing keys (RSA and EC P-256; others are skipped).
class KeySet {
 public:
  struct Key {
    std::string kid;
    std::string kty;  // "RSA" or "EC"
    std::string alg;  // "" when the JWK names none
    std::shared_ptr<EVP_PKEY> pkey;
  };
  static StatusOr<KeySet> Parse(std::string_view jwks_json);
  // The key with this kid (any key when kid is empty and there is exactly one candidate of
  // the algorithm's type). nullptr when none.
  const Key* Find(const std::string& kid, const std::string& alg) const;
  size_t size() const { return keys_.size(); }

 private:
  std::vector<Key> keys_;
};

struct IdTokenClaims {
  std::string issuer;
  std::string subject;
  std::string email;
  bool email_verified = false;
  std::string name;
  std::string nonce;
  int64_t expires_at = 0;
  int64_t issued_at = 0;
};

struct VerifyOptions {
  std::string issuer;
  std::string client_id;
  std::string nonce;  // required to match
  std::chrono::system_clock::time_point now;
  std::chrono::seconds skew{60};
};

// Verifies a compact JWS ID token: alg RS256 or ES256 only (never "none"), signature by the
// key of its kid, then iss, aud (contains client_id; azp is client_id when several), exp and
// iat (within skew), nonce. kUnauthenticated with the reason; kNotFound (message starts
// "unknown key") when no key of the set has the token's kid, so callers can refetch.
StatusOr<IdTokenClaims> VerifyIdToken(std::string_view token, const KeySet& keys,
                                      const VerifyOptions& options);

// A configured provider with its discovery document and key set cached.
class Provider {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  Provider(ProviderConfig config, Fetcher fetcher, Clock clock);

  const ProviderConfig& config() const { return config_; }
  // The URL to send the browser to.
  StatusOr<std::string> AuthorizationUrl(const std::string& redirect_uri, const std::string& state,
                                         const std::string& nonce,
                                         const std::string& code_verifier);
  // Exchanges the code at the token endpoint and verifies the ID token it returns.
  StatusOr<IdTokenClaims> Redeem(const std::string& code, const std::string& code_verifier,
                                 const std::string& redirect_uri, const std::string& nonce);

 private:
  StatusOr<Discovery> GetDiscovery();
  StatusOr<std::shared_ptr<const KeySet>> GetKeys(bool refetch);

  ProviderConfig config_;
  Fetcher fetcher_;
  Clock clock_;
  std::mutex mu_;
  std::optional<Discovery> discovery_;                  // guarded by mu_
  std::chrono::steady_clock::time_point discovered_;    // guarded by mu_
  std::shared_ptr<const KeySet> keys_;                  // guarded by mu_
  std::chrono::steady_clock::time_point keys_fetched_;  // guarded by mu_
  // The last refetch for an unknown kid (at most one per 10 s).
  std::optional<std::chrono::steady_clock::time_point> refetched_;  // guarded by mu_
};

}  // namespace basalt::console::oidc
