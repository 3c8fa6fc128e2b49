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
  std::string target;     // raw request-target (path and query), never percent-decoded
  std::string authority;  // HTTP/2 :authority, or the HTTP/1.1 Host header
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

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;                  // 0 picks a free port; see Server::port()
  int io_threads = 2;
  int worker_threads = 64;       // handler pool; a blocked handler holds one
  size_t max_body_bytes = 25'000'000 + 1024 * 1024;
  std::string tls_cert_file;     // PEM; both set enables TLS (ALPN h2, http/1.1)
  std::string tls_key_file;
  std::chrono::seconds idle_timeout{120};
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
};

}  // namespace basalt::http
