// OpenID Connect relying party (oidc.h): configuration, discovery, PKCE, JWKS and ID token
// verification, and the provider's authorization and code-exchange steps.
#include "console/oidc.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/json_depth.h"
#include "http/client.h"

namespace basalt::console::oidc {
namespace {

using Json = nlohmann::json;

constexpr auto kDiscoveryTtl = std::chrono::hours(1);
constexpr auto kKeysTtl = std::chrono::hours(1);
// An unknown kid refetches the key set at most this often, so forged kids cannot make the
// server hammer the provider.
constexpr auto kKeysRefetchInterval = std::chrono::seconds(10);

Status Bad(const std::string& m) { return Status::Unauthenticated("ID token refused: " + m); }

StatusOr<Json> ParseJson(std::string_view text, const std::string& what) {
  if (!JsonDepthWithin(text)) return Status::InvalidArgument(what + " is nested too deeply");
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument(what + " is not valid JSON");
  return j;
}

std::string StringMember(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

BnPtr Bn(const std::string& bytes) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<int>(bytes.size()), nullptr));
}

std::shared_ptr<EVP_PKEY> FromParams(const char* type, OSSL_PARAM_BLD* bld) {
  std::shared_ptr<EVP_PKEY> out;
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  if (params != nullptr && ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1 &&
      EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1) {
    out = std::shared_ptr<EVP_PKEY>(pkey, PkeyFree());
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return out;
}

std::shared_ptr<EVP_PKEY> RsaKey(const std::string& n, const std::string& e) {
  BnPtr bn_n = Bn(n), bn_e = Bn(e);
  if (!bn_n || !bn_e) return nullptr;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::shared_ptr<EVP_PKEY> key;
  if (bld != nullptr && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get()) == 1) {
    key = FromParams("RSA", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  if (key && EVP_PKEY_get_bits(key.get()) < 2048) return nullptr;
  return key;
}

std::shared_ptr<EVP_PKEY> EcP256Key(const std::string& x, const std::string& y) {
  if (x.size() != 32 || y.size() != 32) return nullptr;
  std::string point = "\x04" + x + y;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::shared_ptr<EVP_PKEY> key;
  if (bld != nullptr &&
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) ==
          1) {
    key = FromParams("EC", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  return key;
}

bool VerifySignature(EVP_PKEY* key, const std::string& alg, std::string_view signing_input,
                     const std::string& signature) {
  std::string der;
  if (alg == "ES256") {
    // JWS carries R || S (32 bytes each); EVP wants a DER ECDSA-Sig-Value.
    if (signature.size() != 64) return false;
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), 32, nullptr);
    BIGNUM* s =
        BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data() + 32), 32, nullptr);
    if (sig == nullptr || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
      BN_free(r);
      BN_free(s);
      ECDSA_SIG_free(sig);
      return false;
    }
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(sig, &out);
    ECDSA_SIG_free(sig);
    if (len <= 0) return false;
    der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
  } else {
    der = signature;
  }
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool ok = md != nullptr && EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                             reinterpret_cast<const unsigned char*>(signing_input.data()),
                             signing_input.size()) == 1;
  EVP_MD_CTX_free(md);
  return ok;
}

