// The tiny autoencoders of the taesd project (TAESD, TAESDXL, TAESD3, TAEF1, TAEF2) over ATen
// operations. The published weights are nn.Sequential state dicts, so the layer kinds come
// from a fixed layout (below) and the sizes from the tensors; every tensor of the file must be
// used, so an encoder file given as a decoder (or any other file) is refused at load.
#include <set>
#include <string>
#include <vector>

#include "image/layers.h"
#include "image/models.h"

namespace basalt::image {

using layers::Conv2d;
using layers::Norm;

namespace {

enum class Op { kClamp, kRelu, kUpsample, kConv, kStridedConv, kBlock };

// taesd.py's Decoder and Encoder, index by index.
const std::vector<Op>& DecoderLayout() {
  static const std::vector<Op> layout = [] {
    std::vector<Op> l{Op::kClamp, Op::kConv, Op::kRelu};
    for (int i = 0; i < 3; ++i) {
      l.insert(l.end(), {Op::kBlock, Op::kBlock, Op::kBlock, Op::kUpsample, Op::kConv});
    }
    l.insert(l.end(), {Op::kBlock, Op::kConv});
    return l;
  }();
  return layout;
}

const std::vector<Op>& EncoderLayout() {
  static const std::vector<Op> layout = [] {
    std::vector<Op> l{Op::kConv, Op::kBlock};
    for (int i = 0; i < 3; ++i) {
      l.insert(l.end(), {Op::kStridedConv, Op::kBlock, Op::kBlock, Op::kBlock});
    }
    l.push_back(Op::kConv);
    return l;
  }();
  return layout;
}

struct Block {
  Conv2d conv0, conv2, conv4, skip;  // skip.weight undefined when in == out
  Conv2d pool_in, pool_out;          // TAEF2's branch; weights undefined without it
  Norm pool_norm;
};

struct Layer {
  Op op = Op::kRelu;
  Conv2d conv;
  Block block;
};

// Reads tensors and remembers which were read, to refuse files with others.
class Reader {
 public:
  explicit Reader(const WeightMap& w) : w_(w) {}
  bool Has(const std::string& name) const { return w_.Has(name); }
  StatusOr<at::Tensor> Get(const std::string& name) {
    used_.insert(name);
    return w_.Get(name);
  }
  StatusOr<Conv2d> Conv(const std::string& name, int64_t cin, int64_t cout, int64_t kernel,
                        bool bias, int64_t stride) {
    used_.insert(name + ".weight");
    if (bias) used_.insert(name + ".bias");
    return layers::LoadConv(w_, name, cin, cout, kernel, bias, stride, kernel / 2, true);
  }
  Status CheckAllUsed() const {
    for (const std::string& name : w_.Names()) {
      if (used_.count(name) == 0) {
        return Status::FailedPrecondition(w_.description() + ": unexpected tensor '" + name +
                                          "' (not part of a TAESD-family " + what_ + ")");
      }
    }
    return Status::Ok();
  }
  void set_what(std::string what) { what_ = std::move(what); }

