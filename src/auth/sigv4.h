// AWS Signature Version 4 verification for Bedrock requests (service name "bedrock"), and the
// Bedrock API key (bearer token) formats. Pure functions: the caller supplies the clock and
// the secret lookup, so tests never read the wall clock.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace basalt::auth {

// What the verifier needs of an HTTP request.
struct SignedRequest {
  std::string method;
  std::string raw_target;  // path and query exactly as received, never decoded
  std::string authority;   // :authority (HTTP/2) or Host (HTTP/1.1)
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string_view body;
};

// The parsed `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
struct SigV4Authorization {
  std::string access_key_id;
  std::string date;     // YYYYMMDD from the credential scope
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;
  std::string signature;  // 64 lower-case hex
};

// Returns kUnauthenticated(reason "IncompleteSignature") when malformed.
StatusOr<SigV4Authorization> ParseAuthorization(std::string_view header);

// Verifies the signature. `now` enforces the +-5 minute window. Errors (all
// kUnauthenticated): reason "InvalidSignature" with the real service's wording for a
// mismatch or an expired/future timestamp; "IncompleteSignature" for missing x-amz-date or a
// scope that does not match it.
Status VerifySigV4(const SignedRequest& request, const SigV4Authorization& auth,
                   std::string_view secret_access_key, std::chrono::system_clock::time_point now);

// Building blocks, exposed for tests and for signing (tests, presigned bearer tokens).
std::string CanonicalUri(std::string_view raw_path);      // each segment URI-encoded again
std::string CanonicalQuery(std::string_view raw_query);
std::string CanonicalRequest(const SignedRequest& request,
                             const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash);
std::string SigningKeyHex(std::string_view secret, std::string_view date, std::string_view region,
                          std::string_view service);
// Computes the Authorization header value for `request` (client side; used by tests).
std::string SignRequest(const SignedRequest& request, std::string_view access_key_id,
                        std::string_view secret, std::string_view region,
                        std::string_view amz_date, const std::vector<std::string>& signed_headers);

std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);  // raw bytes
std::string Hex(std::string_view bytes);
std::string Base64Encode(std::string_view bytes);
StatusOr<std::string> Base64Decode(std::string_view text);
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Bedrock API keys sent as `Authorization: Bearer <token>`.
//   Long-term:  "ABSK" + base64("BedrockAPIKey-<id>-at-<account>:<secret>")
//   Short-term: "bedrock-api-key-" + base64 of a SigV4-presigned URL for
//               POST https://bedrock.amazonaws.com/?Action=CallWithBearerToken...
struct ShortTermToken {
  std::string access_key_id;
  std::string date;
  std::string region;
  std::string amz_date;     // X-Amz-Date
  int expires_seconds = 0;  // X-Amz-Expires
  std::string signature;
  std::string presigned_url;  // decoded URL (without scheme)
};
// Malformed tokens: kUnauthenticated(reason "UnrecognizedClient").
StatusOr<ShortTermToken> ParseShortTermToken(std::string_view token);
// Verifies the presigned signature and its expiry. Errors (kUnauthenticated): reason
// "InvalidSignature" for a mismatch or an X-Amz-Date more than 5 minutes ahead of `now`,
// "ExpiredToken" once X-Amz-Date + X-Amz-Expires has passed.
Status VerifyShortTermToken(const ShortTermToken& token, std::string_view secret,
                            std::chrono::system_clock::time_point now);
// Makes a short-term token the way aws-bedrock-token-generator does (for `basalt admin` and tests).
std::string MakeShortTermToken(std::string_view access_key_id, std::string_view secret,
                               std::string_view region, std::chrono::system_clock::time_point now,
                               int expires_seconds);

}  // namespace basalt::auth
