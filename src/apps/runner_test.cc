#include "apps/runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace basalt::apps {
namespace {

using namespace std::chrono_literals;

Widget Gen(const std::string& id, const std::string& title, const std::string& prompt) {
  Widget w;
  w.id = id;
  w.type = kTextGeneration;
  w.title = title;
  w.prompt = prompt;
  return w;
}

// Input "Topic"; A = "a:@Topic", B = "b:@Topic" (independent); C = "c:@A" (after A).
AppDefinition Def() {
  AppDefinition d;
  d.title = "t";
  Widget in;
  in.id = "w0";
  in.type = kUserInput;
  in.title = "Topic";
  d.widgets = {in, Gen("wa", "A", "a:@Topic"), Gen("wb", "B", "b:@Topic"), Gen("wc", "C", "c:@A")};
  return d;
}

RunPlan Plan(const std::string& id, std::vector<std::vector<std::string>> waves) {
  RunPlan p;
  p.run_id = id;
  p.app_id = "app-1";
  p.runner_key = "acct/user";
  p.definition = Def();
  p.waves = std::move(waves);
  p.values = {{"w0", "cats"}};
  return p;
}

// Records events in order (thread-safe).
struct Log {
  std::mutex mu;
  std::vector<std::string> events;
  void operator()(const RunEvent& e) {
    std::lock_guard lock(mu);
    switch (e.kind) {
      case RunEvent::Kind::kWidgetStart:
        events.push_back("start " + e.widget_id);
        break;
      case RunEvent::Kind::kDelta:
        events.push_back("delta " + e.widget_id + " " + e.text);
        break;
      case RunEvent::Kind::kImage:
        events.push_back("image " + e.widget_id);
        break;
      case RunEvent::Kind::kWidgetEnd:
        events.push_back("end " + e.widget_id + " " + e.output->status);
        break;
    }
  }
  size_t Index(const std::string& s) {
    std::lock_guard lock(mu);
    for (size_t i = 0; i < events.size(); ++i) {
      if (events[i] == s) return i;
    }
    return SIZE_MAX;
  }
};

// Echoes the prompt upper-cased after waiting `delay` (or until stopped).
Executor Echo(std::chrono::milliseconds delay) {
  return [delay](const Widget&, const std::string& prompt, WidgetContext& ctx) {
    auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until && !ctx.stopped()) {
      std::this_thread::sleep_for(2ms);
    }
    WidgetOutput out;
    out.text = "[" + prompt + "]";
    ctx.Delta(out.text);
    out.output_tokens = static_cast<int64_t>(prompt.size());
    return out;
  };
}

TEST(RunnerTest, WavesFeedDependentsAndRunIndependentWidgetsTogether) {
  Runner runner(4);
  Log log;
  auto run = runner.Start(Plan("run-1", {{"wa", "wb"}, {"wc"}}), Echo(100ms), std::ref(log));
  run->Execute();
  EXPECT_EQ(run->status(), "succeeded");
  EXPECT_EQ(run->outputs().at("wa").text, "[a:cats]");
  EXPECT_EQ(run->outputs().at("wc").text, "[c:[a:cats]]");
  // Both of the first wave start before either ends; C starts after A ended.
  EXPECT_LT(log.Index("start wa"), log.Index("end wb succeeded"));
  EXPECT_LT(log.Index("start wb"), log.Index("end wa succeeded"));
  EXPECT_LT(log.Index("end wa succeeded"), log.Index("start wc"));
  EXPECT_EQ(runner.Find("run-1"), nullptr);  // forgotten once done
}

TEST(RunnerTest, StopEndsRunningAndPendingWidgets) {
  Runner runner(2);
  Log log;
  std::atomic<bool> started{false};
  auto exec = [&](const Widget& w, const std::string& p, WidgetContext& ctx) {
    started = true;
    return Echo(10s)(w, p, ctx);
  };
  auto run = runner.Start(Plan("run-2", {{"wa"}, {"wc"}}), exec, std::ref(log));
  std::thread t([&] { run->Execute(); });
  while (!started) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(runner.Stop("run-2", "someone/else").ok());  // only the runner stops it
  EXPECT_TRUE(runner.Stop("run-2", "acct/user").ok());
  t.join();
  EXPECT_EQ(run->status(), "stopped");
  EXPECT_EQ(run->outputs().at("wa").status, "stopped");
  EXPECT_EQ(run->outputs().at("wa").output_tokens, 6);  // what was produced is kept
  EXPECT_EQ(run->outputs().at("wc").status, "stopped");
  EXPECT_EQ(log.Index("start wc"), SIZE_MAX);
  EXPECT_FALSE(runner.Stop("run-2", "acct/user").ok());  // no longer in flight
}

TEST(RunnerTest, NewerRunSupersedesTheOlderRunsWidget) {
  Runner runner(4);
  Log log1, log2;
  std::atomic<int> started{0};
  auto exec = [&](const Widget& w, const std::string& p, WidgetContext& ctx) {
    ++started;
    return Echo(w.id == "wa" ? 10s : 50ms)(w, p, ctx);
  };
  auto older = runner.Start(Plan("run-3", {{"wa", "wb"}}), exec, std::ref(log1));
  std::thread t([&] { older->Execute(); });
  while (started < 2) std::this_thread::sleep_for(1ms);
  auto newer = runner.Start(Plan("run-4", {{"wa"}}), Echo(10ms), std::ref(log2));
  newer->Execute();
  t.join();
  EXPECT_EQ(older->outputs().at("wa").status, "superseded");
  EXPECT_EQ(older->outputs().at("wb").status, "succeeded");
  EXPECT_EQ(older->status(), "superseded");
  EXPECT_EQ(newer->outputs().at("wa").status, "succeeded");
  // Another runner's run of the same widget is not superseded by this one.
  auto other = Plan("run-5", {{"wa"}});
  other.runner_key = "acct/other";
  auto run5 = runner.Start(other, Echo(10ms), [](const RunEvent&) {});
  run5->Execute();
  EXPECT_EQ(run5->status(), "succeeded");
}

TEST(RunnerTest, FailureSkipsDependentsAndBoundsThreads) {
  Runner runner(2);
  Log log;
  std::atomic<int> concurrent{0}, peak{0};
  auto exec = [&](const Widget& w, const std::string&, WidgetContext&) {
    int now = ++concurrent;
    int p = peak;
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::sleep_for(20ms);
    --concurrent;
    WidgetOutput out;
    if (w.id == "wa") {
      out.error_type = "ThrottlingException";
      out.error_message = "Too many requests, please wait before trying again.";
    }
    return out;
  };
  // Eight runs of B at once on two threads (distinct runners: no supersede).
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto plan = Plan("run-b" + std::to_string(i), {{"wb"}});
      plan.runner_key = "user" + std::to_string(i);
      auto run = runner.Start(plan, exec, [](const RunEvent&) {});
      run->Execute();
      EXPECT_EQ(run->status(), "succeeded");
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), 2);
  EXPECT_LE(runner.threads_for_test(), 2);

  auto run = runner.Start(Plan("run-6", {{"wa"}, {"wc"}}), exec, std::ref(log));
  run->Execute();
  EXPECT_EQ(run->status(), "failed");
  EXPECT_EQ(run->outputs().at("wa").error_type, "ThrottlingException");
  EXPECT_EQ(run->outputs().at("wc").status, "failed");
  EXPECT_NE(run->outputs().at("wc").error_message.find("'A'"), std::string::npos);
  EXPECT_EQ(run->first_error(), "Too many requests, please wait before trying again.");
}

}  // namespace
}  // namespace basalt::apps
