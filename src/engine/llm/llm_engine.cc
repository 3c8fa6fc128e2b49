// Engine implementation: a set of named models, each loaded on first use into a ModelRunner
// (its own context and scheduler thread).
//
// Models change while requests run. The name index is an immutable snapshot swapped whole,
// so lookups stay lock-free; it holds each model's Entry by shared_ptr, and a request holds
// its Entry (and so its runner) while it uses it. A removed or replaced Entry moves to the
// draining list: for a short grace period it still takes requests that found its catalog
// entry just before the change, then the reaper thread waits until nothing references it and
// its runner has no queued or running job, and destroys it (which unloads the model).
//
// Memory is checked before every load (memory_budget.h): the estimate of the new model
// against the configured limit minus the models already loaded, or against what the system
// has. A refusal is kUnavailable and is not remembered (memory may free up later).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "engine/llm/embed_runner.h"
#include "engine/llm/memory_budget.h"
#include "engine/llm/model_runner.h"

namespace basalt::engine {
namespace {

using Clock = std::chrono::steady_clock;

// How long a removed model still takes requests that resolved it just before the change.
constexpr auto kRemoveGrace = std::chrono::seconds(2);
constexpr auto kReapInterval = std::chrono::milliseconds(50);

Status CheckConfig(const ModelConfig& config);

class LlmEngine final : public Engine {
 public:
  struct Entry {
    ModelConfig config;
    std::mutex load_mu;
    bool attempted = false;  // guarded by load_mu
    Status load_status;      // guarded by load_mu
    std::unique_ptr<llm::ModelRunner> runner;
    std::atomic<llm::ModelRunner*> ready{nullptr};  // set once loaded; read lock-free
    int64_t reserved_bytes = 0;  // memory estimate counted in loaded_bytes_; under budget_mu_
  };
  using EntryPtr = std::shared_ptr<Entry>;
  using Index = std::map<std::string, EntryPtr>;

  // A runner that a request is using: the Entry keeps it alive.
  struct Ref {
    EntryPtr entry;
    llm::ModelRunner* runner = nullptr;
  };

  LlmEngine(std::vector<EntryPtr> entries, int64_t memory_limit) : memory_limit_(memory_limit) {
    auto index = std::make_shared<Index>();
    for (auto& e : entries) (*index)[e->config.name] = e;
    index_.store(std::move(index));
    reaper_ = std::thread([this] { Reap(); });
  }

  ~LlmEngine() override {
    {
      std::lock_guard<std::mutex> lock(draining_mu_);
      stop_ = true;
    }
    draining_cv_.notify_all();
    reaper_.join();
    // Runners stop their threads (and end their jobs) before the entries go away.
    std::shared_ptr<const Index> index = index_.load();
    for (const auto& [name, entry] : *index) Unload(*entry);
    for (const auto& d : draining_) Unload(*d.entry);
  }

  Status AddModel(const ModelConfig& config) override {
    BASALT_RETURN_IF_ERROR(CheckConfig(config));
    // A file still being copied, cut short or not a GGUF model is refused now, not on the
    // first request.
    if (StatusOr<llm::MemoryEstimate> e = llm::EstimateModelMemory(config); !e.ok()) {
      return e.status();
    }
    std::lock_guard<std::mutex> lock(change_mu_);
    std::shared_ptr<const Index> old = index_.load();
    if (old->count(config.name) != 0) {
      return Status::AlreadyExists("Model '" + config.name + "' is already served.");
    }
    auto entry = std::make_shared<Entry>();
    entry->config = config;
    auto next = std::make_shared<Index>(*old);
    (*next)[config.name] = std::move(entry);
    index_.store(std::move(next));
    return Status::Ok();
  }

  Status ReplaceModel(const ModelConfig& config) override {
    BASALT_RETURN_IF_ERROR(CheckConfig(config));
    std::lock_guard<std::mutex> lock(change_mu_);
    std::shared_ptr<const Index> old = index_.load();
    auto it = old->find(config.name);
    if (it == old->end()) return Status::NotFound("Unknown model '" + config.name + "'.");
    // A cut or foreign file is refused before anything changes.
    StatusOr<llm::MemoryEstimate> estimate = llm::EstimateModelMemory(config);
    if (!estimate.ok()) return estimate.status();
    auto entry = std::make_shared<Entry>();
    entry->config = config;
    // The old one serves until the new one is ready.
    if (it->second->ready.load(std::memory_order_acquire) != nullptr) {
      StatusOr<Ref> loaded = Load(entry);
      if (!loaded.ok()) return loaded.status();
    }
    auto next = std::make_shared<Index>(*old);
    (*next)[config.name] = entry;
    index_.store(std::move(next));
    Retire(it->second, /*grace=*/false);
    spdlog::info("model '{}' replaced by {}; the old one drains, then unloads", config.name,
                 config.path);
    return Status::Ok();
  }

