#include "console/oidc.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

namespace basalt::console::oidc {
namespace {

using Json = nlohmann::json;

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

Key MakeRsa() { return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})); }
Key MakeEc() { return Key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }

std::string BnParam(EVP_PKEY* k, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(k, name, &bn), 1);
  std::string out(pad > 0 ? pad : BN_num_bytes(bn), '\0');
  if (pad > 0) {
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), pad);
  } else {
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  }
  BN_free(bn);
  return out;
}

Json Jwk(EVP_PKEY* k, const std::string& kid) {
  if (EVP_PKEY_is_a(k, "RSA")) {
    return {{"kty", "RSA"},
            {"kid", kid},
            {"use", "sig"},
            {"alg", "RS256"},
            {"n", Base64UrlEncode(BnParam(k, OSSL_PKEY_PARAM_RSA_N))},
            {"e", Base64UrlEncode(BnParam(k, OSSL_PKEY_PARAM_RSA_E))}};
  }
  return {{"kty", "EC"},
          {"kid", kid},
          {"crv", "P-256"},
          {"x", Base64UrlEncode(BnParam(k, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
          {"y", Base64UrlEncode(BnParam(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
}

std::string Sign(EVP_PKEY* k, const std::string& input) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  size_t len = 0;
  EXPECT_EQ(EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, k), 1);
  EXPECT_EQ(EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                           input.size()),
            1);
  std::string sig(len, '\0');
  EXPECT_EQ(EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  sig.resize(len);
  EVP_MD_CTX_free(md);
  if (EVP_PKEY_is_a(k, "EC")) {  // DER -> R || S
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data() + 32), 32);
    ECDSA_SIG_free(es);
    return raw;
  }
  return sig;
}

constexpr int64_t kNow = 1'800'000'000;

Json Claims() {
  return {{"iss", "https://issuer.example"}, {"sub", "user-123"},      {"aud", "client-1"},
          {"email", "ada@example.com"},      {"email_verified", true}, {"name", "Ada"},
          {"nonce", "n-0S6_WzA2Mj"},         {"iat", kNow - 10},       {"exp", kNow + 600}};
}

std::string Token(EVP_PKEY* k, const Json& claims, const std::string& kid,
                  const std::string& alg = "") {
  std::string a = alg.empty() ? (EVP_PKEY_is_a(k, "EC") ? "ES256" : "RS256") : alg;
  Json header = {{"alg", a}, {"kid", kid}, {"typ", "JWT"}};
  std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  return input + "." + Base64UrlEncode(Sign(k, input));
}

VerifyOptions Options() {
  VerifyOptions o;
  o.issuer = "https://issuer.example";
  o.client_id = "client-1";
  o.nonce = "n-0S6_WzA2Mj";
  o.now = std::chrono::system_clock::time_point(std::chrono::seconds(kNow));
  return o;
}

class IdTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rsa_ = MakeRsa();
    ec_ = MakeEc();
    ASSERT_TRUE(rsa_ && ec_);
    Json jwks = {{"keys", {Jwk(rsa_.get(), "r1"), Jwk(ec_.get(), "e1")}}};
    auto set = KeySet::Parse(jwks.dump());
    ASSERT_TRUE(set.ok()) << set.status().message();
    keys_ = std::move(*set);
    ASSERT_EQ(keys_.size(), 2u);
  }
  Key rsa_, ec_;
  KeySet keys_;
};

TEST_F(IdTokenTest, GoodRs256AndEs256Verify) {
  auto r = VerifyIdToken(Token(rsa_.get(), Claims(), "r1"), keys_, Options());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->subject, "user-123");
  EXPECT_EQ(r->email, "ada@example.com");
  EXPECT_TRUE(r->email_verified);
  EXPECT_EQ(r->name, "Ada");
  auto e = VerifyIdToken(Token(ec_.get(), Claims(), "e1"), keys_, Options());
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->subject, "user-123");
}

TEST_F(IdTokenTest, BadSignatureRefused) {
  Key other = MakeRsa();
  auto r = VerifyIdToken(Token(other.get(), Claims(), "r1"), keys_, Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("signature"), std::string::npos);
  // A claim changed after signing.
  std::string t = Token(rsa_.get(), Claims(), "r1");
  Json c = Claims();
  c["sub"] = "admin";
  size_t d1 = t.find('.'), d2 = t.rfind('.');
  std::string tampered = t.substr(0, d1 + 1) + Base64UrlEncode(c.dump()) + t.substr(d2);
  EXPECT_EQ(VerifyIdToken(tampered, keys_, Options()).status().code(),
            StatusCode::kUnauthenticated);
  // An ES256 signature altered in one byte.
  std::string te = Token(ec_.get(), Claims(), "e1");
  te[te.size() - 3] = te[te.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyIdToken(te, keys_, Options()).ok());
}

