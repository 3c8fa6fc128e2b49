#include "apps/runner.h"

#include <exception>
#include <utility>

namespace basalt::apps {

namespace {

std::string OwnerKey(const std::string& app_id, const std::string& runner_key,
                     const std::string& widget_id) {
  return app_id + '\n' + runner_key + '\n' + widget_id;
}

}  // namespace

struct Run::Slot {
  enum class State { kPending, kRunning, kDone };
  State state = State::kPending;
  bool superseded = false;
  bool stop_fired = false;
  std::vector<std::function<void()>> on_stop;
};

class Run::Context : public WidgetContext {
 public:
  Context(Run* run, std::string widget_id, std::shared_ptr<Slot> slot)
      : run_(run), widget_id_(std::move(widget_id)), slot_(std::move(slot)) {}
  void Delta(const std::string& text) override {
    if (text.empty()) return;
    RunEvent e;
    e.kind = RunEvent::Kind::kDelta;
    e.widget_id = widget_id_;
    e.text = text;
    run_->on_event_(e);
  }
  bool stopped() const override {
    std::lock_guard lock(run_->mu_);
    return slot_->stop_fired;
  }
  void OnStop(std::function<void()> callback) override {
    {
      std::lock_guard lock(run_->mu_);
      if (!slot_->stop_fired) {
        slot_->on_stop.push_back(std::move(callback));
        return;
      }
    }
    callback();
  }

 private:
  Run* const run_;
  const std::string widget_id_;
  const std::shared_ptr<Slot> slot_;
};

Run::Run(Runner* runner, RunPlan plan, Executor executor,
         std::function<void(const RunEvent&)> on_event)
    : runner_(runner),
      plan_(std::move(plan)),
      executor_(std::move(executor)),
      on_event_(std::move(on_event)),
      values_(plan_.values) {
  for (const auto& wave : plan_.waves) {
    for (const auto& id : wave) slots_[id] = std::make_shared<Slot>();
  }
}

Run::~Run() = default;

bool Run::stopped() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

// Marks the slot stopped and takes its callbacks (to run outside the lock).
static std::vector<std::function<void()>> FireLocked(std::vector<std::function<void()>>& cbs,
                                                     bool& fired) {
  std::vector<std::function<void()>> out;
  if (fired) return out;
  fired = true;
  out.swap(cbs);
  return out;
}

void Run::Stop() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    for (auto& [id, slot] : slots_) {
      if (slot->state == Slot::State::kDone) continue;
      auto cbs = FireLocked(slot->on_stop, slot->stop_fired);
      for (auto& cb : cbs) callbacks.push_back(std::move(cb));
    }
  }
  for (auto& cb : callbacks) cb();
}

void Run::Supersede(const std::string& widget_id) {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mu_);
    auto it = slots_.find(widget_id);
    if (it == slots_.end() || it->second->state == Slot::State::kDone) return;
    it->second->superseded = true;
    callbacks = FireLocked(it->second->on_stop, it->second->stop_fired);
  }
  for (auto& cb : callbacks) cb();
}

void Run::End(const std::string& widget_id, WidgetOutput output) {
  const WidgetOutput* stored = nullptr;
  {
    std::lock_guard lock(mu_);
    auto& slot = slots_.at(widget_id);
    if (output.status.empty()) {
      if (slot->superseded) {
        output.status = "superseded";
      } else if (slot->stop_fired || (stopped_ && slot->state == Slot::State::kPending)) {
        output.status = "stopped";
      } else {
        output.status = output.error_type.empty() ? "succeeded" : "failed";
      }
    }
    if (output.status == "succeeded") values_[widget_id] = output.text;
    slot->state = Slot::State::kDone;
    slot->on_stop.clear();
    auto [it, inserted] = outputs_.insert_or_assign(widget_id, std::move(output));
    stored = &it->second;
  }
  if (!stored->images.empty()) {
    RunEvent e;
    e.kind = RunEvent::Kind::kImage;
    e.widget_id = widget_id;
    e.output = stored;
    on_event_(e);
  }
  RunEvent e;
  e.kind = RunEvent::Kind::kWidgetEnd;
  e.widget_id = widget_id;
  e.output = stored;
  on_event_(e);
  runner_->Finished(this, widget_id);
}

void Run::RunWidget(const std::string& widget_id) {
  const Widget* widget = nullptr;
  for (const auto& w : plan_.definition.widgets) {
    if (w.id == widget_id) widget = &w;
  }
  std::shared_ptr<Slot> slot;
  std::string prompt;
  bool skip = false;
  {
    std::lock_guard lock(mu_);
    slot = slots_.at(widget_id);
    skip = stopped_ || slot->stop_fired || widget == nullptr;
    if (!skip) {
      slot->state = Slot::State::kRunning;
      prompt = Substitute(widget->prompt, plan_.definition, values_);
    }
  }
  if (skip) {
    WidgetOutput out;
    if (widget == nullptr) {
      out.error_type = "ValidationException";
      out.error_message = "The app has no widget " + widget_id + ".";
    }
    End(widget_id, std::move(out));
  } else {
    RunEvent start;
    start.kind = RunEvent::Kind::kWidgetStart;
    start.widget_id = widget_id;
    on_event_(start);
    Context context(this, widget_id, slot);
    WidgetOutput out;
    try {
      out = executor_(*widget, prompt, context);
    } catch (const std::exception& e) {
      out = WidgetOutput();
      out.error_type = "InternalServerException";
      out.error_message = std::string("The widget failed: ") + e.what();
    }
    out.status.clear();
    End(widget_id, std::move(out));
  }
  std::lock_guard lock(mu_);
  --running_;
  cv_.notify_all();  // under the lock: Execute() may return (and the run go) right after
}

