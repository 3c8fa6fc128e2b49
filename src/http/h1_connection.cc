// HTTP/1.1 connection: Beast's parser fed from one read loop that stays pending while a
// response is produced (so a vanished client is noticed at once), hand-built response heads,
// chunked streaming with one write in flight and everything queued behind it coalesced.
#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdio>
#include <memory>
#include <utility>

#include "http/http_internal.h"

namespace basalt::http::internal {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

constexpr uint32_t kHeaderLimit = 64 * 1024;
constexpr size_t kReadSize = 64 * 1024;
constexpr size_t kScratchSize = 16 * 1024;
// Bytes of a pipelined next request kept while responding; beyond that, reading pauses.
constexpr size_t kMaxPipelined = 1024 * 1024;
// Small chunks are copied into one buffer with their framing; larger ones are gathered.
constexpr size_t kCoalesceLimit = 4096;

bool SafeHeaderText(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

template <class Stream>
class H1Connection final : public ConnectionBase,
                           public ResponseSink,
                           public std::enable_shared_from_this<H1Connection<Stream>> {
 public:
  H1Connection(ServerCore& core, Stream stream, beast::flat_buffer buffer, Accepted accepted)
      : core_(core),
        stream_(std::move(stream)),
        executor_(stream_.get_executor()),
        timer_(executor_),
        buffer_(std::move(buffer)),
        remote_(std::move(accepted.remote)),
        slot_(std::move(accepted.slot)),
        request_start_(accepted.start) {}

  // Runs on the connection's strand.
  void Start() {
    if (!core_.Register(this->shared_from_this())) {
      phase_ = Phase::kClosed;
      error_code ec;
      LowestLayer(stream_).close(ec);
      slot_.Release();
      return;
    }
    NewParser();
    // The first request's head deadline counts from the accept (see http_server.h).
    request_started_ = true;
    ArmTimer(Deadline());
    Process();
  }

  void BeginShutdown() override {
    asio::post(executor_, [self = this->shared_from_this()] { self->OnShutdown(); });
  }
  void ForceClose() override {
    asio::post(executor_, [self = this->shared_from_this()] { self->Close(); });
  }

  void SinkRespond(int32_t id, int status, std::vector<Header> headers, std::string body) override {
    asio::post(executor_, [self = this->shared_from_this(), id, status,
                           headers = std::move(headers), body = std::move(body)]() mutable {
      self->DoRespond(id, status, std::move(headers), std::move(body));
    });
  }
  void SinkStart(int32_t id, int status, std::vector<Header> headers) override {
    asio::post(executor_, [self = this->shared_from_this(), id, status,
                           headers = std::move(headers)]() mutable {
      self->DoStart(id, status, std::move(headers));
    });
  }
  void SinkWrite(int32_t id, std::string data) override {
    asio::post(executor_, [self = this->shared_from_this(), id, data = std::move(data)]() mutable {
      self->DoWrite(id, std::move(data));
    });
  }
  void SinkFinish(int32_t id) override {
    asio::post(executor_, [self = this->shared_from_this(), id] { self->DoFinish(id); });
  }
  void SinkAbort(int32_t id) override {
    asio::post(executor_, [self = this->shared_from_this(), id] {
      if (self->IsCurrent(id)) self->Close();  // HTTP/1.1 can only signal failure by closing
    });
  }

 private:
  enum class Phase { kRequest, kResponse, kLinger, kClosed };

  // ---- reading ----

  void NewParser() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    // Content-Length is checked by hand after the header so an oversized request still
    // reaches the handler; chunked bodies get the limit once the header is in.
    parser_->body_limit(boost::none);
    header_done_ = false;
    body_too_large_ = false;
    request_started_ = false;
    body_received_ = 0;
  }

  void Process() {
    while (phase_ == Phase::kRequest) {
      if (buffer_.size() == 0) return DoRead();
      if (!request_started_) {
        // The next request's first byte: from here its head has header_timeout.
        request_started_ = true;
        request_start_ = Clock::now();
        WantTimer(Deadline());
      }
      error_code ec;
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (header_done_) body_received_ += used;
      if (ec == bhttp::error::need_more) return DoRead();
      if (ec == bhttp::error::body_limit) {
        body_too_large_ = true;
        return Dispatch();
      }
      if (ec) return Reject(ec == bhttp::error::header_limit ? 431 : 400);
      if (!header_done_ && parser_->is_header_done() && !OnHeader()) return;
      if (parser_->is_done()) return Dispatch();
      if (used == 0) return DoRead();
    }
  }

  // False when the request was dispatched already (oversized).
  bool OnHeader() {
    header_done_ = true;
    body_start_ = Clock::now();
    WantTimer(Deadline());
    const auto length = parser_->content_length();
    if (length && *length > core_.options.max_body_bytes) {
      body_too_large_ = true;
      Dispatch();
      return false;
    }
    parser_->body_limit(static_cast<std::uint64_t>(core_.options.max_body_bytes));
    parser_->eager(true);
    if (!parser_->is_done()) {
      const auto& msg = parser_->get();
      if (msg.version() >= 11 && EqualsIgnoreCase(msg[bhttp::field::expect], "100-continue")) {
        Queue("HTTP/1.1 100 Continue\r\n\r\n");
        Flush();
      }
    }
    return true;
  }

  void Dispatch() {
    auto& msg = parser_->get();
    Request request;
    request.method = std::string(msg.method_string());
    request.target = std::string(msg.target());
    request.http_version = 11;
    for (const auto& field : msg) {
      Header h{std::string(field.name_string()), std::string(field.value())};
      AsciiLower(h.name);
      if (request.authority.empty() && h.name == "host") request.authority = h.value;
      request.headers.push_back(std::move(h));
    }
    request.body_too_large = body_too_large_;
    if (!body_too_large_) request.body = std::move(msg.body());
    request.remote_address = remote_;

    is_head_ = msg.method() == bhttp::verb::head;
    http10_ = msg.version() < 11;
    close_after_ = body_too_large_ || shutting_down_ || !parser_->keep_alive();
    discard_input_ = body_too_large_;
    if (discard_input_) buffer_.consume(buffer_.size());
    parser_.reset();

    phase_ = Phase::kResponse;
    response_started_ = false;
    response_complete_ = false;
    ++request_id_;
    auto writer = std::make_shared<WriterImpl>(this->shared_from_this(), request_id_);
    writer_ = writer;
    core_.Dispatch(std::move(request), std::move(writer));
    DoRead();  // notices the client leaving while the handler works
  }

  // Malformed or timed-out request: answer and close; nothing reaches the handler.
  void Reject(int status) {
    phase_ = Phase::kResponse;
    close_after_ = true;
    discard_input_ = true;
    // A read into `buffer_` may be pending (timeouts); it is discarded when it lands.
    if (!reading_) buffer_.consume(buffer_.size());
    parser_.reset();
    ++request_id_;
    writer_.reset();
    response_started_ = true;
    response_complete_ = true;
    std::string head = StatusLine(status);
    head += "Content-Length: 0\r\nConnection: close\r\n\r\n";
    Queue(std::move(head));
    Flush();
    DoRead();
  }

  void DoRead() {
    if (reading_ || phase_ == Phase::kClosed) return;
    if (phase_ == Phase::kResponse && !discard_input_ && buffer_.size() >= kMaxPipelined) return;
    reading_ = true;
    auto self = this->shared_from_this();
    if (phase_ == Phase::kRequest) {
      stream_.async_read_some(buffer_.prepare(kReadSize),
                              [self](error_code ec, size_t n) { self->OnRead(ec, n, false); });
      return;
    }
    // Outside the request phase `buffer_` may be consumed while the read is pending, so read
    // into a side buffer.
    if (!scratch_) scratch_ = std::make_unique<char[]>(kScratchSize);
    stream_.async_read_some(asio::buffer(scratch_.get(), kScratchSize),
                            [self](error_code ec, size_t n) { self->OnRead(ec, n, true); });
  }

  void OnRead(error_code ec, size_t n, bool scratch) {
    reading_ = false;
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      // A client that half-closes after a request we already answered in full still gets it.
      if (ec == asio::error::eof && phase_ == Phase::kResponse && response_complete_) {
        close_after_ = true;
        return;
      }
      return Close();
    }
    if (!scratch) {
      buffer_.commit(n);
    } else if (phase_ == Phase::kRequest || (phase_ == Phase::kResponse && !discard_input_)) {
      buffer_.commit(asio::buffer_copy(buffer_.prepare(n), asio::buffer(scratch_.get(), n)));
    }
    if (phase_ == Phase::kRequest) {
      Process();
    } else {
      DoRead();
    }
  }