TEST_F(IdTokenTest, WrongAudienceIssuerNonceAndTimesRefused) {
  auto expect_refused = [&](Json c, const std::string& why) {
    auto r = VerifyIdToken(Token(rsa_.get(), c, "r1"), keys_, Options());
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << why;
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
  };
  Json c = Claims();
  c["aud"] = "client-2";
  expect_refused(c, "audience");
  c = Claims();
  c["aud"] = Json::array({"client-1", "client-2"});
  c["azp"] = "client-2";
  expect_refused(c, "authorized party");
  c = Claims();
  c["iss"] = "https://evil.example";
  expect_refused(c, "issuer");
  c = Claims();
  c["exp"] = kNow - 61;
  expect_refused(c, "expired");
  c = Claims();
  c["iat"] = kNow + 3600;
  expect_refused(c, "future");
  c = Claims();
  c["nonce"] = "other";
  expect_refused(c, "nonce");
  c = Claims();
  c.erase("nonce");
  expect_refused(c, "nonce");
  c = Claims();
  c.erase("exp");
  expect_refused(c, "exp");
  // Within the skew an expired token still passes.
  c = Claims();
  c["exp"] = kNow - 30;
  EXPECT_TRUE(VerifyIdToken(Token(rsa_.get(), c, "r1"), keys_, Options()).ok());
  // Several audiences with azp naming this client pass.
  c = Claims();
  c["aud"] = Json::array({"client-2", "client-1"});
  c["azp"] = "client-1";
  EXPECT_TRUE(VerifyIdToken(Token(rsa_.get(), c, "r1"), keys_, Options()).ok());
}

TEST_F(IdTokenTest, AlgNoneAndOtherAlgorithmsRefused) {
  Json header = {{"alg", "none"}, {"kid", "r1"}};
  std::string t = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(Claims().dump()) + ".";
  auto r = VerifyIdToken(t, keys_, Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("none"), std::string::npos);
  // HS256 with the RSA modulus as the MAC key (the classic confusion attack) is refused too.
  header = {{"alg", "HS256"}, {"kid", "r1"}};
  t = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(Claims().dump()) + ".c2ln";
  EXPECT_EQ(VerifyIdToken(t, keys_, Options()).status().code(), StatusCode::kUnauthenticated);
  // An RS256 token presented as ES256 finds no EC key of that kid.
  EXPECT_FALSE(VerifyIdToken(Token(rsa_.get(), Claims(), "r1", "ES256"), keys_, Options()).ok());
  EXPECT_FALSE(VerifyIdToken("a.b", keys_, Options()).ok());
  EXPECT_FALSE(VerifyIdToken("", keys_, Options()).ok());
}

TEST_F(IdTokenTest, UnknownKidIsNotFoundSoCallersRefetch) {
  Key other = MakeRsa();
  auto r = VerifyIdToken(Token(other.get(), Claims(), "rotated"), keys_, Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("unknown key"), std::string::npos);
}

