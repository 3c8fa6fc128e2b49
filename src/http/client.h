// A small blocking HTTP/1.1 client over TCP or TLS: the one place Basalt talks to other
// servers (models/pull.cc downloads weights, console/oidc_http.cc fetches OpenID Connect
// discovery documents, key sets and tokens).
//
// Each call opens its own connection ("Connection: close"), runs every network step with a
// deadline on a private event loop (a silent server cannot hang the caller), follows
// redirects when asked, and verifies https servers against the system CA store (plus a CA
// file): peer certificate checked, host name checked against it, SNI sent for names.
// Beast and OpenSSL stay inside client.cc, so including this header is cheap.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace basalt::http {

// An absolute http(s) URL split for a client. `host` has no IPv6 brackets; `target` is the
// origin-form request target ("/path?query"), never empty.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-case
  uint16_t port = 0;
  std::string target;

  std::string HostHeader() const;  // host[:port], port omitted when it is the default
  std::string ToString() const;
  // scheme://host[:port]/path without the query (redirects to CDNs carry signed queries
  // that must not reach logs or error messages).
  std::string ForDisplay() const;
};

// kInvalidArgument for anything but an absolute http:// or https:// URL with a host.
StatusOr<Url> ParseUrl(std::string_view text);

// Resolves a Location header against the URL that answered it (RFC 3986 section 5.2):
// absolute, scheme-relative ("//host/p"), absolute-path and relative references.
StatusOr<Url> ResolveLocation(const Url& base, std::string_view location);

using Headers = std::vector<std::pair<std::string, std::string>>;

struct ClientTimeouts {
  std::chrono::milliseconds connect{30'000};  // each of DNS, TCP connect and TLS handshake
  std::chrono::milliseconds io{60'000};       // longest silence while sending or receiving
  std::chrono::milliseconds total{0};         // the whole call, redirects included; 0: none
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  // Sent on every hop, except that Authorization and Cookie go only to the origin of `url`
  // (a redirect to another scheme, host or port drops them). Host and Connection are set by
  // the client; User-Agent defaults to "basalt/0.1".
  Headers headers;
  std::string body;  // sent with a Content-Length unless empty on a GET/HEAD
  ClientTimeouts timeouts;
  // With follow_redirects, 301/302/303/307/308 with a Location are followed up to
  // max_redirects times (303, and a POST answered by 301/302, continue as a GET without body);
  // one more is kUnavailable. Without, a redirect is returned like any other response.
  bool follow_redirects = false;
  int max_redirects = 5;
  // The final response's body may not be larger than this (kResourceExhausted); 0: no limit.
  uint64_t max_body_bytes = 0;
  // A PEM file of trusted CA certificates, added to the system store. Empty: the file named
  // by $SSL_CERT_FILE, if set (OpenSSL reads it silently; the client reports a bad one).
  std::string ca_file;
};

struct ClientResponseHead {
  int status = 0;
  Headers headers;  // as received, in order
  Url url;          // the URL that answered (after redirects)
  std::optional<uint64_t> content_length;

  // The first value of header `name` (case-insensitive), "" if absent.
  std::string Header(std::string_view name) const;
};

struct ClientResponse : ClientResponseHead {
  std::string body;                           // Fetch only; Download hands it to the sink
  std::vector<ClientResponseHead> redirects;  // the redirect responses followed, in order
};

// The small-response form: the whole body in memory (set max_body_bytes).
// kInvalidArgument for a bad URL or CA file; kUnavailable for network, TLS, timeout and
// redirect failures; kResourceExhausted for a body over max_body_bytes. Any HTTP status is
// a successful call.
StatusOr<ClientResponse> Fetch(const ClientRequest& request);

// The streaming form for downloads. on_head sees the final response's status and headers
// before any of its body is read: it returns true to receive the body, false to end the call
// there (successfully, e.g. a 416 or a status the caller handles itself), or an error that
// the call returns. on_data then receives the body piece by piece (at most chunk_bytes
// each, chunked encoding already removed); an error from it stops the call and is returned.
// A body that ends before its Content-Length is kUnavailable ("connection closed early").
struct BodySink {
  std::function<StatusOr<bool>(const ClientResponseHead& head)> on_head;
  std::function<Status(std::string_view piece)> on_data;
  size_t chunk_bytes = 256 * 1024;
};
StatusOr<ClientResponse> Download(const ClientRequest& request, const BodySink& sink);

// Percent-encodes everything except RFC 3986 unreserved characters (and '/' if keep_slash):
// URL paths, form and query values, header values that must stay ASCII.
std::string PercentEncode(std::string_view text, bool keep_slash = false);

}  // namespace basalt::http