bool ValidProviderId(const std::string& id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

StatusOr<std::vector<ProviderConfig>> ParseProviderConfigs(std::string_view text) {
  BASALT_ASSIGN_OR_RETURN(Json j, ParseJson(text, "the OpenID Connect configuration"));
  if (!j.is_array()) {
    return Status::InvalidArgument("the OpenID Connect configuration must be a JSON list");
  }
  std::vector<ProviderConfig> out;
  std::set<std::string> ids;
  for (size_t i = 0; i < j.size(); ++i) {
    const Json& e = j[i];
    std::string where = "OpenID Connect provider " + std::to_string(i);
    if (!e.is_object()) return Status::InvalidArgument(where + " must be an object");
    for (const auto& [key, value] : e.items()) {
      static const std::set<std::string> kKnown = {
          "id", "label", "issuer", "clientId", "clientSecret", "scopes", "tokenEndpointAuth"};
      if (!kKnown.contains(key)) {
        return Status::InvalidArgument(where + " has an unknown field \"" + key + "\"");
      }
      if (!value.is_string()) {
        return Status::InvalidArgument(where + "." + key + " must be a string");
      }
    }
    ProviderConfig c;
    c.id = StringMember(e, "id");
    c.label = StringMember(e, "label");
    c.issuer = StringMember(e, "issuer");
    c.client_id = StringMember(e, "clientId");
    c.client_secret = StringMember(e, "clientSecret");
    if (e.contains("scopes")) c.scopes = StringMember(e, "scopes");
    c.token_endpoint_auth = StringMember(e, "tokenEndpointAuth");
    if (!ValidProviderId(c.id)) {
      return Status::InvalidArgument(where + ".id must be 1-32 of a-z, 0-9 and -");
    }
    where = "OpenID Connect provider \"" + c.id + "\"";
    if (!ids.insert(c.id).second) return Status::InvalidArgument(where + " is listed twice");
    if (c.label.empty()) c.label = c.id;
    if (c.issuer.empty()) return Status::InvalidArgument(where + " needs an issuer");
    if (Status st = CheckFetchUrl(c.issuer); !st.ok()) {
      return Status::InvalidArgument(where + ".issuer: " + st.message());
    }
    if (c.client_id.empty()) return Status::InvalidArgument(where + " needs a clientId");
    if (c.scopes.find("openid") == std::string::npos) {
      return Status::InvalidArgument(where + ".scopes must include openid");
    }
    if (!c.token_endpoint_auth.empty() && c.token_endpoint_auth != "client_secret_post" &&
        c.token_endpoint_auth != "client_secret_basic") {
      return Status::InvalidArgument(where +
                                     ".tokenEndpointAuth must be client_secret_post or "
                                     "client_secret_basic");
    }
    out.push_back(std::move(c));
  }
  return out;
}

StatusOr<std::vector<ProviderConfig>> LoadProviderConfigs(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read --oidc-config file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto parsed = ParseProviderConfigs(ss.str());
  if (!parsed.ok()) {
    return Status::InvalidArgument(path + ": " + parsed.status().message());
  }
  return parsed;
}

std::string Base64UrlEncode(std::string_view data) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8) |
                 static_cast<uint8_t>(data[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += kAlphabet[(v >> k) & 63];
  }
  if (i + 1 == data.size()) {
    uint32_t v = static_cast<uint8_t>(data[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == data.size()) {
    uint32_t v = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '-') {
      v = 62;
    } else if (c == '_') {
      v = 63;
    } else {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string PkceChallengeS256(std::string_view verifier) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest);
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(digest), sizeof digest));
}

std::string FormEncode(std::string_view s) { return http::PercentEncode(s); }

StatusOr<Discovery> ParseDiscovery(std::string_view text, const std::string& expected_issuer) {
  BASALT_ASSIGN_OR_RETURN(Json j, ParseJson(text, "the discovery document"));
  if (!j.is_object()) return Status::InvalidArgument("the discovery document is not an object");
  Discovery d;
  d.issuer = StringMember(j, "issuer");
  d.authorization_endpoint = StringMember(j, "authorization_endpoint");
  d.token_endpoint = StringMember(j, "token_endpoint");
  d.jwks_uri = StringMember(j, "jwks_uri");
  if (d.issuer != expected_issuer) {
    return Status::InvalidArgument("the discovery document names issuer \"" + d.issuer +
                                   "\", not \"" + expected_issuer + "\"");
  }
  if (auto url = ParseUrl(d.authorization_endpoint); !url.ok()) {
    return Status::InvalidArgument("the discovery document's authorization_endpoint: " +
                                   url.status().message());
  }
  if (Status st = CheckFetchUrl(d.token_endpoint); !st.ok()) {
    return Status::InvalidArgument("the discovery document's token_endpoint: " + st.message());
  }
  if (Status st = CheckFetchUrl(d.jwks_uri); !st.ok()) {
    return Status::InvalidArgument("the discovery document's jwks_uri: " + st.message());
  }
  if (auto it = j.find("token_endpoint_auth_methods_supported"); it != j.end() && it->is_array()) {
    for (const Json& m : *it) {
      if (m.is_string()) d.token_endpoint_auth_methods.push_back(m.get<std::string>());
    }
  }
  return d;
}

