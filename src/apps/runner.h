// Running an app (docs/apps.md): a run takes the widgets to run in waves (RunWaves /
// AffectedWaves, definition.h), runs the widgets of one wave at the same time on a bounded
// pool of threads, feeds each finished widget's text to the prompts of the later waves
// (Substitute), and reports every step as an event. A run can be stopped; a newer run by the
// same user of a widget of the same app supersedes the older run's work on that widget.
//
// The model call itself is the caller's (an Executor): the runner knows nothing of HTTP,
// metering or models, so it is tested with plain functions.
//
// Thread-safety: Runner and Run may be used from many threads at once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "apps/definition.h"
#include "common/status.h"

namespace basalt::apps {

// What one widget's run produced.
struct WidgetOutput {
  std::string status;  // "succeeded", "failed", "stopped", "superseded"
  std::string text;
  std::vector<std::string> images;  // base64 PNG
  std::string error_type;           // wire type, e.g. "ValidationException" ("" when none)
  std::string error_message;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t images_count = 0;
  int64_t cost_nanos = 0;  // exact (usage records' nano-units)
  double cost = 0;
};

// One step of a run, delivered in order for each widget (widget-start, deltas, image,
// widget-end), from the thread that runs the widget.
struct RunEvent {
  enum class Kind { kWidgetStart, kDelta, kImage, kWidgetEnd };
  Kind kind = Kind::kWidgetStart;
  std::string widget_id;
  std::string text;              // kDelta
  const WidgetOutput* output{};  // kImage, kWidgetEnd
};

// Handed to the executor for one widget.
class WidgetContext {
 public:
  // Reports generated text (a kDelta event).
  virtual void Delta(const std::string& text) = 0;
  // True once the widget was stopped or superseded.
  virtual bool stopped() const = 0;
  // Runs `callback` once when the widget is stopped or superseded (at once if it already
  // was), from the thread that stops it.
  virtual void OnStop(std::function<void()> callback) = 0;
  virtual ~WidgetContext() = default;
};

// Runs one widget: `prompt` has its references substituted. Returns the output; its status
// is set by the runner when it was stopped or superseded meanwhile, else from error_type
// ("failed" when set, "succeeded" otherwise).
using Executor = std::function<WidgetOutput(const Widget& widget, const std::string& prompt,
                                            WidgetContext& context)>;

struct RunPlan {
  std::string run_id;
  std::string app_id;
  std::string runner_key;  // who runs it (account and user): supersede and stop are per runner
  AppDefinition definition;
  std::vector<std::vector<std::string>> waves;  // widget ids
  std::map<std::string, std::string> values;    // known values by widget id (inputs)
};

class Runner;

class Run {
 public:
  const std::string& run_id() const { return plan_.run_id; }
  const std::string& app_id() const { return plan_.app_id; }
  const std::string& runner_key() const { return plan_.runner_key; }

  // Runs every wave and returns when every widget ended. Call once.
  void Execute();
  // Stops the run: running widgets are cancelled, the ones not started end "stopped".
  void Stop();
  bool stopped() const;

  // After Execute(): the outputs by widget id, and the run's status ("succeeded", "failed"
  // when a widget failed, "stopped", "superseded" when every widget was superseded).
  const std::map<std::string, WidgetOutput>& outputs() const { return outputs_; }
  std::string status() const;
  std::string first_error() const;

  ~Run();

 private:
  friend class Runner;
  struct Slot;  // one widget's state
  class Context;

  Run(Runner* runner, RunPlan plan, Executor executor,
      std::function<void(const RunEvent&)> on_event);
  void RunWidget(const std::string& widget_id);
  void Supersede(const std::string& widget_id);
  void End(const std::string& widget_id, WidgetOutput output);

  Runner* const runner_;
  const RunPlan plan_;
  const Executor executor_;
  const std::function<void(const RunEvent&)> on_event_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::map<std::string, std::shared_ptr<Slot>> slots_;
  std::map<std::string, std::string> values_;
  std::map<std::string, WidgetOutput> outputs_;
  int running_ = 0;
};

class Runner {
 public:
  // At most `max_threads` widgets run at once over all runs; more wait their turn.
  explicit Runner(int max_threads = 16);
  ~Runner();  // waits for the widgets in flight

  // Registers a run: the widgets it will run are taken from any older run of the same app by
  // the same runner (those end "superseded"). Execute() it on the calling thread.
  std::shared_ptr<Run> Start(RunPlan plan, Executor executor,
                             std::function<void(const RunEvent&)> on_event);
  // Stops a run in flight; kNotFound when no run `run_id` of `runner_key` is in flight.
  Status Stop(const std::string& run_id, const std::string& runner_key);
  // The run in flight with that id, or null.
  std::shared_ptr<Run> Find(const std::string& run_id);

  int threads_for_test();

 private:
  friend class Run;
  void Submit(std::function<void()> task);
  void Finished(Run* run, const std::string& widget_id);  // a widget ended
  void Forget(Run* run);                                  // the run ended
  void WorkerLoop();

  const int max_threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  int idle_ = 0;
  bool shutting_down_ = false;
  std::map<std::string, std::weak_ptr<Run>> runs_;  // by run id
  // (app id, runner key, widget id) -> the run that owns that widget now.
  std::map<std::string, std::weak_ptr<Run>> owners_;
};

}  // namespace basalt::apps
