// An HTTP server that speaks HTTP/1.1 and HTTP/2 on one port: h2c with prior knowledge on
// plain TCP (the AWS JS SDK's runtime client uses it by default), and TLS with ALPN
// h2/http1.1 when a certificate is configured. Boost.Asio/Beast and nghttp2 stay behind
// this header.
//
// Threading: the handler runs on a worker thread of the server's pool and may block (it
// usually waits on generation). A ResponseWriter is thread-safe and may outlive the handler
// call; the connection stays open until Finish() (or the peer goes away).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace basalt::http {

struct Header {
  std::string name;  // lower-case for requests; sent as given for responses
  std::string value;
};

struct Request {
  std::string method;
  std::string target;           // raw request-target (path and query), never percent-decoded
  std::string authority;        // HTTP/2 :authority, or the HTTP/1.1 Host header
  std::vector<Header> headers;  // lower-case names in arrival order; no pseudo-headers
  std::string body;
  int http_version = 11;        // 11 or 20
  bool body_too_large = false;  // body exceeded ServerOptions::max_body_bytes; body is empty
  std::string remote_address;

  // First value of header `name` (lower-case), or nullptr.
  const std::string* FindHeader(std::string_view name) const;
};

class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;

  // Sends a complete response (Content-Length framing). Call at most once, and not together
  // with StartStream().
  virtual void Respond(int status, std::vector<Header> headers, std::string body) = 0;

  // Starts a streamed response: HTTP/1.1 chunked transfer encoding, or HTTP/2 DATA frames.
  virtual void StartStream(int status, std::vector<Header> headers) = 0;
  // Queues `data` and flushes it to the peer promptly. Returns false once the peer is gone.
  virtual bool Write(std::string data) = 0;
  // Ends the streamed response.
  virtual void Finish() = 0;

  // True once the peer disconnected or reset the stream before the response was finished.
  virtual bool Closed() const = 0;
  // Runs `callback` once when the peer goes away before the response is finished (at once
  // if it already has). Used to cancel generation work.
  virtual void OnClose(std::function<void()> callback) = 0;
};

using Handler = std::function<void(Request request, std::shared_ptr<ResponseWriter> writer)>;

// Limits against slow or greedy clients, and what happens when they are hit:
//
// - Request head: an HTTP/1.1 request head must be complete within `header_timeout` of its
//   first byte (of the connection's start for the first request: TLS handshake and protocol
//   detection count too); otherwise the server answers 408 and closes. An HTTP/2 stream
//   whose header block is not complete within `header_timeout` of its HEADERS frame closes
//   the connection (nothing else can be read while a header block is open).
// - Request body: must be complete within `body_timeout` of the end of the head, plus one
//   second per 256 KiB received (so a large upload over a modest link still fits, but a
//   trickle does not). HTTP/1.1 answers 408 and closes; an HTTP/2 stream is reset (CANCEL).
// - Keep-alive: a connection with no request in progress closes after `idle_timeout`. Over
//   HTTP/2 only dispatched streams count as work in progress: a connection whose streams
//   are all still uploading (or stalled) closes `idle_timeout` after its last dispatch.
// - A dispatched request (the handler is working) is never timed out by these, however long
//   generation takes; a peer that stops reading the response is (`idle_timeout` per write).
// - HTTP/2 request bodies buffered per connection, over all its streams, are capped at
//   `max_buffered_body_bytes`; a stream that would pass it is reset with REFUSED_STREAM
//   (safe to retry). A single body over `max_body_bytes` still reaches the handler with
//   Request::body_too_large. Memory is never reserved by the announced content-length.
// - Connections: at most `max_connections` open sockets in total and
//   `max_connections_per_address` per client address (per /64 for IPv6). Past either cap a
//   new connection is accepted and closed at once, without a response. When the process runs
//   out of file descriptors (EMFILE), a spare descriptor kept for the purpose is freed to
//   accept and close the waiting client, so clients fail fast instead of hanging in the
//   backlog; the accept loop never spins (it backs off 50 ms when even that fails).
// - Worker queue: at most `max_queued_requests` dispatched requests wait for a free worker.
//   Past that the request is answered at once on the I/O thread by `overload_handler` (a
//   default sends 503). `inline_handler` runs before any of this, also on the I/O thread.
struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port; see Server::port()
  int io_threads = 2;
  int worker_threads = 64;  // handler pool; a blocked handler holds one
  size_t max_body_bytes = 25'000'000 + 1024 * 1024;
  std::string tls_cert_file;  // PEM; both set enables TLS (ALPN h2, http/1.1)
  std::string tls_key_file;
  std::chrono::milliseconds idle_timeout{120'000};
  std::chrono::milliseconds header_timeout{20'000};  // 0 disables
  std::chrono::milliseconds body_timeout{60'000};    // 0 disables
  int max_connections = 0;  // 0: RLIMIT_NOFILE (soft) minus 128 spare descriptors, at least 16
  int max_connections_per_address = 256;
  int max_queued_requests = 0;         // 0: 4 x worker_threads
  size_t max_buffered_body_bytes = 0;  // per HTTP/2 connection; 0: max_body_bytes + 1 MiB

  // Called on the I/O thread for every request before it is queued for a worker. Returns
  // true when it answered through `writer`; must not block. Used for health checks, which
  // must be answered even when every worker is busy.
  std::function<bool(const Request& request, ResponseWriter& writer)> inline_handler;
  // Called on the I/O thread instead of the handler when the worker queue is full; must
  // answer through `writer` and not block. Unset: 503 with a plain-text body.
  std::function<void(const Request& request, ResponseWriter& writer)> overload_handler;
};

class Server {
 public:
  // Binds and starts serving. Returns kUnavailable when the address cannot be bound and
  // kInvalidArgument for unusable TLS files.
  static StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options, Handler handler);
  virtual ~Server() = default;

  virtual int port() const = 0;
  // Stops accepting, lets in-flight requests and streams finish (up to `grace`), then closes
  // every connection. Idempotent.
  virtual void Shutdown(std::chrono::milliseconds grace) = 0;

  // Capacity of the HTTP/2 request bodies being buffered, summed over all connections.
  virtual size_t BufferedBodyBytesForTest() const { return 0; }
};

}  // namespace basalt::http