StatusOr<KeySet> KeySet::Parse(std::string_view text) {
  BASALT_ASSIGN_OR_RETURN(Json j, ParseJson(text, "the JWKS document"));
  if (!j.is_object() || !j.contains("keys") || !j["keys"].is_array()) {
    return Status::InvalidArgument("the JWKS document has no \"keys\" list");
  }
  KeySet set;
  for (const Json& k : j["keys"]) {
    if (!k.is_object()) continue;
    std::string use = StringMember(k, "use");
    if (!use.empty() && use != "sig") continue;
    Key key;
    key.kid = StringMember(k, "kid");
    key.kty = StringMember(k, "kty");
    key.alg = StringMember(k, "alg");
    if (key.kty == "RSA") {
      auto n = Base64UrlDecode(StringMember(k, "n"));
      auto e = Base64UrlDecode(StringMember(k, "e"));
      if (!n || !e || n->empty() || e->empty()) continue;
      key.pkey = RsaKey(*n, *e);
    } else if (key.kty == "EC" && StringMember(k, "crv") == "P-256") {
      auto x = Base64UrlDecode(StringMember(k, "x"));
      auto y = Base64UrlDecode(StringMember(k, "y"));
      if (!x || !y) continue;
      key.pkey = EcP256Key(*x, *y);
    }
    if (key.pkey) set.keys_.push_back(std::move(key));
  }
  return set;
}

const KeySet::Key* KeySet::Find(const std::string& kid, const std::string& alg) const {
  const std::string kty = alg == "ES256" ? "EC" : "RSA";
  const Key* only = nullptr;
  int candidates = 0;
  for (const Key& k : keys_) {
    if (k.kty != kty || (!k.alg.empty() && k.alg != alg)) continue;
    if (!kid.empty() && k.kid == kid) return &k;
    ++candidates;
    only = &k;
  }
  return kid.empty() && candidates == 1 ? only : nullptr;
}

