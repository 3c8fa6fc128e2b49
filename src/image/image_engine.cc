// SCAFFOLD: to be written by its owner (see /tmp/h/images-contract.md).
#include "image/image.h"

namespace basalt::image {
namespace {
class TodoEngine final : public ImageEngine {
 public:
  StatusOr<ImageResult> Generate(const ImageRequest&) override { return Status::Internal("todo"); }
  Status Load(const std::string&) override { return Status::Internal("todo"); }
  StatusOr<ImageModelInfo> Describe(const std::string&) override {
    return Status::Internal("todo");
  }
  bool available() const override { return true; }
};
}  // namespace
std::unique_ptr<ImageEngine> ImageEngine::Create(const ImageEngineOptions&) {
  return std::make_unique<TodoEngine>();
}
}  // namespace basalt::image
