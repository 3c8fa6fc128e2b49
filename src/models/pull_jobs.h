// Weight downloads started by administrators from the console (/basalt/models/pull): one
// background thread per pull, at most one pull per key at a time, progress readable at any
// moment. The last state of every key is kept, so the console shows a failure's message.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/status.h"
#include "models/pull.h"

namespace basalt::models {

struct PullState {
  std::string state;  // "running", "done", "failed"
  uint64_t bytes = 0;
  uint64_t total_bytes = 0;  // 0 while unknown
  std::string error;         // the failure's message
  std::string sha256;        // of the finished file
  int64_t started_ms = 0;    // Unix milliseconds
  int64_t finished_ms = 0;
};

class PullJobs {
 public:
  PullJobs() = default;
  PullJobs(const PullJobs&) = delete;
  PullJobs& operator=(const PullJobs&) = delete;
  // Stops running pulls (their .part files stay for a later resume) and joins them.
  ~PullJobs();

  // Starts pulling for `key` on a new thread; kAlreadyExists while one runs for it. After a
  // complete, verified download `on_done` runs on that thread (the server reloads its
  // catalog there); its status becomes the job's outcome.
  Status Start(const std::string& key, PullOptions options,
               std::function<Status(const PullResult&)> on_done);
  std::optional<PullState> Get(const std::string& key) const;

 private:
  struct Job {
    PullState state;  // guarded by PullJobs::mu_
    std::atomic<bool> cancel{false};
    std::thread thread;
  };
  void Update(const std::string& key, const std::function<void(PullState&)>& change);

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // guarded by mu_
  std::vector<std::shared_ptr<Job>> finished_;        // threads to join; guarded by mu_
};

}  // namespace basalt::models
