#include "console/session.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cctype>
#include <vector>

namespace basalt::console {
namespace {

constexpr size_t kTokenBytes = 32;  // 256 bits
constexpr size_t kCsrfBytes = 32;
// last_seen_at is written at most this often: a store write per request would be a
// synchronous disk flush per console call.
constexpr int64_t kTouchIntervalSeconds = 60;

int64_t Seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

Status NoSession() { return Status::Unauthenticated(kNoSessionMessage, kConsoleAuthReason); }

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Sessions::Sessions(store::Store* store, std::chrono::seconds ttl, Clock clock)
    : store_(store), ttl_(ttl), clock_(std::move(clock)) {}

StatusOr<NewSession> Sessions::Create(const store::User& user) {
  const int64_t now = Seconds(clock_());
  // Expired rows would otherwise accumulate; a sign-in is a rare enough moment to sweep.
  if (auto swept = store_->DeleteExpiredConsoleSessions(now); !swept.ok()) return swept.status();
  NewSession out;
  BASALT_ASSIGN_OR_RETURN(out.token, RandomToken(kTokenBytes));
  BASALT_ASSIGN_OR_RETURN(out.row.csrf_token, RandomToken(kCsrfBytes));
  out.row.token_sha256 = SessionTokenHash(out.token);
  out.row.user_id = user.id;
  out.row.account_id = user.account_id;
  out.row.created_at = now;
  out.row.expires_at = now + ttl_.count();
  out.row.last_seen_at = now;
  BASALT_RETURN_IF_ERROR(store_->CreateConsoleSession(out.row));
  return out;
}

StatusOr<store::ConsoleSession> Sessions::Find(std::string_view token) {
  if (token.empty() || token.size() > 256) return NoSession();
  std::string hash = SessionTokenHash(token);
  auto row = store_->GetConsoleSession(hash);
  if (!row.ok()) {
    if (row.status().code() == StatusCode::kNotFound) return NoSession();
    return row.status();
  }
  const int64_t now = Seconds(clock_());
  if (row->expires_at <= now) {
    BASALT_RETURN_IF_ERROR(store_->DeleteConsoleSession(hash));
    return NoSession();
  }
  if (now - row->last_seen_at >= kTouchIntervalSeconds) {
    BASALT_RETURN_IF_ERROR(store_->TouchConsoleSession(hash, now));
    row->last_seen_at = now;
  }
  return row;
}

Status Sessions::End(std::string_view token) {
  if (token.empty()) return Status::Ok();
  return store_->DeleteConsoleSession(SessionTokenHash(token));
}

std::string SessionTokenHash(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

StatusOr<std::string> RandomToken(size_t n) {
  std::vector<unsigned char> bytes(n);
  if (RAND_bytes(bytes.data(), static_cast<int>(n)) != 1) {
    return Status::Internal("cannot draw a token from the CSPRNG");
  }
  std::string b64(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), bytes.data(),
                            static_cast<int>(n));
  b64.resize(static_cast<size_t>(len));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  for (char& c : b64) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return b64;
}

bool SecureEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string CookieValue(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view part = header.substr(pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    size_t eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) {
      std::string_view value = part.substr(eq + 1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
    pos = end + 1;
  }
  return "";
}

std::string SessionCookie(std::string_view token, std::chrono::seconds max_age, bool secure) {
  return std::string(kSessionCookieName) + "=" + std::string(token) +
         "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age.count()) +
         (secure ? "; Secure" : "");
}

std::string ClearedSessionCookie(bool secure) {
  return std::string(kSessionCookieName) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" +
         (secure ? "; Secure" : "");
}

bool OriginMatchesHost(std::string_view origin, std::string_view authority) {
  std::string_view rest;
  if (origin.substr(0, 7) == "http://") {
    rest = origin.substr(7);
  } else if (origin.substr(0, 8) == "https://") {
    rest = origin.substr(8);
  } else {
    return false;
  }
  if (rest.empty() || authority.empty()) return false;
  return LowerAscii(rest) == LowerAscii(authority);
}

}  // namespace basalt::console
