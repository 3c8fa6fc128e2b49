// Internals of models/pull.cc, exposed for pull_test.cc only: URL helpers and a PullModel
// whose timeouts tests can shorten.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/client.h"
#include "models/pull.h"

namespace basalt::models::internal {

struct PullTimeouts {
  std::chrono::milliseconds connect{30'000};  // each of DNS, TCP connect and TLS handshake
  std::chrono::milliseconds io{60'000};       // longest silence while sending or receiving
};

StatusOr<PullResult> PullModel(const PullOptions& options, const PullTimeouts& timeouts);

// URLs are the HTTP client's (http/client.h); pull_test.cc names them from here.
using Url = http::Url;
using http::ParseUrl;
using http::ResolveLocation;

using http::PercentEncode;

// The SHA-256 an ETag header value carries, if it is a quoted 64-hex string; else "".
std::string Sha256FromEtag(std::string_view etag);

}  // namespace basalt::models::internal