  Status RemoveModel(const std::string& name) override {
    std::lock_guard<std::mutex> lock(change_mu_);
    std::shared_ptr<const Index> old = index_.load();
    auto it = old->find(name);
    if (it == old->end()) return Status::NotFound("Unknown model '" + name + "'.");
    EntryPtr entry = it->second;
    auto next = std::make_shared<Index>(*old);
    next->erase(name);
    index_.store(std::move(next));
    Retire(std::move(entry), /*grace=*/true);
    spdlog::info("model '{}' removed; it drains, then unloads", name);
    return Status::Ok();
  }

  int DrainingModels() override {
    std::lock_guard<std::mutex> lock(draining_mu_);
    return static_cast<int>(draining_.size()) + unloading_;
  }

  std::vector<ModelConfig> Models() override {
    std::shared_ptr<const Index> index = index_.load();
    std::vector<ModelConfig> out;
    for (const auto& [name, entry] : *index) out.push_back(entry->config);
    return out;
  }

  StatusOr<JobId> Submit(GenerateRequest request, std::shared_ptr<Sink> sink,
                         int* prompt_tokens) override {
    if (sink == nullptr) return Status::InvalidArgument("No sink given.");
    StatusOr<Ref> ref = Get(request.model);
    if (!ref.ok()) return ref.status();
    const JobId id = next_id_.fetch_add(1, std::memory_order_relaxed);
    Status status = ref->runner->Submit(id, std::move(request), std::move(sink), prompt_tokens);
    if (!status.ok()) return status;
    return id;
  }

  void Cancel(JobId id) override {
    std::shared_ptr<const Index> index = index_.load();
    for (const auto& [name, entry] : *index) {
      llm::ModelRunner* runner = entry->ready.load(std::memory_order_acquire);
      if (runner != nullptr && runner->Cancel(id)) return;
    }
    // A job of a model being removed or replaced.
    std::lock_guard<std::mutex> lock(draining_mu_);
    for (const auto& d : draining_) {
      llm::ModelRunner* runner = d.entry->ready.load(std::memory_order_acquire);
      if (runner != nullptr && runner->Cancel(id)) return;
    }
  }

  StatusOr<int> CountTokens(const std::string& model, const std::string& text,
                            bool add_special) override {
    StatusOr<Ref> ref = Get(model);
    if (!ref.ok()) return ref.status();
    return ref->runner->CountTokens(text, add_special);
  }

  StatusOr<std::string> FormatChat(const std::string& model,
                                   const std::vector<ChatMessage>& messages,
                                   bool add_generation_prompt) override {
    StatusOr<Ref> ref = Get(model);
    if (!ref.ok()) return ref.status();
    return ref->runner->FormatChat(messages, add_generation_prompt);
  }

  StatusOr<ModelInfo> GetModelInfo(const std::string& model) override {
    StatusOr<Ref> ref = Get(model);
    if (!ref.ok()) return ref.status();
    return ref->runner->Info();
  }

  StatusOr<EmbedResult> Embed(const EmbedRequest& request) override {
    ModelConfig config;
    {
      std::shared_ptr<const Index> index = index_.load();
      auto it = index->find(request.model);
      if (it == index->end()) return Status::NotFound("Unknown model '" + request.model + "'.");
      config = it->second->config;
    }
    return embed_models_.Embed(config, request);
  }

  EngineStats Stats(const std::string& model) override {
    std::shared_ptr<const Index> index = index_.load();
    auto it = index->find(model);
    if (it == index->end()) return EngineStats();
    llm::ModelRunner* runner = it->second->ready.load(std::memory_order_acquire);
    if (runner != nullptr) return runner->Stats();
    EngineStats stats;  // not loaded yet: idle
    stats.total_slots = std::max(1, it->second->config.parallel);
    return stats;
  }

 private:
  struct Draining {
    EntryPtr entry;
    Clock::time_point accept_until;  // takes late requests until then
    int idle_checks = 0;             // consecutive reaper passes that found it idle
  };