 private:
  const WeightMap& w_;
  std::set<std::string> used_;
  std::string what_;
};

StatusOr<Block> LoadBlock(Reader& r, const std::string& name, int64_t cin, int64_t cout) {
  Block b;
  BASALT_ASSIGN_OR_RETURN(b.conv0, r.Conv(name + ".conv.0", cin, cout, 3, true, 1));
  BASALT_ASSIGN_OR_RETURN(b.conv2, r.Conv(name + ".conv.2", cout, cout, 3, true, 1));
  BASALT_ASSIGN_OR_RETURN(b.conv4, r.Conv(name + ".conv.4", cout, cout, 3, true, 1));
  if (cin != cout || r.Has(name + ".skip.weight")) {
    BASALT_ASSIGN_OR_RETURN(b.skip, r.Conv(name + ".skip", cin, cout, 1, false, 1));
  }
  if (r.Has(name + ".pool.0.weight")) {
    BASALT_ASSIGN_OR_RETURN(b.pool_in, r.Conv(name + ".pool.0", cin, 4 * cin, 1, false, 1));
    BASALT_ASSIGN_OR_RETURN(b.pool_norm.weight, r.Get(name + ".pool.1.weight"));
    BASALT_ASSIGN_OR_RETURN(b.pool_norm.bias, r.Get(name + ".pool.1.bias"));
    BASALT_ASSIGN_OR_RETURN(b.pool_out, r.Conv(name + ".pool.3", 4 * cin, cin, 1, false, 1));
    if (b.pool_norm.weight.sizes() != at::IntArrayRef({4 * cin}) ||
        b.pool_norm.bias.sizes() != at::IntArrayRef({4 * cin})) {
      return Status::FailedPrecondition("tiny autoencoder: tensor '" + name +
                                        ".pool.1.weight' / '.bias' must have shape [" +
                                        std::to_string(4 * cin) + "]");
    }
    b.pool_norm.groups = 4;
    b.pool_norm.eps = 1e-5;
  }
  return b;
}

// The map with the Sequential's indices as names: strips "decoder." / "encoder." and maps
// diffusers' AutoencoderTiny "layers.N" (decoder: N + 1, its Clamp not being a layer).
WeightMap Normalize(const WeightMap& w, bool decoder) {
  const std::string part = decoder ? "decoder" : "encoder";
  bool prefixed = false;
  for (const std::string& name : w.Names()) {
    if (name.rfind(part + ".", 0) == 0) prefixed = true;
  }
  WeightMap m = prefixed ? w.Sub(part) : w;
  bool diffusers = !m.Names().empty();
  for (const std::string& name : m.Names()) {
    if (name.rfind("layers.", 0) != 0) diffusers = false;
  }
  if (!diffusers) return m;
  WeightMap renamed;
  renamed.set_description(m.description());
  for (const std::string& name : m.Names()) {
    const std::string rest = name.substr(7);
    const size_t dot = rest.find('.');
    const std::string index = rest.substr(0, dot);
    int i = 0;
    try {
      i = std::stoi(index);
    } catch (...) {
      return m;  // not the diffusers layout after all: left to fail as unexpected names
    }
    const std::string tail = dot == std::string::npos ? "" : rest.substr(dot);
    renamed.Put(std::to_string(decoder ? i + 1 : i) + tail, *m.Get(name));
  }
  return renamed;
}

StatusOr<std::vector<Layer>> LoadLayers(const WeightMap& w, bool decoder, TaeConfig* config) {
  Reader r(w);
  r.set_what(decoder ? "decoder" : "encoder");
  const std::vector<Op>& layout = decoder ? DecoderLayout() : EncoderLayout();
  // Sizes: the latent and block channels from the first convolution.
  const std::string first = decoder ? "1.weight" : "0.weight";
  BASALT_ASSIGN_OR_RETURN(at::Tensor w0, r.Get(first));
  if (w0.dim() != 4 || w0.size(2) != 3 || w0.size(3) != 3) {
    return Status::FailedPrecondition(w.description() + ": tensor '" + first +
                                      "' is not a 3x3 convolution (not a TAESD-family " +
                                      (decoder ? "decoder" : "encoder") + "?)");
  }
  const int64_t c = w0.size(0);
  int64_t latent = decoder ? w0.size(1) : 0;
  if (!decoder) {
    const std::string last = std::to_string(layout.size() - 1) + ".weight";
    BASALT_ASSIGN_OR_RETURN(at::Tensor wl, r.Get(last));
    latent = wl.size(0);
  }
  config->channels = static_cast<int>(c);
  config->latent_channels = static_cast<int>(latent);
  std::vector<Layer> out;
  for (size_t i = 0; i < layout.size(); ++i) {
    const std::string name = std::to_string(i);
    Layer l;
    l.op = layout[i];
    if (l.op == Op::kConv || l.op == Op::kStridedConv) {
      int64_t cin = c, cout = c;
      if (i == 0) cin = decoder ? latent : 3;
      if (decoder && i == 1) cin = latent;
      if (i + 1 == layout.size()) cout = decoder ? 3 : latent;
      const bool bias = r.Has(name + ".bias");
      BASALT_ASSIGN_OR_RETURN(l.conv,
                              r.Conv(name, cin, cout, 3, bias, l.op == Op::kStridedConv ? 2 : 1));
    } else if (l.op == Op::kBlock) {
      BASALT_ASSIGN_OR_RETURN(l.block, LoadBlock(r, name, c, c));
      if (l.block.pool_in.weight.defined()) config->midblock_group_norm = true;
    }
    out.push_back(std::move(l));
  }
  BASALT_RETURN_IF_ERROR(r.CheckAllUsed());
  return out;
}

at::Tensor RunBlock(const Block& b, at::Tensor x) {
  if (b.pool_in.weight.defined()) {
    x = x + b.pool_out(layers::Relu(b.pool_norm(b.pool_in(x))));
  }
  at::Tensor h = b.conv4(layers::Relu(b.conv2(layers::Relu(b.conv0(x)))));
  return layers::Relu(h.add_(b.skip.weight.defined() ? b.skip(x) : x));
}

at::Tensor Run(const std::vector<Layer>& layers, at::Tensor x) {
  for (const Layer& l : layers) {
    switch (l.op) {
      case Op::kClamp:
        x = at::tanh(x / 3.0).mul_(3.0);
        break;
      case Op::kRelu:
        x = layers::Relu(x);
        break;
      case Op::kUpsample:
        x = at::upsample_nearest2d(x, {x.size(2) * 2, x.size(3) * 2});
        break;
      case Op::kConv:
      case Op::kStridedConv:
        x = l.conv(x);
        break;
      case Op::kBlock:
        x = RunBlock(l.block, x);
        break;
    }
  }
  return x;
}

at::Tensor ToCompute(const at::Tensor& x, const std::vector<Layer>& layers) {
  for (const Layer& l : layers) {
    if (l.conv.weight.defined()) {
      return x.to(l.conv.weight.scalar_type()).contiguous(at::MemoryFormat::ChannelsLast);
    }
  }
  return x;
}

}  // namespace

struct TaeWeights {
  std::vector<Layer> layers;
};

StatusOr<std::unique_ptr<TaeDecoder>> TaeDecoder::Create(WeightMap w) {
  auto net = std::make_shared<TaeWeights>();
  TaeConfig config;
  BASALT_ASSIGN_OR_RETURN(net->layers, LoadLayers(Normalize(w, true), true, &config));
  auto tae = std::unique_ptr<TaeDecoder>(new TaeDecoder());
  tae->config_ = config;
  tae->w_ = std::move(w);
  tae->net_ = std::move(net);
  return tae;
}

at::Tensor TaeDecoder::Decode(const at::Tensor& z) const {
  TORCH_CHECK(z.dim() == 4 && z.size(1) == config_.latent_channels,
              "TaeDecoder: latents must be [B, ", config_.latent_channels, ", h, w], got ",
              z.sizes());
  at::Tensor x = Run(net_->layers, ToCompute(z, net_->layers)).clamp_(0.0, 1.0);
  return x.to(z.scalar_type()).contiguous();
}

StatusOr<std::unique_ptr<TaeEncoder>> TaeEncoder::Create(WeightMap w) {
  auto net = std::make_shared<TaeWeights>();
  TaeConfig config;
  BASALT_ASSIGN_OR_RETURN(net->layers, LoadLayers(Normalize(w, false), false, &config));
  auto tae = std::unique_ptr<TaeEncoder>(new TaeEncoder());
  tae->config_ = config;
  tae->w_ = std::move(w);
  tae->net_ = std::move(net);
  return tae;
}

at::Tensor TaeEncoder::Encode(const at::Tensor& x) const {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(2) % 8 == 0 && x.size(3) % 8 == 0,
              "TaeEncoder: images must be [B, 3, H, W] with H and W multiples of 8, got ",
              x.sizes());
  return Run(net_->layers, ToCompute(x, net_->layers)).to(x.scalar_type()).contiguous();
}

}  // namespace basalt::image
