// Internal to src/image's model code (clip.cc, vae.cc, tae.cc): the small layers those
// networks are made of, each loaded from a WeightMap with every shape checked, so that a
// missing or mis-shaped tensor is a kFailedPrecondition naming it at load, never a shape
// error inside a request.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "image/weights.h"

namespace basalt::image::layers {

// Convolution 2D, square kernel. The weight is kept channels-last when `channels_last`.
struct Conv2d {
  at::Tensor weight, bias;  // bias undefined when the layer has none
  int64_t stride = 1, padding = 0;
  at::Tensor operator()(const at::Tensor& x) const {
    return at::conv2d(x, weight, bias, {stride, stride}, {padding, padding});
  }
};

struct Norm {  // GroupNorm (groups > 0) or LayerNorm (groups == 0) with affine parameters
  at::Tensor weight, bias;
  int64_t groups = 0;
  double eps = 1e-5;
  at::Tensor operator()(const at::Tensor& x) const {
    if (groups > 0) return at::group_norm(x, groups, weight, bias, eps);
    return at::layer_norm(x, {weight.size(0)}, weight, bias, eps);
  }
};

struct Linear {
  at::Tensor weight, bias;
  at::Tensor operator()(const at::Tensor& x) const { return at::linear(x, weight, bias); }
};

// In-place activations that take the temporary they are given.
inline at::Tensor Silu(at::Tensor x) {
  at::silu_(x);
  return x;
}
inline at::Tensor Relu(at::Tensor x) {
  at::relu_(x);
  return x;
}

// kernel x kernel convolution cin -> cout, "name.weight" (+ "name.bias" when `bias`).
inline StatusOr<Conv2d> LoadConv(const WeightMap& w, const std::string& name, int64_t cin,
                                 int64_t cout, int64_t kernel, bool bias, int64_t stride,
                                 int64_t padding, bool channels_last) {
  Conv2d c;
  BASALT_ASSIGN_OR_RETURN(c.weight, w.Get(name + ".weight", {cout, cin, kernel, kernel}));
  if (bias) {
    BASALT_ASSIGN_OR_RETURN(c.bias, w.Get(name + ".bias", {cout}));
  }
  if (channels_last) c.weight = c.weight.contiguous(at::MemoryFormat::ChannelsLast);
  c.stride = stride;
  c.padding = padding;
  return c;
}

inline StatusOr<Norm> LoadNorm(const WeightMap& w, const std::string& name, int64_t channels,
                               int64_t groups, double eps) {
  Norm n;
  BASALT_ASSIGN_OR_RETURN(n.weight, w.Get(name + ".weight", {channels}));
  BASALT_ASSIGN_OR_RETURN(n.bias, w.Get(name + ".bias", {channels}));
  n.groups = groups;
  n.eps = eps;
  return n;
}

// in -> out Linear. `also_conv1x1`: a [out, in, 1, 1] weight (the 1x1 convolutions of older
// checkpoints' attention) is accepted too and viewed as [out, in].
inline StatusOr<Linear> LoadLinear(const WeightMap& w, const std::string& name, int64_t in,
                                   int64_t out, bool bias = true, bool also_conv1x1 = false) {
  Linear l;
  if (also_conv1x1 && w.Has(name + ".weight") && w.Get(name + ".weight")->dim() == 4) {
    BASALT_ASSIGN_OR_RETURN(l.weight, w.Get(name + ".weight", {out, in, 1, 1}));
    l.weight = l.weight.view({out, in});
  } else {
    BASALT_ASSIGN_OR_RETURN(l.weight, w.Get(name + ".weight", {out, in}));
  }
  if (bias) {
    BASALT_ASSIGN_OR_RETURN(l.bias, w.Get(name + ".bias", {out}));
  }
  return l;
}

// Linears over the same input fused into one (q, k, v -> one matrix multiply).
inline Linear Fuse(const std::vector<Linear>& parts) {
  std::vector<at::Tensor> ws, bs;
  for (const Linear& p : parts) {
    ws.push_back(p.weight);
    if (p.bias.defined()) bs.push_back(p.bias);
  }
  Linear l;
  l.weight = at::cat(ws, 0).contiguous();
  if (bs.size() == parts.size()) l.bias = at::cat(bs, 0).contiguous();
  return l;
}

}  // namespace basalt::image::layers
