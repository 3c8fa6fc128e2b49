// Engine implementation: a set of named models, each loaded on first use into a ModelRunner
// (its own context and scheduler thread). Models can be added while requests run; the name
// index is an immutable snapshot swapped atomically, so lookups stay lock-free.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "engine/llm/model_runner.h"

namespace basalt::engine {
namespace {

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
  };

  using Index = std::map<std::string, Entry*>;

  explicit LlmEngine(std::vector<std::unique_ptr<Entry>> entries) {
    auto index = std::make_shared<Index>();
    for (auto& e : entries) (*index)[e->config.name] = e.get();
    entries_ = std::move(entries);
    index_.store(std::move(index));
  }

  ~LlmEngine() override {
    // Runners stop their threads (and end their jobs) before the entries go away.
    for (auto& entry : entries_) {
      entry->ready.store(nullptr);
      entry->runner.reset();
    }
  }

  Status AddModel(const ModelConfig& config) override {
    BASALT_RETURN_IF_ERROR(CheckConfig(config));
    std::lock_guard<std::mutex> lock(add_mu_);
    std::shared_ptr<const Index> old = index_.load();
    if (old->count(config.name) != 0) {
      return Status::AlreadyExists("Model '" + config.name + "' is already served.");
    }
    auto entry = std::make_unique<Entry>();
    entry->config = config;
    auto next = std::make_shared<Index>(*old);
    (*next)[config.name] = entry.get();
    entries_.push_back(std::move(entry));
    index_.store(std::move(next));
    return Status::Ok();
  }

  StatusOr<JobId> Submit(GenerateRequest request, std::shared_ptr<Sink> sink,
                         int* prompt_tokens) override {
    if (sink == nullptr) return Status::InvalidArgument("No sink given.");
    StatusOr<llm::ModelRunner*> runner = Get(request.model);
    if (!runner.ok()) return runner.status();
    const JobId id = next_id_.fetch_add(1, std::memory_order_relaxed);
    Status status = (*runner)->Submit(id, std::move(request), std::move(sink), prompt_tokens);
    if (!status.ok()) return status;
    return id;
  }

  void Cancel(JobId id) override {
    std::shared_ptr<const Index> index = index_.load();
    for (const auto& [name, entry] : *index) {
      llm::ModelRunner* runner = entry->ready.load(std::memory_order_acquire);
      if (runner != nullptr && runner->Cancel(id)) return;
    }
  }

  StatusOr<int> CountTokens(const std::string& model, const std::string& text,
                            bool add_special) override {
    StatusOr<llm::ModelRunner*> runner = Get(model);
    if (!runner.ok()) return runner.status();
    return (*runner)->CountTokens(text, add_special);
  }

  StatusOr<std::string> FormatChat(const std::string& model,
                                   const std::vector<ChatMessage>& messages,
                                   bool add_generation_prompt) override {
    StatusOr<llm::ModelRunner*> runner = Get(model);
    if (!runner.ok()) return runner.status();
    return (*runner)->FormatChat(messages, add_generation_prompt);
  }

  StatusOr<ModelInfo> GetModelInfo(const std::string& model) override {
    StatusOr<llm::ModelRunner*> runner = Get(model);
    if (!runner.ok()) return runner.status();
    return (*runner)->Info();
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
  // The model's runner, loading it on first use. A failed load is remembered.
  StatusOr<llm::ModelRunner*> Get(const std::string& name) {
    std::shared_ptr<const Index> index = index_.load();
    auto it = index->find(name);
    if (it == index->end()) return Status::NotFound("Unknown model '" + name + "'.");
    Entry& entry = *it->second;
    if (llm::ModelRunner* runner = entry.ready.load(std::memory_order_acquire)) return runner;
    std::lock_guard<std::mutex> lock(entry.load_mu);
    if (!entry.attempted) {
      entry.attempted = true;
      StatusOr<std::unique_ptr<llm::ModelRunner>> loaded = llm::ModelRunner::Load(entry.config);
      if (loaded.ok()) {
        entry.runner = std::move(*loaded);
        entry.ready.store(entry.runner.get(), std::memory_order_release);
      } else {
        entry.load_status = loaded.status();
      }
    }
    if (entry.runner == nullptr) return entry.load_status;
    return entry.runner.get();
  }

  std::mutex add_mu_;                                // serializes AddModel
  std::vector<std::unique_ptr<Entry>> entries_;      // every model ever added; guarded by add_mu_
  std::atomic<std::shared_ptr<const Index>> index_;  // name -> entry, replaced whole
  std::atomic<JobId> next_id_{1};
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
  std::vector<std::unique_ptr<LlmEngine::Entry>> entries;
  std::set<std::string> names;
  for (const ModelConfig& config : options.models) {
    BASALT_RETURN_IF_ERROR(CheckConfig(config));
    if (!names.insert(config.name).second) {
      return Status::InvalidArgument("Model '" + config.name + "' is configured twice.");
    }
    auto entry = std::make_unique<LlmEngine::Entry>();
    entry->config = config;
    entries.push_back(std::move(entry));
  }
  return std::unique_ptr<Engine>(new LlmEngine(std::move(entries)));
}

}  // namespace basalt::engine
