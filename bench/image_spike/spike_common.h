// The engine spike's shared part (docs/images.md "Engine choice"): one Stable Diffusion 1.5
// UNet block at 512x512 (64x64 latent, batch 2 for classifier-free guidance): a ResnetBlock2D
// at 320 channels followed by a Transformer2DModel (self-attention over 4096 tokens, 8 heads
// of 40, cross-attention to a 77x768 context, GEGLU feed-forward), with the same random
// weights and inputs in both engines (spike_ggml.cc, spike_torch.cc).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

namespace spike {

constexpr int kBatch = 2, kC = 320, kH = 64, kW = 64, kT = kH * kW, kTemb = 1280;
constexpr int kGroups = 32, kHeads = 8, kHeadDim = 40, kCtxT = 77, kCtxC = 768, kFF = 1280;

// A parameter in PyTorch's layout (row-major, outermost dimension first), as diffusers names it.
struct Param {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
  bool matmul = false;  // conv / linear weight (stored in the engine's weight dtype)
};

// splitmix64 + Box-Muller: the same numbers on every build.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t Next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return (static_cast<double>(Next() >> 11) + 0.5) / 9007199254740992.0; }
  float Normal() {
    double u1 = Uniform(), u2 = Uniform();
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
};

inline int64_t Numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

inline Param MakeParam(Rng& rng, const std::string& name, std::vector<int64_t> shape, float mean,
                       float std, bool matmul) {
  Param p{name, std::move(shape), {}, matmul};
  p.data.resize(static_cast<size_t>(Numel(p.shape)));
  for (auto& v : p.data) v = mean + std * rng.Normal();
  return p;
}

// Weights: normal(0, 1/sqrt(fan_in)); biases normal(0, 0.02); norm scales 1 + normal(0, 0.1).
inline std::vector<Param> MakeParams(uint64_t seed) {
  Rng rng(seed);
  std::vector<Param> ps;
  auto lin = [&](const std::string& n, int64_t out, int64_t in, bool bias, int64_t k = 0) {
    std::vector<int64_t> shape =
        k ? std::vector<int64_t>{out, in, k, k} : std::vector<int64_t>{out, in};
    float fan = static_cast<float>(in * (k ? k * k : 1));
    ps.push_back(MakeParam(rng, n + ".weight", shape, 0.f, 1.f / std::sqrt(fan), true));
    if (bias) ps.push_back(MakeParam(rng, n + ".bias", {out}, 0.f, 0.02f, false));
  };
  auto norm = [&](const std::string& n, int64_t c) {
    ps.push_back(MakeParam(rng, n + ".weight", {c}, 1.f, 0.1f, false));
    ps.push_back(MakeParam(rng, n + ".bias", {c}, 0.f, 0.1f, false));
  };
  norm("resnet.norm1", kC);
  lin("resnet.conv1", kC, kC, true, 3);
  lin("resnet.time_emb_proj", kC, kTemb, true);
  norm("resnet.norm2", kC);
  lin("resnet.conv2", kC, kC, true, 3);
  norm("attn.norm", kC);
  lin("attn.proj_in", kC, kC, true, 1);
  norm("attn.tb.norm1", kC);
  lin("attn.tb.attn1.to_q", kC, kC, false);
  lin("attn.tb.attn1.to_k", kC, kC, false);
  lin("attn.tb.attn1.to_v", kC, kC, false);
  lin("attn.tb.attn1.to_out.0", kC, kC, true);
  norm("attn.tb.norm2", kC);
  lin("attn.tb.attn2.to_q", kC, kC, false);
  lin("attn.tb.attn2.to_k", kC, kCtxC, false);
  lin("attn.tb.attn2.to_v", kC, kCtxC, false);
  lin("attn.tb.attn2.to_out.0", kC, kC, true);
  norm("attn.tb.norm3", kC);
  lin("attn.tb.ff.net.0.proj", 2 * kFF, kC, true);
  lin("attn.tb.ff.net.2", kC, kFF, true);
  lin("attn.proj_out", kC, kC, true, 1);
  return ps;
}

struct Inputs {
  std::vector<float> x, temb, context;  // [B,C,H,W], [B,1280], [B,77,768]
};

inline Inputs MakeInputs(uint64_t seed) {
  Rng rng(seed);
  Inputs in;
  in.x.resize(static_cast<size_t>(kBatch) * kC * kH * kW);
  in.temb.resize(static_cast<size_t>(kBatch) * kTemb);
  in.context.resize(static_cast<size_t>(kBatch) * kCtxT * kCtxC);
  for (auto& v : in.x) v = rng.Normal();
  for (auto& v : in.temb) v = rng.Normal();
  for (auto& v : in.context) v = rng.Normal();
  return in;
}

// Multiply-adds x2 of the convolutions, linear layers and attention products of one block.
inline double BlockFlops() {
  const double b = kBatch, t = kT, c = kC;
  double conv3 = 2 * b * t * c * c * 9;
  double resnet = 2 * conv3 + 2 * b * kTemb * c;
  double lin = 2 * b * t * c * c;                        // one 320x320 projection over tokens
  double self_attn = 4 * lin + 2 * (2 * b * t * t * c);  // q,k,v,out + QK^T + PV
  double cross = 2 * lin + 2 * (2 * b * kCtxT * kCtxC * c) + 2 * (2 * b * t * kCtxT * c);
  double ff = 2 * b * t * c * (2 * kFF) + 2 * b * t * kFF * c;
  return resnet + 2 * lin /*proj_in, proj_out*/ + self_attn + cross + ff;
}

inline double NowMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

inline double CpuMs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Best and median wall time of `runs` timed calls after one warm-up call, and the best
// process CPU time of a call (all threads together: on a machine shared with other work the
// wall time includes time the threads waited for a core, the CPU time does not).
struct Timing {
  double best_ms, median_ms, best_cpu_ms;
};
inline Timing TimeIt(int runs, const std::function<void()>& fn) {
  fn();
  std::vector<double> ms;
  double cpu = 1e300;
  for (int i = 0; i < runs; ++i) {
    double t0 = NowMs(), c0 = CpuMs();
    fn();
    ms.push_back(NowMs() - t0);
    cpu = std::min(cpu, CpuMs() - c0);
  }
  std::sort(ms.begin(), ms.end());
  return {ms.front(), ms[ms.size() / 2], cpu};
}

// Relative L2 error and max abs difference of a against reference r.
inline std::pair<double, double> Compare(const std::vector<float>& a, const std::vector<float>& r) {
  double num = 0, den = 0, mx = 0;
  for (size_t i = 0; i < a.size() && i < r.size(); ++i) {
    double d = static_cast<double>(a[i]) - r[i];
    num += d * d;
    den += static_cast<double>(r[i]) * r[i];
    mx = std::max(mx, std::fabs(d));
  }
  if (a.size() != r.size()) return {INFINITY, INFINITY};
  return {std::sqrt(num / std::max(den, 1e-30)), mx};
}

inline bool ReadRaw(const std::string& path, std::vector<float>* out) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  std::fseek(f, 0, SEEK_END);
  long n = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  out->resize(static_cast<size_t>(n) / sizeof(float));
  size_t got = std::fread(out->data(), sizeof(float), out->size(), f);
  std::fclose(f);
  return got == out->size();
}

