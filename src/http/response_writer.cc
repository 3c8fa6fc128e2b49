// WriterImpl: the thread-safe ResponseWriter shared by HTTP/1.1 and HTTP/2 connections.
#include <utility>

#include "http/http_internal.h"

namespace basalt::http::internal {

namespace {

void RunCallbacks(std::vector<std::function<void()>>& callbacks) {
  for (auto& callback : callbacks) {
    // A throwing callback must not take down an I/O thread.
    try {
      callback();
    } catch (...) {
    }
  }
}

}  // namespace

void AsciiLower(std::string& s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + ('a' - 'A'));
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + ('a' - 'A'));
    if (x != y) return false;
  }
  return true;
}

bool IsConnectionSpecificHeader(std::string_view n) {
  return n == "connection" || n == "keep-alive" || n == "transfer-encoding" || n == "upgrade" ||
         n == "proxy-connection";
}

WriterImpl::WriterImpl(std::shared_ptr<ResponseSink> sink, int32_t id)
    : sink_(std::move(sink)), id_(id) {}

WriterImpl::~WriterImpl() {
  // Last reference: no lock needed. A handler that never answered gets a 500; a stream it
  // abandoned half-way is failed so the client does not wait forever.
  if (!sink_ || state_ == State::kDone) return;
  if (state_ == State::kIdle) {
    sink_->SinkRespond(id_, 500, {}, {});
  } else {
    sink_->SinkAbort(id_);
  }
}

void WriterImpl::Respond(int status, std::vector<Header> headers, std::string body) {
  std::shared_ptr<ResponseSink> sink;
  std::vector<std::function<void()>> dropped;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kIdle) return;
    state_ = State::kDone;
    dropped.swap(on_close_);
    sink = std::move(sink_);
    if (sink) sink->SinkRespond(id_, status, std::move(headers), std::move(body));
  }
}

void WriterImpl::StartStream(int status, std::vector<Header> headers) {
  std::lock_guard lock(mu_);
  if (state_ != State::kIdle) return;
  state_ = State::kStreaming;
  if (sink_) sink_->SinkStart(id_, status, std::move(headers));
}

bool WriterImpl::Write(std::string data) {
  std::unique_lock lock(mu_);
  if (!sink_ || state_ != State::kStreaming) return false;
  unflushed_ += data.size();
  sink_->SinkWrite(id_, std::move(data));
  if (unflushed_ > kWriterHighWater) {
    flushed_cv_.wait(lock, [this] { return unflushed_ <= kWriterHighWater / 2 || !sink_; });
  }
  return sink_ != nullptr;
}

void WriterImpl::Finish() {
  std::shared_ptr<ResponseSink> sink;
  std::vector<std::function<void()>> dropped;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kStreaming) return;
    state_ = State::kDone;
    dropped.swap(on_close_);
    sink = std::move(sink_);
    if (sink) sink->SinkFinish(id_);
  }
}

bool WriterImpl::Closed() const { return closed_.load(std::memory_order_acquire); }

void WriterImpl::OnClose(std::function<void()> callback) {
  if (!callback) return;
  {
    std::lock_guard lock(mu_);
    if (!closed_.load(std::memory_order_relaxed)) {
      if (state_ != State::kDone) on_close_.push_back(std::move(callback));
      return;
    }
  }
  std::vector<std::function<void()>> now;
  now.push_back(std::move(callback));
  RunCallbacks(now);
}

void WriterImpl::PeerGone() {
  std::vector<std::function<void()>> callbacks;
  std::shared_ptr<ResponseSink> sink;
  {
    std::lock_guard lock(mu_);
    if (closed_.load(std::memory_order_relaxed)) return;
    // Once the handler finished, the peer leaving changes nothing for it.
    if (state_ == State::kDone) return;
    closed_.store(true, std::memory_order_release);
    callbacks.swap(on_close_);
    sink = std::move(sink_);
  }
  flushed_cv_.notify_all();
  RunCallbacks(callbacks);
}

void WriterImpl::Flushed(size_t bytes) {
  std::lock_guard lock(mu_);
  const bool was_blocked = unflushed_ > kWriterHighWater;
  unflushed_ = bytes >= unflushed_ ? 0 : unflushed_ - bytes;
  if (was_blocked && unflushed_ <= kWriterHighWater / 2) flushed_cv_.notify_all();
}

}  // namespace basalt::http::internal
