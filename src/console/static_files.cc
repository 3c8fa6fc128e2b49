#include "console/static_files.h"

#include <sys/stat.h>
#include <zlib.h>

#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "console/embedded.h"

namespace basalt::console {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kIndex = "/index.html";
constexpr size_t kMaxDevFileBytes = 64 << 20;

constexpr std::array<std::string_view, 15> kPages = {
    "/signin",   "/catalog",          "/access", "/playground/chat", "/playground/text",
    "/usage",    "/playground/image", "/keys",   "/users",           "/models",
    "/settings", "/signup",           "/apps",   "/discover",        "/backstage"};

constexpr const char* kCsp =
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

constexpr const char* kNotBuiltPage = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Basalt</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>The Basalt console was not built</h1>
<p>This server was built without the web console. The Bedrock API on this port works as
usual.</p>
<p>To include the console, build the front end and then rebuild <code>basalt</code>:</p>
<pre>scripts/setup            # or, by hand:
cd web &amp;&amp; npm ci &amp;&amp; npm run build
cmake --build build --target basalt</pre>
<p>For front-end development, <code>basalt serve --console-dir web/dist</code> serves the
files from disk.</p>
</body></html>
)";

bool IsHtml(std::string_view file) { return file == kIndex; }

// Headers every static reply carries; HTML adds the security policy.
void AddCommonHeaders(std::string_view file, StaticReply& reply) {
  reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (IsHtml(file)) {
    reply.headers.emplace_back("Cache-Control", "no-cache");
    reply.headers.emplace_back("Content-Security-Policy", kCsp);
    reply.headers.emplace_back("Referrer-Policy", "same-origin");
  } else if (file.substr(0, 8) == "/assets/") {
    // Vite puts a content hash in every asset name.
    reply.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
  } else {
    reply.headers.emplace_back("Cache-Control", "no-cache");
  }
}

// If-None-Match: a list of entity tags (weak ones compare weakly), or "*".
bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  size_t pos = 0;
  while (pos < if_none_match.size()) {
    size_t end = if_none_match.find(',', pos);
    if (end == std::string_view::npos) end = if_none_match.size();
    std::string_view tag = if_none_match.substr(pos, end - pos);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
    pos = end + 1;
  }
  return false;
}

StaticReply NotFound() {
  StaticReply r;
  r.status = 404;
  return r;
}

// Maps a request path to the file it serves ("/" and page paths: index.html), or "" when
// the path is not the console's.
std::string FileFor(std::string_view path) {
  if (path == "/" || path == kIndex || IsConsolePagePath(path)) return std::string(kIndex);
  if (path == "/favicon.svg" || path.substr(0, 8) == "/assets/") return std::string(path);
  return "";
}

// A safe relative path under a folder: plain segments only (no "..", ".", empty segment,
// backslash, NUL or percent-escape), so a request cannot leave the folder.
bool SafeRelativePath(std::string_view file) {
  if (file.empty() || file.front() != '/') return false;
  size_t pos = 1;
  while (pos <= file.size()) {
    size_t end = file.find('/', pos);
    if (end == std::string_view::npos) end = file.size();
    std::string_view seg = file.substr(pos, end - pos);
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (char c : seg) {
      if (c == '\\' || c == '\0' || c == '%' || static_cast<unsigned char>(c) < 0x20) {
        return false;
      }
    }
    pos = end + 1;
  }
  return true;
}

}  // namespace

bool IsConsolePagePath(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  for (std::string_view page : kPages) {
    if (path == page) return true;
  }
  // /catalog/<model id>, /apps/<app id>, /shared/<token>: one more segment.
  for (std::string_view prefix : {"/catalog/", "/apps/", "/shared/"}) {
    if (path.substr(0, prefix.size()) == prefix && path.size() > prefix.size()) {
      return path.find('/', prefix.size()) == std::string_view::npos;
    }
  }
  return false;
}

StaticFiles::StaticFiles(std::string dir) : dir_(std::move(dir)) {}

bool StaticFiles::built() const {
  if (!dir_.empty()) return fs::is_regular_file(fs::path(dir_) / "index.html");
  for (const EmbeddedFile& f : EmbeddedFiles()) {
    if (std::string_view(f.path) == kIndex) return true;
  }
  return false;
}

