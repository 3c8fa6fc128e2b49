// OpenID Connect fetches (oidc.h): URL checks, and one bounded exchange through the shared
// HTTP client (http/client.h: deadline, size cap, TLS verification; no redirects).
#include <algorithm>
#include <cctype>
#include <string>

#include "console/oidc.h"
#include "http/client.h"

namespace basalt::console::oidc {
namespace {

std::string LowerAscii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
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

StatusOr<HttpResponse> Fetch(const std::string& method, const std::string& url,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             const std::string& body, const FetchOptions& options) {
  BASALT_RETURN_IF_ERROR(CheckFetchUrl(url));
  http::ClientRequest req;
  req.method = method;
  req.url = url;
  req.headers = {{"User-Agent", "basalt-oidc/1"}, {"Accept", "application/json"}};
  req.headers.insert(req.headers.end(), headers.begin(), headers.end());
  req.body = body;
  // One deadline for the whole exchange, connect included.
  req.timeouts.connect = req.timeouts.io = req.timeouts.total = options.timeout;
  req.max_body_bytes = options.max_body_bytes;
  BASALT_ASSIGN_OR_RETURN(http::ClientResponse res, http::Fetch(req));
  HttpResponse out;
  out.status = res.status;
  out.content_type = res.Header("Content-Type");
  out.body = std::move(res.body);
  return out;
}

}  // namespace basalt::console::oidc
