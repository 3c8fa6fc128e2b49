// ETag parsing for models/pull.cc (URLs and path encoding: http/client.h).
#include <cctype>
#include <string>
#include <string_view>

#include "models/pull_internal.h"

namespace basalt::models::internal {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

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
