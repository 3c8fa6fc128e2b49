// AutoencoderKL's decoder and encoder (the Stable Diffusion VAE) over ATen operations, in
// diffusers' tensor names. Activations are channels-last: oneDNN's convolutions run fastest
// that way, and the attention reads [B, H*W, C] from it without a copy.
#include <cmath>
#include <string>
#include <vector>

#include "image/layers.h"
#include "image/models.h"

namespace basalt::image {

using layers::Conv2d;
using layers::Linear;
using layers::Norm;

namespace {

constexpr double kEps = 1e-6;  // every GroupNorm of the SD VAE

struct Resnet {
  Norm norm1, norm2;
  Conv2d conv1, conv2, shortcut;  // shortcut.weight undefined when in == out
};

struct Attention {
  Norm norm;
  Linear qkv, out;
  int64_t channels = 0;
};

struct MidBlock {
  Resnet resnet0, resnet1;
  Attention attention;
};

struct Stage {  // an up (decoder) or down (encoder) block
  std::vector<Resnet> resnets;
  Conv2d resample;  // weight undefined on the last block
};

StatusOr<Resnet> LoadResnet(const WeightMap& w, const std::string& name, int64_t cin, int64_t cout,
                            int64_t groups) {
  Resnet r;
  BASALT_ASSIGN_OR_RETURN(r.norm1, layers::LoadNorm(w, name + ".norm1", cin, groups, kEps));
  BASALT_ASSIGN_OR_RETURN(r.conv1,
                          layers::LoadConv(w, name + ".conv1", cin, cout, 3, true, 1, 1, true));
  BASALT_ASSIGN_OR_RETURN(r.norm2, layers::LoadNorm(w, name + ".norm2", cout, groups, kEps));
  BASALT_ASSIGN_OR_RETURN(r.conv2,
                          layers::LoadConv(w, name + ".conv2", cout, cout, 3, true, 1, 1, true));
  if (cin != cout) {
    BASALT_ASSIGN_OR_RETURN(
        r.shortcut, layers::LoadConv(w, name + ".conv_shortcut", cin, cout, 1, true, 1, 0, true));
  }
  return r;
}

StatusOr<Attention> LoadAttention(const WeightMap& w, const std::string& name, int64_t c,
                                  int64_t groups) {
  Attention a;
  a.channels = c;
  // diffusers' names, or the older ones (query/key/value/proj_attn) some exports keep.
  const bool legacy = !w.Has(name + ".to_q.weight") && w.Has(name + ".query.weight");
  BASALT_ASSIGN_OR_RETURN(a.norm, layers::LoadNorm(w, name + ".group_norm", c, groups, kEps));
  const char* names[4] = {"to_q", "to_k", "to_v", "to_out.0"};
  if (legacy) {
    names[0] = "query";
    names[1] = "key";
    names[2] = "value";
    names[3] = "proj_attn";
  }
  std::vector<Linear> qkv(3);
  for (int i = 0; i < 3; ++i) {
    BASALT_ASSIGN_OR_RETURN(qkv[i], layers::LoadLinear(w, name + "." + names[i], c, c, true, true));
  }
  a.qkv = layers::Fuse(qkv);
  BASALT_ASSIGN_OR_RETURN(a.out, layers::LoadLinear(w, name + "." + names[3], c, c, true, true));
  return a;
}

StatusOr<MidBlock> LoadMid(const WeightMap& w, const std::string& name, int64_t c, int64_t groups) {
  MidBlock m;
  BASALT_ASSIGN_OR_RETURN(m.resnet0, LoadResnet(w, name + ".resnets.0", c, c, groups));
  BASALT_ASSIGN_OR_RETURN(m.attention, LoadAttention(w, name + ".attentions.0", c, groups));
  BASALT_ASSIGN_OR_RETURN(m.resnet1, LoadResnet(w, name + ".resnets.1", c, c, groups));
  return m;
}

Status CheckConfig(const VaeConfig& c) {
  if (c.block_out_channels.empty() || c.layers_per_block < 1 || c.norm_num_groups < 1 ||
      c.latent_channels < 1 || c.in_channels < 1 || c.out_channels < 1) {
    return Status::FailedPrecondition(
        "vae config: block_out_channels, layers_per_block, norm_num_groups and the channel "
        "counts must be positive");
  }
  for (int ch : c.block_out_channels) {
    if (ch < 1 || ch % c.norm_num_groups != 0) {
      return Status::FailedPrecondition("vae config: block_out_channels " + std::to_string(ch) +
                                        " is not a positive multiple of norm_num_groups " +
                                        std::to_string(c.norm_num_groups));
    }
  }
  return Status::Ok();
}

at::Tensor RunResnet(const Resnet& r, const at::Tensor& x) {
  at::Tensor h = r.conv1(layers::Silu(r.norm1(x)));
  h = r.conv2(layers::Silu(r.norm2(h)));
  return h.add_(r.shortcut.weight.defined() ? r.shortcut(x) : x);
}

// One head over all channels: softmax(q k^T / sqrt(C)) v, plus the input.
at::Tensor RunAttention(const Attention& a, const at::Tensor& x) {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  // Channels-last [B, C, H, W] is [B, H, W, C] in memory: [B, HW, C] is a view.
  at::Tensor t = a.norm(x).permute({0, 2, 3, 1}).reshape({b, h * w, c});
  at::Tensor qkv = a.qkv(t);  // [B, HW, 3C]
  at::Tensor q = qkv.narrow(2, 0, c), k = qkv.narrow(2, c, c), v = qkv.narrow(2, 2 * c, c);
  at::Tensor scores = at::bmm(q, k.transpose(1, 2)).mul_(1.0 / std::sqrt(double(c)));
  at::Tensor p = at::softmax(scores, -1, at::kFloat).to(v.scalar_type());
  at::Tensor o = a.out(at::bmm(p, v));  // [B, HW, C]
  return o.view({b, h, w, c}).permute({0, 3, 1, 2}).add_(x);
}

at::Tensor RunMid(const MidBlock& m, const at::Tensor& x) {
  return RunResnet(m.resnet1, RunAttention(m.attention, RunResnet(m.resnet0, x)));
}

at::Tensor ToCompute(const at::Tensor& x, const at::Tensor& like) {
  return x.to(like.scalar_type()).contiguous(at::MemoryFormat::ChannelsLast);
}

}  // namespace

struct VaeDecoderWeights {
  Conv2d post_quant_conv, conv_in, conv_out;
  MidBlock mid;
  std::vector<Stage> up;
  Norm norm_out;
};

struct VaeEncoderWeights {
  Conv2d conv_in, conv_out, quant_conv;
  std::vector<Stage> down;
  MidBlock mid;
  Norm norm_out;
};

StatusOr<std::unique_ptr<VaeDecoder>> VaeDecoder::Create(const VaeConfig& config, WeightMap w) {
  BASALT_RETURN_IF_ERROR(CheckConfig(config));
  auto net = std::make_shared<VaeDecoderWeights>();
  const int64_t latent = config.latent_channels, g = config.norm_num_groups;
  std::vector<int64_t> ch(config.block_out_channels.rbegin(), config.block_out_channels.rend());
  BASALT_ASSIGN_OR_RETURN(net->post_quant_conv, layers::LoadConv(w, "post_quant_conv", latent,
                                                                 latent, 1, true, 1, 0, true));
  BASALT_ASSIGN_OR_RETURN(
      net->conv_in, layers::LoadConv(w, "decoder.conv_in", latent, ch[0], 3, true, 1, 1, true));
  BASALT_ASSIGN_OR_RETURN(net->mid, LoadMid(w, "decoder.mid_block", ch[0], g));
  for (size_t i = 0; i < ch.size(); ++i) {
    const std::string name = "decoder.up_blocks." + std::to_string(i);
    Stage s;
    for (int j = 0; j <= config.layers_per_block; ++j) {
      const int64_t cin = j == 0 ? ch[i == 0 ? 0 : i - 1] : ch[i];
      BASALT_ASSIGN_OR_RETURN(Resnet r,
                              LoadResnet(w, name + ".resnets." + std::to_string(j), cin, ch[i], g));
      s.resnets.push_back(std::move(r));
    }
    if (i + 1 < ch.size()) {
      BASALT_ASSIGN_OR_RETURN(s.resample, layers::LoadConv(w, name + ".upsamplers.0.conv", ch[i],
                                                           ch[i], 3, true, 1, 1, true));
    }
    net->up.push_back(std::move(s));
  }
  BASALT_ASSIGN_OR_RETURN(net->norm_out,
                          layers::LoadNorm(w, "decoder.conv_norm_out", ch.back(), g, kEps));
  BASALT_ASSIGN_OR_RETURN(
      net->conv_out,
      layers::LoadConv(w, "decoder.conv_out", ch.back(), config.out_channels, 3, true, 1, 1, true));
  auto vae = std::unique_ptr<VaeDecoder>(new VaeDecoder());
  vae->config_ = config;
  vae->w_ = std::move(w);
  vae->net_ = std::move(net);
  return vae;
}

at::Tensor VaeDecoder::Decode(const at::Tensor& z) const {
  const VaeDecoderWeights& n = *net_;
  TORCH_CHECK(z.dim() == 4 && z.size(1) == config_.latent_channels,
              "VaeDecoder: latents must be [B, ", config_.latent_channels, ", h, w], got ",
              z.sizes());
  at::Tensor x = n.conv_in(n.post_quant_conv(ToCompute(z, n.conv_in.weight)));
  x = RunMid(n.mid, x);
  for (const Stage& s : n.up) {
    for (const Resnet& r : s.resnets) x = RunResnet(r, x);
    if (s.resample.weight.defined()) {
      x = at::upsample_nearest2d(x, {x.size(2) * 2, x.size(3) * 2});
      x = s.resample(x);
    }
  }
  x = n.conv_out(layers::Silu(n.norm_out(x)));
  return x.to(z.scalar_type()).contiguous();
}

StatusOr<std::unique_ptr<VaeEncoder>> VaeEncoder::Create(const VaeConfig& config, WeightMap w) {
  BASALT_RETURN_IF_ERROR(CheckConfig(config));
  auto net = std::make_shared<VaeEncoderWeights>();
  const int64_t latent = config.latent_channels, g = config.norm_num_groups;
  const std::vector<int64_t> ch(config.block_out_channels.begin(), config.block_out_channels.end());
  BASALT_ASSIGN_OR_RETURN(net->conv_in, layers::LoadConv(w, "encoder.conv_in", config.in_channels,
                                                         ch[0], 3, true, 1, 1, true));
  for (size_t i = 0; i < ch.size(); ++i) {
    const std::string name = "encoder.down_blocks." + std::to_string(i);
    Stage s;
    for (int j = 0; j < config.layers_per_block; ++j) {
      const int64_t cin = j == 0 ? ch[i == 0 ? 0 : i - 1] : ch[i];
      BASALT_ASSIGN_OR_RETURN(Resnet r,
                              LoadResnet(w, name + ".resnets." + std::to_string(j), cin, ch[i], g));
      s.resnets.push_back(std::move(r));
    }
    if (i + 1 < ch.size()) {
      // Padded (0, 1, 0, 1) before the stride-2 convolution, as diffusers' Downsample2D.
      BASALT_ASSIGN_OR_RETURN(s.resample, layers::LoadConv(w, name + ".downsamplers.0.conv", ch[i],
                                                           ch[i], 3, true, 2, 0, true));
    }
    net->down.push_back(std::move(s));
  }
  BASALT_ASSIGN_OR_RETURN(net->mid, LoadMid(w, "encoder.mid_block", ch.back(), g));
  BASALT_ASSIGN_OR_RETURN(net->norm_out,
                          layers::LoadNorm(w, "encoder.conv_norm_out", ch.back(), g, kEps));
  BASALT_ASSIGN_OR_RETURN(net->conv_out, layers::LoadConv(w, "encoder.conv_out", ch.back(),
                                                          2 * latent, 3, true, 1, 1, true));
  BASALT_ASSIGN_OR_RETURN(net->quant_conv, layers::LoadConv(w, "quant_conv", 2 * latent, 2 * latent,
                                                            1, true, 1, 0, true));
  auto vae = std::unique_ptr<VaeEncoder>(new VaeEncoder());
  vae->config_ = config;
  vae->net_ = std::move(net);
  return vae;
}

at::Tensor VaeEncoder::Encode(const at::Tensor& x_in) const {
  const VaeEncoderWeights& n = *net_;
  TORCH_CHECK(x_in.dim() == 4 && x_in.size(1) == config_.in_channels && x_in.size(2) % 8 == 0 &&
                  x_in.size(3) % 8 == 0,
              "VaeEncoder: images must be [B, ", config_.in_channels,
              ", H, W] with H and W multiples of 8, got ", x_in.sizes());
  at::Tensor x = n.conv_in(ToCompute(x_in, n.conv_in.weight));
  for (const Stage& s : n.down) {
    for (const Resnet& r : s.resnets) x = RunResnet(r, x);
    if (s.resample.weight.defined()) x = s.resample(at::constant_pad_nd(x, {0, 1, 0, 1}));
  }
  x = n.conv_out(layers::Silu(n.norm_out(RunMid(n.mid, x))));
  x = n.quant_conv(x).narrow(1, 0, config_.latent_channels);
  return x.to(x_in.scalar_type()).contiguous();
}

}  // namespace basalt::image
