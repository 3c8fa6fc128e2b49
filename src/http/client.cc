// The HTTP(S) client of client.h on Boost.Beast and OpenSSL. This is the only translation unit
// that instantiates Beast's client-side templates (for a TCP and a TLS stream): they cost the
// better part of a minute to compile, so no other file should.
//
// One call drives a private io_context: each network step is an async operation run to
// completion with a deadline (beast::tcp_stream::expires_at), the earlier of the step's
// timeout and the whole call's.
#include "http/client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace basalt::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadBuffer = 64 * 1024;     // socket read size (Beast reads at most 64 KiB)
constexpr uint32_t kHeaderLimit = 64 * 1024;  // Hugging Face sends many headers

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

uint16_t DefaultPort(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

// Encodes bytes that may not appear raw in a request target (controls, spaces, non-ASCII),
// leaving existing %XX escapes and reserved characters alone.
std::string SanitizeTarget(std::string_view target) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' ||
        c == '`' || c == '{' || c == '|' || c == '}') {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

// RFC 3986 section 5.2.4 on a path without query.
std::string RemoveDotSegments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  bool trailing_slash = false;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view seg = path.substr(pos, next - pos);
    bool last = next == path.size();
    if (seg == ".") {
      trailing_slash = last;
    } else if (seg == "..") {
      if (out.size() > 1) out.pop_back();  // out[0] is the empty segment before the first '/'
      trailing_slash = last;
    } else {
      out.push_back(seg);
      trailing_slash = false;
    }
    pos = next + 1;
  }
  std::string result;
  for (size_t i = 0; i < out.size(); ++i) {
    if (i > 0) result += '/';
    result += out[i];
  }
  if (trailing_slash) result += '/';
  if (result.empty() || result[0] != '/') result.insert(result.begin(), '/');
  return result;
}

// Splits "path?query" into a dot-normalised path and the query (with its '?').
std::string NormalizeTarget(std::string_view target) {
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q);
  return RemoveDotSegments(path) + std::string(query);
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool SameOrigin(const Url& a, const Url& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port == b.port;
}

