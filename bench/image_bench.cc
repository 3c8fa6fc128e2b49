// basalt-image-bench: times Basalt's own text-to-image path (ImageEngine::Generate, what the
// server's InvokeModel calls) on one model for bench/image_bench.py, which runs the same model
// on python3-torch in the same run and prints the ratios (docs/images.md "Performance").
//
//   basalt-image-bench --model DIR [--variant auto] [--steps 1,4,20] [--cfg -1]
//                      [--sampler ""] [--threads 2] [--runs 1] [--dtype auto] [--seed 1]
//                      [--size 512]
//
// Prints one JSON object per line: {"load_s": ...} once, then per step count
// {"steps": N, "seconds": [per run], "best": s, "cpu": process CPU seconds of the best-CPU run,
//  "cfg": c, "sampler": "..."}.
// Built on demand: cmake --build BUILD --target basalt-image-bench.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sstream>
#include <string>
#include <vector>

#include "image/image.h"

namespace {

double CpuNow() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double Now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

int Fail(const std::string& m) {
  std::fprintf(stderr, "basalt-image-bench: %s\n", m.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace basalt::image;
  std::string model, variant = "auto", steps_list = "1,4,20", sampler_name, dtype = "auto";
  int threads = 2, runs = 1, size = 512;
  float cfg = -1;
  unsigned long long seed = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return Fail("missing value after " + a);
    std::string v = argv[++i];
    if (a == "--model")
      model = v;
    else if (a == "--variant")
      variant = v;
    else if (a == "--steps")
      steps_list = v;
    else if (a == "--cfg")
      cfg = std::stof(v);
    else if (a == "--sampler")
      sampler_name = v;
    else if (a == "--threads")
      threads = std::stoi(v);
    else if (a == "--runs")
      runs = std::stoi(v);
    else if (a == "--dtype")
      dtype = v;
    else if (a == "--seed")
      seed = std::stoull(v);
    else if (a == "--size")
      size = std::stoi(v);
    else
      return Fail("unknown flag " + a);
  }
  if (model.empty()) return Fail("--model DIR is required");

  ImageEngineOptions options;
  ImageModelConfig mc;
  mc.name = "bench";
  mc.path = model;
  mc.variant = variant;
  options.models.push_back(mc);
  options.threads = threads;
  options.dtype = dtype;
  auto engine = ImageEngine::Create(options);
  double t0 = Now();
  basalt::Status st = engine->Load("bench");
  if (!st.ok()) return Fail("load: " + st.ToString());
  std::printf("{\"load_s\": %.3f}\n", Now() - t0);
  std::fflush(stdout);

  Sampler sampler = Sampler::kDefault;
  if (!sampler_name.empty()) {
    auto s = ParseSampler(sampler_name);
    if (!s.ok()) return Fail(s.status().ToString());
    sampler = *s;
  }
  std::stringstream ss(steps_list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    ImageRequest req;
    req.model = "bench";
    req.prompt = "a photograph of an astronaut riding a horse on the moon, detailed, 4k";
    req.negative_prompt = "blurry, low quality";
    req.width = req.height = size;
    req.steps = std::stoi(item);
    req.cfg_scale = cfg;
    req.sampler = sampler;
    req.seed = seed;
    std::vector<double> secs;
    double cpu = 1e300;
    ImageResult last;
    for (int r = 0; r < runs; ++r) {
      double s0 = Now(), c0 = CpuNow();
      auto res = engine->Generate(req);
      double s = Now() - s0;
      cpu = std::min(cpu, CpuNow() - c0);
      if (!res.ok()) return Fail("generate: " + res.status().ToString());
      secs.push_back(s);
      last = std::move(*res);
    }
    double best = secs[0];
    std::printf("{\"steps\": %d, \"seconds\": [", last.steps);
    for (size_t k = 0; k < secs.size(); ++k) {
      std::printf("%s%.3f", k ? ", " : "", secs[k]);
      if (secs[k] < best) best = secs[k];
    }
    std::printf(
        "], \"best\": %.3f, \"cpu\": %.3f, \"cfg\": %.2f, \"sampler\": \"%s\", \"png_bytes\": "
        "%zu}\n",
        best, cpu, last.cfg_scale, last.sampler.c_str(),
        last.png.empty() ? size_t{0} : last.png[0].size());
    std::fflush(stdout);
  }
  return 0;
}
