// Who is calling: verifies SigV4 or a Bedrock API key (bearer) against the key store.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"
#include "http/http_server.h"
#include "store/store.h"

namespace basalt::api {

struct Principal {
  std::string account_id;
  std::string user_id;
  std::string access_key_id;  // SigV4 or short-term bearer; empty for long-term API keys
  std::string api_key_id;     // long-term API keys
  std::string region;         // from the credential scope; empty for long-term API keys
  std::string method;         // "sigv4", "bearer"
};

// Returns kUnauthenticated with Bedrock's reason and wording: MissingAuthenticationToken,
// IncompleteSignature, InvalidSignature (mismatch, expired), or plain (unknown or inactive
// key: "The security token included in the request is invalid.").
StatusOr<Principal> Authenticate(store::Store& store, const http::Request& request,
                                 std::chrono::system_clock::time_point now);

}  // namespace basalt::api
