// The spike's ggml side: the SD 1.5 block of spike_common.h as a ggml 0.27 graph on the CPU
// backend, alone or with ggml's BLAS backend (OpenBLAS) through the scheduler, with f32, f16
// and bf16 matmul/conv weights (activations f32), and attention either as mul_mat + soft_max
// ("math") or ggml_flash_attn_ext with f16 K/V ("flash"). The graph is allocated once and
// computed repeatedly (no fresh pages per run). Also times a large mul_mat per weight dtype
// and OpenBLAS's own sgemm (the matmul peak as ggml and OpenBLAS see it).
//
// Usage: spike_ggml THREADS RUNS OUTDIR   (compares against OUTDIR/torch_ref.f32)
#include <cblas.h>
#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml-cpu.h>
#include <ggml.h>

#include <cstdlib>
#include <map>
#include <memory>

#include "spike_common.h"

using namespace spike;

namespace {

struct Backends {
  ggml_backend_t cpu = nullptr, blas = nullptr;
  void SetThreads(int n) {
    for (ggml_backend_t b : {cpu, blas}) {
      if (!b) continue;
      auto reg = ggml_backend_dev_backend_reg(ggml_backend_get_device(b));
      auto fn = reinterpret_cast<ggml_backend_set_n_threads_t>(
          ggml_backend_reg_get_proc_address(reg, "ggml_backend_set_n_threads"));
      if (fn) fn(b, n);
    }
  }
};

const char* TypeName(ggml_type t) { return ggml_type_name(t); }

void SetTensor(ggml_tensor* t, const std::vector<float>& v) {
  if (t->type == GGML_TYPE_F32) {
    ggml_backend_tensor_set(t, v.data(), 0, v.size() * sizeof(float));
  } else if (t->type == GGML_TYPE_F16) {
    std::vector<ggml_fp16_t> h(v.size());
    ggml_fp32_to_fp16_row(v.data(), h.data(), static_cast<int64_t>(v.size()));
    ggml_backend_tensor_set(t, h.data(), 0, h.size() * sizeof(ggml_fp16_t));
  } else {
    std::vector<ggml_bf16_t> h(v.size());
    ggml_fp32_to_bf16_row(v.data(), h.data(), static_cast<int64_t>(v.size()));
    ggml_backend_tensor_set(t, h.data(), 0, h.size() * sizeof(ggml_bf16_t));
  }
}

// Runs one graph repeatedly on a scheduler over the chosen backends.
struct Runner {
  ggml_context* wctx = nullptr;  // weights and inputs (allocated on the CPU backend)
  ggml_backend_buffer_t wbuf = nullptr;
  ggml_context* gctx = nullptr;  // graph nodes (no data)
  ggml_cgraph* graph = nullptr;
  ggml_backend_sched_t sched = nullptr;
  ~Runner() {
    if (sched) ggml_backend_sched_free(sched);
    if (wbuf) ggml_backend_buffer_free(wbuf);
    if (gctx) ggml_free(gctx);
    if (wctx) ggml_free(wctx);
  }
  void Init(size_t n_weights) {
    ggml_init_params p{ggml_tensor_overhead() * (n_weights + 8), nullptr, true};
    wctx = ggml_init(p);
    ggml_init_params g{ggml_tensor_overhead() * 4096 + ggml_graph_overhead_custom(4096, false),
                       nullptr, true};
    gctx = ggml_init(g);
  }
  void Build(ggml_tensor* out, Backends& be, bool use_blas) {
    graph = ggml_new_graph_custom(gctx, 4096, false);
    ggml_build_forward_expand(graph, out);
    std::vector<ggml_backend_t> bs;
    if (use_blas) bs.push_back(be.blas);
    bs.push_back(be.cpu);  // the last backend must be the CPU
    sched =
        ggml_backend_sched_new(bs.data(), nullptr, static_cast<int>(bs.size()), 4096, false, false);
    if (!ggml_backend_sched_alloc_graph(sched, graph)) {
      std::fprintf(stderr, "graph allocation failed\n");
      std::exit(1);
    }
  }
  void Compute() {
    if (ggml_backend_sched_graph_compute(sched, graph) != GGML_STATUS_SUCCESS) {
      std::fprintf(stderr, "compute failed\n");
      std::exit(1);
    }
  }
};

class BlockGraph {
 public:
  BlockGraph(ggml_context* wctx, ggml_context* gctx, ggml_type wtype, bool flash)
      : wctx_(wctx), ctx_(gctx), wtype_(wtype), flash_(flash) {}