  // The model's runner, loading it on first use. A failed load is remembered; a memory
  // refusal is not.
  StatusOr<Ref> Get(const std::string& name) {
    EntryPtr entry;
    {
      std::shared_ptr<const Index> index = index_.load();
      auto it = index->find(name);
      if (it != index->end()) entry = it->second;
    }
    if (entry == nullptr) entry = FindRetired(name);
    if (entry == nullptr) {
      return Status::NotFound("Unknown model '" + name + "'.");
    }
    if (llm::ModelRunner* runner = entry->ready.load(std::memory_order_acquire)) {
      return Ref{std::move(entry), runner};
    }
    return Load(std::move(entry));
  }

  // A removed model within its grace period (requests that resolved it just before).
  EntryPtr FindRetired(const std::string& name) {
    std::lock_guard<std::mutex> lock(draining_mu_);
    const auto now = Clock::now();
    for (const auto& d : draining_) {
      if (d.entry->config.name == name && now < d.accept_until &&
          d.entry->ready.load(std::memory_order_acquire) != nullptr) {
        return d.entry;
      }
    }
    return nullptr;
  }

  StatusOr<Ref> Load(EntryPtr entry) {
    std::lock_guard<std::mutex> lock(entry->load_mu);
    if (entry->runner == nullptr && !entry->attempted) {
      StatusOr<int64_t> reserved = Reserve(entry->config);
      if (!reserved.ok()) {
        // Memory may free up later; a bad file stays bad (a load failure, as llama.cpp's).
        if (reserved.status().code() == StatusCode::kUnavailable) return reserved.status();
        entry->attempted = true;
        entry->load_status =
            Status::Internal("Failed to load model '" + entry->config.name + "' from '" +
                             entry->config.path + "': " + reserved.status().message());
        return entry->load_status;
      }
      StatusOr<std::unique_ptr<llm::ModelRunner>> loaded = llm::ModelRunner::Load(entry->config);
      if (loaded.ok()) {
        entry->runner = std::move(*loaded);
        {
          std::lock_guard<std::mutex> budget(budget_mu_);
          entry->reserved_bytes = *reserved;
        }
        entry->ready.store(entry->runner.get(), std::memory_order_release);
      } else {
        Release(*reserved);
        entry->attempted = true;
        entry->load_status = loaded.status();
      }
    }
    if (entry->runner == nullptr) return entry->load_status;
    llm::ModelRunner* runner = entry->runner.get();
    return Ref{std::move(entry), runner};
  }

  // Counts the model's estimate against the budget, or refuses it (kUnavailable).
  StatusOr<int64_t> Reserve(const ModelConfig& config) {
    StatusOr<llm::MemoryEstimate> estimate = llm::EstimateModelMemory(config);
    if (!estimate.ok()) return estimate.status();
    const int64_t need = estimate->total();
    std::lock_guard<std::mutex> lock(budget_mu_);
    int64_t available = -1;
    std::string what;
    if (memory_limit_ > 0) {
      available = memory_limit_ - loaded_bytes_;
      what = "of the " + llm::FormatBytes(memory_limit_) + " memory limit";
    } else {
      // The system's figure already excludes the models loaded (weights read into memory).
      available = llm::SystemAvailableMemory();
      what = "available";
    }
    if (available >= 0 && need > available) {
      return Status::Unavailable(
          "Not enough memory to load model '" + config.name + "': it needs about " +
          llm::FormatBytes(need) + " (weights " + llm::FormatBytes(estimate->weights) +
          ", KV cache " + llm::FormatBytes(estimate->kv_cache) + ", compute " +
          llm::FormatBytes(estimate->compute) + "), " +
          llm::FormatBytes(std::max<int64_t>(0, available)) + " " + what + " is free.");
    }
    loaded_bytes_ += need;
    return need;
  }

  void Release(int64_t bytes) {
    std::lock_guard<std::mutex> lock(budget_mu_);
    loaded_bytes_ -= bytes;
  }

  // Moves a removed or replaced entry to the draining list.
  void Retire(EntryPtr entry, bool grace) {
    {
      std::lock_guard<std::mutex> lock(draining_mu_);
      draining_.push_back({std::move(entry), grace ? Clock::now() + kRemoveGrace : Clock::now()});
    }
    draining_cv_.notify_all();
  }

