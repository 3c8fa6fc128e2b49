// SCAFFOLD: to be written by its owner (see /tmp/h/images-contract.md).
#include "image/pipeline.h"

namespace basalt::image {
StatusOr<std::unique_ptr<Pipeline>> Pipeline::Load(const ImageModelConfig& config, at::ScalarType) {
  return Status::Internal("todo " + config.path);
}
StatusOr<ImageResult> Pipeline::Generate(const ImageRequest&) const {
  return Status::Internal("todo");
}
ImageModelInfo DescribeCheckpoint(const ImageModelConfig&, const CheckpointInfo&) { return {}; }
}  // namespace basalt::image
