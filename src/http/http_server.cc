// Server: accept loop, protocol detection (h2 preface / TLS ALPN), connection registry and
// graceful shutdown. The per-protocol connections live in h1_connection.cc and
// h2_connection.cc.
#include "http/http_server.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cstring>
#include <thread>
#include <utility>

#include "http/http_internal.h"

namespace basalt::http {

const std::string* Request::FindHeader(std::string_view name) const {
  for (const Header& h : headers) {
    if (h.name == name) return &h.value;
  }
  return nullptr;
}

namespace internal {

namespace {

// Descriptors kept free for the store, logs and models when the connection cap is derived
// from RLIMIT_NOFILE.
constexpr int kReservedDescriptors = 128;
constexpr int kMinDerivedConnections = 16;

ServerOptions Resolve(ServerOptions o) {
  if (o.max_connections <= 0) {
    rlimit limit{};
    rlim_t soft = 1024;
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) soft = limit.rlim_cur;
    const rlim_t capped = std::min<rlim_t>(soft, 1 << 20);
    o.max_connections =
        std::max(kMinDerivedConnections, static_cast<int>(capped) - kReservedDescriptors);
  }
  if (o.max_connections_per_address <= 0) o.max_connections_per_address = o.max_connections;
  if (o.max_queued_requests <= 0) o.max_queued_requests = 4 * std::max(1, o.worker_threads);
  if (o.max_buffered_body_bytes == 0) o.max_buffered_body_bytes = o.max_body_bytes + (1 << 20);
  return o;
}

void DefaultOverload(const Request&, ResponseWriter& writer) {
  writer.Respond(503, {{"Content-Type", "text/plain"}, {"Retry-After", "1"}},
                 "The server is busy. Try your request again.\n");
}

}  // namespace

ServerCore::ServerCore(const ServerOptions& opts, Handler h)
    : options(Resolve(opts)),
      handler(std::move(h)),
      ioc(std::max(1, opts.io_threads)),
      workers(static_cast<size_t>(std::max(1, opts.worker_threads))) {}

void ServerCore::Dispatch(Request request, std::shared_ptr<WriterImpl> writer) {
  if (options.inline_handler) {
    bool answered = false;
    // An inline handler that throws is treated as having declined the request.
    try {
      answered = options.inline_handler(request, *writer);
    } catch (...) {
    }
    if (answered) return;
  }
  // Counted before posting and uncounted when a worker picks it up, so the bound holds
  // however many I/O threads dispatch at once.
  if (queued_.fetch_add(1, std::memory_order_acq_rel) >= options.max_queued_requests) {
    queued_.fetch_sub(1, std::memory_order_acq_rel);
    try {
      if (options.overload_handler) {
        options.overload_handler(request, *writer);
      } else {
        DefaultOverload(request, *writer);
      }
    } catch (...) {
    }
    return;  // a writer left unanswered answers 500 as it goes
  }
  asio::post(workers, [this, request = std::move(request), writer = std::move(writer)]() mutable {
    queued_.fetch_sub(1, std::memory_order_acq_rel);
    // An escaping exception would kill a pool thread; the dropped writer answers 500.
    try {
      handler(std::move(request), std::move(writer));
    } catch (...) {
    }
  });
}

ConnectionSlot ServerCore::Admit(const std::string& key) {
  std::lock_guard lock(admit_mu_);
  if (open_connections_ >= options.max_connections) return {};
  int& mine = per_address_[key];
  if (mine >= options.max_connections_per_address) return {};
  ++mine;
  ++open_connections_;
  return ConnectionSlot(this, key);
}

void ServerCore::ReleaseSlot(const std::string& key) {
  std::lock_guard lock(admit_mu_);
  --open_connections_;
  auto it = per_address_.find(key);
  if (it != per_address_.end() && --it->second <= 0) per_address_.erase(it);
}

void ConnectionSlot::Release() {
  if (ServerCore* core = std::exchange(core_, nullptr)) core->ReleaseSlot(key_);
}

std::string AdmissionKey(const asio::ip::address& address) {
  if (address.is_v6()) {
    const asio::ip::address_v6 v6 = address.to_v6();
    if (v6.is_v4_mapped()) {
      return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
    }
    asio::ip::address_v6::bytes_type bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return asio::ip::address_v6(bytes).to_string() + "/64";
  }
  return address.to_string();
}

bool ServerCore::Register(const std::shared_ptr<ConnectionBase>& conn) {
  std::lock_guard lock(mu_);
  if (stopping_) return false;
  connections_.insert_or_assign(conn.get(), conn);
  return true;
}

void ServerCore::Unregister(ConnectionBase* conn) {
  std::lock_guard lock(mu_);
  if (connections_.erase(conn) > 0 && connections_.empty()) idle_cv_.notify_all();
}

std::vector<std::shared_ptr<ConnectionBase>> ServerCore::Snapshot() {
  std::vector<std::shared_ptr<ConnectionBase>> out;
  std::lock_guard lock(mu_);
  out.reserve(connections_.size());
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (auto conn = it->second.lock()) {
      out.push_back(std::move(conn));
      ++it;
    } else {
      it = connections_.erase(it);  // gone without unregistering: nothing left to wait for
    }
  }
  if (connections_.empty()) idle_cv_.notify_all();
  return out;
}