  // Declares the weights in ggml's layout (dimension order reversed from PyTorch's).
  void Declare(const std::vector<Param>& ps) {
    for (const auto& p : ps) {
      std::vector<int64_t> ne(p.shape.rbegin(), p.shape.rend());
      ggml_type t = p.matmul ? wtype_ : GGML_TYPE_F32;
      w_[p.name] = ggml_new_tensor(wctx_, t, static_cast<int>(ne.size()), ne.data());
    }
    x_ = ggml_new_tensor_4d(wctx_, GGML_TYPE_F32, kW, kH, kC, kBatch);
    temb_ = ggml_new_tensor_2d(wctx_, GGML_TYPE_F32, kTemb, kBatch);
    ctxt_ = ggml_new_tensor_3d(wctx_, GGML_TYPE_F32, kCtxC, kCtxT, kBatch);
  }
  void Upload(const std::vector<Param>& ps, const Inputs& in) {
    for (const auto& p : ps) SetTensor(w_.at(p.name), p.data);
    SetTensor(x_, in.x);
    SetTensor(temb_, in.temb);
    SetTensor(ctxt_, in.context);
  }

  ggml_tensor* Forward() { return Transformer(Resnet(x_)); }

 private:
  ggml_tensor* W(const std::string& n) { return w_.at(n); }

  // x [W,H,C,N]; GroupNorm with per-channel affine.
  ggml_tensor* GN(ggml_tensor* x, const std::string& n, float eps) {
    ggml_tensor* h = ggml_group_norm(ctx_, x, kGroups, eps);
    h = ggml_mul(ctx_, h, ggml_reshape_4d(ctx_, W(n + ".weight"), 1, 1, kC, 1));
    return ggml_add(ctx_, h, ggml_reshape_4d(ctx_, W(n + ".bias"), 1, 1, kC, 1));
  }

  // 3x3 conv, padding 1: im2col + mul_mat; x [W,H,C,N] -> [W,H,OC,N].
  ggml_tensor* Conv3(ggml_tensor* x, const std::string& n) {
    ggml_tensor* k = W(n + ".weight");  // [3,3,IC,OC]
    ggml_type imt = k->type == GGML_TYPE_F16 ? GGML_TYPE_F16 : GGML_TYPE_F32;
    ggml_tensor* im = ggml_im2col(ctx_, k, x, 1, 1, 1, 1, 1, 1, true, imt);  // [IC*9, W, H, N]
    ggml_tensor* r =
        ggml_mul_mat(ctx_, ggml_reshape_2d(ctx_, k, 9 * k->ne[2], k->ne[3]),
                     ggml_reshape_2d(ctx_, im, im->ne[0], im->ne[1] * im->ne[2] * im->ne[3]));
    r = ggml_reshape_4d(ctx_, r, k->ne[3], kW, kH, kBatch);  // [OC, W, H, N]
    r = ggml_cont(ctx_, ggml_permute(ctx_, r, 2, 0, 1, 3));  // [W, H, OC, N]
    return ggml_add(ctx_, r, ggml_reshape_4d(ctx_, W(n + ".bias"), 1, 1, kC, 1));
  }

  ggml_tensor* Linear(ggml_tensor* x, const std::string& n, bool bias = true) {
    ggml_tensor* w = W(n + ".weight");
    if (ggml_n_dims(w) == 4) w = ggml_reshape_2d(ctx_, w, w->ne[2], w->ne[3]);  // 1x1 conv
    ggml_tensor* y = ggml_mul_mat(ctx_, w, x);
    return bias ? ggml_add(ctx_, y, W(n + ".bias")) : y;
  }

  ggml_tensor* Resnet(ggml_tensor* x) {
    ggml_tensor* h = ggml_silu(ctx_, GN(x, "resnet.norm1", 1e-5f));
    h = Conv3(h, "resnet.conv1");
    ggml_tensor* t = Linear(ggml_silu(ctx_, temb_), "resnet.time_emb_proj");  // [C, N]
    h = ggml_add(ctx_, h, ggml_reshape_4d(ctx_, t, 1, 1, kC, kBatch));
    h = ggml_silu(ctx_, GN(h, "resnet.norm2", 1e-5f));
    h = Conv3(h, "resnet.conv2");
    return ggml_add(ctx_, h, x);
  }