TEST(Pkce, Rfc7636AppendixBVector) {
  EXPECT_EQ(PkceChallengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(Base64Url, RoundTripsAndRejectsJunk) {
  for (std::string s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar",
                                                std::string("\xff\xfe\0", 3)}) {
    auto d = Base64UrlDecode(Base64UrlEncode(s));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64UrlDecode("ab+c").has_value());
  EXPECT_FALSE(Base64UrlDecode("abcde").has_value());
}

TEST(ProviderConfigs, ParsesAndRejects) {
  auto ok = ParseProviderConfigs(R"([{"id":"google","label":"Google",
      "issuer":"https://accounts.google.com","clientId":"c","clientSecret":"s"},
      {"id":"dev","issuer":"http://127.0.0.1:9000","clientId":"d",
       "tokenEndpointAuth":"client_secret_basic"}])");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[0].scopes, "openid email profile");
  EXPECT_EQ((*ok)[1].label, "dev");
  EXPECT_EQ((*ok)[1].token_endpoint_auth, "client_secret_basic");

  auto bad = [](const char* json, const char* why) {
    auto r = ParseProviderConfigs(json);
    ASSERT_FALSE(r.ok()) << json;
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
  };
  bad(R"({"id":"x"})", "list");
  bad(R"([{"id":"x","issuer":"http://accounts.example.com","clientId":"c"}])", "plain http");
  bad(R"([{"id":"Bad Id","issuer":"https://a.example","clientId":"c"}])", ".id");
  bad(R"([{"id":"x","issuer":"https://a.example"}])", "clientId");
  bad(R"([{"id":"x","issuer":"https://a.example","clientId":"c","scopes":"email"}])", "openid");
  bad(R"([{"id":"x","issuer":"https://a.example","clientId":"c","secret":"s"}])", "unknown");
  bad(R"([{"id":"x","issuer":"https://a.example","clientId":"c"},
          {"id":"x","issuer":"https://b.example","clientId":"c"}])",
      "twice");
}

TEST(Urls, LoopbackOnlyForPlainHttp) {
  EXPECT_TRUE(CheckFetchUrl("https://login.example.com/x").ok());
  EXPECT_TRUE(CheckFetchUrl("http://127.0.0.1:8080/x").ok());
  EXPECT_TRUE(CheckFetchUrl("http://localhost:8080").ok());
  EXPECT_TRUE(CheckFetchUrl("http://[::1]:8080/").ok());
  EXPECT_FALSE(CheckFetchUrl("http://127.0.0.1.evil.com/").ok());
  EXPECT_FALSE(CheckFetchUrl("http://10.0.0.1/").ok());
  EXPECT_FALSE(CheckFetchUrl("ftp://a/").ok());
  EXPECT_FALSE(CheckFetchUrl("https://user@a/").ok());
  auto u = ParseUrl("https://Login.Example.com:8443/a/b?c=d#frag");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "login.example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/a/b?c=d");
}

TEST(Discovery, IssuerMustMatch) {
  Json d = {{"issuer", "https://a.example"},
            {"authorization_endpoint", "https://a.example/auth"},
            {"token_endpoint", "https://a.example/token"},
            {"jwks_uri", "https://a.example/jwks"}};
  EXPECT_TRUE(ParseDiscovery(d.dump(), "https://a.example").ok());
  EXPECT_FALSE(ParseDiscovery(d.dump(), "https://b.example").ok());
  d["token_endpoint"] = "http://a.example/token";
  EXPECT_FALSE(ParseDiscovery(d.dump(), "https://a.example").ok());
}

// The provider's flow with a fetcher that plays the provider: discovery, a token reply whose
// ID token has a rotated kid (the key set is fetched again), and the client authentication.
TEST(ProviderFlow, RedeemRefetchesKeysOnUnknownKid) {
  Key old_key = MakeRsa(), new_key = MakeRsa();
  int jwks_fetches = 0;
  std::string last_form, last_auth;
  ProviderConfig cfg;
  cfg.id = "t";
  cfg.issuer = "https://issuer.example";
  cfg.client_id = "client-1";
  cfg.client_secret = "s3cret";
  cfg.token_endpoint_auth = "client_secret_basic";
  Json claims = Claims();
  auto fetcher = [&](const std::string& method, const std::string& url,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::string& body) -> StatusOr<HttpResponse> {
    if (url == "https://issuer.example/.well-known/openid-configuration") {
      return HttpResponse{200, "application/json",
                          Json{{"issuer", "https://issuer.example"},
                               {"authorization_endpoint", "https://issuer.example/auth"},
                               {"token_endpoint", "https://issuer.example/token"},
                               {"jwks_uri", "https://issuer.example/jwks"}}
                              .dump()};
    }
    if (url == "https://issuer.example/jwks") {
      ++jwks_fetches;
      EVP_PKEY* k = jwks_fetches == 1 ? old_key.get() : new_key.get();
      return HttpResponse{200, "application/json",
                          Json{{"keys", {Jwk(k, jwks_fetches == 1 ? "old" : "new")}}}.dump()};
    }
    if (url == "https://issuer.example/token" && method == "POST") {
      last_form = body;
      for (const auto& [n, v] : headers) {
        if (n == "Authorization") last_auth = v;
      }
      return HttpResponse{200, "application/json",
                          Json{{"id_token", Token(new_key.get(), claims, "new")}}.dump()};
    }
    return HttpResponse{404, "text/plain", "no"};
  };
  Provider p(cfg, fetcher,
             [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kNow)); });
  auto url = p.AuthorizationUrl("http://127.0.0.1/cb", "st", "n-0S6_WzA2Mj", "verifier");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->rfind("https://issuer.example/auth?response_type=code&client_id=client-1", 0), 0u);
  EXPECT_NE(url->find("code_challenge=" + PkceChallengeS256("verifier")), std::string::npos);
  EXPECT_NE(url->find("code_challenge_method=S256"), std::string::npos);
  EXPECT_NE(url->find("redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb"), std::string::npos);

  // Prime the key cache with the old key, then redeem a token signed by the new one.
  auto r = p.Redeem("code-1", "verifier", "http://127.0.0.1/cb", "n-0S6_WzA2Mj");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->subject, "user-123");
  EXPECT_EQ(jwks_fetches, 2);
  EXPECT_NE(last_form.find("code_verifier=verifier"), std::string::npos);
  EXPECT_EQ(last_form.find("client_secret"), std::string::npos);
  EXPECT_EQ(last_auth, "Basic Y2xpZW50LTE6czNjcmV0");  // client-1:s3cret
  // The wrong nonce is refused.
  EXPECT_EQ(p.Redeem("code-2", "verifier", "http://127.0.0.1/cb", "other").status().code(),
            StatusCode::kUnauthenticated);
}

