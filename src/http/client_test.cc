// http::Fetch and http::Download against a scripted peer on a loopback socket (plain, or TLS
// with a throwaway certificate made by the openssl CLI, as models/pull_test.cc does).
#include "http/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace basalt::http {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// What the peer does with one connection: the bytes to send back, and whether to then hold
// the connection open without a word until the test ends (timeouts).
struct Reply {
  std::string bytes;
  bool stall = false;
};
using Handler = std::function<Reply(const std::string& request, int index)>;

// Accepts connections on 127.0.0.1 one at a time, reads each request (header and
// Content-Length body), records it and answers with handler(request, index).
class Peer {
 public:
  explicit Peer(Handler handler, SSL_CTX* tls = nullptr) : handler_(std::move(handler)), tls_(tls) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Peer() {
    done_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

  std::string url(const std::string& host, const std::string& path) const {
    return std::string(tls_ ? "https" : "http") + "://" + host + ":" + std::to_string(port_) + path;
  }
  std::string url(const std::string& path) const { return url("127.0.0.1", path); }
  int port() const { return port_; }
  std::vector<std::string> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  std::vector<std::string> server_names() const {
    std::lock_guard<std::mutex> lock(mu_);
    return server_names_;
  }

 private:
  void Serve() {
    for (int index = 0; !done_; ++index) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      SSL* ssl = nullptr;
      if (tls_ != nullptr) {
        ssl = SSL_new(tls_);
        SSL_set_fd(ssl, c);
        int ok = SSL_accept(ssl);
        const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        {
          std::lock_guard<std::mutex> lock(mu_);
          server_names_.push_back(sni != nullptr ? sni : "");
        }
        if (ok != 1) {  // the client refused our certificate
          SSL_free(ssl);
          ::close(c);
          continue;
        }
      }
      auto read = [&](char* buf, size_t n) -> ssize_t {
        return ssl ? SSL_read(ssl, buf, static_cast<int>(n)) : ::read(c, buf, n);
      };
      auto write = [&](const std::string& s) {
        size_t off = 0;
        while (off < s.size()) {
          ssize_t w = ssl ? SSL_write(ssl, s.data() + off, static_cast<int>(s.size() - off))
                          : ::write(c, s.data() + off, s.size() - off);
          if (w <= 0) break;
          off += static_cast<size_t>(w);
        }
      };
      std::string request;
      char buf[4096];
      for (;;) {
        size_t head = request.find("\r\n\r\n");
        if (head != std::string::npos) {
          size_t cl = request.find("Content-Length: ");
          size_t want =
              cl == std::string::npos || cl > head ? 0 : std::stoul(request.substr(cl + 16));
          if (request.size() >= head + 4 + want) break;
        }
        ssize_t n = read(buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(request);
      }
      Reply reply = handler_(request, index);
      write(reply.bytes);
      if (reply.stall) {
        while (!done_ && read(buf, sizeof buf) > 0) {
        }
      }
      if (ssl != nullptr) SSL_free(ssl);
      ::close(c);
    }
  }

  Handler handler_;
  SSL_CTX* tls_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> done_{false};
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<std::string> server_names_;
  std::thread thread_;
};

Handler Always(std::string bytes) {
  return [bytes](const std::string&, int) { return Reply{bytes}; };
}

std::string Ok(const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "\r\n" + body;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(HttpClient, GetAndPost) {
  Peer peer(Always(Ok(R"({"ok":true})", "Content-Type: application/json\r\nX-Two: b\r\n")));
  ClientRequest req;
  req.url = peer.url("/a/b?c=d");
  req.headers = {{"Accept", "application/json"}, {"Host", "evil"}};
  StatusOr<ClientResponse> r = Fetch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"ok":true})");
  EXPECT_EQ(r->Header("content-type"), "application/json");
  EXPECT_EQ(r->Header("X-TWO"), "b");
  EXPECT_EQ(r->Header("missing"), "");
  EXPECT_EQ(r->content_length, 11u);
  EXPECT_EQ(r->url.ToString(), req.url);
  EXPECT_TRUE(r->redirects.empty());
  std::string get = peer.requests().at(0);
  EXPECT_EQ(get.rfind("GET /a/b?c=d HTTP/1.1\r\n", 0), 0u) << get;
  EXPECT_TRUE(Has(get, "Host: 127.0.0.1:" + std::to_string(peer.port()) + "\r\n")) << get;
  EXPECT_FALSE(Has(get, "evil"));
  EXPECT_TRUE(Has(get, "Connection: close\r\n"));
  EXPECT_TRUE(Has(get, "User-Agent: basalt/0.1\r\n"));
  EXPECT_TRUE(Has(get, "Accept: application/json\r\n"));
  EXPECT_FALSE(Has(get, "Content-Length"));