// A TLS client context: the system CA store plus the CA file, peer verified, TLS 1.2 or later.
StatusOr<std::unique_ptr<ssl::context>> MakeTlsContext(const std::string& ca_file) {
  std::string file = ca_file;
  bool from_env = false;
  if (file.empty()) {
    if (const char* env = std::getenv("SSL_CERT_FILE"); env != nullptr && *env != '\0') {
      file = env;
      from_env = true;
    }
  }
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  error_code ec;
  ctx->set_default_verify_paths(ec);
  if (ec) return Status::Internal("cannot load system CA certificates: " + ec.message());
  if (!file.empty()) {
    ctx->load_verify_file(file, ec);
    if (ec) {
      return Status::InvalidArgument(
          (from_env ? "cannot load SSL_CERT_FILE=" + file : "cannot load CA file " + file) + ": " +
          ec.message());
    }
  }
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

Status Failure(const std::string& what, error_code ec) {
  bool timeout = ec == beast::error::timeout || ec == asio::error::timed_out ||
                 ec == asio::error::operation_aborted;
  return Status::Unavailable(what + ": " + (timeout ? std::string("timed out") : ec.message()));
}

// One HTTP/1.1 exchange over TCP or TLS on the caller's io_context. Every step has a deadline;
// a timeout surfaces as an error like any other network failure.
class Connection {
 public:
  using Parser = bhttp::response_parser<bhttp::buffer_body>;

  Connection(asio::io_context& ioc, const ClientTimeouts& timeouts, Clock::time_point deadline)
      : ioc_(ioc), timeouts_(timeouts), deadline_(deadline) {
    // Beast sizes each socket read by the buffer's spare capacity: without this it reads
    // 512 bytes at a time once the header is consumed.
    buffer_.reserve(kReadBuffer);
  }
  ~Connection() { Close(); }

  Status Open(const Url& url, ssl::context* tls) {
    where_ = url.ForDisplay();
    tcp::resolver resolver(ioc_);
    tcp::resolver::results_type endpoints;
    asio::steady_timer timer(ioc_);
    timer.expires_at(Expiry(timeouts_.connect));
    timer.async_wait([&](error_code ec) {
      if (!ec) resolver.cancel();
    });
    error_code ec = Run([&](auto done) {
      resolver.async_resolve(url.host, std::to_string(url.port),
                             [&, done](error_code e, tcp::resolver::results_type r) mutable {
                               timer.cancel();
                               endpoints = std::move(r);
                               done(e);
                             });
    });
    if (ec) return Failure("cannot resolve " + url.host, ec);

    if (tls != nullptr) {
      tls_.emplace(ioc_, *tls);
    } else {
      tcp_.emplace(ioc_);
    }
    beast::tcp_stream& lowest = Lowest();
    lowest.expires_at(Expiry(timeouts_.connect));
    ec = Run([&](auto done) {
      lowest.async_connect(endpoints,
                           [done](error_code e, const tcp::endpoint&) mutable { done(e); });
    });
    if (ec) return Failure("cannot connect to " + url.HostHeader(), ec);

    if (tls_) {
      SSL* native = tls_->native_handle();
      error_code addr_ec;
      asio::ip::make_address(url.host, addr_ec);
      // SNI is for names only (RFC 6066); SSL_set1_host checks DNS names and IP literals.
      if (addr_ec && !SSL_set_tlsext_host_name(native, url.host.c_str())) {
        return Status::Internal("cannot set TLS server name " + url.host);
      }
      if (!SSL_set1_host(native, url.host.c_str())) {
        return Status::Internal("cannot set TLS host check for " + url.host);
      }
      lowest.expires_at(Expiry(timeouts_.connect));
      ec = Run([&](auto done) {
        tls_->async_handshake(ssl::stream_base::client, [done](error_code e) mutable { done(e); });
      });
      if (ec) {
        std::string hint;
        if (long verify = SSL_get_verify_result(native); verify != X509_V_OK) {
          hint = std::string(" (certificate: ") + X509_verify_cert_error_string(verify) +
                 "; SSL_CERT_FILE can name a CA bundle)";
        }
        return Failure("TLS handshake with " + url.HostHeader() + " failed" + hint, ec);
      }
    }
    return Status::Ok();
  }

  Status Send(const bhttp::request<bhttp::string_body>& req) {
    Lowest().expires_at(Expiry(timeouts_.io));
    error_code ec = WithStream([&](auto& stream) {
      return Run([&](auto done) {
        bhttp::async_write(stream, req, [done](error_code e, size_t) mutable { done(e); });
      });
    });
    return ec ? Failure("cannot send request to " + where_, ec) : Status::Ok();
  }

  Status ReadHeader(Parser& parser) {
    parser.header_limit(kHeaderLimit);
    parser.body_limit(boost::none);  // the caller counts (Beast's default is 8 MB)
    Lowest().expires_at(Expiry(timeouts_.io));
    error_code ec = WithStream([&](auto& stream) {
      return Run([&](auto done) {
        bhttp::async_read_header(stream, buffer_, parser,
                                 [done](error_code e, size_t) mutable { done(e); });
      });
    });
    return ec ? Failure("no valid response from " + where_, ec) : Status::Ok();
  }

  // Reads whatever body bytes arrive next (maybe none, e.g. a chunk header) into data.
  StatusOr<size_t> ReadBody(Parser& parser, char* data, size_t size, const std::string& what) {
    parser.get().body().data = data;
    parser.get().body().size = size;
    Lowest().expires_at(Expiry(timeouts_.io));
    error_code ec = WithStream([&](auto& stream) {
      return Run([&](auto done) {
        bhttp::async_read_some(stream, buffer_, parser,
                               [done](error_code e, size_t) mutable { done(e); });
      });
    });
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec == bhttp::error::partial_message) {
      return Status::Unavailable(what + " interrupted: connection closed early");
    }
    if (ec) return Failure(what + " interrupted", ec);
    return size - parser.get().body().size;
  }

  void Close() {
    // No TLS close_notify: we are done with the peer and must not wait on it.
    error_code ignored;
    if (tls_ || tcp_) {
      beast::tcp_stream& lowest = Lowest();
      lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
      lowest.socket().close(ignored);
    }
  }

 private:
  Clock::time_point Expiry(std::chrono::milliseconds step) const {
    return std::min(deadline_, Clock::now() + step);
  }

  beast::tcp_stream& Lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *tcp_; }

  template <class F>
  error_code WithStream(F&& f) {
    if (tls_) return f(*tls_);
    return f(*tcp_);
  }

  // Starts one async operation via initiate(done) and runs the io_context until it finishes.
  template <class Initiate>
  error_code Run(Initiate&& initiate) {
    std::optional<error_code> result;
    initiate([&result](error_code ec) { result = ec; });
    ioc_.restart();
    while (!result && ioc_.run_one() > 0) {
    }
    // Let cancelled timers and other leftovers finish so the next operation starts clean.
    ioc_.restart();
    ioc_.poll();
    return result.value_or(asio::error::operation_aborted);
  }

  asio::io_context& ioc_;
  const ClientTimeouts& timeouts_;
  Clock::time_point deadline_;
  std::string where_;
  std::optional<beast::tcp_stream> tcp_;
  std::optional<ssl::stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
};

