// diffusers' UNet2DConditionModel (SD 1.x / 2.x) over ATen operations.
//
// Layouts and dtypes: activations are NCHW tensors in channels-last memory (NHWC), so the
// convolutions take oneDNN's fast path and a transformer's [B, C, H, W] -> [B, H*W, C] view is
// free; convolution weights are stored channels-last once at load. Everything computes in the
// weights' dtype (bf16 in production, f32 in the numerics tests); norm affine parameters stay in
// f32 (ATen's group/layer norms accumulate in f32 and take f32 parameters with bf16 inputs).
// Attention: self-attention's q/k/v and cross-attention's k/v are one matmul each (weights
// concatenated at load, the 1/sqrt(d) scale folded into q), heads are strided views of that
// output (no permute copies), and ATen's fused attention kernel does the rest (see Attend).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "image/models.h"

namespace basalt::image {

namespace {

using Shape = std::vector<int64_t>;

struct Conv {
  at::Tensor w, b;
  int64_t stride = 1, pad = 1;
  at::Tensor operator()(const at::Tensor& x) const {
    return at::conv2d(x, w, b, {stride, stride}, {pad, pad});
  }
};

struct Linear {
  at::Tensor w, b;  // w [out, in]
  at::Tensor operator()(const at::Tensor& x) const { return at::linear(x, w, b); }
};

struct Norm {
  at::Tensor w, b;
  int64_t groups = 0;  // 0: layer norm over the last dim
  double eps = 1e-5;
  at::Tensor operator()(const at::Tensor& x) const {
    if (groups == 0) return at::layer_norm(x, {w.size(0)}, w, b, eps);
    return at::group_norm(x, groups, w, b, eps);
  }
};

struct Resnet {
  Norm norm1, norm2;
  Conv conv1, conv2;
  std::optional<Conv> shortcut;
  Linear temb;
};

struct TBlock {
  Norm norm1, norm2, norm3;
  at::Tensor qkv;  // [3C, C], q rows pre-scaled by 1/sqrt(head dim)
  at::Tensor q2;   // [C, C] pre-scaled
  at::Tensor kv2;  // [2C, cross]
  Linear out1, out2, ff1, ff2;
};

struct Transformer {
  Norm norm;
  Linear proj_in, proj_out;  // 1x1 conv weights kept as [out, in]
  std::vector<TBlock> blocks;
  int64_t heads = 1;
  bool upcast = false;
};

struct Level {
  std::vector<Resnet> resnets;
  std::vector<Transformer> attentions;
  std::optional<Conv> sampler;  // downsampler or upsampler conv
};

}  // namespace

struct UNetWeights {
  at::ScalarType dtype = at::kFloat;
  Conv conv_in, conv_out;
  Linear time1, time2;
  std::vector<Level> down, up;
  Resnet mid0, mid1;
  Transformer mid_attn;
  Norm norm_out;
};

namespace {

// Reads tensors by name with the shape the config implies; keeps the first error.
class Loader {
 public:
  Loader(const WeightMap& w, at::ScalarType dtype) : w_(w), dtype_(dtype) {}
  at::Tensor Get(const std::string& name, const Shape& shape) {
    if (!status_.ok()) return at::zeros(shape, at::TensorOptions().dtype(dtype_));
    auto t = w_.Get(name, shape);
    if (!t.ok()) {
      status_ = t.status();
      return at::zeros(shape, at::TensorOptions().dtype(dtype_));
    }
    return t->to(dtype_);
  }
  Conv GetConv(const std::string& p, int64_t in, int64_t out, int64_t k, int64_t stride = 1) {
    Conv c;
    c.w = Get(p + ".weight", {out, in, k, k}).contiguous(at::MemoryFormat::ChannelsLast);
    c.b = Get(p + ".bias", {out});
    c.stride = stride;
    c.pad = k / 2;
    return c;
  }
  Linear GetLinear(const std::string& p, int64_t in, int64_t out, bool bias = true) {
    Linear l;
    l.w = Get(p + ".weight", {out, in}).contiguous();
    if (bias) l.b = Get(p + ".bias", {out});
    return l;
  }
  Norm GetNorm(const std::string& p, int64_t c, int64_t groups, double eps) {
    Norm n;
    n.w = Get(p + ".weight", {c}).to(at::kFloat);
    n.b = Get(p + ".bias", {c}).to(at::kFloat);
    n.groups = groups;
    n.eps = eps;
    return n;
  }
  Resnet GetResnet(const std::string& p, int64_t in, int64_t out, int64_t temb,
                   const UNetConfig& cfg) {
    Resnet r;
    r.norm1 = GetNorm(p + ".norm1", in, cfg.norm_num_groups, cfg.norm_eps);
    r.conv1 = GetConv(p + ".conv1", in, out, 3);
    r.temb = GetLinear(p + ".time_emb_proj", temb, out);
    r.norm2 = GetNorm(p + ".norm2", out, cfg.norm_num_groups, cfg.norm_eps);
    r.conv2 = GetConv(p + ".conv2", out, out, 3);
    if (in != out) r.shortcut = GetConv(p + ".conv_shortcut", in, out, 1);
    return r;
  }
  Transformer GetTransformer(const std::string& p, int64_t c, int64_t heads, int64_t layers,
                             const UNetConfig& cfg) {
    Transformer t;
    t.heads = heads;
    t.upcast = cfg.upcast_attention;
    t.norm = GetNorm(p + ".norm", c, cfg.norm_num_groups, 1e-6);
    if (cfg.use_linear_projection) {
      t.proj_in = GetLinear(p + ".proj_in", c, c);
      t.proj_out = GetLinear(p + ".proj_out", c, c);
    } else {
      t.proj_in.w = Get(p + ".proj_in.weight", {c, c, 1, 1}).reshape({c, c}).contiguous();
      t.proj_in.b = Get(p + ".proj_in.bias", {c});
      t.proj_out.w = Get(p + ".proj_out.weight", {c, c, 1, 1}).reshape({c, c}).contiguous();
      t.proj_out.b = Get(p + ".proj_out.bias", {c});
    }
    const double scale = 1.0 / std::sqrt(static_cast<double>(c / heads));
    const int64_t x = cfg.cross_attention_dim;
    for (int64_t i = 0; i < layers; ++i) {
      const std::string b = p + ".transformer_blocks." + std::to_string(i);
      TBlock k;
      k.norm1 = GetNorm(b + ".norm1", c, 0, 1e-5);
      k.norm2 = GetNorm(b + ".norm2", c, 0, 1e-5);
      k.norm3 = GetNorm(b + ".norm3", c, 0, 1e-5);
      // Scale in f32, then round once to the compute dtype.
      auto q1 = Get(b + ".attn1.to_q.weight", {c, c}).to(at::kFloat) * scale;
      auto k1 = Get(b + ".attn1.to_k.weight", {c, c}).to(at::kFloat);
      auto v1 = Get(b + ".attn1.to_v.weight", {c, c}).to(at::kFloat);
      k.qkv = at::cat({q1, k1, v1}, 0).to(dtype_).contiguous();
      k.out1 = GetLinear(b + ".attn1.to_out.0", c, c);
      k.q2 = (Get(b + ".attn2.to_q.weight", {c, c}).to(at::kFloat) * scale).to(dtype_);
      auto k2 = Get(b + ".attn2.to_k.weight", {c, x});
      auto v2 = Get(b + ".attn2.to_v.weight", {c, x});
      k.kv2 = at::cat({k2, v2}, 0).contiguous();
      k.out2 = GetLinear(b + ".attn2.to_out.0", c, c);
      k.ff1 = GetLinear(b + ".ff.net.0.proj", c, 8 * c);
      k.ff2 = GetLinear(b + ".ff.net.2", 4 * c, c);
      t.blocks.push_back(std::move(k));
    }
    return t;
  }
  const Status& status() const { return status_; }