  req.method = "POST";
  req.headers = {{"User-Agent", "test/1"}, {"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = "a=1&b=2";
  r = Fetch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string post = peer.requests().at(1);
  EXPECT_EQ(post.rfind("POST /a/b?c=d HTTP/1.1\r\n", 0), 0u) << post;
  EXPECT_TRUE(Has(post, "User-Agent: test/1\r\n"));
  EXPECT_TRUE(Has(post, "Content-Length: 7\r\n"));
  EXPECT_EQ(post.substr(post.size() - 7), "a=1&b=2");
}

TEST(HttpClient, ChunkedBodyAndErrorStatus) {
  Peer peer(
      Always("HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  ClientRequest req;
  req.url = peer.url("/");
  StatusOr<ClientResponse> r = Fetch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();  // any status is a completed call
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, "hello world");
  EXPECT_FALSE(r->content_length.has_value());
}

// /start redirects (relative) to /next, which redirects to another origin (localhost instead
// of 127.0.0.1), which answers.
TEST(HttpClient, FollowsRedirectsAndKeepsCredentialsOnTheOrigin) {
  int port = 0;
  Peer peer([&](const std::string& request, int index) {
    if (index == 0)
      return Reply{"HTTP/1.1 302 Found\r\nLocation: next?x=1\r\nContent-Length: 0\r\n\r\n"};
    if (index == 1) {
      return Reply{"HTTP/1.1 303 See Other\r\nLocation: http://localhost:" + std::to_string(port) +
                   "/final\r\nX-Step: 2\r\nContent-Length: 0\r\n\r\n"};
    }
    return Reply{Ok("done")};
  });
  port = peer.port();
  ClientRequest req;
  req.method = "POST";
  req.url = peer.url("/dir/start");
  req.body = "payload";
  req.headers = {{"Authorization", "Bearer s3cret"}, {"Cookie", "a=b"}, {"X-Keep", "1"}};
  req.follow_redirects = true;
  StatusOr<ClientResponse> r = Fetch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "done");
  EXPECT_EQ(r->url.ToString(), "http://localhost:" + std::to_string(port) + "/final");
  ASSERT_EQ(r->redirects.size(), 2u);
  EXPECT_EQ(r->redirects[0].status, 302);
  EXPECT_EQ(r->redirects[1].Header("X-Step"), "2");
  std::vector<std::string> seen = peer.requests();
  ASSERT_EQ(seen.size(), 3u);
  // A POST answered by 302 continues as a GET without its body.
  EXPECT_EQ(seen[1].rfind("GET /dir/next?x=1 HTTP/1.1\r\n", 0), 0u) << seen[1];
  EXPECT_FALSE(Has(seen[1], "payload"));
  EXPECT_TRUE(Has(seen[1], "Authorization: Bearer s3cret\r\n"));  // same origin
  EXPECT_TRUE(Has(seen[2], "Host: localhost:"));
  EXPECT_FALSE(Has(seen[2], "Authorization"));  // another origin
  EXPECT_FALSE(Has(seen[2], "Cookie"));
  EXPECT_TRUE(Has(seen[2], "X-Keep: 1\r\n"));
}

TEST(HttpClient, RedirectLimitsAndUnfollowedRedirects) {
  Peer loop(Always("HTTP/1.1 307 Again\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n"));
  ClientRequest req;
  req.url = loop.url("/start?sig=secret");
  req.follow_redirects = true;
  req.max_redirects = 2;
  StatusOr<ClientResponse> r = Fetch(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Has(r.status().message(), "too many redirects (more than 2)"))
      << r.status().message();
  EXPECT_FALSE(Has(r.status().message(), "secret"));  // queries stay out of messages
  EXPECT_EQ(loop.requests().size(), 3u);

  req.follow_redirects = false;  // the redirect is the answer
  r = Fetch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 307);
  EXPECT_EQ(r->Header("Location"), "/again");

  Peer nowhere(Always("HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"));
  req.url = nowhere.url("/");
  req.follow_redirects = true;
  r = Fetch(req);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status().message(), "without Location")) << r.status().message();
}

