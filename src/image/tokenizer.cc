// SCAFFOLD: to be written by its owner (see /tmp/h/images-contract.md).
#include "image/tokenizer.h"

namespace basalt::image {
StatusOr<ClipTokenizer> ClipTokenizer::Load(const std::string&, const std::string&,
                                            const std::string&) {
  return Status::Internal("todo");
}
StatusOr<ClipTokenizer> ClipTokenizer::LoadDir(const std::string& dir) {
  return Status::Internal("todo " + dir);
}
std::vector<int> ClipTokenizer::Tokenize(std::string_view) const { return {}; }
std::vector<int> ClipTokenizer::Encode(std::string_view, int, int*) const { return {}; }
}  // namespace basalt::image
