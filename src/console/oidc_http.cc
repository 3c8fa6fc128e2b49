// OpenID Connect fetches (oidc.h): URL parsing and one bounded HTTP/1.1 exchange over TCP or
// TLS with Boost.Beast, in the manner of src/models/pull.cc's client.
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <optional>

#include "console/oidc.h"

namespace basalt::console::oidc {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

std::string LowerAscii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The process-wide TLS client context: system CA store (plus SSL_CERT_FILE), peer verified.
StatusOr<ssl::context*> TlsContext() {
  static std::once_flag once;
  static std::unique_ptr<ssl::context> ctx;
  static Status failure;
  std::call_once(once, [] {
    auto c = std::make_unique<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(c->native_handle(), TLS1_2_VERSION);
    error_code ec;
    c->set_default_verify_paths(ec);
    if (ec) {
      failure = Status::Internal("cannot load system CA certificates: " + ec.message());
      return;
    }
    if (const char* file = std::getenv("SSL_CERT_FILE"); file != nullptr && *file != '\0') {
      c->load_verify_file(file, ec);
      if (ec) {
        failure = Status::Internal(std::string("cannot load SSL_CERT_FILE=") + file + ": " +
                                   ec.message());
        return;
      }
    }
    c->set_verify_mode(ssl::verify_peer);
    ctx = std::move(c);
  });
  if (!ctx) return failure;
  return ctx.get();
}

// Runs one async operation started by initiate(done) on `ioc` to completion.
template <class Initiate>
error_code RunOne(asio::io_context& ioc, Initiate&& initiate) {
  std::optional<error_code> result;
  initiate([&result](error_code ec) { result = ec; });
  ioc.restart();
  while (!result && ioc.run_one() > 0) {
  }
  ioc.restart();
  ioc.poll();
  return result.value_or(asio::error::operation_aborted);
}

Status Failure(const std::string& what, error_code ec) {
  std::string why = ec == beast::error::timeout || ec == asio::error::timed_out ||
                            ec == asio::error::operation_aborted
                        ? std::string("timed out")
                        : ec.message();
  return Status::Unavailable(what + ": " + why);
}

}  // namespace

std::string Url::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  bool default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
  return default_port ? h : h + ":" + std::to_string(port);
}

StatusOr<Url> ParseUrl(std::string_view text) {
  Url url;
  size_t colon = text.find("://");
  if (colon == std::string_view::npos) return Status::InvalidArgument("not an absolute URL");
  url.scheme = LowerAscii(std::string(text.substr(0, colon)));
  if (url.scheme != "http" && url.scheme != "https") {
    return Status::InvalidArgument("URL scheme must be http or https");
  }
  std::string_view rest = text.substr(colon + 3);
  size_t path = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path);
  std::string_view target = path == std::string_view::npos ? "" : rest.substr(path);
  if (size_t hash = target.find('#'); hash != std::string_view::npos) {
    target = target.substr(0, hash);
  }
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("URL must not carry user information");
  }
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("bad IPv6 host in URL");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Status::InvalidArgument("bad URL authority");
      port_text = after.substr(1);
    }
  } else {
    size_t c = authority.rfind(':');
    url.host = std::string(authority.substr(0, c));
    if (c != std::string_view::npos) port_text = authority.substr(c + 1);
  }
  url.host = LowerAscii(url.host);
  if (url.host.empty()) return Status::InvalidArgument("URL has no host");
  for (char c : url.host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '_')) {
      return Status::InvalidArgument("URL host has a character it must not have");
    }
  }
  url.port = url.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        })) {
      return Status::InvalidArgument("bad URL port");
    }
    int p = std::stoi(std::string(port_text));
    if (p < 1 || p > 65535) return Status::InvalidArgument("bad URL port");
    url.port = static_cast<uint16_t>(p);
  }
  url.target = target.empty() ? "/" : std::string(target);
  if (url.target[0] == '?') url.target = "/" + url.target;
  for (char c : url.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Status::InvalidArgument("URL path has a space or control character");
    }
  }
  return url;
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8 in dotted-quad form.
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

Status CheckFetchUrl(std::string_view text) {
  auto url = ParseUrl(text);
  if (!url.ok()) return url.status();
  if (url->scheme == "http" && !IsLoopbackHost(url->host)) {
    return Status::InvalidArgument("plain http is allowed only for a loopback host (" +
                                   std::string(text) + "); use https");
  }
  return Status::Ok();
}

