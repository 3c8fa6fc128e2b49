// The image engine (image.h): per-model lazy load shared by concurrent callers, a per-model
// queue served round-robin across accounts, one running job per model, cancellation while
// queued (the caller polls its callback) and while running (between denoising steps).
//
// There is no worker thread: each Generate() caller waits for its turn and runs its own job on
// its own thread, so a request costs no thread handoff and its cancellation stays with it.
#include <ATen/Parallel.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "image/image.h"
#include "image/pipeline.h"
#include "spdlog/spdlog.h"

namespace basalt::image {
namespace {

using Clock = std::chrono::steady_clock;

// How often a queued caller looks at its request's cancelled() callback.
constexpr auto kCancelPoll = std::chrono::milliseconds(20);

bool CpuHasNativeBf16() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    std::string w;
    while (words >> w) {
      if (w == "avx512_bf16" || w == "amx_bf16") return true;
    }
    return false;
  }
  return false;
}

struct Job {
  const ImageRequest* request = nullptr;
  bool granted = false;  // its turn to run has come
};

struct ModelState {
  ImageModelConfig config;
  std::unique_ptr<Pipeline> pipeline;
  bool loading = false;
  uint64_t load_attempts = 0;  // finished load attempts
  Status load_error;           // of the last failed attempt
  bool running = false;        // a job holds the model
  size_t waiting = 0;          // queued, not granted
  // Round-robin: accounts with waiting jobs in turn order, each with its jobs in arrival order.
  std::deque<std::string> ring;
  std::map<std::string, std::deque<Job*>> by_account;
};

class TorchImageEngine final : public ImageEngine {
 public:
  TorchImageEngine(const ImageEngineOptions& options, std::function<void(const std::string&)> hook)
      : options_(options), on_load_(std::move(hook)) {
    for (const ImageModelConfig& m : options.models) models_[m.name].config = m;
    if (options.dtype == "bf16") {
      dtype_ = at::kBFloat16;
    } else if (options.dtype == "f32") {
      dtype_ = at::kFloat;
    } else {
      dtype_ = CpuHasNativeBf16() ? at::kBFloat16 : at::kFloat;
      if (options.dtype != "auto") {
        spdlog::warn("image engine: unknown dtype '{}', using auto ({})", options.dtype,
                     dtype_ == at::kBFloat16 ? "bf16" : "f32");
      }
    }
    const int threads = options.threads > 0
                            ? options.threads
                            : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    // Process-wide: each thread that runs a job picks it up on its first parallel region.
    at::set_num_threads(threads);
  }

  StatusOr<ImageResult> Generate(const ImageRequest& request) override {
    const auto enqueued = Clock::now();
    std::unique_lock lock(mu_);
    auto it = models_.find(request.model);
    if (it == models_.end()) return UnknownModel(request.model);
    // A bad request is refused before it loads a model or takes a place in the queue.
    BASALT_RETURN_IF_ERROR(CheckRequest(request));
    ModelState& m = it->second;
    if (m.waiting >= static_cast<size_t>(std::max(0, options_.max_queue)) &&
        (m.running || m.loading || m.waiting > 0)) {
      return Status::ResourceExhausted("too many image requests are waiting for model " +
                                       request.model + "; try again later");
    }
    Job job;
    job.request = &request;
    Enqueue(m, &job);
    // Wait for the model (one load for every caller) and for this job's turn.
    Status loaded = EnsureLoaded(m, lock, &request);
    if (!loaded.ok()) {
      Leave(m, &job);
      return loaded;
    }
    while (!job.granted) {
      if (request.cancelled && request.cancelled()) {
        Leave(m, &job);
        return Status::Cancelled("image generation cancelled while queued");
      }
      cv_.wait_for(lock, kCancelPoll);
    }
    const double queue_seconds = std::chrono::duration<double>(Clock::now() - enqueued).count();
    const Pipeline* pipeline = m.pipeline.get();
    lock.unlock();
    StatusOr<ImageResult> result = Status::Internal("image generation failed");
    try {
      result = pipeline->Generate(request);
    } catch (const std::exception& e) {
      result = Status::Internal(std::string("image generation failed: ") + e.what());
    }
    lock.lock();
    Release(m);
    if (result.ok()) result->queue_seconds = queue_seconds;
    return result;
  }

  Status Load(const std::string& model) override {
    std::unique_lock lock(mu_);
    auto it = models_.find(model);
    if (it == models_.end()) return UnknownModel(model);
    return EnsureLoaded(it->second, lock, nullptr);
  }

