// basalt-unet-bench: times UNet::Forward on an SD-1.5-shaped checkpoint against the figure the
// Python reference printed for the same weights and inputs (see /tmp/h/readme-unet.md):
//   python3 tests/image/ref/run.py unet-bench --threads 2 --save W.safetensors --out IO.safetensors
//   basalt-unet-bench --weights W.safetensors --io IO.safetensors --threads 2 --runs 3
// IO holds latents, timesteps, context and torch's output, which the C++ output is compared to.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "image/models.h"
#include "image/safetensors.h"
#include "image/weights.h"

namespace basalt::image {
namespace {

at::Tensor ReadTensor(const SafetensorsFile& f, const std::string& name) {
  const TensorView* v = f.Find(name);
  if (v == nullptr || v->dtype != DType::kF32) {
    std::fprintf(stderr, "io file lacks f32 tensor %s\n", name.c_str());
    std::exit(2);
  }
  at::Tensor t = at::empty(v->shape, at::kFloat);
  std::memcpy(t.data_ptr(), v->data, v->size_bytes);
  return t;
}

// Process CPU time (all threads): less sensitive than wall time to other load on the machine.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

int Main(int argc, char** argv) {
  std::string weights, io, dtype = "bf16";
  int threads = 2, runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--weights") {
      weights = v;
    } else if (k == "--io") {
      io = v;
    } else if (k == "--threads") {
      threads = std::atoi(v.c_str());
    } else if (k == "--runs") {
      runs = std::atoi(v.c_str());
    } else if (k == "--dtype") {
      dtype = v;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (weights.empty() || io.empty()) {
    std::fprintf(stderr, "usage: basalt-unet-bench --weights W --io IO [--threads N] [--runs N]\n");
    return 2;
  }
  at::set_num_threads(threads);
  const at::ScalarType type = dtype == "f32" ? at::kFloat : at::kBFloat16;
  auto file = SafetensorsFile::Open(weights);
  if (!file.ok()) {
    std::fprintf(stderr, "%s\n", file.status().ToString().c_str());
    return 1;
  }
  WeightMap w;
  w.set_description(weights);
  Status st = w.Add(std::shared_ptr<SafetensorsFile>(std::move(*file)), type);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  auto unet = UNet::Create(UNetConfig{}, std::move(w));  // the defaults are SD 1.5's
  if (!unet.ok()) {
    std::fprintf(stderr, "%s\n", unet.status().ToString().c_str());
    return 1;
  }
  auto iof = SafetensorsFile::Open(io);
  if (!iof.ok()) {
    std::fprintf(stderr, "%s\n", iof.status().ToString().c_str());
    return 1;
  }
  at::Tensor latents = ReadTensor(**iof, "latents"), t = ReadTensor(**iof, "timesteps"),
             ctx = ReadTensor(**iof, "context"), expected = ReadTensor(**iof, "out");
  double best = 1e30, best_cpu = 1e30;
  at::Tensor out;
  std::string all, all_cpu;
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const double start_cpu = CpuSeconds();
    out = (*unet)->Forward(latents, t, ctx);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double c = CpuSeconds() - start_cpu;
    best = std::min(best, s);
    best_cpu = std::min(best_cpu, c);
    char buf[32];
    std::snprintf(buf, sizeof(buf), " %.3f", s);
    all += buf;
    std::snprintf(buf, sizeof(buf), " %.3f", c);
    all_cpu += buf;
  }
  const double err = (out.to(at::kDouble) - expected.to(at::kDouble)).norm().item<double>() /
                     expected.to(at::kDouble).norm().item<double>();
  std::printf(
      "basalt %s, %d threads, batch %lld, %lldx%lld latent: best %.3f s (runs%s), CPU time best "
      "%.3f s (runs%s); relative L2 vs torch's output %.3g\n",
      dtype.c_str(), threads, static_cast<long long>(latents.size(0)),
      static_cast<long long>(latents.size(2)), static_cast<long long>(latents.size(3)), best,
      all.c_str(), best_cpu, all_cpu.c_str(), err);
  return 0;
}

}  // namespace
}  // namespace basalt::image

int main(int argc, char** argv) { return basalt::image::Main(argc, argv); }