ClientResponseHead MakeHead(const Connection::Parser& parser, const Url& url) {
  ClientResponseHead head;
  const auto& res = parser.get();
  head.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    head.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  head.url = url;
  if (auto len = parser.content_length()) head.content_length = *len;
  return head;
}

// Fetch (sink == nullptr: the body goes to ClientResponse::body) and Download.
StatusOr<ClientResponse> Exchange(const ClientRequest& request, const BodySink* sink) {
  BASALT_ASSIGN_OR_RETURN(Url url, ParseUrl(request.url));
  const Url origin = url;
  const Clock::time_point deadline = request.timeouts.total.count() > 0
                                         ? Clock::now() + request.timeouts.total
                                         : Clock::time_point::max();
  asio::io_context ioc;
  std::unique_ptr<ssl::context> tls;
  std::string method = request.method;
  bool send_body = true;
  ClientResponse out;
  std::optional<Connection> conn;
  std::optional<Connection::Parser> parser;
  for (int hop = 0;; ++hop) {
    conn.emplace(ioc, request.timeouts, deadline);
    if (url.scheme == "https" && !tls) {
      BASALT_ASSIGN_OR_RETURN(tls, MakeTlsContext(request.ca_file));
    }
    BASALT_RETURN_IF_ERROR(conn->Open(url, url.scheme == "https" ? tls.get() : nullptr));

    bhttp::request<bhttp::string_body> req;
    req.method_string(method);
    req.target(url.target);
    req.version(11);
    for (const auto& [name, value] : request.headers) {
      std::string lower = Lower(name);
      if (lower == "host" || lower == "connection") continue;  // the client's own
      if ((lower == "authorization" || lower == "cookie") && !SameOrigin(url, origin)) continue;
      req.set(name, value);
    }
    req.set(bhttp::field::host, url.HostHeader());
    if (req.find(bhttp::field::user_agent) == req.end()) {
      req.set(bhttp::field::user_agent, "basalt/0.1");
    }
    req.set(bhttp::field::connection, "close");
    if (send_body && (method != "GET" || !request.body.empty())) {
      req.body() = request.body;
      req.prepare_payload();
    }
    BASALT_RETURN_IF_ERROR(conn->Send(req));
    parser.emplace();
    if (method == "HEAD") parser->skip(true);
    BASALT_RETURN_IF_ERROR(conn->ReadHeader(*parser));
    ClientResponseHead head = MakeHead(*parser, url);
    if (!request.follow_redirects || !IsRedirect(head.status)) {
      static_cast<ClientResponseHead&>(out) = std::move(head);
      break;
    }
    std::string location = head.Header("location");
    if (location.empty()) {
      return Status::Unavailable("HTTP " + std::to_string(head.status) + " without Location from " +
                                 url.ForDisplay());
    }
    if (hop >= request.max_redirects) {
      return Status::Unavailable("too many redirects (more than " +
                                 std::to_string(request.max_redirects) + ") for " +
                                 origin.ForDisplay());
    }
    StatusOr<Url> next = ResolveLocation(url, location);
    if (!next.ok()) {
      return Status::Unavailable("bad redirect from " + url.ForDisplay() + ": " +
                                 next.status().message());
    }
    if ((head.status == 303 && method != "HEAD") ||
        ((head.status == 301 || head.status == 302) && method == "POST")) {
      method = "GET";
      send_body = false;
    }
    out.redirects.push_back(std::move(head));
    url = std::move(next).value();
  }

  const uint64_t cap = request.max_body_bytes;
  const std::string where = url.ForDisplay();
  auto too_large = [&] {
    return Status::ResourceExhausted("the reply from " + where + " is larger than " +
                                     std::to_string(cap) + " bytes");
  };
  if (cap > 0 && out.content_length && *out.content_length > cap) return too_large();
  if (sink != nullptr && sink->on_head) {
    StatusOr<bool> want_body = sink->on_head(out);
    if (!want_body.ok()) return want_body.status();
    if (!*want_body) return out;
  }
  const std::string what = sink != nullptr ? "download from " + where : "reply from " + where;
  std::vector<char> chunk(sink != nullptr ? std::max<size_t>(sink->chunk_bytes, 1) : kReadBuffer);
  uint64_t received = 0;
  while (!parser->is_done()) {
    StatusOr<size_t> n = conn->ReadBody(*parser, chunk.data(), chunk.size(), what);
    if (!n.ok()) return n.status();
    if (*n == 0) continue;
    received += *n;
    if (cap > 0 && received > cap) return too_large();
    if (sink == nullptr) {
      out.body.append(chunk.data(), *n);
    } else if (sink->on_data) {
      BASALT_RETURN_IF_ERROR(sink->on_data(std::string_view(chunk.data(), *n)));
    }
  }
  return out;
}