inline void WriteRaw(const std::string& path, const std::vector<float>& v) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return;
  std::fwrite(v.data(), sizeof(float), v.size(), f);
  std::fclose(f);
}

// SPIKE_ONLY="a;b;..." limits the block configurations run to those whose name contains one
// of the parts (the full matrix takes long on a shared machine).
inline bool Selected(const std::string& name) {
  const char* only = std::getenv("SPIKE_ONLY");
  if (!only || !*only) return true;
  std::string s = only;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find(';', pos);
    if (end == std::string::npos) end = s.size();
    std::string part = s.substr(pos, end - pos);
    if (!part.empty() && name.find(part) != std::string::npos) return true;
    pos = end + 1;
  }
  return false;
}

inline void PrintRow(const char* engine, const std::string& cfg, int threads, Timing t,
                     double flops, double relerr, double maxabs) {
  // GFLOP/s from the best wall time, and from the best CPU time per thread ("cpu").
  std::printf(
      "%-6s %-40s t=%d best %8.1f ms median %8.1f ms %6.1f GFLOP/s cpu/t %8.1f ms %6.1f GFLOP/s",
      engine, cfg.c_str(), threads, t.best_ms, t.median_ms, flops / (t.best_ms * 1e6),
      t.best_cpu_ms / threads, flops * threads / (t.best_cpu_ms * 1e6));
  if (relerr >= 0) std::printf("  relL2 %.2e maxabs %.2e", relerr, maxabs);
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace spike
