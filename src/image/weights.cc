// SCAFFOLD: to be written by its owner (see /tmp/h/images-contract.md).
#include "image/weights.h"

namespace basalt::image {
Status WeightMap::Add(std::shared_ptr<SafetensorsFile>, at::ScalarType,
                      const std::function<std::string(const std::string&)>&) {
  return Status::Internal("todo");
}
void WeightMap::Put(const std::string& name, at::Tensor tensor) { tensors_[name] = tensor; }
bool WeightMap::Has(const std::string& name) const { return tensors_.count(name) > 0; }
StatusOr<at::Tensor> WeightMap::Get(const std::string& name) const {
  return Status::Internal("todo " + name);
}
StatusOr<at::Tensor> WeightMap::Get(const std::string& name, const std::vector<int64_t>&) const {
  return Get(name);
}
WeightMap WeightMap::Sub(const std::string&) const { return {}; }
std::vector<std::string> WeightMap::Names() const { return {}; }
}  // namespace basalt::image