TEST(HttpClient, BodySizeCap) {
  std::string big(64 * 1024, 'x');
  Peer peer([&](const std::string& request, int) {
    if (Has(request, "/chunked")) {
      return Reply{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4000\r\n" +
                   big.substr(0, 0x4000) + "\r\n4000\r\n" + big.substr(0, 0x4000) +
                   "\r\n0\r\n\r\n"};
    }
    return Reply{Ok(big)};
  });
  ClientRequest req;
  req.url = peer.url("/big");
  req.max_body_bytes = 1024;
  StatusOr<ClientResponse> r = Fetch(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
  EXPECT_TRUE(Has(r.status().message(), "larger than 1024 bytes"));

  req.url = peer.url("/chunked");  // no Content-Length: counted as it arrives
  req.max_body_bytes = 0x6000;
  r = Fetch(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();

  req.max_body_bytes = 0x8000;  // exactly the body
  r = Fetch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body.size(), 0x8000u);

  req.url = peer.url("/big");  // no cap
  req.max_body_bytes = 0;
  r = Fetch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, big);
}

TEST(HttpClient, DownloadStreamsPiecesToTheSink) {
  std::string data;
  for (int i = 0; i < 300'000; ++i) data += static_cast<char>('a' + i % 26);
  Peer peer([&](const std::string& request, int) {
    if (Has(request, "/short")) {  // promises more than it sends, then hangs up
      return Reply{"HTTP/1.1 206 Partial Content\r\nContent-Length: 1000\r\n\r\n" +
                   data.substr(0, 10)};
    }
    return Reply{Ok(data, "ETag: \"abc\"\r\n")};
  });
  ClientRequest req;
  req.url = peer.url("/file");
  std::string got;
  size_t largest = 0;
  int heads = 0;
  BodySink sink;
  sink.chunk_bytes = 4096;
  sink.on_head = [&](const ClientResponseHead& head) -> StatusOr<bool> {
    ++heads;
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.Header("etag"), "\"abc\"");
    EXPECT_EQ(head.content_length, data.size());
    EXPECT_TRUE(got.empty());
    return true;
  };
  sink.on_data = [&](std::string_view piece) {
    largest = std::max(largest, piece.size());
    got.append(piece);
    return Status::Ok();
  };
  StatusOr<ClientResponse> r = Download(req, sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(heads, 1);
  EXPECT_TRUE(got == data);
  EXPECT_LE(largest, 4096u);
  EXPECT_TRUE(r->body.empty());

  // The sink may stop before the body, or in the middle with an error of its own.
  got.clear();
  sink.on_head = [](const ClientResponseHead&) -> StatusOr<bool> { return false; };
  r = Download(req, sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(got.empty());
  sink.on_head = [](const ClientResponseHead&) -> StatusOr<bool> {
    return Status::NotFound("no thanks");
  };
  r = Download(req, sink);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  sink.on_head = nullptr;
  sink.on_data = [&](std::string_view piece) {
    got.append(piece);
    return got.size() >= 8192 ? Status::Cancelled("enough") : Status::Ok();
  };
  r = Download(req, sink);
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_GE(got.size(), 8192u);
  EXPECT_LT(got.size(), data.size());

  sink.on_data = [&](std::string_view) { return Status::Ok(); };
  req.url = peer.url("/short");
  r = Download(req, sink);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Has(r.status().message(), "download from http://127.0.0.1:")) << r.status().message();
  EXPECT_TRUE(Has(r.status().message(), "closed early")) << r.status().message();
}

TEST(HttpClient, SilentPeersTimeOut) {
  Peer header_first([](const std::string&, int) {
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab", true};
  });
  ClientRequest req;
  req.url = header_first.url("/");
  req.timeouts.io = std::chrono::milliseconds(300);
  auto start = Clock::now();
  StatusOr<ClientResponse> r = Fetch(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Has(r.status().message(), "timed out")) << r.status().message();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));

  // The whole-call deadline bounds a peer that never answers, whatever the step timeouts.
  Peer silent([](const std::string&, int) { return Reply{"", true}; });
  req.url = silent.url("/");
  req.timeouts.io = std::chrono::seconds(60);
  req.timeouts.total = std::chrono::milliseconds(300);
  start = Clock::now();
  r = Fetch(req);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status().message(), "timed out")) << r.status().message();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST(HttpClient, BadUrlsAndClosedPorts) {
  ClientRequest req;
  req.url = "ftp://example.com/";
  EXPECT_EQ(Fetch(req).status().code(), StatusCode::kInvalidArgument);
  req.url = "http://127.0.0.1:1/";  // nothing listens on port 1
  StatusOr<ClientResponse> r = Fetch(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Has(r.status().message(), "cannot connect to 127.0.0.1:1")) << r.status().message();
}

