#include "auth/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <unordered_map>

namespace basalt::auth {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kService = "bedrock";
constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
constexpr std::string_view kIncomplete = "IncompleteSignature";
constexpr std::string_view kInvalid = "InvalidSignature";
// Bearer tokens that cannot be parsed are reported like an unknown access key.
constexpr std::string_view kUnrecognized = "UnrecognizedClient";
constexpr std::string_view kExpired = "ExpiredToken";
constexpr int64_t kSkewSeconds = 5 * 60;

constexpr std::string_view kMismatchMessage =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";

// Short-term bearer tokens (aws-bedrock-token-generator).
constexpr std::string_view kTokenPrefix = "bedrock-api-key-";
constexpr std::string_view kTokenHost = "bedrock.amazonaws.com";
constexpr std::string_view kTokenAction = "CallWithBearerToken";
constexpr int kMaxTokenExpires = 43200;  // 12 hours, the generator's maximum

Status Incomplete(std::string message) {
  return Status::Unauthenticated(std::move(message), std::string(kIncomplete));
}
Status Invalid(std::string message) {
  return Status::Unauthenticated(std::move(message), std::string(kInvalid));
}
Status BadToken(std::string message) {
  return Status::Unauthenticated(std::move(message), std::string(kUnrecognized));
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != ToLower(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// SigV4 "Trimall": trim, then collapse each internal whitespace run to one space.
std::string TrimAll(std::string_view s) {
  s = Trim(s);
  std::string out;
  out.reserve(s.size());
  bool in_space = false;
  for (char c : s) {
    if (IsSpace(c)) {
      in_space = true;
      continue;
    }
    if (in_space) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// RFC 3986 encoding as the SigV4 spec wants it: upper-case hex, only unreserved kept.
std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; a stray '%' stays literal and '+' is not a space (as in the JS signer).
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool IsLowerHex64(std::string_view s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); });
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Parses YYYYMMDDTHHMMSSZ into unix seconds.
std::optional<int64_t> ParseAmzDate(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  for (size_t i : {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14}) {
    if (!IsDigit(s[i])) return std::nullopt;
  }
  auto num = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  int year = num(0, 4), month = num(4, 2), day = num(6, 2);
  int hour = num(9, 2), minute = num(11, 2), second = num(13, 2);
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return std::nullopt;
  int max_day = kDays[month - 1] + (month == 2 && IsLeap(year) ? 1 : 0);
  if (day > max_day || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  return DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
         hour * 3600 + minute * 60 + second;
}

std::string FormatAmzDate(int64_t unix_seconds) {
  int64_t days = unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
  int64_t secs = unix_seconds - days * 86400;
  // Inverse of DaysFromCivil.
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[128];  // roomy enough for any int64 the format could print
  std::snprintf(buf, sizeof(buf), "%04lld%02u%02uT%02lld%02lld%02lldZ", static_cast<long long>(y),
                m, d, static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  return buf;
}

int64_t UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string CredentialScope(std::string_view date, std::string_view region,
                            std::string_view service) {
  std::string scope;
  scope.append(date).append("/").append(region).append("/").append(service).append("/");
  scope.append(kTerminator);
  return scope;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string sts(kAlgorithm);
  sts.append("\n").append(amz_date).append("\n").append(scope).append("\n");
  sts.append(Sha256Hex(canonical_request));
  return sts;
}

std::string SigningKey(std::string_view secret, std::string_view date, std::string_view region,
                       std::string_view service) {
  std::string k_secret = "AWS4";
  k_secret.append(secret);
  std::string k_date = HmacSha256(k_secret, date);
  std::string k_region = HmacSha256(k_date, region);
  std::string k_service = HmacSha256(k_region, service);
  return HmacSha256(k_service, kTerminator);
}

// The signing key depends only on (secret, date, region, service), so each request thread keeps
// the keys it derived (four HMACs each) for the few credentials it sees, found by the secret's
// SHA-256 (the map holds no secret). Thread-local: no lock, and a thread's map is bounded by
// clearing it when full. A changed or deleted secret is never looked up again (the secret is
// part of the key), so there is nothing to invalidate.
const std::string& CachedSigningKey(std::string_view secret, std::string_view date,
                                    std::string_view region, std::string_view service) {
  constexpr size_t kMaxKeysPerThread = 64;
  thread_local std::unordered_map<std::string, std::string> keys;
  std::string id;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(secret.data(), secret.size(), digest, &len, EVP_sha256(), nullptr);
  id.reserve(len + date.size() + region.size() + service.size() + 2);
  id.append(reinterpret_cast<const char*>(digest), len)
      .append(date)
      .append(1, '\0')
      .append(region)
      .append(1, '\0');
  id.append(service);
  auto it = keys.find(id);
  if (it != keys.end()) return it->second;
  if (keys.size() >= kMaxKeysPerThread) keys.clear();
  return keys.emplace(std::move(id), SigningKey(secret, date, region, service)).first->second;
}

std::string ComputeSignature(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service,
                             std::string_view string_to_sign) {
  return Hex(HmacSha256(CachedSigningKey(secret, date, region, service), string_to_sign));
}

// All values of header `name` (case-insensitive), each trimmed, joined with ','.
std::optional<std::string> HeaderValues(const SignedRequest& request, std::string_view name) {
  std::optional<std::string> joined;
  for (const auto& [key, value] : request.headers) {
    if (!EqualsIgnoreCase(key, name)) continue;
    if (joined) {
      joined->push_back(',');
      joined->append(TrimAll(value));
    } else {
      joined = TrimAll(value);
    }
  }
  return joined;
}

std::optional<std::string_view> FirstHeader(const SignedRequest& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (EqualsIgnoreCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::string CanonicalHeaderValue(const SignedRequest& request, std::string_view name) {
  // The transport knows the authority (HTTP/2 pseudo-header or Host); prefer it for both names.
  if ((name == ":authority" || name == "host") && !request.authority.empty()) {
    return TrimAll(request.authority);
  }
  if (auto v = HeaderValues(request, name)) return *v;
  if (name == ":authority") {
    if (auto v = HeaderValues(request, "host")) return *v;
  }
  return {};
}

struct Credential {
  std::string access_key_id, date, region, service;
};

std::optional<Credential> ParseCredential(std::string_view text) {
  std::vector<std::string_view> parts = Split(text, '/');
  if (parts.size() != 5 || parts[0].empty() || parts[2].empty() || parts[3].empty() ||
      parts[4] != kTerminator || parts[1].size() != 8 ||
      !std::all_of(parts[1].begin(), parts[1].end(), IsDigit)) {
    return std::nullopt;
  }
  return Credential{std::string(parts[0]), std::string(parts[1]), std::string(parts[2]),
                    std::string(parts[3])};
}

// "Signature expired" / "not yet current" exactly as the real service words it (F.5).
Status CheckWindow(std::string_view amz_date, int64_t request_time, int64_t now) {
  if (request_time < now - kSkewSeconds) {
    return Invalid("Signature expired: " + std::string(amz_date) + " is now earlier than " +
                   FormatAmzDate(now - kSkewSeconds) + " (" + FormatAmzDate(now) + " - 5 min.)");
  }
  if (request_time > now + kSkewSeconds) {
    return Invalid("Signature not yet current: " + std::string(amz_date) + " is still later than " +
                   FormatAmzDate(now + kSkewSeconds) + " (" + FormatAmzDate(now) + " + 5 min.)");
  }
  return Status::Ok();
}

// The pieces of a short-term token's URL "host/path?query".
struct TokenUrl {
  std::string_view host, path, query;
};

TokenUrl SplitTokenUrl(std::string_view url) {
  TokenUrl out;
  size_t slash = url.find('/');
  size_t question = url.find('?');
  if (slash == std::string_view::npos || (question != std::string_view::npos && question < slash)) {
    slash = question;
  }
  out.host = url.substr(0, slash);
  if (slash == std::string_view::npos) return out;
  std::string_view rest = url.substr(slash);
  size_t q = rest.find('?');
  out.path = rest.substr(0, q);
  if (q != std::string_view::npos) out.query = rest.substr(q + 1);
  return out;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return Hex(std::string_view(reinterpret_cast<const char*>(digest), len));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                 (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

StatusOr<std::string> Base64Decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  // Padding is optional, but when present it must complete the last quantum.
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  std::string_view body = text.substr(0, text.size() - pad);
  if (pad > 0 && text.size() % 4 != 0) return Status::InvalidArgument("bad base64 padding");
  if (body.size() % 4 == 1) return Status::InvalidArgument("bad base64 length");
  std::string out;
  out.reserve(body.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : body) {
    int v = value(c);
    if (v < 0) return Status::InvalidArgument("bad base64 character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Leftover bits must be zero, so every byte string has exactly one encoding.
  if ((acc & ((1u << bits) - 1)) != 0) return Status::InvalidArgument("bad base64 trailing bits");
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string CanonicalUri(std::string_view raw_path) {
  // Remove dot segments and empty segments ("//") like both SDKs, then encode again.
  std::vector<std::string_view> out;
  for (std::string_view segment : Split(raw_path, '/')) {
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(segment);
  }
  std::string path = "/";
  for (size_t i = 0; i < out.size(); ++i) {
    if (i > 0) path.push_back('/');
    path.append(UriEncode(out[i], false));
  }
  if (!out.empty() && !raw_path.empty() && raw_path.back() == '/') path.push_back('/');
  return path;
}

std::string CanonicalQuery(std::string_view raw_query) {
  if (raw_query.empty()) return {};
  std::vector<std::pair<std::string, std::string>> pairs;
  for (std::string_view piece : Split(raw_query, '&')) {
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    std::string_view key = piece.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
    pairs.emplace_back(UriEncode(PercentDecode(key), false),
                       UriEncode(PercentDecode(value), false));
  }
  // Sorted by encoded name, then encoded value, as the SDKs do.
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (!out.empty()) out.push_back('&');
    out.append(key).append("=").append(value);
  }
  return out;
}

std::string CanonicalRequest(const SignedRequest& request,
                             const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash) {
  std::string_view target = request.raw_target;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);

  std::string cr = request.method;
  cr.append("\n").append(CanonicalUri(path)).append("\n").append(CanonicalQuery(query));
  cr.append("\n");
  std::string names;
  for (const std::string& name : signed_headers) {
    cr.append(name).append(":").append(CanonicalHeaderValue(request, name)).append("\n");
    if (!names.empty()) names.push_back(';');
    names.append(name);
  }
  cr.append("\n").append(names).append("\n").append(payload_hash);
  return cr;
}

std::string SigningKeyHex(std::string_view secret, std::string_view date, std::string_view region,
                          std::string_view service) {
  return Hex(SigningKey(secret, date, region, service));
}

std::string SignRequest(const SignedRequest& request, std::string_view access_key_id,
                        std::string_view secret, std::string_view region, std::string_view amz_date,
                        const std::vector<std::string>& signed_headers) {
  std::vector<std::string> names;
  names.reserve(signed_headers.size());
  for (const std::string& name : signed_headers) names.push_back(Lower(name));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  std::string payload_hash;
  if (auto v = FirstHeader(request, "x-amz-content-sha256")) {
    payload_hash = std::string(Trim(*v));
  } else {
    payload_hash = Sha256Hex(request.body);
  }
  std::string date(amz_date.substr(0, 8));
  std::string scope = CredentialScope(date, region, kService);
  std::string cr = CanonicalRequest(request, names, payload_hash);
  std::string signature =
      ComputeSignature(secret, date, region, kService, StringToSign(amz_date, scope, cr));

  std::string header(kAlgorithm);
  header.append(" Credential=").append(access_key_id).append("/").append(scope);
  header.append(", SignedHeaders=");
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) header.push_back(';');
    header.append(names[i]);
  }
  header.append(", Signature=").append(signature);
  return header;
}

StatusOr<SigV4Authorization> ParseAuthorization(std::string_view header) {
  const std::string echo = " Authorization=" + std::string(header);
  std::string_view rest = Trim(header);
  if (rest.size() <= kAlgorithm.size() || rest.substr(0, kAlgorithm.size()) != kAlgorithm ||
      !IsSpace(rest[kAlgorithm.size()])) {
    return Incomplete("Authorization header must start with 'AWS4-HMAC-SHA256 '." + echo);
  }
  rest = Trim(rest.substr(kAlgorithm.size()));

  std::optional<std::string_view> credential, signed_headers, signature;
  for (std::string_view part : Split(rest, ',')) {
    part = Trim(part);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return Incomplete("Authorization header has a malformed component '" + std::string(part) +
                        "'." + echo);
    }
    std::string_view key = Trim(part.substr(0, eq));
    std::string_view value = Trim(part.substr(eq + 1));
    std::optional<std::string_view>* slot = nullptr;
    if (key == "Credential") slot = &credential;
    if (key == "SignedHeaders") slot = &signed_headers;
    if (key == "Signature") slot = &signature;
    if (slot == nullptr) continue;  // unknown components are ignored
    if (slot->has_value()) {
      return Incomplete("Authorization header repeats '" + std::string(key) + "'." + echo);
    }
    *slot = value;
  }
  std::string missing;
  if (!credential) missing += "Authorization header requires 'Credential' parameter. ";
  if (!signed_headers) missing += "Authorization header requires 'SignedHeaders' parameter. ";
  if (!signature) missing += "Authorization header requires 'Signature' parameter. ";
  if (!missing.empty()) {
    missing.pop_back();
    return Incomplete(missing + echo);
  }

  std::optional<Credential> cred = ParseCredential(*credential);
  if (!cred) {
    return Incomplete(
        "Credential must have the form <AccessKeyId>/<YYYYMMDD>/<region>/"
        "<service>/aws4_request, not '" +
        std::string(*credential) + "'." + echo);
  }
  SigV4Authorization auth;
  auth.access_key_id = std::move(cred->access_key_id);
  auth.date = std::move(cred->date);
  auth.region = std::move(cred->region);
  auth.service = std::move(cred->service);

  for (std::string_view name : Split(*signed_headers, ';')) {
    if (name.empty()) return Incomplete("SignedHeaders has an empty header name." + echo);
    auth.signed_headers.push_back(Lower(name));
  }
  std::string sig = Lower(*signature);
  if (!IsLowerHex64(sig)) {
    return Incomplete("Signature must be 64 hexadecimal characters." + echo);
  }
  auth.signature = std::move(sig);
  return auth;
}

Status VerifySigV4(const SignedRequest& request, const SigV4Authorization& auth,
                   std::string_view secret_access_key, std::chrono::system_clock::time_point now) {
  if (auth.service != kService) {
    return Invalid("Credential should be scoped to correct service: 'bedrock'.");
  }
  std::optional<std::string_view> amz_date_header = FirstHeader(request, "x-amz-date");
  if (!amz_date_header) {
    return Incomplete(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  std::string amz_date(Trim(*amz_date_header));
  std::optional<int64_t> request_time = ParseAmzDate(amz_date);
  if (!request_time) {
    return Incomplete("Date must be in ISO-8601 'basic format'. Got '" + amz_date + "'.");
  }
  if (auth.date != std::string_view(amz_date).substr(0, 8)) {
    return Incomplete(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
        "date from HTTP: '" +
        auth.date + "' != '" + amz_date.substr(0, 8) + "', from '" + amz_date + "'.");
  }
  bool host_signed =
      std::any_of(auth.signed_headers.begin(), auth.signed_headers.end(),
                  [](const std::string& h) { return h == "host" || h == ":authority"; });
  if (!host_signed) {
    return Invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  BASALT_RETURN_IF_ERROR(CheckWindow(amz_date, *request_time, UnixSeconds(now)));

  std::string payload_hash;
  if (std::optional<std::string_view> declared = FirstHeader(request, "x-amz-content-sha256")) {
    payload_hash = std::string(Trim(*declared));
    if (payload_hash != kUnsignedPayload && payload_hash != Sha256Hex(request.body)) {
      return Invalid(
          "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
  } else {
    payload_hash = Sha256Hex(request.body);
  }

  std::string cr = CanonicalRequest(request, auth.signed_headers, payload_hash);
  std::string scope = CredentialScope(auth.date, auth.region, auth.service);
  std::string expected = ComputeSignature(secret_access_key, auth.date, auth.region, auth.service,
                                          StringToSign(amz_date, scope, cr));
  if (!ConstantTimeEquals(expected, auth.signature)) {
    return Invalid(std::string(kMismatchMessage));
  }
  return Status::Ok();
}

StatusOr<ShortTermToken> ParseShortTermToken(std::string_view token) {
  if (token.substr(0, kTokenPrefix.size()) != kTokenPrefix) {
    return BadToken("Bearer token is not a short-term Bedrock API key.");
  }
  StatusOr<std::string> url = Base64Decode(token.substr(kTokenPrefix.size()));
  if (!url.ok()) return BadToken("Bearer token is not valid base64.");

  ShortTermToken out;
  out.presigned_url = std::move(url).value();
  TokenUrl parts = SplitTokenUrl(out.presigned_url);
  if (parts.host.empty() || parts.path.empty()) {
    return BadToken("Bearer token does not hold a presigned URL.");
  }
  std::optional<std::string> action, algorithm, credential, amz_date, expires, signed_headers,
      signature, version;
  for (std::string_view piece : Split(parts.query, '&')) {
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    std::string key = PercentDecode(piece.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : PercentDecode(piece.substr(eq + 1));
    std::optional<std::string>* slot = nullptr;
    if (key == "Action") slot = &action;
    if (key == "X-Amz-Algorithm") slot = &algorithm;
    if (key == "X-Amz-Credential") slot = &credential;
    if (key == "X-Amz-Date") slot = &amz_date;
    if (key == "X-Amz-Expires") slot = &expires;
    if (key == "X-Amz-SignedHeaders") slot = &signed_headers;
    if (key == "X-Amz-Signature") slot = &signature;
    if (key == "Version") slot = &version;
    if (slot == nullptr) continue;
    if (slot->has_value()) return BadToken("Bearer token repeats " + key + ".");
    *slot = std::move(value);
  }
  if (action != kTokenAction || algorithm != kAlgorithm || !credential || !amz_date || !expires ||
      !signed_headers || !signature || (version && *version != "1")) {
    return BadToken("Bearer token lacks the presigned URL's parameters.");
  }
  std::optional<Credential> cred = ParseCredential(*credential);
  if (!cred || cred->service != kService) {
    return BadToken("Bearer token has a malformed credential scope.");
  }
  std::optional<int64_t> t = ParseAmzDate(*amz_date);
  if (!t || amz_date->substr(0, 8) != cred->date) {
    return BadToken("Bearer token has a malformed X-Amz-Date.");
  }
  if (expires->empty() || expires->size() > 6 ||
      !std::all_of(expires->begin(), expires->end(), IsDigit) || std::stoi(*expires) < 1 ||
      std::stoi(*expires) > kMaxTokenExpires) {
    return BadToken("Bearer token has a malformed X-Amz-Expires.");
  }
  // Only the host can be reconstructed from a bare URL.
  if (*signed_headers != "host") return BadToken("Bearer token must sign only 'host'.");
  if (!IsLowerHex64(*signature)) return BadToken("Bearer token has a malformed signature.");

  out.access_key_id = std::move(cred->access_key_id);
  out.date = std::move(cred->date);
  out.region = std::move(cred->region);
  out.amz_date = std::move(*amz_date);
  out.expires_seconds = std::stoi(*expires);
  out.signature = std::move(*signature);
  return out;
}

Status VerifyShortTermToken(const ShortTermToken& token, std::string_view secret,
                            std::chrono::system_clock::time_point now) {
  TokenUrl parts = SplitTokenUrl(token.presigned_url);
  // The signature covers every query parameter except itself and the unsigned "&Version=1".
  std::string signed_query;
  for (std::string_view piece : Split(parts.query, '&')) {
    std::string key = PercentDecode(piece.substr(0, piece.find('=')));
    if (piece.empty() || key == "X-Amz-Signature" || key == "Version") continue;
    if (!signed_query.empty()) signed_query.push_back('&');
    signed_query.append(piece);
  }
  std::string cr = "POST\n" + CanonicalUri(parts.path) + "\n" + CanonicalQuery(signed_query) +
                   "\nhost:" + TrimAll(parts.host) + "\n\nhost\n" + Sha256Hex("");
  std::string scope = CredentialScope(token.date, token.region, kService);
  std::string expected = ComputeSignature(secret, token.date, token.region, kService,
                                          StringToSign(token.amz_date, scope, cr));
  if (!ConstantTimeEquals(expected, token.signature)) {
    return Invalid(std::string(kMismatchMessage));
  }
  std::optional<int64_t> issued = ParseAmzDate(token.amz_date);
  if (!issued) return BadToken("Bearer token has a malformed X-Amz-Date.");
  int64_t now_s = UnixSeconds(now);
  int64_t expiry = *issued + token.expires_seconds;
  if (now_s > expiry) {
    // Worded like AWS's ExpiredTokenException, as for expired long-term keys.
    return Status::Unauthenticated("The security token included in the request is expired",
                                   std::string(kExpired));
  }
  if (*issued > now_s + kSkewSeconds) {
    return Invalid("Signature not yet current: " + token.amz_date + " is still later than " +
                   FormatAmzDate(now_s + kSkewSeconds) + " (" + FormatAmzDate(now_s) +
                   " + 5 min.)");
  }
  return Status::Ok();
}

std::string MakeShortTermToken(std::string_view access_key_id, std::string_view secret,
                               std::string_view region, std::chrono::system_clock::time_point now,
                               int expires_seconds) {
  std::string amz_date = FormatAmzDate(UnixSeconds(now));
  std::string date = amz_date.substr(0, 8);
  std::string scope = CredentialScope(date, region, kService);
  // The exact parameter order botocore's SigV4QueryAuth writes (already sorted).
  std::string query =
      "Action=" + std::string(kTokenAction) + "&X-Amz-Algorithm=" + std::string(kAlgorithm) +
      "&X-Amz-Credential=" + UriEncode(std::string(access_key_id) + "/" + scope, false) +
      "&X-Amz-Date=" + amz_date + "&X-Amz-Expires=" + std::to_string(expires_seconds) +
      "&X-Amz-SignedHeaders=host";
  std::string cr = "POST\n/\n" + CanonicalQuery(query) + "\nhost:" + std::string(kTokenHost) +
                   "\n\nhost\n" + Sha256Hex("");
  std::string signature =
      ComputeSignature(secret, date, region, kService, StringToSign(amz_date, scope, cr));
  std::string url =
      std::string(kTokenHost) + "/?" + query + "&X-Amz-Signature=" + signature + "&Version=1";
  return std::string(kTokenPrefix) + Base64Encode(url);
}

}  // namespace basalt::auth
