// The HTTP fuzz targets' harness: one real http::Server on 127.0.0.1 port 0 with a small
// handler, started once per process; each input goes to a fresh loopback connection, which
// is read until the server closes it or ~50 ms pass. Every 256 inputs the process's open
// descriptors are counted: the server must not keep connections the client has closed.
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "fuzz_util.h"
#include "http/http_server.h"

namespace basalt::fuzz {

// Paths pick what the handler does, so responses of every kind are written:
//   /stream  a streamed response in three writes;  /empty  204 without a body;
//   anything else: 200 with the request body echoed.
inline void FuzzHandler(http::Request request, std::shared_ptr<http::ResponseWriter> writer) {
  if (request.target.rfind("/stream", 0) == 0) {
    writer->StartStream(200, {{"content-type", "application/vnd.amazon.eventstream"}});
    writer->Write("one");
    writer->Write(request.body);
    writer->Write("three");
    writer->Finish();
  } else if (request.target.rfind("/empty", 0) == 0) {
    writer->Respond(204, {}, "");
  } else {
    writer->Respond(200, {{"content-type", "text/plain"}}, std::move(request.body));
  }
}

inline int OpenDescriptors() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
  }
  return n;
}

class HttpHarness {
 public:
  HttpHarness() {
    spdlog::set_level(spdlog::level::off);
    http::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.io_threads = 1;
    options.worker_threads = 4;
    options.max_body_bytes = 64 * 1024;
    options.idle_timeout = std::chrono::seconds(2);
    auto server = http::Server::Start(options, FuzzHandler);
    FUZZ_CHECK(server.ok());
    server_ = std::move(*server);
    baseline_fds_ = OpenDescriptors();
  }

  // Writes `prefix` + `input` to a new connection, half-closes, reads until EOF or ~50 ms.
  void Send(std::string_view prefix, std::string_view input) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    FUZZ_CHECK(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    std::string bytes(prefix);
    bytes.append(input);
    size_t off = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
    while (off < bytes.size()) {
      ssize_t w = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        off += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
          std::chrono::steady_clock::now() < deadline) {
        Drain(fd, 1);
        continue;
      }
      break;  // the server closed (or stopped reading)
    }
    shutdown(fd, SHUT_WR);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!Drain(fd, 10)) break;
    }
    close(fd);

    if (++inputs_ % 256 == 0) CheckDescriptors();
  }

 private:
  // Reads what is there within `ms`; false once the peer closed or the socket failed.
  static bool Drain(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return true;
    char buf[16384];
    ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    return r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR));
  }

  // Closed connections must be released: allow some still closing, then wait for the idle
  // timeout once before calling it a leak.
  void CheckDescriptors() {
    if (OpenDescriptors() <= baseline_fds_ + 64) return;
    for (int i = 0; i < 40 && OpenDescriptors() > baseline_fds_ + 64; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    int now = OpenDescriptors();
    if (now > baseline_fds_ + 64) {
      std::fprintf(stderr, "fd leak: %d open descriptors, %d at start, after %d inputs\n", now,
                   baseline_fds_, inputs_);
      std::abort();
    }
  }

  std::unique_ptr<http::Server> server_;
  int baseline_fds_ = 0;
  int inputs_ = 0;
};

}  // namespace basalt::fuzz
