// SCAFFOLD: to be written by its owner (see /tmp/h/images-contract.md).
#include "image/models.h"

namespace basalt::image {
StatusOr<std::unique_ptr<UNet>> UNet::Create(const UNetConfig&, WeightMap) {
  return Status::Internal("todo");
}
at::Tensor UNet::Forward(const at::Tensor& latents, const at::Tensor&, const at::Tensor&) const {
  return latents;
}
}  // namespace basalt::image