  StatusOr<ImageModelInfo> Describe(const std::string& model) override {
    ImageModelConfig config;
    {
      std::lock_guard lock(mu_);
      auto it = models_.find(model);
      if (it == models_.end()) return UnknownModel(model);
      if (it->second.pipeline) return it->second.pipeline->info();
      config = it->second.config;
    }
    BASALT_ASSIGN_OR_RETURN(CheckpointInfo info, ReadCheckpointInfo(config));
    return DescribeCheckpoint(config, info);
  }

  bool available() const override { return true; }

 private:
  static Status UnknownModel(const std::string& model) {
    return Status::NotFound("unknown image model '" + model + "'");
  }

  // Holds `lock`. Loads the model once: the first caller loads (without the lock), the others
  // wait for that attempt and share its outcome; after a failure a later call tries again.
  Status EnsureLoaded(ModelState& m, std::unique_lock<std::mutex>& lock,
                      const ImageRequest* request) {
    while (!m.pipeline) {
      if (!m.loading) {
        m.loading = true;
        lock.unlock();
        if (on_load_) on_load_(m.config.name);
        const auto start = Clock::now();
        auto loaded = Pipeline::Load(m.config, dtype_);
        const double secs = std::chrono::duration<double>(Clock::now() - start).count();
        lock.lock();
        m.loading = false;
        ++m.load_attempts;
        if (loaded.ok()) {
          m.pipeline = std::move(*loaded);
          spdlog::info("image model {} loaded in {:.1f} s ({}, {})", m.config.name, secs,
                       m.pipeline->info().variant, dtype_ == at::kBFloat16 ? "bf16" : "f32");
        } else {
          m.load_error = loaded.status();
          spdlog::warn("image model {} failed to load: {}", m.config.name, m.load_error.ToString());
        }
        cv_.notify_all();
        if (!loaded.ok()) return m.load_error;
        break;
      }
      const uint64_t attempt = m.load_attempts;
      while (m.load_attempts == attempt) {
        if (request && request->cancelled && request->cancelled()) {
          return Status::Cancelled("image generation cancelled while the model loads");
        }
        cv_.wait_for(lock, kCancelPoll);
      }
      if (!m.pipeline) return m.load_error;
    }
    return Status::Ok();
  }

  // Holds the lock. Adds the job to its account's line; runs it at once if the model is free.
  void Enqueue(ModelState& m, Job* job) {
    auto& line = m.by_account[job->request->account];
    if (line.empty()) m.ring.push_back(job->request->account);
    line.push_back(job);
    ++m.waiting;
    if (!m.running) GrantNext(m);
  }

  // Holds the lock. Gives the model to the next job in round-robin order.
  void GrantNext(ModelState& m) {
    if (m.running || m.ring.empty()) return;
    const std::string account = m.ring.front();
    m.ring.pop_front();
    auto& line = m.by_account[account];
    Job* next = line.front();
    line.pop_front();
    if (line.empty()) {
      m.by_account.erase(account);
    } else {
      m.ring.push_back(account);
    }
    --m.waiting;
    next->granted = true;
    m.running = true;
    cv_.notify_all();
  }

  // Holds the lock. The job's turn is over (it ran, or the model failed to load).
  void Release(ModelState& m) {
    m.running = false;
    GrantNext(m);
  }

  // Holds the lock. Takes a job that will not run out of the queue (cancelled, load failed).
  void Leave(ModelState& m, Job* job) {
    if (job->granted) {
      Release(m);
      return;
    }
    const std::string& account = job->request->account;
    auto it = m.by_account.find(account);
    if (it == m.by_account.end()) return;
    auto& line = it->second;
    for (auto j = line.begin(); j != line.end(); ++j) {
      if (*j == job) {
        line.erase(j);
        --m.waiting;
        break;
      }
    }
    if (line.empty()) {
      m.by_account.erase(it);
      for (auto r = m.ring.begin(); r != m.ring.end(); ++r) {
        if (*r == account) {
          m.ring.erase(r);
          break;
        }
      }
    }
  }

  const ImageEngineOptions options_;
  const std::function<void(const std::string&)> on_load_;
  at::ScalarType dtype_ = at::kFloat;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, ModelState> models_;
};

}  // namespace

std::unique_ptr<ImageEngine> CreateTorchImageEngine(
    const ImageEngineOptions& options, std::function<void(const std::string& model)> on_load) {
  return std::make_unique<TorchImageEngine>(options, std::move(on_load));
}

std::unique_ptr<ImageEngine> ImageEngine::Create(const ImageEngineOptions& options) {
  return CreateTorchImageEngine(options, nullptr);
}

}  // namespace basalt::image