  // ---- writing ----

  bool IsCurrent(int32_t id) const { return phase_ == Phase::kResponse && id == request_id_; }

  std::string StatusLine(int status) const {
    std::string line;
    line.reserve(256);
    line += "HTTP/1.1 ";
    line += std::to_string(status);
    line += ' ';
    line += bhttp::obsolete_reason(static_cast<bhttp::status>(status));
    line += "\r\n";
    return line;
  }

  std::string Head(int status, const std::vector<Header>& headers) {
    std::string head = StatusLine(status);
    for (const Header& h : headers) {
      if (h.name.empty() || !SafeHeaderText(h.name) || !SafeHeaderText(h.value)) continue;
      // Framing is ours to decide.
      if (EqualsIgnoreCase(h.name, "content-length") ||
          EqualsIgnoreCase(h.name, "transfer-encoding")) {
        continue;
      }
      if (EqualsIgnoreCase(h.name, "connection")) {
        if (h.value.find("close") != std::string::npos) close_after_ = true;
        continue;
      }
      head += h.name;
      head += ": ";
      head += h.value;
      head += "\r\n";
    }
    return head;
  }

  void EndHead(std::string& head) const {
    if (close_after_) {
      head += "Connection: close\r\n";
    } else if (http10_) {
      head += "Connection: keep-alive\r\n";
    }
    head += "\r\n";
  }