bool ServerCore::WaitIdle(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_until(lock, deadline, [this] { return connections_.empty(); });
}

void ServerCore::BeginStopping() {
  std::lock_guard lock(mu_);
  stopping_ = true;
}

namespace {

constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static const unsigned char kProtocols[] = "\x02h2\x08http/1.1";
  unsigned char* selected = nullptr;
  unsigned char selected_len = 0;
  // Server preference: h2 first.
  if (SSL_select_next_proto(&selected, &selected_len, kProtocols, sizeof(kProtocols) - 1, in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  *outlen = selected_len;
  return SSL_TLSEXT_ERR_OK;
}

StatusOr<asio::ssl::context> MakeTlsContext(const ServerOptions& options) {
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  boost::system::error_code ec;
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                      asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                  ec);
  if (ec) return Status::Internal("TLS options: " + ec.message());
  ctx.use_certificate_chain_file(options.tls_cert_file, ec);
  if (ec) {
    return Status::InvalidArgument("TLS certificate " + options.tls_cert_file + ": " +
                                   ec.message());
  }
  ctx.use_private_key_file(options.tls_key_file, asio::ssl::context::pem, ec);
  if (ec) {
    return Status::InvalidArgument("TLS key " + options.tls_key_file + ": " + ec.message());
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    return Status::InvalidArgument("TLS key does not match the certificate");
  }
  SSL_CTX_set_alpn_select_cb(ctx.native_handle(), &SelectAlpn, nullptr);
  return ctx;
}

// Owns a fresh socket until its protocol is known: TLS handshake (ALPN), then the first
// bytes decide between the h2 client preface and HTTP/1.1.
template <class Stream>
class Detector final : public ConnectionBase,
                       public std::enable_shared_from_this<Detector<Stream>> {
 public:
  Detector(ServerCore& core, Stream stream, Accepted accepted)
      : core_(core),
        stream_(std::move(stream)),
        timer_(stream_.get_executor()),
        accepted_(std::move(accepted)) {}

  void Start() {
    if (!core_.Register(this->shared_from_this())) {
      CloseSocket();
      return;
    }
    // The handshake and the first bytes count against the first request's head deadline.
    const ServerOptions& o = core_.options;
    timer_.expires_at(o.header_timeout.count() > 0 ? HeaderDeadline(o, accepted_.start)
                                                   : accepted_.start + o.idle_timeout);
    timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->Fail();
    });
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](boost::system::error_code ec) {
                                self->OnHandshake(ec);
                              });
    } else {
      ReadMore();
    }
  }

  void BeginShutdown() override { ForceClose(); }
  void ForceClose() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->Fail(); });
  }

 private:
  void OnHandshake(boost::system::error_code ec) {
    if (done_) return;
    if (ec) return Fail();
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      const unsigned char* alpn = nullptr;
      unsigned int alpn_len = 0;
      SSL_get0_alpn_selected(stream_.native_handle(), &alpn, &alpn_len);
      if (alpn_len == 2 && std::memcmp(alpn, "h2", 2) == 0) return HandOff(true);
      if (alpn_len > 0) return HandOff(false);
    }
    ReadMore();  // no ALPN: look at the bytes like on plain TCP
  }

  void ReadMore() {
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](boost::system::error_code ec,
                                                              size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(boost::system::error_code ec, size_t n) {
    if (done_) return;
    if (ec) return Fail();
    buffer_.commit(n);
    const auto data = buffer_.data();
    std::string_view seen(static_cast<const char*>(data.data()), data.size());
    const size_t common = std::min(seen.size(), kH2Preface.size());
    if (seen.substr(0, common) != kH2Preface.substr(0, common)) return HandOff(false);
    if (seen.size() >= kH2Preface.size()) return HandOff(true);
    ReadMore();
  }

  void HandOff(bool h2) {
    done_ = true;
    timer_.cancel();
    // The new connection registers itself before this one leaves, so Shutdown never sees a
    // gap.
    if (h2) {
      StartH2(core_, std::move(stream_), std::move(buffer_), std::move(accepted_));
    } else {
      StartH1(core_, std::move(stream_), std::move(buffer_), std::move(accepted_));
    }
    core_.Unregister(this);
  }

  void Fail() {
    if (done_) return;
    done_ = true;
    timer_.cancel();
    CloseSocket();
    core_.Unregister(this);
  }

  void CloseSocket() {
    boost::system::error_code ec;
    LowestLayer(stream_).close(ec);
    accepted_.slot.Release();
  }

  ServerCore& core_;
  Stream stream_;
  asio::steady_timer timer_;
  boost::beast::flat_buffer buffer_;
  Accepted accepted_;
  bool done_ = false;
};

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& options, Handler handler)
      : core_(options, std::move(handler)),
        acceptor_(asio::make_strand(core_.ioc)),
        retry_timer_(acceptor_.get_executor()),
        work_(asio::make_work_guard(core_.ioc)) {}

  ~ServerImpl() override { Shutdown(std::chrono::milliseconds(0)); }

  Status Init() {
    const ServerOptions& o = core_.options;
    if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
      if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
        return Status::InvalidArgument("TLS needs both a certificate and a key file");
      }
      auto ctx = MakeTlsContext(o);
      if (!ctx.ok()) return ctx.status();
      core_.tls.emplace(std::move(ctx).value());
    }
    if (o.port < 0 || o.port > 65535) return Status::InvalidArgument("bad port");

    boost::system::error_code ec;
    Tcp::resolver resolver(core_.ioc);
    auto results = resolver.resolve(o.host, std::to_string(o.port),
                                    Tcp::resolver::passive | Tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
      return Status::Unavailable("cannot resolve " + o.host + ": " + ec.message());
    }
    const Tcp::endpoint endpoint = results.begin()->endpoint();
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) acceptor_.non_blocking(true, ec);
    if (ec) {
      return Status::Unavailable("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                                 ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint(ec).port();
    spare_fd_ = OpenSpare();

    Accept();
    const int threads = std::max(1, o.io_threads);
    io_threads_.reserve(static_cast<size_t>(threads));
    for (int i = 0; i < threads; ++i) {
      io_threads_.emplace_back([this] {
        for (;;) {
          // A throwing completion handler must not end the thread early.
          try {
            core_.ioc.run();
            return;
          } catch (...) {
          }
        }
      });
    }
    started_ = true;
    return Status::Ok();
  }

  int port() const override { return port_; }

  size_t BufferedBodyBytesForTest() const override {
    return static_cast<size_t>(std::max<int64_t>(0, core_.h2_body_bytes.load()));
  }

  void Shutdown(std::chrono::milliseconds grace) override {
    std::lock_guard lock(shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
    if (started_) {
      core_.BeginStopping();
      asio::post(acceptor_.get_executor(), [this] {
        boost::system::error_code ec;
        acceptor_.close(ec);
        retry_timer_.cancel();
        if (spare_fd_ >= 0) ::close(std::exchange(spare_fd_, -1));
      });
      for (auto& conn : core_.Snapshot()) conn->BeginShutdown();
      core_.WaitIdle(Clock::now() + grace);
      for (auto& conn : core_.Snapshot()) conn->ForceClose();
      core_.WaitIdle(Clock::now() + std::chrono::seconds(10));
    }
    // Handlers see Closed() by now and are expected to return.
    core_.workers.join();
    work_.reset();
    core_.ioc.stop();
    for (auto& t : io_threads_) t.join();
    io_threads_.clear();
    if (spare_fd_ >= 0) ::close(std::exchange(spare_fd_, -1));
  }

 private:
  void Accept() {
    acceptor_.async_accept(asio::make_strand(core_.ioc),
                           [this](boost::system::error_code ec, Tcp::socket socket) {
                             OnAccept(ec, std::move(socket));
                           });
  }

  void OnAccept(boost::system::error_code ec, Tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors: shed the waiting client with the spare one, so it fails now
      // instead of hanging in the backlog. Each round takes one client off the backlog, so
      // this cannot spin; anything else (or no spare) backs off.
      if ((ec == boost::system::errc::too_many_files_open ||
           ec == boost::system::errc::too_many_files_open_in_system) &&
          ShedOneWithSpare()) {
        return Accept();
      }
      retry_timer_.expires_after(std::chrono::milliseconds(50));
      retry_timer_.async_wait([this](boost::system::error_code wait_ec) {
        if (wait_ec || !acceptor_.is_open()) return;
        if (spare_fd_ < 0) spare_fd_ = OpenSpare();
        Accept();
      });
      return;
    }
    boost::system::error_code ignored;
    const Tcp::endpoint peer = socket.remote_endpoint(ignored);
    if (ignored) {  // already gone
      socket.close(ignored);
      return Accept();
    }
    Accepted accepted{peer.address().to_string(), Clock::now(),
                      core_.Admit(AdmissionKey(peer.address()))};
    if (!accepted.slot.held()) {
      // Over a connection cap: close at once. No response, since the protocol is not known
      // yet and reading it would hold the socket longer.
      socket.close(ignored);
      return Accept();
    }
    socket.set_option(Tcp::no_delay(true), ignored);
    auto executor = socket.get_executor();
    if (core_.tls) {
      auto d = std::make_shared<Detector<TlsStream>>(
          core_, TlsStream(std::move(socket), *core_.tls), std::move(accepted));
      asio::post(executor, [d] { d->Start(); });
    } else {
      auto d = std::make_shared<Detector<TcpStream>>(core_, std::move(socket), std::move(accepted));
      asio::post(executor, [d] { d->Start(); });
    }
    Accept();
  }

  static int OpenSpare() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

  // Frees the spare descriptor to accept one waiting client and close it. True when a client
  // was shed.
  bool ShedOneWithSpare() {
    if (spare_fd_ < 0) return false;
    ::close(spare_fd_);
    // The acceptor is non-blocking (Init), so an empty backlog returns EAGAIN.
    const int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) ::close(fd);
    spare_fd_ = OpenSpare();
    return fd >= 0;
  }

  ServerCore core_;  // first: destroyed last
  Tcp::acceptor acceptor_;
  int spare_fd_ = -1;  // kept open to shed clients when descriptors run out (acceptor strand)
  asio::steady_timer retry_timer_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> io_threads_;
  int port_ = 0;
  bool started_ = false;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
};

}  // namespace
}  // namespace internal

StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Handler handler) {
  if (!handler) return Status::InvalidArgument("no handler");
  auto server = std::make_unique<internal::ServerImpl>(options, std::move(handler));
  Status status = server->Init();
  if (!status.ok()) return status;
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace basalt::http
