// The image engine on a tiny SD-Turbo model (64x64, one step: milliseconds a job): lazy load
// shared by concurrent callers and retried after a failure, round-robin fairness across
// accounts, a full queue, cancellation while queued and while running, unknown models.
//
// A "holder" request keeps the model busy: its cancelled() callback (polled before each step)
// blocks until the test lets it go, so requests submitted meanwhile queue up.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "image/image.h"
#include "image/pipeline.h"
#include "image/pipeline_test_util.h"

namespace basalt::image {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string TurboModel() {
  static const std::string path = [] {
    const std::string out = testing::TempDir("engine") + "/turbo";
    fs::remove_all(out);
    return testing::MakeRandomModel("sd-turbo", "diffusers", out, 3);
  }();
  return path;
}

ImageEngineOptions Options(const std::string& path, int max_queue = 16) {
  ImageEngineOptions o;
  ImageModelConfig m;
  m.name = "turbo";
  m.path = path;
  o.models.push_back(m);
  o.threads = 1;
  o.max_queue = max_queue;
  o.dtype = "f32";
  return o;
}

ImageRequest Req(const std::string& account, uint64_t seed = 1) {
  ImageRequest r;
  r.model = "turbo";
  r.prompt = "a cat";
  r.width = 64;
  r.height = 64;
  r.seed = seed;
  r.account = account;
  return r;
}

// Blocks the request that carries it at its first step until Release().
class Holder {
 public:
  std::function<bool()> Callback() {
    return [this] {
      std::unique_lock lock(mu_);
      started_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
      return false;
    };
  }
  void WaitStarted() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return started_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false, released_ = false;
};

TEST(ImageEngineTest, UnknownModelIsNotFound) {
  auto engine = ImageEngine::Create(Options("/nonexistent"));
  EXPECT_TRUE(engine->available());
  ImageRequest r = Req("a");
  r.model = "nope";
  EXPECT_EQ(engine->Generate(r).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(engine->Load("nope").code(), StatusCode::kNotFound);
  EXPECT_EQ(engine->Describe("nope").status().code(), StatusCode::kNotFound);
}

TEST(ImageEngineTest, DescribeReadsConfigsOnlyAndLoadIsSharedOnce) {
  const std::string model = TurboModel();
  ASSERT_FALSE(model.empty());
  std::atomic<int> loads{0};
  auto engine = CreateTorchImageEngine(Options(model), [&](const std::string&) {
    ++loads;
    std::this_thread::sleep_for(300ms);  // concurrent callers arrive while it loads
  });
  auto info = engine->Describe("turbo");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->variant, "sd-turbo");
  EXPECT_EQ(info->default_steps, 1);
  EXPECT_EQ(info->default_sampler, "euler_a");
  EXPECT_EQ(info->default_cfg_scale, 0);
  EXPECT_EQ(loads, 0);

  std::vector<std::future<StatusOr<ImageResult>>> results;
  for (int i = 0; i < 3; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      return engine->Generate(Req("a", static_cast<uint64_t>(i)));
    }));
  }
  for (auto& f : results) {
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->png.size(), 1u);
    EXPECT_GT(r->seconds, 0);
  }
  EXPECT_EQ(loads, 1);
  EXPECT_TRUE(engine->Load("turbo").ok());
  EXPECT_EQ(loads, 1);
}

TEST(ImageEngineTest, FailedLoadIsReportedToEachWaiterAndRetried) {
  const std::string good = TurboModel();
  ASSERT_FALSE(good.empty());
  const std::string dir = testing::TempDir("engine") + "/retry";
  fs::remove_all(dir);
  fs::copy(good, dir, fs::copy_options::recursive);
  const std::string unet = dir + "/unet/diffusion_pytorch_model.safetensors";
  fs::rename(unet, unet + ".away");
  std::atomic<int> loads{0};
  auto engine = CreateTorchImageEngine(Options(dir), [&](const std::string&) {
    ++loads;
    std::this_thread::sleep_for(300ms);
  });
  auto a = std::async(std::launch::async, [&] { return engine->Generate(Req("a")); });
  auto b = std::async(std::launch::async, [&] { return engine->Generate(Req("b")); });
  const Status sa = a.get().status(), sb = b.get().status();
  EXPECT_EQ(sa.code(), StatusCode::kFailedPrecondition) << sa.ToString();
  EXPECT_EQ(sb.code(), StatusCode::kFailedPrecondition) << sb.ToString();
  EXPECT_EQ(sa.message(), sb.message());
  EXPECT_EQ(loads, 1);
  fs::rename(unet + ".away", unet);  // repaired: the next request loads again
  auto c = engine->Generate(Req("a"));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(loads, 2);
}

// Runs `r` on its own thread, noting when it was submitted.
struct Submitted {
  std::string name;
  Clock::time_point at;
  std::future<StatusOr<ImageResult>> result;
};

Submitted Submit(ImageEngine* engine, const std::string& name, ImageRequest r) {
  Submitted s;
  s.name = name;
  s.at = Clock::now();
  s.result = std::async(std::launch::async, [engine, r] { return engine->Generate(r); });
  std::this_thread::sleep_for(100ms);  // a definite arrival order
  return s;
}