  ggml_tensor* LN(ggml_tensor* h, const std::string& n) {
    h = ggml_norm(ctx_, h, 1e-5f);
    return ggml_add(ctx_, ggml_mul(ctx_, h, W(n + ".weight")), W(n + ".bias"));
  }

  // hs [C, Tq, N], ctx [Cc, Tk, N].
  ggml_tensor* Attention(ggml_tensor* hs, ggml_tensor* ctx, const std::string& p) {
    const int64_t tq = hs->ne[1], tk = ctx->ne[1];
    ggml_tensor* q = Linear(hs, p + ".to_q", false);
    ggml_tensor* k = Linear(ctx, p + ".to_k", false);
    ggml_tensor* v = Linear(ctx, p + ".to_v", false);
    const float scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
    // [C,T,N] -> [d, T, heads, N]
    auto heads = [&](ggml_tensor* t, int64_t n) {
      return ggml_permute(ctx_, ggml_reshape_4d(ctx_, t, kHeadDim, kHeads, n, kBatch), 0, 2, 1, 3);
    };
    ggml_tensor* o;
    if (flash_) {
      ggml_tensor* qh = heads(q, tq);
      ggml_tensor* kh = ggml_cast(ctx_, heads(k, tk), GGML_TYPE_F16);
      ggml_tensor* vh = ggml_cast(ctx_, heads(v, tk), GGML_TYPE_F16);
      o = ggml_flash_attn_ext(ctx_, qh, kh, vh, nullptr, scale, 0.0f, 0.0f);  // [d, heads, Tq, N]
      o = ggml_reshape_3d(ctx_, o, kC, tq, kBatch);
    } else {
      ggml_tensor* qh = ggml_cont(ctx_, heads(q, tq));
      ggml_tensor* kh = ggml_cont(ctx_, heads(k, tk));
      ggml_tensor* s = ggml_mul_mat(ctx_, kh, qh);  // [Tk, Tq, heads, N]
      s = ggml_soft_max_ext(ctx_, s, nullptr, scale, 0.0f);
      // v -> [Tk, d, heads, N]
      ggml_tensor* vt = ggml_cont(
          ctx_,
          ggml_permute(ctx_, ggml_reshape_4d(ctx_, v, kHeadDim, kHeads, tk, kBatch), 1, 2, 0, 3));
      o = ggml_mul_mat(ctx_, vt, s);                           // [d, Tq, heads, N]
      o = ggml_cont(ctx_, ggml_permute(ctx_, o, 0, 2, 1, 3));  // [d, heads, Tq, N]
      o = ggml_reshape_3d(ctx_, o, kC, tq, kBatch);
    }
    return Linear(o, p + ".to_out.0");
  }

  ggml_tensor* Transformer(ggml_tensor* x) {
    ggml_tensor* h = GN(x, "attn.norm", 1e-6f);
    h = ggml_cont(ctx_, ggml_permute(ctx_, h, 1, 2, 0, 3));  // [C, W, H, N]
    h = ggml_reshape_3d(ctx_, h, kC, kT, kBatch);
    h = Linear(h, "attn.proj_in");
    ggml_tensor* n = LN(h, "attn.tb.norm1");
    h = ggml_add(ctx_, h, Attention(n, n, "attn.tb.attn1"));
    n = LN(h, "attn.tb.norm2");
    h = ggml_add(ctx_, h, Attention(n, ctxt_, "attn.tb.attn2"));
    n = LN(h, "attn.tb.norm3");
    ggml_tensor* pr = Linear(n, "attn.tb.ff.net.0.proj");  // [2*FF, T, N]
    ggml_tensor* g = ggml_geglu_erf_swapped(ctx_, pr);     // first half * gelu(second half)
    h = ggml_add(ctx_, h, Linear(g, "attn.tb.ff.net.2"));
    h = Linear(h, "attn.proj_out");  // [C, T, N]
    h = ggml_reshape_4d(ctx_, h, kC, kW, kH, kBatch);
    h = ggml_cont(ctx_, ggml_permute(ctx_, h, 2, 0, 1, 3));  // [W, H, C, N]
    return ggml_add(ctx_, h, x);
  }

