#include "image/weights.h"

#include <cstring>
#include <sstream>

namespace basalt::image {

namespace {

at::ScalarType WeightScalarType(DType dtype) {
  switch (dtype) {
    case DType::kF64:
      return at::kDouble;
    case DType::kF32:
      return at::kFloat;
    case DType::kF16:
      return at::kHalf;
    case DType::kBF16:
      return at::kBFloat16;
    case DType::kI64:
      return at::kLong;
    case DType::kI32:
      return at::kInt;
    case DType::kI16:
      return at::kShort;
    case DType::kI8:
      return at::kChar;
    case DType::kU8:
      return at::kByte;
    case DType::kBool:
      return at::kBool;
  }
  return at::kFloat;
}

bool IsFloatDType(DType dtype) {
  return dtype == DType::kF64 || dtype == DType::kF32 || dtype == DType::kF16 ||
         dtype == DType::kBF16;
}

std::string ShapeString(at::IntArrayRef shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

}  // namespace

Status WeightMap::Add(std::shared_ptr<SafetensorsFile> file, at::ScalarType compute_dtype,
                      const std::function<std::string(const std::string&)>& rename) {
  if (!file) return Status::Internal("WeightMap::Add without a file");
  std::map<std::string, at::Tensor> added;
  for (const TensorView& t : file->tensors()) {
    std::string name = rename ? rename(t.name) : t.name;
    if (name.empty()) continue;
    if (tensors_.count(name) > 0 || added.count(name) > 0) {
      return Status::FailedPrecondition(description_ + ": tensor '" + name +
                                        "' appears twice (in '" + file->path() + "'" +
                                        (name != t.name ? ", from '" + t.name + "'" : "") + ")");
    }
    const at::ScalarType file_type = WeightScalarType(t.dtype);
    // Integer tensors (position_ids buffers some exporters save) keep their type.
    const at::ScalarType target = IsFloatDType(t.dtype) ? compute_dtype : file_type;
    const bool aligned = reinterpret_cast<uintptr_t>(t.data) % DTypeSize(t.dtype) == 0;
    at::Tensor tensor;
    if (aligned && t.numel() > 0) {
      // A view of the mapping; the deleter keeps the file (and so the mapping) alive.
      std::shared_ptr<SafetensorsFile> keep = file;
      at::Tensor view = at::from_blob(
          const_cast<uint8_t*>(t.data), t.shape, [keep](void*) mutable { keep.reset(); },
          at::TensorOptions().dtype(file_type));
      tensor = file_type == target ? view : view.to(target);
    } else {
      at::Tensor copy = at::empty(t.shape, at::TensorOptions().dtype(file_type));
      if (t.size_bytes > 0) std::memcpy(copy.data_ptr(), t.data, t.size_bytes);
      tensor = file_type == target ? copy : copy.to(target);
    }
    added.emplace(std::move(name), std::move(tensor));
  }
  for (auto& [name, tensor] : added) tensors_.emplace(name, std::move(tensor));
  files_.push_back(std::move(file));
  return Status::Ok();
}

void WeightMap::Put(const std::string& name, at::Tensor tensor) {
  tensors_[name] = std::move(tensor);
}

bool WeightMap::Has(const std::string& name) const { return tensors_.count(name) > 0; }

StatusOr<at::Tensor> WeightMap::Get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return Status::FailedPrecondition(description_ + ": missing tensor '" + name + "'");
  }
  return it->second;
}

StatusOr<at::Tensor> WeightMap::Get(const std::string& name,
                                    const std::vector<int64_t>& shape) const {
  BASALT_ASSIGN_OR_RETURN(at::Tensor t, Get(name));
  if (t.sizes() != at::IntArrayRef(shape)) {
    return Status::FailedPrecondition(description_ + ": tensor '" + name + "' has shape " +
                                      ShapeString(t.sizes()) + ", expected " + ShapeString(shape));
  }
  return t;
}

WeightMap WeightMap::Sub(const std::string& prefix) const {
  WeightMap sub;
  sub.files_ = files_;
  sub.description_ = description_ + " (" + prefix + ")";
  const std::string p = prefix + ".";
  for (auto it = tensors_.lower_bound(p); it != tensors_.end(); ++it) {
    if (it->first.compare(0, p.size(), p) != 0) break;
    sub.tensors_.emplace(it->first.substr(p.size()), it->second);
  }
  return sub;
}

std::vector<std::string> WeightMap::Names() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& [name, t] : tensors_) names.push_back(name);
  return names;
}

}  // namespace basalt::image
