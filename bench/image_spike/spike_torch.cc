// The spike's libtorch side: the SD 1.5 block of spike_common.h on ATen's C++ API, f32 and
// bf16, contiguous (NCHW) vs channels-last convolutions, and three attention paths: "math"
// (baddbmm + softmax + bmm over all 16 heads at once), "chunk" (the same, two heads at a time
// into one reused score buffer) and "sdpa" (at::scaled_dot_product_attention). Also times a
// large GEMM in f32 and bf16 (the machine's matmul peak as torch sees it).
//
// Usage: spike_torch THREADS RUNS OUTDIR   (writes OUTDIR/torch_ref.f32, the f32 contiguous
// math output, which spike_ggml compares against)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <malloc.h>

#include <cstdlib>
#include <map>

#include "spike_common.h"

using namespace spike;

namespace {

struct Cfg {
  at::ScalarType dtype;
  bool channels_last;
  std::string attn;  // math | chunk | sdpa
  std::string Name() const {
    return std::string(dtype == at::kFloat ? "f32" : "bf16") +
           (channels_last ? " channels-last" : " contiguous") + " attn=" + attn;
  }
};

class Block {
 public:
  Block(const std::vector<Param>& ps, const Cfg& cfg) : cfg_(cfg) {
    for (const auto& p : ps) {
      at::Tensor t = at::from_blob(const_cast<float*>(p.data.data()), p.shape, at::kFloat)
                         .to(cfg.dtype)
                         .clone();
      if (p.shape.size() == 4 && p.shape[2] == 3 && cfg.channels_last)
        t = t.contiguous(at::MemoryFormat::ChannelsLast);
      if (p.shape.size() == 4 && p.shape[2] == 1) t = t.reshape({p.shape[0], p.shape[1]});
      w_[p.name] = t;
    }
  }

  at::Tensor Forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& ctx) {
    return Transformer(Resnet(x, temb), ctx);
  }

 private:
  const at::Tensor& W(const std::string& n) { return w_.at(n); }

  at::Tensor Resnet(const at::Tensor& x, const at::Tensor& temb) {
    at::Tensor h =
        at::group_norm(x, kGroups, W("resnet.norm1.weight"), W("resnet.norm1.bias"), 1e-5);
    at::silu_(h);
    h = at::conv2d(h, W("resnet.conv1.weight"), W("resnet.conv1.bias"), 1, 1);
    at::Tensor t = at::linear(at::silu(temb), W("resnet.time_emb_proj.weight"),
                              W("resnet.time_emb_proj.bias"));
    h.add_(t.view({kBatch, kC, 1, 1}));
    h = at::group_norm(h, kGroups, W("resnet.norm2.weight"), W("resnet.norm2.bias"), 1e-5);
    at::silu_(h);
    h = at::conv2d(h, W("resnet.conv2.weight"), W("resnet.conv2.bias"), 1, 1);
    h.add_(x);
    return h;
  }

  at::Tensor Attention(const std::string& p, const at::Tensor& hs, const at::Tensor& ctx) {
    const int64_t tq = hs.size(1), tk = ctx.size(1);
    at::Tensor q = at::linear(hs, W(p + ".to_q.weight"));
    at::Tensor k = at::linear(ctx, W(p + ".to_k.weight"));
    at::Tensor v = at::linear(ctx, W(p + ".to_v.weight"));
    const double scale = 1.0 / std::sqrt(static_cast<double>(kHeadDim));
    at::Tensor o;
    if (cfg_.attn == "sdpa") {
      auto heads = [&](const at::Tensor& t, int64_t n) {
        return t.view({kBatch, n, kHeads, kHeadDim}).transpose(1, 2);
      };
      o = at::scaled_dot_product_attention(heads(q, tq), heads(k, tk), heads(v, tk));
      o = o.transpose(1, 2).reshape({kBatch, tq, kC});
    } else {
      auto heads = [&](const at::Tensor& t, int64_t n) {
        return t.view({kBatch, n, kHeads, kHeadDim})
            .transpose(1, 2)
            .reshape({kBatch * kHeads, n, kHeadDim});
      };
      at::Tensor qh = heads(q, tq), kh = heads(k, tk), vh = heads(v, tk);
      if (cfg_.attn == "math") {
        at::Tensor s = at::baddbmm(at::empty({kBatch * kHeads, tq, tk}, q.options()), qh,
                                   kh.transpose(1, 2), 0.0, scale);
        o = at::bmm(at::softmax(s, -1), vh);
      } else {  // chunk: two heads at a time into one reused buffer
        const int64_t chunk = 2;
        auto key = std::make_pair(tq, tk);
        at::Tensor& s = scores_[key];
        if (!s.defined()) s = at::empty({chunk, tq, tk}, q.options());
        o = at::empty({kBatch * kHeads, tq, kHeadDim}, q.options());
        for (int64_t i = 0; i < kBatch * kHeads; i += chunk) {
          at::baddbmm_out(s, s, qh.narrow(0, i, chunk), kh.narrow(0, i, chunk).transpose(1, 2), 0.0,
                          scale);
          at::_softmax_out(s, s, -1, false);
          at::Tensor oc = o.narrow(0, i, chunk);
          at::bmm_out(oc, s, vh.narrow(0, i, chunk));
        }
      }
      o = o.view({kBatch, kHeads, tq, kHeadDim}).transpose(1, 2).reshape({kBatch, tq, kC});
    }
    return at::linear(o, W(p + ".to_out.0.weight"), W(p + ".to_out.0.bias"));
  }