  ggml_context* wctx_;
  ggml_context* ctx_;
  ggml_type wtype_;
  bool flash_;
  std::map<std::string, ggml_tensor*> w_;
  ggml_tensor *x_ = nullptr, *temb_ = nullptr, *ctxt_ = nullptr;
};

void GemmPeak(Backends& be, ggml_type t, bool blas, int threads, int runs) {
  const int64_t n = 2048;
  Runner r;
  r.Init(2);
  ggml_tensor* a = ggml_new_tensor_2d(r.wctx, t, n, n);
  ggml_tensor* b = ggml_new_tensor_2d(r.wctx, GGML_TYPE_F32, n, n);
  r.wbuf = ggml_backend_alloc_ctx_tensors(r.wctx, be.cpu);
  Rng rng(3);
  std::vector<float> v(static_cast<size_t>(n * n));
  for (auto& x : v) x = rng.Normal();
  SetTensor(a, v);
  SetTensor(b, v);
  ggml_tensor* c = ggml_mul_mat(r.gctx, a, b);
  r.Build(c, be, blas);
  Timing tm = TimeIt(runs, [&] { r.Compute(); });
  PrintRow("ggml", std::string("GEMM 2048^3 w=") + TypeName(t) + (blas ? " +BLAS" : " cpu"),
           threads, tm, 2.0 * n * n * n, -1, 0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: spike_ggml THREADS RUNS OUTDIR\n");
    return 2;
  }
  const int threads = std::atoi(argv[1]), runs = std::atoi(argv[2]);
  const std::string outdir = argv[3];
  ggml_backend_load_all();
  Backends be;
  be.cpu = ggml_backend_init_by_type(GGML_BACKEND_DEVICE_TYPE_CPU, nullptr);
  be.blas = ggml_backend_init_by_name("BLAS", nullptr);
  if (!be.cpu) {
    std::fprintf(stderr, "no ggml CPU backend\n");
    return 1;
  }
  be.SetThreads(threads);
  openblas_set_num_threads(threads);
  std::printf("# ggml CPU backend %s, BLAS backend %s, OPENBLAS_CORETYPE=%s, openblas %s\n",
              ggml_backend_dev_description(ggml_backend_get_device(be.cpu)), be.blas ? "yes" : "no",
              std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "(unset)",
              openblas_get_config());

  {  // OpenBLAS sgemm directly
    const int n = 2048;
    std::vector<float> a(static_cast<size_t>(n) * n, 0.5f), b(a), c(a);
    Timing t = TimeIt(runs, [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(),
                  n, 0.0f, c.data(), n);
    });
    PrintRow("oblas", "sgemm 2048^3 f32", threads, t, 2.0 * n * n * n, -1, 0);
  }
  for (ggml_type t : {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16}) {
    GemmPeak(be, t, false, threads, runs);
    if (be.blas) GemmPeak(be, t, true, threads, runs);
  }

  const auto params = MakeParams(1);
  const auto in = MakeInputs(2);
  const double flops = BlockFlops();
  std::vector<float> ref;
  if (!ReadRaw(outdir + "/torch_ref.f32", &ref)) std::printf("# no torch_ref.f32: no comparison\n");

  struct Cfg {
    ggml_type t;
    bool blas, flash;
  };
  std::vector<Cfg> cfgs;
  for (ggml_type t : {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16})
    for (bool blas : {false, true})
      for (bool flash : {false, true})
        if (!blas || be.blas) cfgs.push_back({t, blas, flash});
  for (const auto& c : cfgs) {
    const std::string name = std::string("w=") + TypeName(c.t) + (c.blas ? " +BLAS" : " cpu") +
                             (c.flash ? " attn=flash" : " attn=math");
    if (!Selected(name)) continue;
    Runner r;
    r.Init(params.size() + 3);
    BlockGraph g(r.wctx, r.gctx, c.t, c.flash);
    g.Declare(params);
    r.wbuf = ggml_backend_alloc_ctx_tensors(r.wctx, be.cpu);
    g.Upload(params, in);
    ggml_tensor* out = g.Forward();
    r.Build(out, be, c.blas);
    Timing tm = TimeIt(runs, [&] { r.Compute(); });
    std::vector<float> v(static_cast<size_t>(ggml_nelements(out)));
    ggml_backend_tensor_get(out, v.data(), 0, v.size() * sizeof(float));
    double rel = -1, mx = 0;
    if (!ref.empty()) std::tie(rel, mx) = Compare(v, ref);
    PrintRow("ggml", name, threads, tm, flops, rel, mx);
  }
  return 0;
}
