// HTTP/2 connection on nghttp2's C API: mem_recv/mem_send driven from one read loop and one
// write in flight, responses through data providers that defer until the handler writes.
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstring>
#include <deque>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/http_internal.h"

namespace basalt::http::internal {
namespace {

namespace beast = boost::beast;
using boost::system::error_code;

constexpr size_t kReadSize = 64 * 1024;
constexpr size_t kWriteBatch = 64 * 1024;
constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr uint32_t kMaxConcurrentStreams = 128;
// Large windows so a 25 MB request body is not throttled by WINDOW_UPDATE round trips.
constexpr int32_t kWindowSize = 16 * 1024 * 1024;

nghttp2_nv MakeNv(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

bool SafeHeaderText(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

template <class Stream>
class H2Connection final : public ConnectionBase,
                           public ResponseSink,
                           public std::enable_shared_from_this<H2Connection<Stream>> {
 public:
  H2Connection(ServerCore& core, Stream stream, Accepted accepted)
      : core_(core),
        stream_(std::move(stream)),
        executor_(stream_.get_executor()),
        timer_(executor_),
        remote_(std::move(accepted.remote)),
        slot_(std::move(accepted.slot)),
        read_buf_(std::make_unique<uint8_t[]>(kReadSize)) {}

  ~H2Connection() override {
    for (auto& [id, s] : streams_) ReleaseBody(*s);
    if (session_) nghttp2_session_del(session_);
  }

  // Runs on the connection's strand. `initial` holds bytes already read (the preface).
  void Start(const beast::flat_buffer& initial) {
    if (!core_.Register(this->shared_from_this())) {
      closed_ = true;
      error_code ec;
      LowestLayer(stream_).close(ec);
      slot_.Release();
      return;
    }
    if (!CreateSession()) return Close();
    last_progress_ = Clock::now();
    ArmTimer(Deadline());
    if (initial.size() > 0) {
      const auto data = initial.data();
      if (!Feed(static_cast<const uint8_t*>(data.data()), data.size())) return;
    }
    Flush();
    DoRead();
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
      self->DoWriteData(id, std::move(data));
    });
  }
  void SinkFinish(int32_t id) override {
    asio::post(executor_, [self = this->shared_from_this(), id] { self->DoFinish(id); });
  }
  void SinkAbort(int32_t id) override {
    asio::post(executor_, [self = this->shared_from_this(), id] { self->DoAbort(id); });
  }

 private:
  struct H2Stream {
    explicit H2Stream(int32_t stream_id) : id(stream_id) {}
    const int32_t id;
    Request request;
    size_t header_bytes = 0;
    Clock::time_point start;  // HEADERS began: the head deadline counts from here
    bool headers_done = false;
    Clock::time_point body_start;  // head complete: the body deadline counts from here
    size_t body_received = 0;
    size_t counted_size = 0;      // body bytes counted in the connection's buffered_body_
    size_t counted_capacity = 0;  // body capacity counted in ServerCore::h2_body_bytes
    bool reset = false;           // reset by us; waits for its close
    // Since when queued response data waits for the peer's flow-control window.
    Clock::time_point waiting_since;
    bool dispatched = false;
    bool is_head = false;
    bool response_submitted = false;
    bool eof = false;       // no more response data will be queued
    bool deferred = false;  // nghttp2 waits for nghttp2_session_resume_data
    std::deque<std::string> out;
    size_t out_offset = 0;
    std::weak_ptr<WriterImpl> writer;
  };

  // ---- nghttp2 session ----

  bool CreateSession() {
    nghttp2_session_callbacks* callbacks = nullptr;
    if (nghttp2_session_callbacks_new(&callbacks) != 0) return false;
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &OnFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &OnDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &OnStreamClose);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &OnFrameSend);
    const int rv = nghttp2_session_server_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    if (rv != 0) {
      session_ = nullptr;
      return false;
    }
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kWindowSize)},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(kMaxHeaderBytes)},
    };
    if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0) {
      return false;
    }
    return nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kWindowSize) == 0;
  }

  static H2Connection* Self(void* user_data) { return static_cast<H2Connection*>(user_data); }

  H2Stream* Find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
  }

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;
    }
    H2Connection* self = Self(user_data);
    auto stream = std::make_unique<H2Stream>(frame->hd.stream_id);
    stream->request.http_version = 20;
    stream->request.remote_address = self->remote_;
    stream->start = Clock::now();
    self->WantTimer(HeaderDeadline(self->core_.options, stream->start));
    self->streams_[frame->hd.stream_id] = std::move(stream);
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                      void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    H2Stream* s = Self(user_data)->Find(frame->hd.stream_id);
    if (!s || s->dispatched || s->reset) return 0;
    s->header_bytes += namelen + valuelen + 32;
    // Resets just this stream.
    if (s->header_bytes > kMaxHeaderBytes) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (!n.empty() && n[0] == ':') {
      if (n == ":method") {
        s->request.method = v;
      } else if (n == ":path") {
        s->request.target = v;
      } else if (n == ":authority") {
        s->request.authority = v;
      }
      return 0;
    }
    // nghttp2 already rejects upper-case field names.
    s->request.headers.push_back(Header{std::string(n), std::string(v)});
    return 0;
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    H2Connection* self = Self(user_data);
    H2Stream* s = self->Find(frame->hd.stream_id);
    if (!s || s->reset) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
        !s->dispatched) {
      s->headers_done = true;
      s->body_start = Clock::now();
      self->WantTimer(BodyDeadline(self->core_.options, s->body_start, 0));
      self->OnRequestHeaders(s);
    }
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && !s->dispatched) self->Dispatch(s, false);
    return 0;
  }

  void OnRequestHeaders(H2Stream* s) {
    if (s->request.authority.empty()) {
      if (const std::string* host = s->request.FindHeader("host")) s->request.authority = *host;
    }
    // The announced length only rejects early; memory follows the bytes that really arrive,
    // or 128 streams could claim 25 MB each for free.
    if (const std::string* length = s->request.FindHeader("content-length")) {
      uint64_t n = 0;
      auto [ptr, ec] = std::from_chars(length->data(), length->data() + length->size(), n);
      if (ec == std::errc() && ptr == length->data() + length->size() &&
          n > core_.options.max_body_bytes) {
        return Dispatch(s, true);
      }
    }
  }

  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user_data) {
    H2Connection* self = Self(user_data);
    H2Stream* s = self->Find(stream_id);
    if (!s || s->dispatched || s->reset) return 0;  // oversized bodies are dropped as they come
    s->body_received += len;
    if (s->request.body.size() + len > self->core_.options.max_body_bytes) {
      self->Dispatch(s, true);
      return 0;
    }
    if (self->buffered_body_ + len > self->core_.options.max_buffered_body_bytes) {
      // Other streams of this connection hold the budget; the client may retry this one.
      self->ResetStream(s, NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    s->request.body.append(reinterpret_cast<const char*>(data), len);
    self->CountBody(*s);
    return 0;
  }

  // Brings the body accounting up to date after `s.request.body` changed.
  void CountBody(H2Stream& s) {
    const size_t size = s.request.body.size();
    const size_t capacity = s.request.body.capacity();
    buffered_body_ = buffered_body_ - s.counted_size + size;
    core_.h2_body_bytes.fetch_add(
        static_cast<int64_t>(capacity) - static_cast<int64_t>(s.counted_capacity),
        std::memory_order_relaxed);
    s.counted_size = size;
    s.counted_capacity = capacity;
  }

  // The body leaves the connection (dispatched, reset or closed).
  void ReleaseBody(H2Stream& s) {
    buffered_body_ -= s.counted_size;
    core_.h2_body_bytes.fetch_sub(static_cast<int64_t>(s.counted_capacity),
                                  std::memory_order_relaxed);
    s.counted_size = 0;
    s.counted_capacity = 0;
  }

  // Resets a stream that was not dispatched and frees what it buffered.
  void ResetStream(H2Stream* s, uint32_t error_code) {
    s->reset = true;
    ReleaseBody(*s);
    s->request = Request();
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, error_code);
  }

  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t, void* user_data) {
    H2Connection* self = Self(user_data);
    auto it = self->streams_.find(stream_id);
    if (it == self->streams_.end()) return 0;
    std::unique_ptr<H2Stream> s = std::move(it->second);
    self->streams_.erase(it);
    self->ReleaseBody(*s);
    if (s->dispatched && --self->dispatched_streams_ == 0) {
      self->last_progress_ = Clock::now();  // idle from here
      self->WantTimer(self->Deadline());
    }
    // A no-op when the handler already finished; otherwise a client RST_STREAM cancels it.
    if (auto w = s->writer.lock()) w->PeerGone();
    return 0;
  }

  static int OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      return 0;
    }
    // Complete response sent while the client is still uploading (oversized body): ask it to
    // stop without error (RFC 9113 8.1). Submitted after mem_send returns.
    if (nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0) {
      Self(user_data)->rst_after_send_.push_back(frame->hd.stream_id);
    }
    return 0;
  }

  static nghttp2_ssize ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                                uint32_t* data_flags, nghttp2_data_source* source, void*) {
    auto* s = static_cast<H2Stream*>(source->ptr);
    size_t copied = 0;
    while (copied < length && !s->out.empty()) {
      const std::string& front = s->out.front();
      const size_t take = std::min(length - copied, front.size() - s->out_offset);
      std::memcpy(buf + copied, front.data() + s->out_offset, take);
      copied += take;
      s->out_offset += take;
      if (s->out_offset == front.size()) {
        s->out.pop_front();
        s->out_offset = 0;
      }
    }
    if (s->out.empty() && s->eof) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    } else if (copied == 0) {
      s->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    if (copied > 0) {
      s->waiting_since = Clock::now();
      if (auto w = s->writer.lock()) w->Flushed(copied);
    }
    return static_cast<nghttp2_ssize>(copied);
  }

  void Dispatch(H2Stream* s, bool too_large) {
    s->dispatched = true;
    ++dispatched_streams_;
    last_progress_ = Clock::now();
    ReleaseBody(*s);  // the handler owns it now
    s->is_head = s->request.method == "HEAD";
    Request request = std::move(s->request);
    if (too_large) request.body = std::string();
    request.body_too_large = too_large;
    auto writer = std::make_shared<WriterImpl>(this->shared_from_this(), s->id);
    s->writer = writer;
    core_.Dispatch(std::move(request), std::move(writer));
  }

  // ---- responses (strand) ----

  // Builds the header block; `storage` keeps the strings alive until nghttp2 copies them.
  void BuildHeaders(int status, std::vector<Header>& headers, const std::string* content_length,
                    std::string& status_text, std::vector<nghttp2_nv>& nva) {
    status_text = std::to_string(status);
    nva.reserve(headers.size() + 2);
    nva.push_back(MakeNv(":status", status_text));
    for (Header& h : headers) {
      AsciiLower(h.name);
      if (h.name.empty() || h.name[0] == ':' || IsConnectionSpecificHeader(h.name) ||
          h.name == "content-length" || !SafeHeaderText(h.name) || !SafeHeaderText(h.value)) {
        continue;
      }
      nva.push_back(MakeNv(h.name, h.value));
    }
    if (content_length) nva.push_back(MakeNv("content-length", *content_length));
  }

  static int SaneStatus(int status) { return status < 100 || status > 999 ? 500 : status; }
  static bool BodyAllowed(const H2Stream& s, int status) {
    return !s.is_head && status >= 200 && status != 204 && status != 304;
  }

  void Submit(H2Stream* s, int status, std::vector<Header> headers, std::string* body,
              bool streaming) {
    s->response_submitted = true;
    status = SaneStatus(status);
    const bool body_allowed = BodyAllowed(*s, status);
    std::string status_text;
    std::string length_text;
    std::vector<nghttp2_nv> nva;
    if (!streaming && status >= 200 && status != 204 && status != 304) {
      length_text = std::to_string(body->size());
    }
    BuildHeaders(status, headers, length_text.empty() ? nullptr : &length_text, status_text, nva);
    nghttp2_data_provider2 provider{};
    provider.source.ptr = s;
    provider.read_callback = &ReadBody;
    bool with_data = body_allowed;
    if (streaming) {
      s->eof = !body_allowed;
    } else {
      s->eof = true;
      with_data = body_allowed && !body->empty();
      if (with_data) QueueOut(s, std::move(*body));
    }
    if (nghttp2_submit_response2(session_, s->id, nva.data(), nva.size(),
                                 with_data ? &provider : nullptr) != 0) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
    }
    Flush();
  }

  H2Stream* Live(int32_t id) { return closed_ ? nullptr : Find(id); }

  void DoRespond(int32_t id, int status, std::vector<Header> headers, std::string body) {
    H2Stream* s = Live(id);
    if (!s || s->response_submitted) return;
    Submit(s, status, std::move(headers), &body, false);
  }

  void DoStart(int32_t id, int status, std::vector<Header> headers) {
    H2Stream* s = Live(id);
    if (!s || s->response_submitted) return;
    Submit(s, status, std::move(headers), nullptr, true);
  }

  void DoWriteData(int32_t id, std::string data) {
    H2Stream* s = Live(id);
    if (!s || !s->response_submitted || s->eof || data.empty()) return;
    QueueOut(s, std::move(data));
    Resume(s);
    Flush();
  }

  void DoFinish(int32_t id) {
    H2Stream* s = Live(id);
    if (!s || !s->response_submitted || s->eof) return;
    s->eof = true;
    Resume(s);
    Flush();
  }

  void DoAbort(int32_t id) {
    if (!Live(id)) return;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
    Flush();
  }

  void QueueOut(H2Stream* s, std::string data) {
    if (s->out.empty()) {
      s->waiting_since = Clock::now();
      WantTimer(s->waiting_since + core_.options.idle_timeout);
    }
    s->out.push_back(std::move(data));
  }

  void Resume(H2Stream* s) {
    if (!s->deferred) return;
    s->deferred = false;
    nghttp2_session_resume_data(session_, s->id);
  }

  // ---- I/O ----

  bool Feed(const uint8_t* data, size_t n) {
    const nghttp2_ssize rv = nghttp2_session_mem_recv2(session_, data, n);
    if (rv < 0) {
      Close();
      return false;
    }
    return true;
  }

  void DoRead() {
    if (reading_ || closed_) return;
    reading_ = true;
    stream_.async_read_some(
        asio::buffer(read_buf_.get(), kReadSize),
        [self = this->shared_from_this()](error_code ec, size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(error_code ec, size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec) return Close();  // peer gone: every unfinished stream sees Closed()
    if (!lingering_) {
      if (!Feed(read_buf_.get(), n)) return;
      Flush();
    }
    DoRead();
  }

  void Flush() {
    if (write_in_flight_ || closed_ || lingering_) return;
    write_buf_.clear();
    for (;;) {
      const uint8_t* data = nullptr;
      const nghttp2_ssize n = nghttp2_session_mem_send2(session_, &data);
      if (n < 0) return Close();
      if (n == 0) {
        if (rst_after_send_.empty()) break;
        for (int32_t id : rst_after_send_) {
          nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
        }
        rst_after_send_.clear();
        continue;
      }
      write_buf_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
      if (write_buf_.size() >= kWriteBatch) break;
    }
    if (write_buf_.empty()) {
      // Both false: GOAWAY exchanged (either side) and no stream left.
      if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
        StartLinger();
      }
      return;
    }
    write_in_flight_ = true;
    write_since_ = Clock::now();
    WantTimer(write_since_ + core_.options.idle_timeout);
    asio::async_write(
        stream_, asio::buffer(write_buf_),
        [self = this->shared_from_this()](error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(error_code ec) {
    write_in_flight_ = false;
    if (closed_) return;
    if (ec) return Close();
    Flush();
  }

  // Half-close and drain input briefly so the peer reads our last frames, not a reset.
  void StartLinger() {
    lingering_ = true;
    error_code ec;
    LowestLayer(stream_).shutdown(Tcp::socket::shutdown_send, ec);
    linger_deadline_ = Clock::now() + kLingerTime;
    ArmTimer(linger_deadline_);
    DoRead();
  }

  // ---- lifetime ----

  void OnShutdown() {
    if (closed_ || lingering_ || goaway_sent_) return;
    goaway_sent_ = true;
    // Streams the client already opened are finished; later ones are refused.
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
    Flush();
  }

  Clock::time_point StreamDeadline(const H2Stream& s) const {
    return s.headers_done ? BodyDeadline(core_.options, s.body_start, s.body_received)
                          : HeaderDeadline(core_.options, s.start);
  }

  // When the connection must act unless something happens first: the peer has to take each
  // write within idle_timeout, streams still being received have head and body deadlines,
  // and a connection without dispatched streams is idle from its last dispatch. Dispatched
  // streams themselves (handlers at work) have no deadline.
  Clock::time_point Deadline() const {
    const ServerOptions& o = core_.options;
    Clock::time_point d = Clock::time_point::max();
    if (write_in_flight_) d = write_since_ + o.idle_timeout;
    if (terminating_) return std::min(d, terminate_at_ + o.idle_timeout);
    for (const auto& [id, s] : streams_) {
      if (s->reset) continue;
      if (!s->dispatched) {
        d = std::min(d, StreamDeadline(*s));
      } else if (!s->out.empty()) {
        d = std::min(d, s->waiting_since + o.idle_timeout);  // peer's window stays shut
      }
    }
    if (dispatched_streams_ == 0) d = std::min(d, last_progress_ + o.idle_timeout);
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
    if (!closed_ && !lingering_ && when < armed_) ArmTimer(when);
  }

  // Sends GOAWAY and closes once it is out.
  void Terminate(uint32_t error_code) {
    goaway_sent_ = true;
    terminating_ = true;
    terminate_at_ = Clock::now();
    nghttp2_session_terminate_session(session_, error_code);
  }

  void OnTimer() {
    if (closed_) return;
    const auto now = Clock::now();
    if (lingering_) {
      if (now >= linger_deadline_) return Close();
      return ArmTimer(linger_deadline_);
    }
    const ServerOptions& o = core_.options;
    if (write_in_flight_ && now >= write_since_ + o.idle_timeout) return Close();  // not reading
    if (terminating_) {
      if (now >= terminate_at_ + o.idle_timeout) return Close();
      return ArmTimer(Deadline());
    }
    bool head_stalled = false;
    std::vector<H2Stream*> expired;
    for (auto& [id, s] : streams_) {
      if (s->reset) continue;
      if (s->dispatched) {
        // A peer that keeps the connection busy but never opens the stream's window has
        // stopped reading this response: reset it so the handler sees Closed().
        if (!s->out.empty() && now >= s->waiting_since + o.idle_timeout) {
          s->reset = true;
          nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
        }
        continue;
      }
      if (now < StreamDeadline(*s)) continue;
      if (s->headers_done) {
        expired.push_back(s.get());
      } else {
        head_stalled = true;
      }
    }
    if (head_stalled) {
      // A header block in progress blocks every other frame on the connection.
      Terminate(NGHTTP2_ENHANCE_YOUR_CALM);
    } else {
      for (H2Stream* s : expired) ResetStream(s, NGHTTP2_CANCEL);
      if (dispatched_streams_ == 0 && now >= last_progress_ + o.idle_timeout) {
        Terminate(NGHTTP2_NO_ERROR);
      }
    }
    Flush();
    if (closed_ || lingering_) return;
    ArmTimer(Deadline());
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    error_code ec;
    LowestLayer(stream_).shutdown(Tcp::socket::shutdown_both, ec);
    LowestLayer(stream_).close(ec);
    slot_.Release();
    auto streams = std::move(streams_);
    streams_.clear();
    dispatched_streams_ = 0;
    for (auto& [id, s] : streams) {
      ReleaseBody(*s);
      if (auto w = s->writer.lock()) w->PeerGone();
    }
    // Never called from inside an nghttp2 callback, so the session can go now.
    if (session_) {
      nghttp2_session_del(session_);
      session_ = nullptr;
    }
    core_.Unregister(this);
  }

  ServerCore& core_;
  Stream stream_;
  asio::any_io_executor executor_;  // the connection's strand
  asio::steady_timer timer_;
  const std::string remote_;
  ConnectionSlot slot_;
  std::unique_ptr<uint8_t[]> read_buf_;
  std::string write_buf_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<H2Stream>> streams_;
  std::vector<int32_t> rst_after_send_;
  bool reading_ = false;
  bool write_in_flight_ = false;
  bool closed_ = false;
  bool lingering_ = false;
  bool goaway_sent_ = false;
  bool terminating_ = false;  // GOAWAY submitted by a timeout; closing once it is sent
  size_t buffered_body_ = 0;  // request body bytes held by streams not yet dispatched
  int dispatched_streams_ = 0;
  Clock::time_point last_progress_;  // last dispatch or dispatched stream's end
  Clock::time_point write_since_;
  Clock::time_point terminate_at_;
  Clock::time_point armed_ = Clock::time_point::max();
  Clock::time_point linger_deadline_;
};

template <class Stream>
void StartH2Impl(ServerCore& core, Stream stream, const beast::flat_buffer& buffer,
                 Accepted accepted) {
  std::make_shared<H2Connection<Stream>>(core, std::move(stream), std::move(accepted))
      ->Start(buffer);
}

}  // namespace

void StartH2(ServerCore& core, TcpStream stream, beast::flat_buffer buffer, Accepted accepted) {
  StartH2Impl(core, std::move(stream), buffer, std::move(accepted));
}

void StartH2(ServerCore& core, TlsStream stream, beast::flat_buffer buffer, Accepted accepted) {
  StartH2Impl(core, std::move(stream), buffer, std::move(accepted));
}

}  // namespace basalt::http::internal
