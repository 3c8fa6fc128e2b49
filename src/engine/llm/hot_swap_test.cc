// Models removed and replaced while requests run (Engine::RemoveModel / ReplaceModel), and
// the memory check before a load.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine/engine_test_util.h"
#include "engine/llm/memory_budget.h"

namespace basalt::engine {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using test::ModelsDir;

class WaitSink : public Sink {
 public:
  void OnText(std::string_view text) override {
    std::lock_guard<std::mutex> lock(mu_);
    text_ += text;
  }
  void OnDone(const Status& status, FinishReason reason, const std::string&, const Usage& usage,
              const Timing&) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    reason_ = reason;
    usage_ = usage;
    done_ = true;
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout = 60s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return done_; });
  }
  Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }
  FinishReason reason() {
    std::lock_guard<std::mutex> lock(mu_);
    return reason_;
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  Status status_;
  FinishReason reason_ = FinishReason::kError;
  Usage usage_;
  std::string text_;
};

class HotSwapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("basalt_hot_swap_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Copy(const std::string& model, const std::string& as) {
    fs::path to = dir_ / as;
    fs::copy_file(ModelsDir() + "/" + model, to, fs::copy_options::overwrite_existing);
    return to.string();
  }

  static ModelConfig Config(const std::string& name, const std::string& path) {
    ModelConfig c;
    c.name = name;
    c.path = path;
    c.parallel = 2;
    c.context_length = 512;
    c.threads = 1;
    c.batch_size = 64;
    c.max_queue = 256;
    return c;
  }

  static GenerateRequest Request(const std::string& model, int max_tokens) {
    GenerateRequest r;
    r.model = model;
    r.prompt = "Once upon a time";
    r.sampling.temperature = 0;
    r.sampling.max_tokens = max_tokens;
    return r;
  }

  // Waits until every removed or replaced model has unloaded.
  static bool WaitDrained(Engine& engine, std::chrono::milliseconds timeout = 30s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (engine.DrainingModels() > 0) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }

  fs::path dir_;
};

// Clients that submit to `model` until told to stop; every job must end normally.
struct Clients {
  Clients(Engine& engine, const std::string& model, int n) {
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([this, &engine, model] {
        while (!stop.load()) {
          auto sink = std::make_shared<WaitSink>();
          GenerateRequest r;
          r.model = model;
          r.prompt = "Once upon a time";
          r.sampling.temperature = 0;
          r.sampling.max_tokens = 8;
          auto id = engine.Submit(std::move(r), sink);
          if (!id.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            failures.push_back("submit: " + id.status().ToString());
            continue;
          }
          if (!sink->Wait() || !sink->status().ok() || sink->reason() != FinishReason::kLength) {
            std::lock_guard<std::mutex> lock(mu);
            failures.push_back("job: " + sink->status().ToString());
          }
          ok.fetch_add(1);
        }
      });
    }
  }
  void Stop() {
    stop = true;
    for (auto& t : threads) t.join();
    threads.clear();
  }
  ~Clients() {
    if (!threads.empty()) Stop();
  }
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
};

TEST_F(HotSwapTest, ReplaceUnderConcurrentSubmitsFailsNothing) {
  EngineOptions options;
  options.models.push_back(Config("m", Copy("stories260K.gguf", "a.gguf")));
  auto engine = Engine::Open(options);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  auto before = (*engine)->GetModelInfo("m");
  ASSERT_TRUE(before.ok());

  Clients clients(**engine, "m", 4);
  while (clients.ok.load() < 8) std::this_thread::sleep_for(5ms);
  // Another file with other weights under the same name.
  Status st = (*engine)->ReplaceModel(Config("m", Copy("llama-2-tiny-random.gguf", "b.gguf")));
  ASSERT_TRUE(st.ok()) << st.ToString();
  const int at_swap = clients.ok.load();
  while (clients.ok.load() < at_swap + 8) std::this_thread::sleep_for(5ms);
  // And back, while the first old runner may still drain.
  st = (*engine)->ReplaceModel(Config("m", Copy("stories260K.gguf", "c.gguf")));
  ASSERT_TRUE(st.ok()) << st.ToString();
  const int at_second = clients.ok.load();
  while (clients.ok.load() < at_second + 8) std::this_thread::sleep_for(5ms);
  clients.Stop();
  EXPECT_TRUE(clients.failures.empty()) << clients.failures.front();
  EXPECT_TRUE(WaitDrained(**engine));
  auto after = (*engine)->GetModelInfo("m");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->parameter_count, before->parameter_count);
  ASSERT_EQ((*engine)->Models().size(), 1u);
  EXPECT_EQ((*engine)->Models()[0].path, (dir_ / "c.gguf").string());
}

TEST_F(HotSwapTest, ReplacedModelServesTheNewFile) {
  EngineOptions options;
  options.models.push_back(Config("m", Copy("stories260K.gguf", "a.gguf")));
  auto engine = Engine::Open(options);
  ASSERT_TRUE(engine.ok());
  auto before = (*engine)->GetModelInfo("m");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(
      (*engine)->ReplaceModel(Config("m", Copy("llama-2-tiny-random.gguf", "b.gguf"))).ok());
  auto after = (*engine)->GetModelInfo("m");
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->parameter_count, before->parameter_count);
  EXPECT_TRUE(WaitDrained(**engine));
}