  at::Tensor LN(const std::string& n, const at::Tensor& h) {
    return at::layer_norm(h, {kC}, W(n + ".weight"), W(n + ".bias"), 1e-5);
  }

  at::Tensor Transformer(const at::Tensor& x, const at::Tensor& ctx) {
    at::Tensor h = at::group_norm(x, kGroups, W("attn.norm.weight"), W("attn.norm.bias"), 1e-6);
    // [B,C,H,W] -> [B,HW,C]: a view when x is channels-last, a copy otherwise.
    h = h.permute({0, 2, 3, 1}).reshape({kBatch, kT, kC});
    h = at::linear(h, W("attn.proj_in.weight"), W("attn.proj_in.bias"));
    at::Tensor n = LN("attn.tb.norm1", h);
    h = h + Attention("attn.tb.attn1", n, n);
    n = LN("attn.tb.norm2", h);
    h = h + Attention("attn.tb.attn2", n, ctx);
    n = LN("attn.tb.norm3", h);
    at::Tensor pr =
        at::linear(n, W("attn.tb.ff.net.0.proj.weight"), W("attn.tb.ff.net.0.proj.bias"));
    auto parts = pr.chunk(2, -1);
    at::Tensor g = parts[0] * at::gelu(parts[1]);
    h = h + at::linear(g, W("attn.tb.ff.net.2.weight"), W("attn.tb.ff.net.2.bias"));
    h = at::linear(h, W("attn.proj_out.weight"), W("attn.proj_out.bias"));
    h = h.view({kBatch, kH, kW, kC}).permute({0, 3, 1, 2});
    if (!cfg_.channels_last) h = h.contiguous();
    return h + x;
  }

  Cfg cfg_;
  std::map<std::string, at::Tensor> w_;
  std::map<std::pair<int64_t, int64_t>, at::Tensor> scores_;
};

std::vector<float> ToVec(const at::Tensor& t) {
  at::Tensor c = t.to(at::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: spike_torch THREADS RUNS OUTDIR [nommap]\n");
    return 2;
  }
  const int threads = std::atoi(argv[1]), runs = std::atoi(argv[2]);
  const std::string outdir = argv[3];
  const bool nommap = argc > 4 && std::string(argv[4]) == "nommap";
  if (nommap) {
    // Keep freed memory in the heap (no fresh page faults per run): large blocks otherwise
    // come from mmap and return to the kernel on free.
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 64 << 20);
  }
  at::set_num_threads(threads);
  at::manual_seed(0);
  std::printf("# libtorch ATen, threads %d, mkldnn %d, malloc %s\n", at::get_num_threads(),
              at::hasMKLDNN() ? 1 : 0, nommap ? "no-mmap (heap kept)" : "default");

  // GEMM peak: 2048^3 (17.2 GFLOP) in f32 and bf16.
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    const int64_t n = 2048;
    at::Tensor a = at::randn({n, n}).to(dt), b = at::randn({n, n}).to(dt),
               c = at::empty({n, n}, a.options());
    Timing t = TimeIt(runs, [&] { at::mm_out(c, a, b); });
    PrintRow("torch", std::string("GEMM 2048^3 ") + (dt == at::kFloat ? "f32" : "bf16"), threads, t,
             2.0 * n * n * n, -1, 0);
  }

  const auto params = MakeParams(1);
  const auto in = MakeInputs(2);
  const double flops = BlockFlops();
  std::printf("# block FLOPs %.2f G\n", flops / 1e9);
  at::Tensor x32 = at::from_blob(const_cast<float*>(in.x.data()), {kBatch, kC, kH, kW}).clone();
  at::Tensor temb32 = at::from_blob(const_cast<float*>(in.temb.data()), {kBatch, kTemb}).clone();
  at::Tensor ctx32 =
      at::from_blob(const_cast<float*>(in.context.data()), {kBatch, kCtxT, kCtxC}).clone();

  std::vector<float> ref;
  std::vector<Cfg> cfgs;
  for (auto dt : {at::kFloat, at::kBFloat16})
    for (bool cl : {false, true})
      for (const char* a : {"math", "chunk", "sdpa"}) cfgs.push_back({dt, cl, a});
  for (const auto& cfg : cfgs) {
    if (!ref.empty() && !Selected(cfg.Name())) continue;  // the first (reference) always runs
    Block block(params, cfg);
    at::Tensor x = x32.to(cfg.dtype), temb = temb32.to(cfg.dtype), ctx = ctx32.to(cfg.dtype);
    if (cfg.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    at::Tensor out;
    Timing t = TimeIt(runs, [&] { out = block.Forward(x, temb, ctx); });
    std::vector<float> v = ToVec(out);
    if (ref.empty()) {
      ref = v;
      WriteRaw(outdir + "/torch_ref.f32", ref);
    }
    auto [rel, mx] = Compare(v, ref);
    PrintRow("torch", cfg.Name(), threads, t, flops, rel, mx);
  }
  return 0;
}
