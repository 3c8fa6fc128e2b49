// URL parsing and redirect resolution for models/pull.cc.
#include <cctype>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "models/pull_internal.h"

namespace basalt::models::internal {
namespace {

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

}  // namespace

std::string Url::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != DefaultPort(scheme)) h += ":" + std::to_string(port);
  return h;
}

std::string Url::ToString() const { return scheme + "://" + HostHeader() + target; }

StatusOr<Url> ParseUrl(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("invalid URL \"" + std::string(text) + "\": " +
                                   std::string(why));
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
  url.target = target.empty() || target[0] != '/' ? "/" + std::string(target)
                                                  : std::string(target);
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

std::string Sha256FromEtag(std::string_view etag) {
  while (!etag.empty() && (etag.front() == ' ' || etag.front() == '\t')) etag.remove_prefix(1);
  while (!etag.empty() && (etag.back() == ' ' || etag.back() == '\t')) etag.remove_suffix(1);
  if (etag.size() != 66 || etag.front() != '"' || etag.back() != '"') return {};
  std::string_view hex = etag.substr(1, 64);
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
  }
  return Lower(hex);
}

}  // namespace basalt::models::internal