  // Destroys the runner (its destructor ends any job left) and frees its budget.
  void Unload(Entry& entry) {
    std::lock_guard<std::mutex> lock(entry.load_mu);
    entry.ready.store(nullptr, std::memory_order_release);
    entry.runner.reset();
    std::lock_guard<std::mutex> budget(budget_mu_);
    loaded_bytes_ -= entry.reserved_bytes;
    entry.reserved_bytes = 0;
  }

  // The reaper thread: unloads draining models once nothing uses them.
  void Reap() {
    std::unique_lock<std::mutex> lock(draining_mu_);
    while (!stop_) {
      if (draining_.empty()) {
        draining_cv_.wait(lock, [this] { return stop_ || !draining_.empty(); });
        continue;
      }
      const auto now = Clock::now();
      std::vector<EntryPtr> done;
      for (auto it = draining_.begin(); it != draining_.end();) {
        // use_count 1: only this list holds it, so no index snapshot and no request can
        // reach it again (FindRetired runs under draining_mu_ and stops at accept_until).
        bool idle = now >= it->accept_until && it->entry.use_count() == 1;
        if (idle) {
          llm::ModelRunner* runner = it->entry->ready.load(std::memory_order_acquire);
          if (runner != nullptr) {
            EngineStats st = runner->Stats();
            idle = st.queued == 0 && st.busy_slots == 0;
          }
        }
        it->idle_checks = idle ? it->idle_checks + 1 : 0;
        // Two passes in a row, so a job that finished its bookkeeping but not yet its last
        // callback is done with the runner.
        if (it->idle_checks >= 2) {
          done.push_back(std::move(it->entry));
          it = draining_.erase(it);
        } else {
          ++it;
        }
      }
      if (!done.empty()) {
        // Still counted as draining until unloaded, so a caller that waits for the drain
        // also sees the memory released.
        unloading_ += static_cast<int>(done.size());
        lock.unlock();
        for (const auto& entry : done) {
          const bool was_loaded = entry->ready.load() != nullptr;
          Unload(*entry);
          if (was_loaded) spdlog::info("model '{}' unloaded", entry->config.name);
        }
        lock.lock();
        unloading_ -= static_cast<int>(done.size());
        done.clear();
      }
      draining_cv_.wait_for(lock, kReapInterval, [this] { return stop_; });
    }
  }

  const int64_t memory_limit_;
  std::mutex change_mu_;                             // serializes Add/Replace/RemoveModel
  std::atomic<std::shared_ptr<const Index>> index_;  // name -> entry, replaced whole
  std::atomic<JobId> next_id_{1};
  llm::EmbedModels embed_models_;  // embedding runners, apart from the generation ones

  std::mutex budget_mu_;
  int64_t loaded_bytes_ = 0;  // estimates of the loaded (and loading) models; guarded

  std::mutex draining_mu_;
  std::condition_variable draining_cv_;
  std::list<Draining> draining_;  // guarded by draining_mu_
  int unloading_ = 0;             // taken off draining_, not yet unloaded; guarded by draining_mu_
  bool stop_ = false;             // guarded by draining_mu_
  std::thread reaper_;
};

Status CheckConfig(const ModelConfig& config) {
  if (config.name.empty()) return Status::InvalidArgument("A model has no name.");
  if (config.parallel < 1 || config.batch_size < 1 || config.max_queue < 0 ||
      config.context_length < 0 || config.threads < 0) {
    return Status::InvalidArgument("Model '" + config.name +
                                   "': parallel and batch_size must be positive, "
                                   "context_length, threads and max_queue not negative.");
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(config.path, ec)) {
    return Status::NotFound("Model '" + config.name + "': file '" + config.path +
                            "' does not exist.");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  std::vector<LlmEngine::EntryPtr> entries;
  std::set<std::string> names;
  for (const ModelConfig& config : options.models) {
    BASALT_RETURN_IF_ERROR(CheckConfig(config));
    if (!names.insert(config.name).second) {
      return Status::InvalidArgument("Model '" + config.name + "' is configured twice.");
    }
    auto entry = std::make_shared<LlmEngine::Entry>();
    entry->config = config;
    entries.push_back(std::move(entry));
  }
  if (options.memory_limit_bytes < 0) {
    return Status::InvalidArgument("The memory limit must not be negative.");
  }
  return std::unique_ptr<Engine>(new LlmEngine(std::move(entries), options.memory_limit_bytes));
}

}  // namespace basalt::engine
