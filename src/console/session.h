// Web console sessions (docs/console.md, "Sessions" and "CSRF"): a 256-bit random token in
// the `basalt_session` cookie, kept in the store only as its SHA-256, with a CSRF token and
// an expiry. Also the cookie and CSRF helpers the HTTP glue (src/api/console_api.cc) uses.
//
// Thread-safe (the store is).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/store.h"

namespace basalt::console {

inline constexpr std::string_view kSessionCookieName = "basalt_session";
// The one message for an unknown account, unknown user or wrong password.
inline constexpr const char* kSignInFailedMessage =
    "Your authentication information is incorrect. Please try again.";
inline constexpr const char* kNoSessionMessage =
    "You are not signed in, or your session has expired. Please sign in again.";
inline constexpr const char* kCsrfMessage = "Missing or invalid CSRF token.";
// Status::reason() of a console authentication failure: errors.cc answers 401 for it.
inline constexpr const char* kConsoleAuthReason = "ConsoleAuth";

struct NewSession {
  std::string token;  // the cookie value; never stored
  store::ConsoleSession row;
};

class Sessions {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  // `store` must outlive this object.
  Sessions(store::Store* store, std::chrono::seconds ttl, Clock clock);

  // Starts a session for `user` (and drops expired ones). kInternal on store or CSPRNG
  // failure.
  StatusOr<NewSession> Create(const store::User& user);
  // The live session of a cookie token. kUnauthenticated (reason kConsoleAuthReason) when
  // unknown or expired (an expired row is deleted); kInternal on store failure.
  StatusOr<store::ConsoleSession> Find(std::string_view token);
  // Ends the session of `token`; OK when there is none.
  Status End(std::string_view token);

  std::chrono::seconds ttl() const { return ttl_; }

 private:
  store::Store* store_;
  const std::chrono::seconds ttl_;
  Clock clock_;
};

// SHA-256 of a session token (raw 32 bytes), as the store keys sessions.
std::string SessionTokenHash(std::string_view token);
// `n` bytes from OpenSSL's CSPRNG as unpadded base64url. kInternal when it fails.
StatusOr<std::string> RandomToken(size_t n);
// Constant-time comparison (for CSRF tokens); false when the lengths differ.
bool SecureEquals(std::string_view a, std::string_view b);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "" when absent.
std::string CookieValue(std::string_view cookie_header, std::string_view name);
// Set-Cookie values that set and clear the session cookie.
std::string SessionCookie(std::string_view token, std::chrono::seconds max_age, bool secure);
std::string ClearedSessionCookie(bool secure);

// True when an Origin header value names the host the request was sent to (`authority`,
// the Host header), e.g. "http://127.0.0.1:8080" for "127.0.0.1:8080". Hosts compare
// case-insensitively; "null" and malformed origins never match.
bool OriginMatchesHost(std::string_view origin, std::string_view authority);

}  // namespace basalt::console