TEST(ImageEngineTest, RoundRobinAcrossAccounts) {
  const std::string model = TurboModel();
  ASSERT_FALSE(model.empty());
  auto engine = ImageEngine::Create(Options(model));
  ASSERT_TRUE(engine->Load("turbo").ok());
  Holder holder;
  ImageRequest hold = Req("h");
  hold.cancelled = holder.Callback();
  auto held = std::async(std::launch::async, [&] { return engine->Generate(hold); });
  holder.WaitStarted();

  std::vector<Submitted> subs;
  for (const std::string name : {"A1", "A2", "A3", "B1"}) {
    subs.push_back(Submit(engine.get(), name, Req(name.substr(0, 1))));
  }
  holder.Release();
  ASSERT_TRUE(held.get().ok());
  // Jobs run one at a time: the moment each got its turn (submission + queue wait) orders them.
  std::vector<std::pair<double, std::string>> started;
  for (Submitted& s : subs) {
    auto r = s.result.get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_GT(r->queue_seconds, 0);
    started.emplace_back(
        std::chrono::duration<double>(s.at.time_since_epoch()).count() + r->queue_seconds, s.name);
  }
  std::sort(started.begin(), started.end());
  std::vector<std::string> order;
  for (auto& [t, name] : started) order.push_back(name);
  EXPECT_EQ(order, (std::vector<std::string>{"A1", "B1", "A2", "A3"}));
}

TEST(ImageEngineTest, FullQueueIsResourceExhausted) {
  const std::string model = TurboModel();
  ASSERT_FALSE(model.empty());
  auto engine = ImageEngine::Create(Options(model, /*max_queue=*/2));
  ASSERT_TRUE(engine->Load("turbo").ok());
  Holder holder;
  ImageRequest hold = Req("h");
  hold.cancelled = holder.Callback();
  auto held = std::async(std::launch::async, [&] { return engine->Generate(hold); });
  holder.WaitStarted();
  Submitted q1 = Submit(engine.get(), "q1", Req("a"));
  Submitted q2 = Submit(engine.get(), "q2", Req("b"));
  auto full = engine->Generate(Req("c"));
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted) << full.status().ToString();
  holder.Release();
  EXPECT_TRUE(held.get().ok());
  EXPECT_TRUE(q1.result.get().ok());
  EXPECT_TRUE(q2.result.get().ok());
  EXPECT_TRUE(engine->Generate(Req("c")).ok());  // room again
}

TEST(ImageEngineTest, CancelWhileQueuedLeavesTheQueue) {
  const std::string model = TurboModel();
  ASSERT_FALSE(model.empty());
  auto engine = ImageEngine::Create(Options(model, /*max_queue=*/1));
  ASSERT_TRUE(engine->Load("turbo").ok());
  Holder holder;
  ImageRequest hold = Req("h");
  hold.cancelled = holder.Callback();
  auto held = std::async(std::launch::async, [&] { return engine->Generate(hold); });
  holder.WaitStarted();
  auto gone = std::make_shared<std::atomic<bool>>(false);
  ImageRequest q = Req("a");
  q.cancelled = [gone] { return gone->load(); };
  Submitted s = Submit(engine.get(), "q", q);
  EXPECT_EQ(engine->Generate(Req("b")).status().code(), StatusCode::kResourceExhausted);
  gone->store(true);
  // It leaves while the holder still runs.
  EXPECT_EQ(s.result.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(s.result.get().status().code(), StatusCode::kCancelled);
  // Its place in the queue is free again.
  Submitted next = Submit(engine.get(), "next", Req("b"));
  holder.Release();
  EXPECT_TRUE(held.get().ok());
  EXPECT_TRUE(next.result.get().ok());
}

TEST(ImageEngineTest, CancelWhileRunningStopsAtTheNextStep) {
  const std::string model = TurboModel();
  ASSERT_FALSE(model.empty());
  auto engine = ImageEngine::Create(Options(model));
  ImageRequest r = Req("a");
  r.steps = 20;
  auto polls = std::make_shared<std::atomic<int>>(0);
  r.cancelled = [polls] { return ++*polls > 3; };  // steps 0..2 run, then the client is gone
  auto result = engine->Generate(r);
  EXPECT_EQ(result.status().code(), StatusCode::kCancelled) << result.status().ToString();
  EXPECT_EQ(polls->load(), 4);
  EXPECT_TRUE(engine->Generate(Req("a")).ok());  // the model is free again
}

TEST(ImageEngineTest, BadRequestsAndBrokenModels) {
  const std::string model = TurboModel();
  ASSERT_FALSE(model.empty());
  ImageEngineOptions o = Options(model);
  ImageModelConfig broken;
  broken.name = "broken";
  broken.path = testing::TempDir("engine") + "/no-such-model";
  o.models.push_back(broken);
  std::atomic<int> loads{0};
  auto engine = CreateTorchImageEngine(o, [&](const std::string&) { ++loads; });
  ImageRequest r = Req("a");
  r.width = 100;
  EXPECT_EQ(engine->Generate(r).status().code(), StatusCode::kInvalidArgument);
  r = Req("a");
  r.count = 6;
  EXPECT_EQ(engine->Generate(r).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(loads, 0);  // refused before loading anything
  r = Req("a");
  r.model = "broken";
  const Status st = engine->Generate(r).status();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no-such-model"), std::string::npos) << st.ToString();
  EXPECT_TRUE(engine->Generate(Req("a")).ok());  // one model's failure does not block another
}

}  // namespace
}  // namespace basalt::image