  static int SaneStatus(int status) { return status < 100 || status > 999 ? 500 : status; }
  bool BodyAllowed(int status) const {
    return !is_head_ && status >= 200 && status != 204 && status != 304;
  }

  void DoRespond(int32_t id, int status, std::vector<Header> headers, std::string body) {
    if (!IsCurrent(id) || response_started_) return;
    status = SaneStatus(status);
    response_started_ = true;
    response_complete_ = true;
    std::string head = Head(status, headers);
    if (status >= 200 && status != 204 && status != 304) {
      head += "Content-Length: ";
      head += std::to_string(body.size());
      head += "\r\n";
    }
    EndHead(head);
    if (!BodyAllowed(status) || body.empty()) {
      Queue(std::move(head));
    } else if (body.size() <= kCoalesceLimit) {
      head += body;
      Queue(std::move(head));
    } else {
      Queue(std::move(head));
      Queue(std::move(body));
    }
    Flush();
  }

  void DoStart(int32_t id, int status, std::vector<Header> headers) {
    if (!IsCurrent(id) || response_started_) return;
    status = SaneStatus(status);
    response_started_ = true;
    body_allowed_ = BodyAllowed(status);
    // HTTP/1.0 has no chunked encoding: the close ends the body.
    if (http10_) close_after_ = true;
    chunked_ = !http10_;
    std::string head = Head(status, headers);
    if (chunked_) head += "Transfer-Encoding: chunked\r\n";
    EndHead(head);
    Queue(std::move(head));
    Flush();
  }

