// Named tensors for the model code: a view over one or more safetensors files, converted to the
// compute dtype on the way in. A tensor whose file dtype already is the compute dtype (and is
// suitably aligned) wraps the mapping without a copy, so f32 models run from the mapped file.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "image/safetensors.h"

namespace basalt::image {

class WeightMap {
 public:
  WeightMap() = default;
  // Adds every tensor of `file` (kept open for the map's life), renaming by `rename` when given
  // (single-file checkpoints map their keys to diffusers names; a name mapped to "" is skipped).
  // kFailedPrecondition on a duplicate name or an unsupported dtype.
  Status Add(std::shared_ptr<SafetensorsFile> file, at::ScalarType compute_dtype,
             const std::function<std::string(const std::string&)>& rename = nullptr);
  // Adds an already made tensor (OpenCLIP's fused in_proj split into q/k/v, say).
  void Put(const std::string& name, at::Tensor tensor);

  bool Has(const std::string& name) const;
  // kFailedPrecondition "<what>: missing tensor '<name>'" (what = the map's description).
  StatusOr<at::Tensor> Get(const std::string& name) const;
  // Get() that also checks the shape; kFailedPrecondition naming expected and found shapes.
  StatusOr<at::Tensor> Get(const std::string& name, const std::vector<int64_t>& shape) const;
  // The tensors under "prefix." as a map with the prefix removed (shares the storage).
  WeightMap Sub(const std::string& prefix) const;
  std::vector<std::string> Names() const;  // sorted
  size_t size() const { return tensors_.size(); }

  void set_description(std::string d) { description_ = std::move(d); }
  const std::string& description() const { return description_; }

 private:
  std::map<std::string, at::Tensor> tensors_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::string description_ = "weights";
};

}  // namespace basalt::image