StatusOr<IdTokenClaims> VerifyIdToken(std::string_view token, const KeySet& keys,
                                      const VerifyOptions& options) {
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return Bad("not a compact JWS");
  }
  auto header_raw = Base64UrlDecode(token.substr(0, d1));
  auto payload_raw = Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  auto signature = Base64UrlDecode(token.substr(d2 + 1));
  if (!header_raw || !payload_raw || !signature) return Bad("bad base64url");
  auto header = ParseJson(*header_raw, "the JWS header");
  if (!header.ok() || !header->is_object()) return Bad("bad JWS header");
  std::string alg = StringMember(*header, "alg");
  if (alg != "RS256" && alg != "ES256") {
    return Bad("algorithm \"" + alg + "\" is not accepted (RS256 or ES256)");
  }
  if (header->contains("crit")) return Bad("critical header extensions are not supported");
  std::string kid = StringMember(*header, "kid");
  const KeySet::Key* key = keys.Find(kid, alg);
  if (key == nullptr) return Status::NotFound("unknown key \"" + kid + "\" for " + alg);
  if (!VerifySignature(key->pkey.get(), alg, token.substr(0, d2), *signature)) {
    return Bad("bad signature");
  }

  auto payload = ParseJson(*payload_raw, "the ID token");
  if (!payload.ok() || !payload->is_object()) return Bad("bad claims");
  const Json& c = *payload;
  IdTokenClaims out;
  out.issuer = StringMember(c, "iss");
  out.subject = StringMember(c, "sub");
  out.email = StringMember(c, "email");
  out.name = StringMember(c, "name");
  out.nonce = StringMember(c, "nonce");
  if (auto it = c.find("email_verified"); it != c.end()) {
    out.email_verified = (it->is_boolean() && it->get<bool>()) ||
                         (it->is_string() && it->get<std::string>() == "true");
  }
  if (out.issuer != options.issuer) return Bad("issuer \"" + out.issuer + "\" is not expected");
  if (out.subject.empty() || out.subject.size() > 255) return Bad("no valid sub");
  std::vector<std::string> aud;
  if (auto it = c.find("aud"); it != c.end()) {
    if (it->is_string()) {
      aud.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const Json& a : *it) {
        if (a.is_string()) aud.push_back(a.get<std::string>());
      }
    }
  }
  if (std::find(aud.begin(), aud.end(), options.client_id) == aud.end()) {
    return Bad("audience does not include this client");
  }
  std::string azp = StringMember(c, "azp");
  if ((aud.size() > 1 || !azp.empty()) && azp != options.client_id && !azp.empty()) {
    return Bad("authorized party is another client");
  }
  if (aud.size() > 1 && azp.empty()) return Bad("several audiences and no azp");
  auto num = [&](const char* k) -> std::optional<int64_t> {
    auto it = c.find(k);
    if (it == c.end() || !it->is_number()) return std::nullopt;
    return static_cast<int64_t>(it->get<double>());
  };
  auto exp = num("exp");
  auto iat = num("iat");
  if (!exp || !iat) return Bad("exp and iat are required");
  out.expires_at = *exp;
  out.issued_at = *iat;
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(options.now.time_since_epoch()).count();
  const int64_t skew = options.skew.count();
  if (now >= *exp + skew) return Bad("expired");
  if (*iat > now + skew) return Bad("issued in the future");
  if (auto nbf = num("nbf"); nbf && *nbf > now + skew) return Bad("not valid yet");
  if (options.nonce.empty() || out.nonce != options.nonce) return Bad("nonce does not match");
  return out;
}

Provider::Provider(ProviderConfig config, Fetcher fetcher, Clock clock)
    : config_(std::move(config)), fetcher_(std::move(fetcher)), clock_(std::move(clock)) {}

StatusOr<Discovery> Provider::GetDiscovery() {
  auto steady = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (discovery_ && steady - discovered_ < kDiscoveryTtl) return *discovery_;
  }
  std::string issuer = config_.issuer;
  while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
  BASALT_ASSIGN_OR_RETURN(HttpResponse r,
                          fetcher_("GET", issuer + "/.well-known/openid-configuration", {}, ""));
  if (r.status != 200) {
    return Status::Unavailable("discovery at " + config_.issuer + " answered HTTP " +
                               std::to_string(r.status));
  }
  BASALT_ASSIGN_OR_RETURN(Discovery d, ParseDiscovery(r.body, config_.issuer));
  std::lock_guard lock(mu_);
  discovery_ = d;
  discovered_ = steady;
  return d;
}

StatusOr<std::shared_ptr<const KeySet>> Provider::GetKeys(bool refetch) {
  auto steady = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (keys_ && !refetch && steady - keys_fetched_ < kKeysTtl) return keys_;
    if (keys_ && refetch) {
      if (refetched_ && steady - *refetched_ < kKeysRefetchInterval) return keys_;
      refetched_ = steady;
    }
  }
  BASALT_ASSIGN_OR_RETURN(Discovery d, GetDiscovery());
  BASALT_ASSIGN_OR_RETURN(HttpResponse r, fetcher_("GET", d.jwks_uri, {}, ""));
  if (r.status != 200) {
    return Status::Unavailable("the JWKS at " + d.jwks_uri + " answered HTTP " +
                               std::to_string(r.status));
  }
  BASALT_ASSIGN_OR_RETURN(KeySet set, KeySet::Parse(r.body));
  auto shared = std::make_shared<const KeySet>(std::move(set));
  std::lock_guard lock(mu_);
  keys_ = shared;
  keys_fetched_ = steady;
  return shared;
}

