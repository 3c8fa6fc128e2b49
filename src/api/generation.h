// Bridges the engine's callback sink to a request thread: the engine appends text and
// signals; the request thread waits and takes whatever accumulated (coalescing tokens when
// the client is slower than generation).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "engine/engine.h"

namespace basalt::api {

class GenerationStream : public engine::Sink {
 public:
  void OnText(std::string_view text) override {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ += text;
    ++pieces_;
    ++total_pieces_;
    cv_.notify_one();
  }
  void OnDone(const Status& status, engine::FinishReason reason, const std::string& stop,
              const engine::Usage& usage, const engine::Timing& timing) override {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    status_ = status;
    reason_ = reason;
    stop_ = stop;
    usage_ = usage;
    timing_ = timing;
    cv_.notify_one();
  }

  // Waits for text or the end. Moves accumulated text into `*text` (may be empty at the
  // end); returns false once done and drained. `pieces` gets the number of OnText calls
  // drained (one per token in practice).
  bool Next(std::string* text, int* pieces = nullptr) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_ || !pending_.empty(); });
    text->clear();
    text->swap(pending_);
    if (pieces) *pieces = pieces_;
    pieces_ = 0;
    return !(done_ && text->empty());
  }
  // Waits up to `timeout` for the end; true once done.
  bool WaitDone(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_; });
  }
  // OnText calls so far (one per generated token in practice).
  int total_pieces() {
    std::lock_guard<std::mutex> lock(mu_);
    return total_pieces_;
  }
  // Like Next(), but gives up after `timeout` with empty text (returns true: not done).
  bool NextFor(std::string* text, int* pieces, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return done_ || !pending_.empty(); });
    text->clear();
    text->swap(pending_);
    if (pieces) *pieces = pieces_;
    pieces_ = 0;
    return !(done_ && text->empty());
  }
  // Waits for the end and returns all text not yet taken by Next().
  std::string WaitAll() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return std::move(pending_);
  }

  // Valid after Next() returned false or WaitAll() returned.
  const Status& status() const { return status_; }
  engine::FinishReason reason() const { return reason_; }
  const std::string& stop() const { return stop_; }
  const engine::Usage& usage() const { return usage_; }
  const engine::Timing& timing() const { return timing_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;
  int pieces_ = 0;
  int total_pieces_ = 0;
  bool done_ = false;
  Status status_;
  engine::FinishReason reason_ = engine::FinishReason::kError;
  std::string stop_;
  engine::Usage usage_;
  engine::Timing timing_;
};

}  // namespace basalt::api