void Run::Execute() {
  const auto deps = Dependencies(plan_.definition);
  for (const auto& wave : plan_.waves) {
    for (const auto& id : wave) {
      // A widget whose dependency in this run did not succeed does not run.
      WidgetOutput skipped;
      bool skip = false;
      {
        std::lock_guard lock(mu_);
        auto d = deps.find(id);
        if (d != deps.end()) {
          for (const auto& dep : d->second) {
            auto out = outputs_.find(dep);
            if (!slots_.count(dep) || out == outputs_.end() || out->second.status == "succeeded") {
              continue;
            }
            skip = true;
            if (out->second.status == "failed") {
              std::string title = dep;
              for (const auto& w : plan_.definition.widgets) {
                if (w.id == dep) title = w.title;
              }
              skipped.status = "failed";
              skipped.error_type = "ValidationException";
              skipped.error_message =
                  "The widget '" + title + "' that this widget refers to failed.";
            } else {
              skipped.status = slots_.at(id)->superseded ? "superseded" : out->second.status;
            }
            break;
          }
        }
        if (!skip) ++running_;
      }
      if (skip) {
        End(id, std::move(skipped));
      } else {
        runner_->Submit([this, id] { RunWidget(id); });
      }
    }
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return running_ == 0; });
  }
  runner_->Forget(this);
}

std::string Run::status() const {
  std::lock_guard lock(mu_);
  if (stopped_) return "stopped";
  bool superseded = false;
  for (const auto& [id, out] : outputs_) {
    if (out.status == "failed") return "failed";
    if (out.status == "stopped") return "stopped";
    superseded = superseded || out.status == "superseded";
  }
  return superseded ? "superseded" : "succeeded";
}

std::string Run::first_error() const {
  std::lock_guard lock(mu_);
  for (const auto& wave : plan_.waves) {
    for (const auto& id : wave) {
      auto it = outputs_.find(id);
      if (it != outputs_.end() && !it->second.error_message.empty()) {
        return it->second.error_message;
      }
    }
  }
  return "";
}

Runner::Runner(int max_threads) : max_threads_(max_threads < 1 ? 1 : max_threads) {}

Runner::~Runner() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

std::shared_ptr<Run> Runner::Start(RunPlan plan, Executor executor,
                                   std::function<void(const RunEvent&)> on_event) {
  std::shared_ptr<Run> run(
      new Run(this, std::move(plan), std::move(executor), std::move(on_event)));
  std::vector<std::pair<std::shared_ptr<Run>, std::string>> older;
  {
    std::lock_guard lock(mu_);
    runs_[run->run_id()] = run;
    for (const auto& wave : run->plan_.waves) {
      for (const auto& id : wave) {
        auto& owner = owners_[OwnerKey(run->app_id(), run->runner_key(), id)];
        if (auto previous = owner.lock(); previous && previous != run) {
          older.emplace_back(std::move(previous), id);
        }
        owner = run;
      }
    }
  }
  for (auto& [previous, id] : older) previous->Supersede(id);
  return run;
}

Status Runner::Stop(const std::string& run_id, const std::string& runner_key) {
  std::shared_ptr<Run> run;
  {
    std::lock_guard lock(mu_);
    auto it = runs_.find(run_id);
    if (it != runs_.end()) run = it->second.lock();
  }
  if (!run || run->runner_key() != runner_key) {
    return Status::NotFound("No run " + run_id + " of yours is in progress.");
  }
  run->Stop();
  return Status::Ok();
}

std::shared_ptr<Run> Runner::Find(const std::string& run_id) {
  std::lock_guard lock(mu_);
  auto it = runs_.find(run_id);
  return it == runs_.end() ? nullptr : it->second.lock();
}

int Runner::threads_for_test() {
  std::lock_guard lock(mu_);
  return static_cast<int>(threads_.size());
}

void Runner::Submit(std::function<void()> task) {
  std::lock_guard lock(mu_);
  queue_.push_back(std::move(task));
  if (static_cast<int>(queue_.size()) > idle_ && static_cast<int>(threads_.size()) < max_threads_) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
  cv_.notify_one();
}

void Runner::WorkerLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lock, [&] { return shutting_down_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // shutting down with nothing left
    auto task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

void Runner::Finished(Run* run, const std::string& widget_id) {
  std::lock_guard lock(mu_);
  auto it = owners_.find(OwnerKey(run->app_id(), run->runner_key(), widget_id));
  if (it != owners_.end()) {
    auto owner = it->second.lock();
    if (!owner || owner.get() == run) owners_.erase(it);
  }
}

void Runner::Forget(Run* run) {
  std::lock_guard lock(mu_);
  auto it = runs_.find(run->run_id());
  if (it != runs_.end()) {
    auto current = it->second.lock();
    if (!current || current.get() == run) runs_.erase(it);
  }
}

}  // namespace basalt::apps
