// Internals of models/pull.cc, exposed for pull_test.cc only: URL handling and a PullModel
// whose timeouts tests can shorten.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "models/pull.h"

namespace basalt::models::internal {

struct PullTimeouts {
  std::chrono::milliseconds connect{30'000};  // each of DNS, TCP connect and TLS handshake
  std::chrono::milliseconds io{60'000};       // longest silence while sending or receiving
};

StatusOr<PullResult> PullModel(const PullOptions& options, const PullTimeouts& timeouts);

// An absolute http(s) URL split for a client. `host` has no IPv6 brackets; `target` is the
// origin-form request target ("/path?query"), never empty.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-case
  uint16_t port = 0;
  std::string target;

  std::string HostHeader() const;  // host[:port], port omitted when it is the default
  std::string ToString() const;
};

StatusOr<Url> ParseUrl(std::string_view text);

// Resolves a Location header against the URL that answered it (RFC 3986 section 5.2):
// absolute, scheme-relative ("//host/p"), absolute-path and relative references.
StatusOr<Url> ResolveLocation(const Url& base, std::string_view location);

// Percent-encodes everything except RFC 3986 unreserved characters, and '/' if keep_slash.
std::string PercentEncode(std::string_view text, bool keep_slash);

// The SHA-256 an ETag header value carries, if it is a quoted 64-hex string; else "".
std::string Sha256FromEtag(std::string_view etag);

}  // namespace basalt::models::internal
