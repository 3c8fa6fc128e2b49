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

// State shared by the server and its connections. Outlives every connection callback:
// Server::Shutdown closes all connections and joins the worker pool before it goes away.
struct ServerCore {
  ServerCore(const ServerOptions& opts, Handler h);

  ServerOptions options;
  Handler handler;
  std::optional<asio::ssl::context> tls;  // before ioc: streams may be freed with ioc
  asio::io_context ioc;
  asio::thread_pool workers;

  // Runs the handler on the worker pool.
  void Dispatch(Request request, std::shared_ptr<WriterImpl> writer);

  // False once shutdown began; the caller must close itself then.
  bool Register(const std::shared_ptr<ConnectionBase>& conn);
  void Unregister(ConnectionBase* conn);
  std::vector<std::shared_ptr<ConnectionBase>> Snapshot();
  // Waits until no connection is registered or `deadline` passes; true if none is left.
  bool WaitIdle(Clock::time_point deadline);
  void BeginStopping();

 private:
  std::mutex mu_;
  std::condition_variable idle_cv_;
  bool stopping_ = false;
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> connections_;
};

// Start a connection on its strand. `buffer` holds bytes already read from the peer.
void StartH1(ServerCore& core, TcpStream stream, boost::beast::flat_buffer buffer,
             std::string remote);
void StartH1(ServerCore& core, TlsStream stream, boost::beast::flat_buffer buffer,
             std::string remote);
void StartH2(ServerCore& core, TcpStream stream, boost::beast::flat_buffer buffer,
             std::string remote);
void StartH2(ServerCore& core, TlsStream stream, boost::beast::flat_buffer buffer,
             std::string remote);

// Write() blocks the calling handler thread while more than this much is queued unsent, so
// a slow reader cannot make the server buffer without bound.
inline constexpr size_t kWriterHighWater = 8 * 1024 * 1024;
// How long a closing connection keeps draining input so the peer sees our last response.
inline constexpr std::chrono::milliseconds kLingerTime{1000};

}  // namespace basalt::http::internal
