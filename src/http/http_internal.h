// Private pieces shared by the HTTP/1.1 and HTTP/2 connections of http_server.cc.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/http_server.h"

namespace basalt::http::internal {

namespace asio = boost::asio;
using Tcp = asio::ip::tcp;
using TcpStream = Tcp::socket;
using TlsStream = asio::ssl::stream<Tcp::socket>;
using Clock = std::chrono::steady_clock;

inline Tcp::socket& LowestLayer(TcpStream& s) { return s; }
inline Tcp::socket& LowestLayer(TlsStream& s) { return s.next_layer(); }

// Lower-cases ASCII in place.
void AsciiLower(std::string& s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// Hop-by-hop headers that must never appear in an HTTP/2 response (RFC 9113 8.2.2).
bool IsConnectionSpecificHeader(std::string_view lower_name);

// Where a ResponseWriter sends its work. Implemented by connections; every method only posts
// to the connection's strand, so it is safe to call with the writer's lock held.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  virtual void SinkRespond(int32_t id, int status, std::vector<Header> headers,
                           std::string body) = 0;
  virtual void SinkStart(int32_t id, int status, std::vector<Header> headers) = 0;
  virtual void SinkWrite(int32_t id, std::string data) = 0;
  virtual void SinkFinish(int32_t id) = 0;
  // The handler dropped a started stream without Finish(): fail it.
  virtual void SinkAbort(int32_t id) = 0;
};

// The ResponseWriter handed to handlers. Holds its sink (the connection) only until the
// response is complete or the peer is gone, so once detached every method is a no-op.
class WriterImpl final : public ResponseWriter {
 public:
  WriterImpl(std::shared_ptr<ResponseSink> sink, int32_t id);
  ~WriterImpl() override;

  void Respond(int status, std::vector<Header> headers, std::string body) override;
  void StartStream(int status, std::vector<Header> headers) override;
  bool Write(std::string data) override;
  void Finish() override;
  bool Closed() const override;
  void OnClose(std::function<void()> callback) override;

  // Connection side (its strand): the peer went away; fires OnClose callbacks once.
  void PeerGone();
  // Connection side: `bytes` of Write() data reached the socket (bounds queued data).
  void Flushed(size_t bytes);

 private:
  enum class State { kIdle, kStreaming, kDone };

  mutable std::mutex mu_;
  std::condition_variable flushed_cv_;
  std::shared_ptr<ResponseSink> sink_;
  const int32_t id_;
  State state_ = State::kIdle;
  std::atomic<bool> closed_{false};
  size_t unflushed_ = 0;
  std::vector<std::function<void()>> on_close_;
};

// A live connection (or a socket still choosing its protocol), tracked for Shutdown().
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Graceful: finish what is in flight, accept nothing new (posts to the strand).
  virtual void BeginShutdown() = 0;
  // Closes at once; unfinished writers see Closed() (posts to the strand).
  virtual void ForceClose() = 0;
};

class ServerCore;

// One admitted connection's place under the connection caps. Move-only; gives the place back
// when released or destroyed, whichever comes first.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(ServerCore* core, std::string key) : core_(core), key_(std::move(key)) {}
  ConnectionSlot(ConnectionSlot&& other) noexcept
      : core_(std::exchange(other.core_, nullptr)), key_(std::move(other.key_)) {}
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept {
    if (this != &other) {
      Release();
      core_ = std::exchange(other.core_, nullptr);
      key_ = std::move(other.key_);
    }
    return *this;
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() { Release(); }

  bool held() const { return core_ != nullptr; }
  void Release();

 private:
  ServerCore* core_ = nullptr;
  std::string key_;
};

// What the accept loop knows about a new connection.
struct Accepted {
  std::string remote;       // peer address, for Request::remote_address
  Clock::time_point start;  // accept time: the first request's head deadline counts from it
  ConnectionSlot slot;      // released when the socket closes
};

// State shared by the server and its connections. Outlives every connection callback:
// Server::Shutdown closes all connections and joins the worker pool before it goes away.
class ServerCore {
 public:
  ServerCore(const ServerOptions& opts, Handler h);

