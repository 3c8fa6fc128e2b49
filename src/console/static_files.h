// The web console's front end over HTTP: `/`, the app's page paths (all index.html),
// `/assets/...` and `/favicon.svg`, from the copy embedded at build time (gzip-precompressed)
// or, for front-end development, from a folder on disk (--console-dir).
//
// Independent of the HTTP server: the caller turns a StaticReply into a response.
// Thread-safe (immutable after construction).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace basalt::console {

// The app's page paths (kept in step with web/src/routes.ts): each serves index.html.
bool IsConsolePagePath(std::string_view path);

struct StaticRequest {
  std::string_view path;             // raw path, no query
  std::string_view accept_encoding;  // "" when absent
  std::string_view if_none_match;    // "" when absent
};

struct StaticReply {
  int status = 200;  // 200, 304, or 404 (the caller renders 404 in the API's error shape)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class StaticFiles {
 public:
  // `dir` empty: the embedded copy. Otherwise files come from `dir` (read per request).
  explicit StaticFiles(std::string dir);

  // The reply for a GET of `request.path`, or nullopt when the path is not the console's.
  std::optional<StaticReply> Serve(const StaticRequest& request) const;

  // True when there is a front end to serve (embedded, or a folder with index.html).
  bool built() const;

 private:
  std::optional<StaticReply> ServeEmbedded(std::string_view file, const StaticRequest& r) const;
  std::optional<StaticReply> ServeFromDir(std::string_view file, const StaticRequest& r) const;

  std::string dir_;
};

// Content-Type by file extension ("text/javascript; charset=utf-8" for .js...).
std::string ContentTypeFor(std::string_view path);
// True when an Accept-Encoding value accepts gzip (and does not give it q=0).
bool AcceptsGzip(std::string_view accept_encoding);
// Decompresses a gzip stream; nullopt when it is corrupt.
std::optional<std::string> Gunzip(std::string_view data);

}  // namespace basalt::console