StatusOr<ClientResponse> Guarded(const ClientRequest& request, const BodySink* sink) {
  try {
    return Exchange(request, sink);
  } catch (const std::exception& e) {
    // Boost throws on allocation and a few setup paths; nothing may cross this boundary.
    return Status::Internal(std::string("HTTP request failed: ") + e.what());
  }
}

}  // namespace

std::string Url::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != DefaultPort(scheme)) h += ":" + std::to_string(port);
  return h;
}

std::string Url::ToString() const { return scheme + "://" + HostHeader() + target; }

std::string Url::ForDisplay() const {
  return scheme + "://" + HostHeader() + target.substr(0, target.find('?'));
}

StatusOr<Url> ParseUrl(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("invalid URL \"" + std::string(text) +
                                   "\": " + std::string(why));
  };
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) return bad("expected http:// or https://");
  Url url;
  url.scheme = Lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") return bad("expected http:// or https://");
  std::string_view rest = text.substr(sep + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (size_t hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);
  }
  if (authority.find('@') != std::string_view::npos) return bad("user info is not supported");

  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after IPv6 address");
      port = after.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad("missing host");
  for (char c : host) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '/' || c == '\\' || c == '%') return bad("bad host");
  }
  url.host = Lower(host);
  url.port = DefaultPort(url.scheme);
  if (!port.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return bad("bad port");
    }
    url.port = static_cast<uint16_t>(value);
  }
  url.target = target.empty() || target[0] != '/' ? "/" + std::string(target) : std::string(target);
  url.target = SanitizeTarget(url.target);
  return url;
}

StatusOr<Url> ResolveLocation(const Url& base, std::string_view location) {
  while (!location.empty() && (location.front() == ' ' || location.front() == '\t')) {
    location.remove_prefix(1);
  }
  while (!location.empty() && (location.back() == ' ' || location.back() == '\t')) {
    location.remove_suffix(1);
  }
  if (location.empty()) return Status::InvalidArgument("empty Location header");
  if (size_t hash = location.find('#'); hash != std::string_view::npos) {
    location = location.substr(0, hash);
  }

  // A scheme is letters/digits/+-. before the first ':' that precedes any '/', '?'.
  size_t colon = location.find(':');
  size_t delim = location.find_first_of("/?");
  if (colon != std::string_view::npos && colon > 0 && colon < delim &&
      std::isalpha(static_cast<unsigned char>(location[0]))) {
    StatusOr<Url> url = ParseUrl(location);
    if (!url.ok()) return url.status();
    url->target = NormalizeTarget(url->target);
    return url;
  }
  if (location.starts_with("//")) {
    return ResolveLocation(base, base.scheme + ":" + std::string(location));
  }

  Url url = base;
  std::string target = SanitizeTarget(location);
  if (target[0] == '/') {
    url.target = NormalizeTarget(target);
  } else if (target[0] == '?') {
    url.target = base.target.substr(0, base.target.find('?')) + target;
  } else {
    std::string base_path = base.target.substr(0, base.target.find('?'));
    base_path = base_path.substr(0, base_path.rfind('/') + 1);  // target always starts with '/'
    url.target = NormalizeTarget(base_path + target);
  }
  return url;
}

std::string ClientResponseHead::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return {};
}

StatusOr<ClientResponse> Fetch(const ClientRequest& request) { return Guarded(request, nullptr); }

StatusOr<ClientResponse> Download(const ClientRequest& request, const BodySink& sink) {
  return Guarded(request, &sink);
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

}  // namespace basalt::http
