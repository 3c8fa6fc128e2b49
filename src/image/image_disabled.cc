// The image engine of a build without libtorch (-DBASALT_IMAGES=OFF, the TSan build): image
// models are listed but every call says this server cannot generate images.
#include "image/image.h"

namespace basalt::image {
namespace {
constexpr char kNotBuilt[] = "This server was built without image generation (BASALT_IMAGES=OFF).";

class DisabledEngine final : public ImageEngine {
 public:
  StatusOr<ImageResult> Generate(const ImageRequest&) override {
    return Status::Unavailable(kNotBuilt);
  }
  Status Load(const std::string&) override { return Status::Unavailable(kNotBuilt); }
  StatusOr<ImageModelInfo> Describe(const std::string&) override {
    return Status::Unavailable(kNotBuilt);
  }
  bool available() const override { return false; }
};
}  // namespace

std::unique_ptr<ImageEngine> ImageEngine::Create(const ImageEngineOptions&) {
  return std::make_unique<DisabledEngine>();
}
}  // namespace basalt::image