std::optional<StaticReply> StaticFiles::Serve(const StaticRequest& request) const {
  std::string file = FileFor(request.path);
  if (file.empty()) return std::nullopt;
  if (!built()) {
    if (file != kIndex) return NotFound();
    StaticReply r;
    r.headers.emplace_back("Content-Type", "text/html; charset=utf-8");
    AddCommonHeaders(file, r);
    r.body = kNotBuiltPage;
    return r;
  }
  if (!dir_.empty()) return ServeFromDir(file, request);
  return ServeEmbedded(file, request);
}

std::optional<StaticReply> StaticFiles::ServeEmbedded(std::string_view file,
                                                      const StaticRequest& request) const {
  for (const EmbeddedFile& f : EmbeddedFiles()) {
    if (std::string_view(f.path) != file) continue;
    StaticReply r;
    r.headers.emplace_back("ETag", f.etag);
    r.headers.emplace_back("Vary", "Accept-Encoding");
    AddCommonHeaders(file, r);
    if (!request.if_none_match.empty() && EtagMatches(request.if_none_match, f.etag)) {
      r.status = 304;
      return r;
    }
    r.headers.emplace_back("Content-Type", ContentTypeFor(file));
    std::string_view data(reinterpret_cast<const char*>(f.data), f.size);
    if (!f.gzip) {
      r.body.assign(data);
    } else if (AcceptsGzip(request.accept_encoding)) {
      r.headers.emplace_back("Content-Encoding", "gzip");
      r.body.assign(data);
    } else {
      std::optional<std::string> plain = Gunzip(data);
      if (!plain) return NotFound();  // cannot happen for a sound build
      r.body = std::move(*plain);
    }
    return r;
  }
  return NotFound();
}

std::optional<StaticReply> StaticFiles::ServeFromDir(std::string_view file,
                                                     const StaticRequest& request) const {
  if (!SafeRelativePath(file)) return NotFound();
  std::error_code ec;
  fs::path root = fs::canonical(dir_, ec);
  if (ec) return NotFound();
  fs::path target = fs::weakly_canonical(root / std::string(file.substr(1)), ec);
  if (ec) return NotFound();
  // Symbolic links may not lead out of the folder either.
  auto [root_end, _] = std::mismatch(root.begin(), root.end(), target.begin(), target.end());
  if (root_end != root.end()) return NotFound();
  struct stat st{};
  if (::stat(target.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<size_t>(st.st_size) > kMaxDevFileBytes) {
    return NotFound();
  }
  std::ifstream in(target, std::ios::binary);
  if (!in) return NotFound();
  std::ostringstream content;
  content << in.rdbuf();
  StaticReply r;
  std::string etag = "\"" + std::to_string(st.st_size) + "-" + std::to_string(st.st_mtime) + "\"";
  r.headers.emplace_back("ETag", etag);
  AddCommonHeaders(file, r);
  if (!request.if_none_match.empty() && EtagMatches(request.if_none_match, etag)) {
    r.status = 304;
    return r;
  }
  r.headers.emplace_back("Content-Type", ContentTypeFor(file));
  r.body = content.str();
  return r;
}

std::string ContentTypeFor(std::string_view path) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".ttf", "font/ttf"},
      {".otf", "font/otf"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  };
  size_t dot = path.rfind('.');
  size_t slash = path.rfind('/');
  if (dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash)) {
    std::string ext(path.substr(dot));
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& [e, type] : kTypes) {
      if (ext == e) return std::string(type);
    }
  }
  return "application/octet-stream";
}

bool AcceptsGzip(std::string_view header) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(',', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view item = header.substr(pos, end - pos);
    pos = end + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    size_t semi = item.find(';');
    std::string_view coding = item.substr(0, semi);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    if (coding != "gzip" && coding != "x-gzip" && coding != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string_view params = item.substr(semi + 1);
    size_t q = params.find("q=");
    if (q == std::string_view::npos) return true;
    std::string_view value = params.substr(q + 2);
    // q=0, q=0.0, q=0.000 refuse; anything else accepts.
    bool zero = !value.empty() && value.front() == '0';
    for (size_t i = 1; zero && i < value.size() && value[i] != ' ' && value[i] != ';'; ++i) {
      if (value[i] != '.' && value[i] != '0') zero = false;
    }
    if (!zero) return true;
    if (coding != "*") return false;
  }
  return false;
}

std::optional<std::string> Gunzip(std::string_view data) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return std::nullopt;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(buf, sizeof(buf) - zs.avail_out);
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

}  // namespace basalt::console