  // Effective options: zero defaults (caps, queue length, body budget) are resolved.
  ServerOptions options;
  Handler handler;
  std::optional<asio::ssl::context> tls;  // before ioc: streams may be freed with ioc
  asio::io_context ioc;
  asio::thread_pool workers;
  // Capacity of the HTTP/2 request bodies buffered by all connections (for tests).
  std::atomic<int64_t> h2_body_bytes{0};

  // Called on the connection's strand. Answers `request` inline when the inline handler
  // takes it, from the overload handler when the worker queue is full, and otherwise runs
  // the handler on the worker pool.
  void Dispatch(Request request, std::shared_ptr<WriterImpl> writer);

  // Takes a place for a connection from `key` (see AdmissionKey) under the connection caps;
  // the slot is not held() when a cap is reached.
  ConnectionSlot Admit(const std::string& key);

  // False once shutdown began; the caller must close itself then.
  bool Register(const std::shared_ptr<ConnectionBase>& conn);
  void Unregister(ConnectionBase* conn);
  std::vector<std::shared_ptr<ConnectionBase>> Snapshot();
  // Waits until no connection is registered or `deadline` passes; true if none is left.
  bool WaitIdle(Clock::time_point deadline);
  void BeginStopping();

 private:
  friend class ConnectionSlot;
  void ReleaseSlot(const std::string& key);

  std::mutex mu_;
  std::condition_variable idle_cv_;
  bool stopping_ = false;
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> connections_;

  std::mutex admit_mu_;
  int open_connections_ = 0;
  std::unordered_map<std::string, int> per_address_;

  std::atomic<int> queued_{0};  // dispatched requests no worker has started yet
};

// The key the per-address cap counts under: the address, or its /64 for IPv6 (one host
// usually owns a whole /64).
std::string AdmissionKey(const asio::ip::address& address);

// Body bytes that buy one more second past ServerOptions::body_timeout: a sender keeping up
// 256 KiB/s finishes a 25 MB body (in ~100 s), a trickle runs out of time. A fixed deadline
// alone would fail honest large uploads on slow links; a rate alone lets a trickler that
// starts fast hold on.
inline constexpr size_t kBodyRateCredit = 256 * 1024;

// Deadline of a request body whose head ended at `start` and of which `received` bytes came.
inline Clock::time_point BodyDeadline(const ServerOptions& o, Clock::time_point start,
                                      size_t received) {
  if (o.body_timeout.count() <= 0) return Clock::time_point::max();
  return start + o.body_timeout + std::chrono::seconds(received / kBodyRateCredit);
}

// Deadline of a request head that began at `start`.
inline Clock::time_point HeaderDeadline(const ServerOptions& o, Clock::time_point start) {
  if (o.header_timeout.count() <= 0) return Clock::time_point::max();
  return start + o.header_timeout;
}

// Connection timers never sleep longer than this; a farther deadline is just checked again.
inline constexpr std::chrono::seconds kTimerBackstop{60};

// Start a connection on its strand. `buffer` holds bytes already read from the peer.
void StartH1(ServerCore& core, TcpStream stream, boost::beast::flat_buffer buffer,
             Accepted accepted);
void StartH1(ServerCore& core, TlsStream stream, boost::beast::flat_buffer buffer,
             Accepted accepted);
void StartH2(ServerCore& core, TcpStream stream, boost::beast::flat_buffer buffer,
             Accepted accepted);
void StartH2(ServerCore& core, TlsStream stream, boost::beast::flat_buffer buffer,
             Accepted accepted);

// Write() blocks the calling handler thread while more than this much is queued unsent, so
// a slow reader cannot make the server buffer without bound.
inline constexpr size_t kWriterHighWater = 8 * 1024 * 1024;
// How long a closing connection keeps draining input so the peer sees our last response.
inline constexpr std::chrono::milliseconds kLingerTime{1000};

}  // namespace basalt::http::internal