StatusOr<HttpResponse> Fetch(const std::string& method, const std::string& url_text,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             const std::string& body, const FetchOptions& options) {
  BASALT_RETURN_IF_ERROR(CheckFetchUrl(url_text));
  BASALT_ASSIGN_OR_RETURN(Url url, ParseUrl(url_text));
  const std::string where = url.scheme + "://" + url.HostHeader();
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;

  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  tcp::resolver::results_type endpoints;
  asio::steady_timer timer(ioc);
  timer.expires_at(deadline);
  timer.async_wait([&](error_code ec) {
    if (!ec) resolver.cancel();
  });
  error_code ec = RunOne(ioc, [&](auto done) {
    resolver.async_resolve(url.host, std::to_string(url.port),
                           [&, done](error_code e, tcp::resolver::results_type r) mutable {
                             timer.cancel();
                             endpoints = std::move(r);
                             done(e);
                           });
  });
  if (ec) return Failure("cannot resolve " + url.host, ec);

  std::optional<beast::tcp_stream> tcp_stream;
  std::optional<ssl::stream<beast::tcp_stream>> tls_stream;
  if (url.scheme == "https") {
    BASALT_ASSIGN_OR_RETURN(ssl::context * ctx, TlsContext());
    tls_stream.emplace(ioc, *ctx);
  } else {
    tcp_stream.emplace(ioc);
  }
  beast::tcp_stream& lowest = tls_stream ? beast::get_lowest_layer(*tls_stream) : *tcp_stream;
  lowest.expires_at(deadline);
  ec = RunOne(ioc, [&](auto done) {
    lowest.async_connect(endpoints,
                         [done](error_code e, const tcp::endpoint&) mutable { done(e); });
  });
  if (ec) return Failure("cannot connect to " + where, ec);
  if (tls_stream) {
    SSL* native = tls_stream->native_handle();
    error_code addr_ec;
    asio::ip::make_address(url.host, addr_ec);
    if (addr_ec && !SSL_set_tlsext_host_name(native, url.host.c_str())) {
      return Status::Internal("cannot set TLS server name " + url.host);
    }
    if (!SSL_set1_host(native, url.host.c_str())) {
      return Status::Internal("cannot set TLS host check for " + url.host);
    }
    ec = RunOne(ioc, [&](auto done) {
      tls_stream->async_handshake(ssl::stream_base::client,
                                  [done](error_code e) mutable { done(e); });
    });
    if (ec) {
      std::string hint;
      if (long v = SSL_get_verify_result(native); v != X509_V_OK) {
        hint = std::string(" (certificate: ") + X509_verify_cert_error_string(v) + ")";
      }
      return Failure("TLS handshake with " + where + " failed" + hint, ec);
    }
  }

  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), url.target, 11};
  req.set(bhttp::field::host, url.HostHeader());
  req.set(bhttp::field::user_agent, "basalt-oidc/1");
  req.set(bhttp::field::accept, "application/json");
  req.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (method != "GET" || !body.empty()) {
    req.body() = body;
    req.prepare_payload();
  }
  auto with_stream = [&](auto&& f) { return tls_stream ? f(*tls_stream) : f(*tcp_stream); };
  ec = with_stream([&](auto& stream) {
    return RunOne(ioc, [&](auto done) {
      bhttp::async_write(stream, req, [done](error_code e, size_t) mutable { done(e); });
    });
  });
  if (ec) return Failure("cannot send request to " + where, ec);

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(options.max_body_bytes);
  ec = with_stream([&](auto& stream) {
    return RunOne(ioc, [&](auto done) {
      bhttp::async_read(stream, buffer, parser, [done](error_code e, size_t) mutable { done(e); });
    });
  });
  if (ec == bhttp::error::body_limit) {
    return Status::ResourceExhausted("the reply from " + where + " is larger than " +
                                     std::to_string(options.max_body_bytes) + " bytes");
  }
  if (ec) return Failure("no valid response from " + where, ec);
  error_code ignored;
  lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
  lowest.socket().close(ignored);

  HttpResponse out;
  const auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[bhttp::field::content_type]);
  out.body = res.body();
  return out;
}

}  // namespace basalt::console::oidc