// ---------------------------------------------------------------------------------------------
// https with a throwaway self-signed certificate that names only "localhost".
class HttpClientTls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("openssl version >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "openssl CLI not found";
    }
    std::string tmpl = (fs::temp_directory_path() / "basalt_client_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    cert_ = (root_ / "cert.pem").string();
    std::string key = (root_ / "key.pem").string();
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost "
        "-keyout '" +
        key + "' -out '" + cert_ + "' >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    ctx_ = SSL_CTX_new(TLS_server_method());
    ASSERT_EQ(SSL_CTX_use_certificate_file(ctx_, cert_.c_str(), SSL_FILETYPE_PEM), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM), 1);
    if (const char* old = std::getenv("SSL_CERT_FILE")) old_cert_file_ = old;
    unsetenv("SSL_CERT_FILE");
  }
  void TearDown() override {
    if (old_cert_file_) {
      setenv("SSL_CERT_FILE", old_cert_file_->c_str(), 1);
    } else {
      unsetenv("SSL_CERT_FILE");
    }
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (!root_.empty()) fs::remove_all(root_);
  }

  fs::path root_;
  std::string cert_;
  SSL_CTX* ctx_ = nullptr;
  std::optional<std::string> old_cert_file_;
};

TEST_F(HttpClientTls, VerifiedWithCaFileAndSni) {
  Peer peer(Always(Ok("secure")), ctx_);
  ClientRequest req;
  req.url = peer.url("localhost", "/x");
  req.ca_file = cert_;
  StatusOr<ClientResponse> r = Fetch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "secure");
  EXPECT_EQ(peer.server_names().at(0), "localhost");

  // The same CA through $SSL_CERT_FILE, the way pull and OIDC users configure it.
  setenv("SSL_CERT_FILE", cert_.c_str(), 1);
  req.ca_file.clear();
  r = Fetch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(HttpClientTls, UntrustedCertificateFails) {
  Peer peer(Always(Ok("secure")), ctx_);
  ClientRequest req;
  req.url = peer.url("localhost", "/x");
  StatusOr<ClientResponse> r = Fetch(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(Has(r.status().message(), "certificate")) << r.status().message();
  EXPECT_TRUE(peer.requests().empty());
}

TEST_F(HttpClientTls, HostNameMustMatchAndIpsGetNoSni) {
  Peer peer(Always(Ok("secure")), ctx_);
  ClientRequest req;
  req.url = peer.url("127.0.0.1", "/x");  // the certificate names localhost only
  req.ca_file = cert_;
  StatusOr<ClientResponse> r = Fetch(req);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status().message(), "TLS handshake with 127.0.0.1:")) << r.status().message();
  EXPECT_TRUE(Has(r.status().message(), "IP address mismatch")) << r.status().message();
  EXPECT_EQ(peer.server_names().at(0), "");  // SNI carries names only (RFC 6066)
}

