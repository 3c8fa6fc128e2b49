// Helpers shared by the engine's test files: model paths, a recording Sink, job runners.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"

namespace basalt::engine::test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline std::string ModelsDir() {
  if (const char* dir = std::getenv("BASALT_MODELS_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  const char* src = std::getenv("BASALT_SOURCE_DIR");
#ifdef BASALT_DEFAULT_SOURCE_DIR
  if (src == nullptr || *src == '\0') src = BASALT_DEFAULT_SOURCE_DIR;
#endif
  return std::string(src != nullptr ? src : ".") + "/../shared/models";
}

inline std::string StoriesPath() { return ModelsDir() + "/stories260K.gguf"; }
inline std::string TinyRandomPath() { return ModelsDir() + "/llama-2-tiny-random.gguf"; }

inline bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    int n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      n = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (int k = 1; k < n; ++k) {
      const unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

// Records everything a job produces; Wait() blocks until OnDone.
class TestSink : public Sink {
 public:
  void OnText(std::string_view text) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(done_) << "OnText after OnDone";
    EXPECT_FALSE(text.empty());
    if (!ValidUtf8(text)) ++invalid_pieces_;
    text_ += text;
    ++pieces_;
    cv_.notify_all();
  }
  void OnDone(const Status& status, FinishReason reason, const std::string& stop,
              const Usage& usage, const Timing& timing) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(done_) << "OnDone twice";
    done_ = true;
    done_at_ = Clock::now();
    status_ = status;
    reason_ = reason;
    stop_ = stop;
    usage_ = usage;
    timing_ = timing;
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout = 120s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return done_; });
  }
  bool WaitForText(std::chrono::milliseconds timeout = 120s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return pieces_ > 0 || done_; });
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }

  std::string text_;
  int pieces_ = 0;
  int invalid_pieces_ = 0;
  bool done_ = false;
  Clock::time_point done_at_;
  Status status_;
  FinishReason reason_ = FinishReason::kError;
  std::string stop_;
  Usage usage_;
  Timing timing_;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

inline ModelConfig StoriesConfig(int parallel = 4) {
  ModelConfig config;
  config.name = "stories";
  config.path = StoriesPath();
  config.parallel = parallel;
  config.threads = 2;
  return config;
}

inline std::unique_ptr<Engine> OpenEngine(std::vector<ModelConfig> models) {
  EngineOptions options;
  options.models = std::move(models);
  StatusOr<std::unique_ptr<Engine>> engine = Engine::Open(options);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? std::move(*engine) : nullptr;
}

inline GenerateRequest Greedy(std::string prompt, int max_tokens) {
  GenerateRequest request;
  request.model = "stories";
  request.prompt = std::move(prompt);
  request.sampling.temperature = 0.0f;
  request.sampling.max_tokens = max_tokens;
  return request;
}

// Runs one job to the end.
inline std::shared_ptr<TestSink> RunJob(Engine& engine, GenerateRequest request) {
  auto sink = std::make_shared<TestSink>();
  StatusOr<JobId> id = engine.Submit(std::move(request), sink);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  if (id.ok()) {
    EXPECT_TRUE(sink->Wait());
  }
  EXPECT_EQ(sink->invalid_pieces_, 0);
  return sink;
}

}  // namespace basalt::engine::test