 private:
  const WeightMap& w_;
  at::ScalarType dtype_;
  Status status_;
};

// Softmax(Q K^T) V over heads. q: [B, N, C], k/v: [B, M, C], strided views into the fused
// projections; returns [B, N, C]. The 1/sqrt(d) scale is already in q. ATen's fused CPU
// attention kernel (flash-style: no [N, M] scores in memory) measured fastest here: for one
// SD-1.5 64x64 self-attention (2x8 heads of 40), 290 ms CPU time against 1120 ms for
// matmul/softmax/matmul and 730 ms for the same math one head at a time (bf16, 2 threads).
// upcast_attention (SD 2.1-v) computes in f32 as diffusers does.
at::Tensor Attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t heads,
                  bool upcast) {
  const int64_t batch = q.size(0), n = q.size(1), m = k.size(1), c = q.size(2);
  const int64_t d = c / heads;
  auto split = [&](const at::Tensor& t, int64_t len) {
    return t.view({batch, len, heads, d}).transpose(1, 2);  // [B, H, len, d]
  };
  at::Tensor qh = split(q, n), kh = split(k, m), vh = split(v, m);
  if (upcast && q.scalar_type() != at::kFloat) {
    auto o = at::scaled_dot_product_attention(qh.to(at::kFloat), kh.to(at::kFloat),
                                              vh.to(at::kFloat), {}, 0.0, false, 1.0);
    return o.transpose(1, 2).reshape({batch, n, c}).to(q.scalar_type());
  }
  auto o = at::scaled_dot_product_attention(qh, kh, vh, {}, 0.0, false, 1.0);
  return o.transpose(1, 2).reshape({batch, n, c});
}

at::Tensor RunResnet(const Resnet& r, const at::Tensor& x, const at::Tensor& temb_act) {
  auto h = r.norm1(x);
  at::silu_(h);
  h = r.conv1(h);
  h.add_(r.temb(temb_act).unsqueeze(-1).unsqueeze(-1));
  h = r.norm2(h);
  at::silu_(h);
  h = r.conv2(h);
  h.add_(r.shortcut ? (*r.shortcut)(x) : x);
  return h;
}

at::Tensor RunTransformer(const Transformer& t, const at::Tensor& x, const at::Tensor& ctx) {
  const int64_t batch = x.size(0), c = x.size(1), hh = x.size(2), ww = x.size(3);
  const int64_t n = hh * ww;
  // Channels-last: [B, C, H, W] is [B, H*W, C] in memory.
  auto tokens = [&](const at::Tensor& y) { return y.permute({0, 2, 3, 1}).reshape({batch, n, c}); };
  auto h = t.proj_in(tokens(t.norm(x)));  // [B, N, C]
  for (const TBlock& k : t.blocks) {
    // Residuals are added in place; at::linear (oneDNN) measured much faster than addmm_.
    {
      auto qkv = at::linear(k.norm1(h), k.qkv);  // [B, N, 3C]
      auto a = Attend(qkv.narrow(2, 0, c), qkv.narrow(2, c, c), qkv.narrow(2, 2 * c, c), t.heads,
                      t.upcast);
      h.add_(k.out1(a));
    }
    {
      auto q = at::linear(k.norm2(h), k.q2);
      auto kv = at::linear(ctx, k.kv2);  // [B, M, 2C]
      h.add_(k.out2(Attend(q, kv.narrow(2, 0, c), kv.narrow(2, c, c), t.heads, t.upcast)));
    }
    {
      auto p = k.ff1(k.norm3(h));  // [B, N, 8C]
      auto g = at::gelu(p.narrow(2, 4 * c, 4 * c));
      g.mul_(p.narrow(2, 0, 4 * c));
      h.add_(k.ff2(g));
    }
  }
  auto out = t.proj_out(h);  // [B, N, C]
  out.view({batch * n, c}).add_(tokens(x).reshape({batch * n, c}));
  // Back to [B, C, H, W] in channels-last memory (a view).
  return out.view({batch, hh, ww, c}).permute({0, 3, 1, 2});
}

std::vector<int64_t> HeadsPerBlock(const UNetConfig& cfg, size_t n) {
  const std::vector<int>& src =
      cfg.num_attention_heads.empty() ? cfg.attention_head_dim : cfg.num_attention_heads;
  std::vector<int64_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(src.size() == 1 ? src[0] : src[i]);
  return out;
}

Status CheckConfig(const UNetConfig& cfg) {
  const size_t n = cfg.block_out_channels.size();
  auto bad = [](const std::string& m) { return Status::FailedPrecondition("unet config: " + m); };
  if (n == 0) return bad("block_out_channels is empty");
  if (cfg.down_block_types.size() != n || cfg.up_block_types.size() != n) {
    return bad("down_block_types and up_block_types must have one entry per block_out_channels");
  }
  const std::vector<int>& heads =
      cfg.num_attention_heads.empty() ? cfg.attention_head_dim : cfg.num_attention_heads;
  if (heads.size() != 1 && heads.size() != n) {
    return bad("attention_head_dim must have one entry or one per block");
  }
  if (cfg.norm_num_groups <= 0 || cfg.layers_per_block <= 0 || cfg.in_channels <= 0 ||
      cfg.out_channels <= 0 || cfg.cross_attention_dim <= 0 ||
      cfg.transformer_layers_per_block <= 0) {
    return bad("sizes must be positive");
  }
  auto hv = HeadsPerBlock(cfg, n);
  for (size_t i = 0; i < n; ++i) {
    const int c = cfg.block_out_channels[i];
    if (c <= 0 || c % cfg.norm_num_groups != 0) {
      return bad("block_out_channels[" + std::to_string(i) + "] = " + std::to_string(c) +
                 " is not a positive multiple of norm_num_groups");
    }
    if (hv[i] <= 0 || c % hv[i] != 0) {
      return bad("block " + std::to_string(i) + ": " + std::to_string(c) +
                 " channels do not split into " + std::to_string(hv[i]) + " heads");
    }
    const auto& dt = cfg.down_block_types[i];
    const auto& ut = cfg.up_block_types[i];
    if (dt != "CrossAttnDownBlock2D" && dt != "DownBlock2D") {
      return bad("unsupported down block type '" + dt + "'");
    }
    if (ut != "CrossAttnUpBlock2D" && ut != "UpBlock2D") {
      return bad("unsupported up block type '" + ut + "'");
    }
  }
  if (cfg.block_out_channels[0] % 2 != 0) return bad("block_out_channels[0] must be even");
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<UNet>> UNet::Create(const UNetConfig& config, WeightMap w) {
  BASALT_RETURN_IF_ERROR(CheckConfig(config));
  BASALT_ASSIGN_OR_RETURN(at::Tensor probe, w.Get("conv_in.weight"));
  at::InferenceMode guard;
  auto net = std::make_shared<UNetWeights>();
  net->dtype = probe.scalar_type();
  if (net->dtype != at::kFloat && net->dtype != at::kBFloat16 && net->dtype != at::kHalf) {
    return Status::FailedPrecondition("unet: unsupported compute dtype " +
                                      std::string(c10::toString(net->dtype)));
  }
  Loader ld(w, net->dtype);
  const auto& boc = config.block_out_channels;
  const size_t n = boc.size();
  const int64_t c0 = boc[0], temb = 4 * c0;
  const auto heads = HeadsPerBlock(config, n);
  const int64_t tl = config.transformer_layers_per_block;
  const int64_t layers = config.layers_per_block;

  net->conv_in = ld.GetConv("conv_in", config.in_channels, c0, 3);
  net->time1 = ld.GetLinear("time_embedding.linear_1", c0, temb);
  net->time2 = ld.GetLinear("time_embedding.linear_2", temb, temb);
  int64_t out_ch = c0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t in_ch = out_ch;
    out_ch = boc[i];
    const std::string p = "down_blocks." + std::to_string(i);
    Level lv;
    for (int64_t j = 0; j < layers; ++j) {
      const std::string q = std::to_string(j);
      lv.resnets.push_back(
          ld.GetResnet(p + ".resnets." + q, j == 0 ? in_ch : out_ch, out_ch, temb, config));
      if (config.down_block_types[i] == "CrossAttnDownBlock2D") {
        lv.attentions.push_back(
            ld.GetTransformer(p + ".attentions." + q, out_ch, heads[i], tl, config));
      }
    }
    if (i + 1 != n) lv.sampler = ld.GetConv(p + ".downsamplers.0.conv", out_ch, out_ch, 3, 2);
    net->down.push_back(std::move(lv));
  }
  const int64_t cl = boc.back();
  net->mid0 = ld.GetResnet("mid_block.resnets.0", cl, cl, temb, config);
  net->mid_attn = ld.GetTransformer("mid_block.attentions.0", cl, heads.back(), tl, config);
  net->mid1 = ld.GetResnet("mid_block.resnets.1", cl, cl, temb, config);
  out_ch = cl;
  for (size_t i = 0; i < n; ++i) {
    const int64_t prev = out_ch;
    out_ch = boc[n - 1 - i];
    const int64_t in_ch = boc[n - 1 - std::min(i + 1, n - 1)];
    const std::string p = "up_blocks." + std::to_string(i);
    Level lv;
    for (int64_t j = 0; j <= layers; ++j) {
      const std::string q = std::to_string(j);
      const int64_t skip = j == layers ? in_ch : out_ch;
      const int64_t rin = j == 0 ? prev : out_ch;
      lv.resnets.push_back(ld.GetResnet(p + ".resnets." + q, rin + skip, out_ch, temb, config));
      if (config.up_block_types[i] == "CrossAttnUpBlock2D") {
        lv.attentions.push_back(
            ld.GetTransformer(p + ".attentions." + q, out_ch, heads[n - 1 - i], tl, config));
      }
    }
    if (i + 1 != n) lv.sampler = ld.GetConv(p + ".upsamplers.0.conv", out_ch, out_ch, 3);
    net->up.push_back(std::move(lv));
  }
  net->norm_out = ld.GetNorm("conv_norm_out", c0, config.norm_num_groups, config.norm_eps);
  net->conv_out = ld.GetConv("conv_out", c0, config.out_channels, 3);
  BASALT_RETURN_IF_ERROR(ld.status());

  auto unet = std::unique_ptr<UNet>(new UNet());
  unet->config_ = config;
  unet->w_ = std::move(w);
  unet->net_ = std::move(net);
  return unet;
}

at::Tensor UNet::Forward(const at::Tensor& latents, const at::Tensor& timesteps,
                         const at::Tensor& context) const {
  at::InferenceMode guard;
  const UNetWeights& net = *net_;
  const int64_t batch = latents.size(0);
  const int64_t c0 = config_.block_out_channels[0], half = c0 / 2;

  // Sinusoidal timestep embedding in f32 (diffusers' get_timestep_embedding).
  auto t = timesteps.to(at::kFloat).reshape({-1}).expand({batch});
  auto freqs = at::exp(at::arange(half, at::kFloat) *
                       (-std::log(10000.0) / static_cast<double>(half - config_.freq_shift)));
  auto args = t.unsqueeze(1) * freqs.unsqueeze(0);
  auto emb = config_.flip_sin_to_cos ? at::cat({at::cos(args), at::sin(args)}, 1)
                                     : at::cat({at::sin(args), at::cos(args)}, 1);
  emb = net.time2(at::silu(net.time1(emb.to(net.dtype))));
  auto temb_act = at::silu(emb);  // every resnet applies SiLU to the embedding first

  auto ctx = context.to(net.dtype).contiguous();
  auto x = net.conv_in(latents.to(net.dtype).contiguous(at::MemoryFormat::ChannelsLast));
  std::vector<at::Tensor> skips{x};
  for (const Level& lv : net.down) {
    for (size_t j = 0; j < lv.resnets.size(); ++j) {
      x = RunResnet(lv.resnets[j], x, temb_act);
      if (!lv.attentions.empty()) x = RunTransformer(lv.attentions[j], x, ctx);
      skips.push_back(x);
    }
    if (lv.sampler) {
      x = (*lv.sampler)(x);
      skips.push_back(x);
    }
  }
  x = RunResnet(net.mid0, x, temb_act);
  x = RunTransformer(net.mid_attn, x, ctx);
  x = RunResnet(net.mid1, x, temb_act);
  for (const Level& lv : net.up) {
    for (size_t j = 0; j < lv.resnets.size(); ++j) {
      x = RunResnet(lv.resnets[j], at::cat({x, skips.back()}, 1), temb_act);
      skips.pop_back();
      if (!lv.attentions.empty()) x = RunTransformer(lv.attentions[j], x, ctx);
    }
    if (lv.sampler) {
      // Nearest 2x, or to the next skip's size when a dimension was odd on the way down.
      const auto& next = skips.back();
      x = (*lv.sampler)(at::upsample_nearest2d(x, {next.size(2), next.size(3)}));
    }
  }
  x = net.norm_out(x);
  at::silu_(x);
  x = net.conv_out(x);
  return x.to(latents.scalar_type()).contiguous();
}

}  // namespace basalt::image