  void DoWrite(int32_t id, std::string data) {
    if (!IsCurrent(id) || !response_started_ || response_complete_ || data.empty()) return;
    const size_t n = data.size();
    if (!body_allowed_) {
      if (auto w = writer_.lock()) w->Flushed(n);
      return;
    }
    if (chunked_) {
      char prefix[24];
      const int len = std::snprintf(prefix, sizeof(prefix), "%zx\r\n", n);
      if (n <= kCoalesceLimit) {
        std::string chunk;
        chunk.reserve(static_cast<size_t>(len) + n + 2);
        chunk.append(prefix, static_cast<size_t>(len));
        chunk += data;
        chunk += "\r\n";
        Queue(std::move(chunk));
      } else {
        Queue(std::string(prefix, static_cast<size_t>(len)));
        Queue(std::move(data));
        Queue("\r\n");
      }
    } else {
      Queue(std::move(data));
    }
    queued_data_bytes_ += n;
    Flush();
  }

  void DoFinish(int32_t id) {
    if (!IsCurrent(id) || !response_started_ || response_complete_) return;
    response_complete_ = true;
    if (chunked_) Queue("0\r\n\r\n");
    Flush();
    MaybeFinishResponse();
  }

  void Queue(std::string s) { pending_.push_back(std::move(s)); }

  void Flush() {
    if (write_in_flight_ || pending_.empty() || phase_ == Phase::kClosed) return;
    writing_.swap(pending_);
    writing_data_bytes_ = queued_data_bytes_;
    queued_data_bytes_ = 0;
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      // asio's TLS stream writes one buffer per record; join small gathers into one.
      if (writing_.size() > 1) {
        size_t total = 0;
        for (const auto& s : writing_) total += s.size();
        std::string joined;
        joined.reserve(total);
        for (const auto& s : writing_) joined += s;
        writing_.clear();
        writing_.push_back(std::move(joined));
      }
    }
    write_buffers_.clear();
    for (const auto& s : writing_) write_buffers_.emplace_back(s.data(), s.size());
    write_in_flight_ = true;
    write_since_ = Clock::now();
    WantTimer(Deadline());
    asio::async_write(
        stream_, write_buffers_,
        [self = this->shared_from_this()](error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(error_code ec) {
    write_in_flight_ = false;
    writing_.clear();
    if (phase_ == Phase::kClosed) return;
    if (ec) return Close();
    if (writing_data_bytes_ > 0) {
      if (auto w = writer_.lock()) w->Flushed(writing_data_bytes_);
      writing_data_bytes_ = 0;
    }
    if (!pending_.empty()) return Flush();
    MaybeFinishResponse();
  }

  void MaybeFinishResponse() {
    if (phase_ != Phase::kResponse || !response_complete_ || write_in_flight_ ||
        !pending_.empty()) {
      return;
    }
    writer_.reset();
    if (close_after_ || shutting_down_) return StartLinger();
    phase_ = Phase::kRequest;
    NewParser();
    idle_since_ = Clock::now();
    WantTimer(Deadline());
    Process();  // a pipelined request may be buffered already
  }

  // Half-close and drain input for a moment so the client reads our last response instead
  // of a reset.
  void StartLinger() {
    phase_ = Phase::kLinger;
    error_code ec;
    LowestLayer(stream_).shutdown(Tcp::socket::shutdown_send, ec);
    buffer_.consume(buffer_.size());
    linger_deadline_ = Clock::now() + kLingerTime;
    ArmTimer(linger_deadline_);
    DoRead();
  }

  // ---- lifetime ----

  void OnShutdown() {
    if (phase_ == Phase::kClosed) return;
    shutting_down_ = true;
    if (phase_ == Phase::kRequest && buffer_.size() == 0 && !parser_->got_some()) return Close();
    close_after_ = true;
  }

  // When the connection must give up unless something happens first: the peer has to take
  // each write within idle_timeout, and while reading a request, the keep-alive, head or body
  // deadline applies. A dispatched request has no deadline of its own.
  Clock::time_point Deadline() const {
    const ServerOptions& o = core_.options;
    Clock::time_point d = Clock::time_point::max();
    if (write_in_flight_) d = write_since_ + o.idle_timeout;
    if (phase_ == Phase::kRequest) {
      if (!request_started_) {
        d = std::min(d, idle_since_ + o.idle_timeout);
      } else if (!header_done_) {
        d = std::min(d, HeaderDeadline(o, request_start_));
      } else {
        d = std::min(d, BodyDeadline(o, body_start_, body_received_));
      }
    }
    return d;
  }

  void ArmTimer(Clock::time_point when) {
    armed_ = std::min(when, Clock::now() + kTimerBackstop);
    timer_.expires_at(armed_);
    timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (!ec) self->OnTimer();
    });
  }

