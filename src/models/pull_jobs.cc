#include "models/pull_jobs.h"

#include <chrono>
#include <utility>
#include <vector>

namespace basalt::models {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

PullJobs::~PullJobs() {
  std::vector<std::shared_ptr<Job>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, job] : jobs_) all.push_back(job);
    for (auto& job : finished_) all.push_back(job);
  }
  for (auto& job : all) job->cancel.store(true);
  for (auto& job : all) {
    if (job->thread.joinable()) job->thread.join();
  }
}

Status PullJobs::Start(const std::string& key, PullOptions options,
                       std::function<Status(const PullResult&)> on_done) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(key);
  if (it != jobs_.end()) {
    if (it->second->state.state == "running") {
      return Status::AlreadyExists("A download of " + key + " is already running.");
    }
    // The previous job's thread has finished its work; join it later, off this lock's path.
    finished_.push_back(it->second);
  }
  auto job = std::make_shared<Job>();
  job->state.state = "running";
  job->state.started_ms = NowMs();
  jobs_[key] = job;
  options.progress = false;
  options.cancel = &job->cancel;
  options.on_progress = [this, key](uint64_t done, uint64_t total) {
    Update(key, [&](PullState& s) {
      s.bytes = done;
      s.total_bytes = total;
    });
  };
  job->thread =
      std::thread([this, key, options = std::move(options), on_done = std::move(on_done)]() {
        StatusOr<PullResult> result = PullModel(options);
        Status status = result.ok() ? (on_done ? on_done(*result) : Status::Ok()) : result.status();
        Update(key, [&](PullState& s) {
          s.finished_ms = NowMs();
          if (status.ok()) {
            s.state = "done";
            s.bytes = result->bytes;
            s.total_bytes = result->bytes;
            s.sha256 = result->sha256;
          } else {
            s.state = "failed";
            s.error = status.message();
          }
        });
      });
  return Status::Ok();
}

std::optional<PullState> PullJobs::Get(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return std::nullopt;
  return it->second->state;
}

void PullJobs::Update(const std::string& key, const std::function<void(PullState&)>& change) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(key);
  if (it != jobs_.end()) change(it->second->state);
}

}  // namespace basalt::models
