// SCAFFOLD: to be written by its owner (see /tmp/h/images-contract.md).
#include "image/models.h"

namespace basalt::image {
StatusOr<std::unique_ptr<VaeDecoder>> VaeDecoder::Create(const VaeConfig&, WeightMap) {
  return Status::Internal("todo");
}
at::Tensor VaeDecoder::Decode(const at::Tensor& z) const { return z; }
}  // namespace basalt::image
