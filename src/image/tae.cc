// SCAFFOLD: to be written by its owner (see /tmp/h/images-contract.md).
#include "image/models.h"

namespace basalt::image {
StatusOr<std::unique_ptr<TaeDecoder>> TaeDecoder::Create(WeightMap) {
  return Status::Internal("todo");
}
at::Tensor TaeDecoder::Decode(const at::Tensor& z) const { return z; }
StatusOr<std::unique_ptr<TaeEncoder>> TaeEncoder::Create(WeightMap) {
  return Status::Internal("todo");
}
at::Tensor TaeEncoder::Encode(const at::Tensor& x) const { return x; }
}  // namespace basalt::image