TEST_F(HotSwapTest, RemoveLetsRunningJobsFinishThenRefuses) {
  EngineOptions options;
  options.models.push_back(Config("keep", Copy("stories260K.gguf", "keep.gguf")));
  options.models.push_back(Config("gone", Copy("stories260K.gguf", "gone.gguf")));
  auto engine = Engine::Open(options);
  ASSERT_TRUE(engine.ok());
  Clients keep(**engine, "keep", 2);
  // Running and queued jobs on the model that goes away (2 slots, 6 jobs).
  std::vector<std::shared_ptr<WaitSink>> sinks;
  for (int i = 0; i < 6; ++i) {
    sinks.push_back(std::make_shared<WaitSink>());
    ASSERT_TRUE((*engine)->Submit(Request("gone", 48), sinks.back()).ok());
  }
  ASSERT_TRUE((*engine)->RemoveModel("gone").ok());
  EXPECT_EQ((*engine)->RemoveModel("gone").code(), StatusCode::kNotFound);
  for (auto& s : sinks) {
    ASSERT_TRUE(s->Wait());
    EXPECT_TRUE(s->status().ok()) << s->status().ToString();
    EXPECT_EQ(s->reason(), FinishReason::kLength);
  }
  EXPECT_TRUE(WaitDrained(**engine));
  auto refused = (*engine)->Submit(Request("gone", 4), std::make_shared<WaitSink>());
  EXPECT_EQ(refused.status().code(), StatusCode::kNotFound);
  keep.Stop();
  EXPECT_TRUE(keep.failures.empty()) << keep.failures.front();
  EXPECT_GT(keep.ok.load(), 0);
  // The name can come back.
  ASSERT_TRUE((*engine)->AddModel(Config("gone", (dir_ / "gone.gguf").string())).ok());
  auto sink = std::make_shared<WaitSink>();
  ASSERT_TRUE((*engine)->Submit(Request("gone", 4), sink).ok());
  ASSERT_TRUE(sink->Wait());
  EXPECT_TRUE(sink->status().ok());
}

TEST_F(HotSwapTest, CutReplacementKeepsTheOldModelServing) {
  EngineOptions options;
  options.models.push_back(Config("m", Copy("stories260K.gguf", "a.gguf")));
  auto engine = Engine::Open(options);
  ASSERT_TRUE(engine.ok());
  auto sink = std::make_shared<WaitSink>();
  ASSERT_TRUE((*engine)->Submit(Request("m", 8), sink).ok());
  ASSERT_TRUE(sink->Wait());
  const std::string expected = sink->text();

  const std::string cut = Copy("stories260K.gguf", "cut.gguf");
  fs::resize_file(cut, fs::file_size(cut) / 2);
  Status st = (*engine)->ReplaceModel(Config("m", cut));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("cut short"), std::string::npos) << st.message();
  const std::string junk = (dir_ / "junk.gguf").string();
  {
    std::FILE* f = std::fopen(junk.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("not a gguf file at all", f);
    std::fclose(f);
  }
  EXPECT_EQ((*engine)->ReplaceModel(Config("m", junk)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*engine)->ReplaceModel(Config("nope", cut)).code(), StatusCode::kNotFound);

  sink = std::make_shared<WaitSink>();
  ASSERT_TRUE((*engine)->Submit(Request("m", 8), sink).ok());
  ASSERT_TRUE(sink->Wait());
  EXPECT_EQ(sink->text(), expected);
  EXPECT_EQ((*engine)->DrainingModels(), 0);
}

TEST_F(HotSwapTest, MemoryLimitRefusesALoadThatDoesNotFit) {
  const std::string a = Copy("stories260K.gguf", "a.gguf");
  auto estimate = llm::EstimateModelMemory(Config("a", a));
  ASSERT_TRUE(estimate.ok()) << estimate.status().ToString();
  EXPECT_GT(estimate->weights, 0);
  EXPECT_LE(estimate->weights, static_cast<int64_t>(fs::file_size(a)));
  EXPECT_GT(estimate->kv_cache, 0);

  // Room for one copy of the model, not two.
  EngineOptions options;
  options.memory_limit_bytes = estimate->total() + estimate->total() / 2;
  options.models.push_back(Config("a", a));
  options.models.push_back(Config("b", Copy("stories260K.gguf", "b.gguf")));
  auto engine = Engine::Open(options);
  ASSERT_TRUE(engine.ok());
  auto sink = std::make_shared<WaitSink>();
  ASSERT_TRUE((*engine)->Submit(Request("a", 4), sink).ok());
  ASSERT_TRUE(sink->Wait());
  auto refused = (*engine)->Submit(Request("b", 4), std::make_shared<WaitSink>());
  ASSERT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("Not enough memory to load model 'b'"),
            std::string::npos)
      << refused.status().message();
  // Removing `a` frees its share: `b` loads once `a` has unloaded (refusals are not
  // remembered).
  ASSERT_TRUE((*engine)->RemoveModel("a").ok());
  ASSERT_TRUE(WaitDrained(**engine));
  sink = std::make_shared<WaitSink>();
  ASSERT_TRUE((*engine)->Submit(Request("b", 4), sink).ok());
  ASSERT_TRUE(sink->Wait());
  EXPECT_TRUE(sink->status().ok());
  // A replacement needs room beside the model it replaces.
  EXPECT_EQ((*engine)->ReplaceModel(Config("b", a)).code(), StatusCode::kUnavailable);
}

TEST_F(HotSwapTest, SystemMemoryIsReadable) {
  EXPECT_GT(llm::SystemAvailableMemory(), 0);
  EXPECT_EQ(llm::FormatBytes(3ll << 29), "1.5 GiB");
}

}  // namespace
}  // namespace basalt::engine