// A one-connection HTTP peer on 127.0.0.1 for Fetch: reads the request head (and a body of
// Content-Length bytes), then sends `reply` (or nothing, holding the connection open).
class OnePeer {
 public:
  explicit OnePeer(std::string reply, bool silent = false) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, reply = std::move(reply), silent] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      ssize_t n;
      while ((n = ::read(c, buf, sizeof buf)) > 0) {
        request_.append(buf, static_cast<size_t>(n));
        size_t head = request_.find("\r\n\r\n");
        if (head == std::string::npos) continue;
        size_t cl = request_.find("Content-Length: ");
        size_t want = cl == std::string::npos ? 0 : std::stoul(request_.substr(cl + 16));
        if (request_.size() >= head + 4 + want) break;
      }
      if (!silent) {
        size_t off = 0;
        while (off < reply.size()) {
          ssize_t w = ::write(c, reply.data() + off, reply.size() - off);
          if (w <= 0) break;
          off += static_cast<size_t>(w);
        }
      } else {
        while (!done_ && ::read(c, buf, sizeof buf) > 0) {
        }
      }
      ::close(c);
    });
  }
  ~OnePeer() {
    done_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  const std::string& request() const { return request_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> done_{false};
  std::string request_;
  std::thread thread_;
};

TEST(Fetch, GetAndPostOverLoopbackHttp) {
  std::string body = R"({"ok":true})";
  {
    OnePeer peer("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    auto r = Fetch("GET", peer.url("/.well-known/openid-configuration"), {}, "");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->content_type, "application/json");
    EXPECT_EQ(r->body, body);
    EXPECT_EQ(peer.request().rfind("GET /.well-known/openid-configuration HTTP/1.1\r\n", 0), 0u);
  }
  {
    OnePeer peer("HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}");
    auto r = Fetch("POST", peer.url("/token"),
                   {{"Content-Type", "application/x-www-form-urlencoded"}}, "a=1&b=2");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(peer.request().find("Content-Length: 7\r\n"), std::string::npos);
    EXPECT_EQ(peer.request().substr(peer.request().size() - 7), "a=1&b=2");
  }
}

TEST(Fetch, SilentPeerTimesOut) {
  OnePeer peer("", /*silent=*/true);
  FetchOptions o;
  o.timeout = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  auto r = Fetch("GET", peer.url("/jwks"), {}, "", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(Fetch, OversizedReplyIsRefused) {
  std::string big(64 * 1024, 'x');
  OnePeer peer("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n" +
               big);
  FetchOptions o;
  o.max_body_bytes = 1024;
  auto r = Fetch("GET", peer.url("/jwks"), {}, "", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
}

TEST(Fetch, PlainHttpToOtherHostsAndClosedPortsFail) {
  auto r = Fetch("GET", "http://idp.example.com/.well-known/openid-configuration", {}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("loopback"), std::string::npos);
  // Nothing listens on port 1.
  auto closed = Fetch("GET", "http://127.0.0.1:1/", {}, "");
  ASSERT_FALSE(closed.ok());
  EXPECT_EQ(closed.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace basalt::console::oidc