  // Brings the timer forward when a new deadline is nearer than the armed one.
  void WantTimer(Clock::time_point when) {
    if (phase_ != Phase::kClosed && phase_ != Phase::kLinger && when < armed_) ArmTimer(when);
  }

  void OnTimer() {
    if (phase_ == Phase::kClosed) return;
    const auto now = Clock::now();
    if (phase_ == Phase::kLinger) {
      if (now >= linger_deadline_) return Close();
      return ArmTimer(linger_deadline_);
    }
    const auto deadline = Deadline();
    if (now < deadline) return ArmTimer(deadline);
    // The peer stopped taking our bytes, or is idle between requests: just close.
    if (write_in_flight_ && now >= write_since_ + core_.options.idle_timeout) return Close();
    if (phase_ == Phase::kRequest && request_started_) {
      // Head or body too slow. The 408 itself must then be taken in time.
      Reject(408);
      return ArmTimer(Deadline());
    }
    Close();
  }

  void Close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    timer_.cancel();
    error_code ec;
    LowestLayer(stream_).shutdown(Tcp::socket::shutdown_both, ec);
    LowestLayer(stream_).close(ec);
    slot_.Release();
    if (auto w = writer_.lock()) w->PeerGone();
    writer_.reset();
    pending_.clear();
    parser_.reset();
    core_.Unregister(this);
  }

  ServerCore& core_;
  Stream stream_;
  asio::any_io_executor executor_;  // the connection's strand
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::unique_ptr<char[]> scratch_;
  const std::string remote_;
  ConnectionSlot slot_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;

  Phase phase_ = Phase::kRequest;
  bool reading_ = false;
  bool header_done_ = false;
  bool body_too_large_ = false;
  bool discard_input_ = false;
  bool shutting_down_ = false;
  Clock::time_point armed_ = Clock::time_point::max();
  Clock::time_point linger_deadline_;
  // Deadlines of the request being read (see Deadline()).
  bool request_started_ = false;  // a byte of it arrived (or: first request of the connection)
  Clock::time_point request_start_;
  Clock::time_point body_start_;
  size_t body_received_ = 0;
  Clock::time_point idle_since_;
  Clock::time_point write_since_;

  // Current response.
  int32_t request_id_ = 0;
  std::weak_ptr<WriterImpl> writer_;
  bool is_head_ = false;
  bool http10_ = false;
  bool close_after_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool chunked_ = false;
  bool body_allowed_ = true;

  // Output: `pending_` collects while `writing_` is on the wire.
  std::vector<std::string> pending_;
  std::vector<std::string> writing_;
  std::vector<asio::const_buffer> write_buffers_;
  size_t queued_data_bytes_ = 0;
  size_t writing_data_bytes_ = 0;
  bool write_in_flight_ = false;
};

template <class Stream>
void StartH1Impl(ServerCore& core, Stream stream, beast::flat_buffer buffer, Accepted accepted) {
  std::make_shared<H1Connection<Stream>>(core, std::move(stream), std::move(buffer),
                                         std::move(accepted))
      ->Start();
}

}  // namespace

void StartH1(ServerCore& core, TcpStream stream, beast::flat_buffer buffer, Accepted accepted) {
  StartH1Impl(core, std::move(stream), std::move(buffer), std::move(accepted));
}

void StartH1(ServerCore& core, TlsStream stream, beast::flat_buffer buffer, Accepted accepted) {
  StartH1Impl(core, std::move(stream), std::move(buffer), std::move(accepted));
}

}  // namespace basalt::http::internal