StatusOr<std::string> Provider::AuthorizationUrl(const std::string& redirect_uri,
                                                 const std::string& state, const std::string& nonce,
                                                 const std::string& code_verifier) {
  BASALT_ASSIGN_OR_RETURN(Discovery d, GetDiscovery());
  std::string url = d.authorization_endpoint;
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += "response_type=code&client_id=" + FormEncode(config_.client_id) +
         "&redirect_uri=" + FormEncode(redirect_uri) + "&scope=" + FormEncode(config_.scopes) +
         "&state=" + FormEncode(state) + "&nonce=" + FormEncode(nonce) +
         "&code_challenge=" + PkceChallengeS256(code_verifier) + "&code_challenge_method=S256";
  return url;
}

StatusOr<IdTokenClaims> Provider::Redeem(const std::string& code, const std::string& code_verifier,
                                         const std::string& redirect_uri,
                                         const std::string& nonce) {
  BASALT_ASSIGN_OR_RETURN(Discovery d, GetDiscovery());
  std::string method = config_.token_endpoint_auth;
  if (method.empty()) {
    // The provider's advertised methods: post when listed, else basic (the spec's default).
    const auto& m = d.token_endpoint_auth_methods;
    bool post = std::find(m.begin(), m.end(), "client_secret_post") != m.end();
    method = post ? "client_secret_post" : "client_secret_basic";
  }
  std::string form = "grant_type=authorization_code&code=" + FormEncode(code) +
                     "&redirect_uri=" + FormEncode(redirect_uri) +
                     "&code_verifier=" + FormEncode(code_verifier);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/x-www-form-urlencoded"}};
  if (method == "client_secret_basic") {
    // RFC 6749 2.3.1: the id and secret are form-encoded before base64.
    std::string creds = FormEncode(config_.client_id) + ":" + FormEncode(config_.client_secret);
    std::string b64 = Base64UrlEncode(creds);
    for (char& ch : b64) {
      if (ch == '-') ch = '+';
      if (ch == '_') ch = '/';
    }
    while (b64.size() % 4 != 0) b64 += '=';
    headers.push_back({"Authorization", "Basic " + b64});
  } else {
    form += "&client_id=" + FormEncode(config_.client_id);
    if (!config_.client_secret.empty()) {
      form += "&client_secret=" + FormEncode(config_.client_secret);
    }
  }
  BASALT_ASSIGN_OR_RETURN(HttpResponse r, fetcher_("POST", d.token_endpoint, headers, form));
  auto body = ParseJson(r.body, "the token endpoint's reply");
  if (r.status != 200) {
    std::string err = body.ok() && body->is_object() ? StringMember(*body, "error") : "";
    return Status::Unauthenticated("the token endpoint refused the code (HTTP " +
                                   std::to_string(r.status) + (err.empty() ? "" : ", " + err) +
                                   ")");
  }
  if (!body.ok() || !body->is_object()) {
    return Status::Unavailable("the token endpoint's reply is not a JSON object");
  }
  std::string id_token = StringMember(*body, "id_token");
  if (id_token.empty()) return Status::Unauthenticated("the token endpoint sent no id_token");

  VerifyOptions v;
  v.issuer = config_.issuer;
  v.client_id = config_.client_id;
  v.nonce = nonce;
  v.now = clock_();
  BASALT_ASSIGN_OR_RETURN(auto keys, GetKeys(false));
  auto claims = VerifyIdToken(id_token, *keys, v);
  if (!claims.ok() && claims.status().code() == StatusCode::kNotFound) {
    BASALT_ASSIGN_OR_RETURN(keys, GetKeys(true));  // rotated keys: fetch the set again
    claims = VerifyIdToken(id_token, *keys, v);
  }
  if (!claims.ok() && claims.status().code() == StatusCode::kNotFound) {
    return Status::Unauthenticated("ID token refused: " + claims.status().message());
  }
  return claims;
}

}  // namespace basalt::console::oidc