TEST_F(HttpClientTls, BadCaFileIsReported) {
  ClientRequest req;
  req.url = "https://localhost:1/";
  req.ca_file = (root_ / "missing.pem").string();
  StatusOr<ClientResponse> r = Fetch(req);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Has(r.status().message(), "cannot load CA file")) << r.status().message();
  setenv("SSL_CERT_FILE", req.ca_file.c_str(), 1);
  req.ca_file.clear();
  r = Fetch(req);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Has(r.status().message(), "SSL_CERT_FILE=")) << r.status().message();
}

// ---------------------------------------------------------------------------------------------
// URLs (no server needed).

TEST(UrlTest, Parse) {
  StatusOr<Url> u = ParseUrl("HTTPS://HuggingFace.co");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "huggingface.co");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->ToString(), "https://huggingface.co/");

  u = ParseUrl("http://[::1]:8080/a b?x=1#frag");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/a%20b?x=1");
  EXPECT_EQ(u->HostHeader(), "[::1]:8080");
  EXPECT_EQ(u->ForDisplay(), "http://[::1]:8080/a%20b");

  EXPECT_FALSE(ParseUrl("huggingface.co").ok());
  EXPECT_FALSE(ParseUrl("http://user@host/").ok());
  EXPECT_FALSE(ParseUrl("http://host:0/").ok());
  EXPECT_FALSE(ParseUrl("http://host:x/").ok());
  EXPECT_FALSE(ParseUrl("http://[::1/").ok());
}

TEST(UrlTest, ResolveLocation) {
  Url base = *ParseUrl("https://huggingface.co/org/m/resolve/main/f.gguf?a=1");
  auto resolve = [&](std::string_view loc) {
    StatusOr<Url> u = ResolveLocation(base, loc);
    return u.ok() ? u->ToString() : "error: " + u.status().message();
  };
  EXPECT_EQ(resolve("https://cdn-lfs.hf.co/repos/x?sig=1"), "https://cdn-lfs.hf.co/repos/x?sig=1");
  EXPECT_EQ(resolve("//cdn.example:8443/y"), "https://cdn.example:8443/y");
  EXPECT_EQ(resolve("/api/resolve-cache/z"), "https://huggingface.co/api/resolve-cache/z");
  EXPECT_EQ(resolve("g.gguf"), "https://huggingface.co/org/m/resolve/main/g.gguf");
  EXPECT_EQ(resolve("../dev/g.gguf"), "https://huggingface.co/org/m/resolve/dev/g.gguf");
  EXPECT_EQ(resolve("?b=2"), "https://huggingface.co/org/m/resolve/main/f.gguf?b=2");
  EXPECT_EQ(resolve("/../../x"), "https://huggingface.co/x");
  EXPECT_EQ(resolve(" /a b "), "https://huggingface.co/a%20b");
  EXPECT_EQ(resolve("ftp://x/y").rfind("error", 0), 0u);
  EXPECT_EQ(resolve("").rfind("error", 0), 0u);
}

}  // namespace
}  // namespace basalt::http
