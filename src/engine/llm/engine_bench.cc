// engine_bench: decode throughput of the Engine on one model, to set beside llama-bench's
// tg numbers or llama-server on the same threads.
//   engine_bench MODEL.gguf [threads=2] [tokens=128] [streams=1,8] [repeats=3] [temperature=0]
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace {

using Clock = std::chrono::steady_clock;

class TimingSink : public basalt::engine::Sink {
 public:
  void OnText(std::string_view) override {
    if (!started_) {
      started_ = true;
      first_ = Clock::now();
    }
  }
  void OnDone(const basalt::Status& status, basalt::engine::FinishReason, const std::string&,
              const basalt::engine::Usage& usage, const basalt::engine::Timing&) override {
    std::lock_guard<std::mutex> lock(mu_);
    end_ = Clock::now();
    ok_ = status.ok();
    tokens_ = usage.completion_tokens;
    done_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
  }
  bool ok_ = false;
  bool started_ = false;
  int tokens_ = 0;
  Clock::time_point first_, end_;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s MODEL.gguf [threads] [tokens] [streams,...] [repeats] "
                 "[temperature]\n",
                 argv[0]);
    return 2;
  }
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int tokens = argc > 3 ? std::atoi(argv[3]) : 128;
  std::vector<int> streams_list;
  {
    std::stringstream ss(argc > 4 ? argv[4] : "1,8");
    std::string item;
    while (std::getline(ss, item, ',')) streams_list.push_back(std::atoi(item.c_str()));
  }
  const int repeats = argc > 5 ? std::atoi(argv[5]) : 3;
  const float temperature = argc > 6 ? static_cast<float>(std::atof(argv[6])) : 0.0f;
  int max_streams = 1;
  for (int s : streams_list) max_streams = std::max(max_streams, s);

  basalt::engine::EngineOptions options;
  basalt::engine::ModelConfig config;
  config.name = "m";
  config.path = argv[1];
  config.threads = threads;
  config.parallel = max_streams;
  options.models.push_back(config);
  auto engine = basalt::engine::Engine::Open(options);
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().ToString().c_str());
    return 1;
  }
  auto info = (*engine)->GetModelInfo("m");
  if (!info.ok()) {
    std::fprintf(stderr, "%s\n", info.status().ToString().c_str());
    return 1;
  }

  for (int streams : streams_list) {
    for (int r = 0; r < repeats; ++r) {
      std::vector<std::shared_ptr<TimingSink>> sinks;
      const Clock::time_point start = Clock::now();
      for (int i = 0; i < streams; ++i) {
        basalt::engine::GenerateRequest request;
        request.model = "m";
        // Distinct prompts so no stream reuses another's cache.
        request.prompt = "Once upon a time " + std::to_string(r * 100 + i);
        request.sampling.temperature = temperature;
        request.sampling.seed = static_cast<uint32_t>(i + 1);
        request.sampling.max_tokens = tokens;
        auto sink = std::make_shared<TimingSink>();
        auto id = (*engine)->Submit(request, sink);
        if (!id.ok()) {
          std::fprintf(stderr, "%s\n", id.status().ToString().c_str());
          return 1;
        }
        sinks.push_back(sink);
      }
      int total = 0;
      Clock::time_point first = Clock::time_point::max(), end = start;
      for (auto& sink : sinks) {
        sink->Wait();
        total += sink->tokens_;
        if (sink->started_ && sink->first_ < first) first = sink->first_;
        if (sink->end_ > end) end = sink->end_;
      }
      if (streams == 1) {
        // Decode rate: tokens after the first over the time after the first.
        std::printf("streams=1 run=%d tokens=%d decode %.1f tok/s (wall %.1f tok/s)\n", r, total,
                    (total - 1) / Seconds(end - first), total / Seconds(end - start));
      } else {
        std::printf("streams=%d run=%d tokens=%d aggregate %.1f tok/s\n", streams, r, total,
                    total / Seconds(end - start));
      }
    }
  }
  return 0;
}
