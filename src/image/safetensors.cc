// SCAFFOLD: to be written by its owner (see /tmp/h/images-contract.md).
#include "image/safetensors.h"

namespace basalt::image {
StatusOr<DType> ParseDType(const std::string& name) { return Status::Internal("todo " + name); }
const char* DTypeName(DType) { return "?"; }
size_t DTypeSize(DType) { return 0; }
int64_t TensorView::numel() const { return 0; }
StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  return Status::Internal("todo " + path);
}
SafetensorsFile::~SafetensorsFile() = default;
const TensorView* SafetensorsFile::Find(const std::string&) const { return nullptr; }
Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>&,
                        const std::map<std::string, std::string>&) {
  return Status::Internal("todo " + path);
}
}  // namespace basalt::image
