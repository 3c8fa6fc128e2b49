// Tests for the HTTP/1.1 + HTTP/2 server: raw-socket HTTP/1.1 clients, an nghttp2 client
// session for HTTP/2, and curl/openssl from the build root for h2c and TLS ALPN.
#include "http/http_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace basalt::http {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using Tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

// ---------------------------------------------------------------- helpers

class Event {
 public:
  void Set() {
    std::lock_guard lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return set_; });
  }
  bool IsSet() {
    std::lock_guard lock(mu_);
    return set_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

// Records what handlers saw.
struct Recorder {
  std::mutex mu;
  std::vector<Request> requests;

  void Add(const Request& r) {
    std::lock_guard lock(mu);
    requests.push_back(r);
  }
  Request Last() {
    std::lock_guard lock(mu);
    return requests.empty() ? Request{} : requests.back();
  }
  size_t Count() {
    std::lock_guard lock(mu);
    return requests.size();
  }
};

// Echoes the body and reports method/target/authority in headers.
Handler EchoHandler(std::shared_ptr<Recorder> rec) {
  return [rec](Request req, std::shared_ptr<ResponseWriter> w) {
    rec->Add(req);
    std::vector<Header> headers = {{"x-method", req.method},
                                   {"x-target", req.target},
                                   {"x-authority", req.authority},
                                   {"x-too-large", req.body_too_large ? "1" : "0"}};
    w->Respond(req.body_too_large ? 413 : 200, std::move(headers), std::move(req.body));
  };
}

std::unique_ptr<Server> StartServer(Handler handler, ServerOptions options = {}) {
  options.port = 0;
  if (options.worker_threads == ServerOptions{}.worker_threads) options.worker_threads = 16;
  auto server = Server::Start(options, std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  if (!server.ok()) return nullptr;
  return std::move(server).value();
}

int64_t MillisSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// A raw HTTP/1.1 client over a blocking socket with timed reads.
class RawConn {
 public:
  explicit RawConn(int port) : socket_(ioc_) {
    socket_.connect(
        Tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    socket_.set_option(Tcp::no_delay(true));
  }
  // Connects from `source` (any 127.x.y.z works on Linux); check connected().
  RawConn(int port, const std::string& source) : socket_(ioc_) {
    error_code ec;
    socket_.open(Tcp::v4(), ec);
    if (!ec) socket_.bind(Tcp::endpoint(asio::ip::make_address(source), 0), ec);
    if (!ec) {
      socket_.connect(
          Tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)),
          ec);
    }
    connected_ = !ec;
  }

  bool connected() const { return connected_; }

  void Send(std::string_view bytes) {
    error_code ec;
    asio::write(socket_, asio::buffer(bytes.data(), bytes.size()), ec);
  }

  // Reads once; false on timeout or EOF/error (then eof() is true).
  bool ReadMore(std::chrono::milliseconds timeout) {
    if (eof_) return false;
    pollfd p{socket_.native_handle(), POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, timeout.count())));
    if (r <= 0) return false;
    char buf[65536];
    const ssize_t n = ::recv(socket_.native_handle(), buf, sizeof(buf), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    data_.append(buf, static_cast<size_t>(n));
    return true;
  }

  bool ReadUntil(std::string_view needle, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    while (data_.find(needle) == std::string::npos) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0 || !ReadMore(left)) {
        if (eof_ || Clock::now() >= deadline) return data_.find(needle) != std::string::npos;
      }
    }
    return true;
  }

  // True if the server closes the connection within `timeout`.
  bool WaitEof(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    while (!eof_ && Clock::now() < deadline) {
      ReadMore(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    }
    return eof_;
  }

  // Parses one complete response from the received bytes, reading more as needed.
  std::optional<bhttp::response<bhttp::string_body>> ReadResponse(
      std::chrono::milliseconds timeout = 5s, bool head_request = false) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      bhttp::response_parser<bhttp::string_body> parser;
      parser.eager(true);
      parser.body_limit(boost::none);
      if (head_request) parser.skip(true);
      error_code ec;
      const size_t used = parser.put(asio::buffer(data_), ec);
      if (!ec && parser.is_done()) {
        data_.erase(0, used);
        return parser.release();
      }
      if (ec && ec != bhttp::error::need_more) return std::nullopt;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      if (!ReadMore(left) && eof_) return std::nullopt;
    }
  }

  void Close() {
    error_code ec;
    socket_.close(ec);
  }

  std::string& data() { return data_; }
  bool eof() const { return eof_; }

 private:
  asio::io_context ioc_;
  Tcp::socket socket_;
  std::string data_;
  bool eof_ = false;
  bool connected_ = true;
};

std::string Get(std::string_view target, std::string_view extra = "") {
  std::string r = "GET ";
  r += target;
  r += " HTTP/1.1\r\nHost: example.test\r\n";
  r += extra;
  r += "\r\n";
  return r;
}

// A small synchronous HTTP/2 client on nghttp2 (prior knowledge, plain TCP).
class H2Client {
 public:
  struct Result {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool end_stream = false;
    bool closed = false;
    uint32_t error_code = 0;
  };

  explicit H2Client(int port) : socket_(ioc_) {
    socket_.connect(
        Tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    socket_.set_option(Tcp::no_delay(true));
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, &OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &OnClose);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &OnFrame);
    nghttp2_session_client_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
    const nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16 << 20},
                                         {NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, 16 << 20);
  }
  ~H2Client() { nghttp2_session_del(session_); }

  int32_t Submit(const std::string& method, const std::string& path,
                 std::vector<std::pair<std::string, std::string>> headers = {},
                 std::optional<std::string> body = std::nullopt,
                 const std::string& authority = "bedrock.test:443") {
    std::vector<nghttp2_nv> nva;
    auto add = [&nva](const std::string& n, const std::string& v) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                     NGHTTP2_NV_FLAG_NONE});
    };
    const std::string m = ":method", s = ":scheme", a = ":authority", p = ":path", http = "http";
    add(m, method);
    add(s, http);
    add(a, authority);
    add(p, path);
    for (auto& [n, v] : headers) add(n, v);
    nghttp2_data_provider2 provider{};
    if (body) {
      uploads_.push_back(std::make_unique<Upload>(Upload{std::move(*body), 0, false}));
      provider.source.ptr = uploads_.back().get();
      provider.read_callback = &ReadUpload;
    }
    const int32_t id = nghttp2_submit_request2(session_, nullptr, nva.data(), nva.size(),
                                               body ? &provider : nullptr, nullptr);
    results_[id];
    return id;
  }

  // Opens a request whose body is sent later with Feed().
  int32_t SubmitOpen(const std::string& method, const std::string& path,
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
    const int32_t id = Submit(method, path, std::move(headers), std::string());
    uploads_.back()->open = true;
    open_uploads_[id] = uploads_.back().get();
    return id;
  }
  // Queues body bytes for an open request (`end` ends it); sent by the next Pump().
  void Feed(int32_t id, std::string_view data, bool end = false) {
    Upload* u = open_uploads_[id];
    u->data += data;
    if (end) u->open = false;
    nghttp2_session_resume_data(session_, id);
  }

  void Rst(int32_t id) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  }
  void Goaway() {
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
  }

  // Sends what is pending and processes input until `done` or the timeout.
  bool Pump(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      Send();
      if (done()) return true;
      if (eof_ || Clock::now() >= deadline) return done();
      pollfd p{socket_.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, 5) > 0) {
        uint8_t buf[65536];
        const ssize_t n = ::recv(socket_.native_handle(), buf, sizeof(buf), 0);
        if (n <= 0) {
          eof_ = true;
          continue;
        }
        if (nghttp2_session_mem_recv2(session_, buf, static_cast<size_t>(n)) < 0) eof_ = true;
      }
    }
  }

  bool PumpUntilClosed(int32_t id, std::chrono::milliseconds timeout = 5s) {
    return Pump([&] { return results_[id].closed; }, timeout);
  }

  Result& result(int32_t id) { return results_[id]; }
  bool eof() const { return eof_; }
  bool goaway_received() const { return goaway_received_; }

  std::string Header(int32_t id, const std::string& name) {
    for (auto& [n, v] : results_[id].headers) {
      if (n == name) return v;
    }
    return "<missing>";
  }

 private:
  struct Upload {
    std::string data;
    size_t offset;
    bool open = false;  // more data may come (SubmitOpen)
  };

  void Send() {
    for (;;) {
      const uint8_t* data = nullptr;
      const nghttp2_ssize n = nghttp2_session_mem_send2(session_, &data);
      if (n <= 0) return;
      error_code ec;
      asio::write(socket_, asio::buffer(data, static_cast<size_t>(n)), ec);
      if (ec) {
        eof_ = true;
        return;
      }
    }
  }

  static H2Client* Self(void* p) { return static_cast<H2Client*>(p); }

  static nghttp2_ssize ReadUpload(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                                  uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* u = static_cast<Upload*>(source->ptr);
    const size_t n = std::min(length, u->data.size() - u->offset);
    if (n == 0 && u->open) return NGHTTP2_ERR_DEFERRED;
    std::memcpy(buf, u->data.data() + u->offset, n);
    u->offset += n;
    if (u->offset == u->data.size() && !u->open) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<nghttp2_ssize>(n);
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    std::string n(reinterpret_cast<const char*>(name), namelen);
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    Result& r = Self(user)->results_[frame->hd.stream_id];
    if (n == ":status") {
      r.status = std::atoi(v.c_str());
    } else {
      r.headers.emplace_back(std::move(n), std::move(v));
    }
    return 0;
  }

  static int OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                    void* user) {
    Self(user)->results_[id].body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int OnClose(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
    Result& r = Self(user)->results_[id];
    r.closed = true;
    r.error_code = error_code;
    return 0;
  }

  static int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_GOAWAY) Self(user)->goaway_received_ = true;
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      Self(user)->results_[frame->hd.stream_id].end_stream = true;
    }
    return 0;
  }

  asio::io_context ioc_;
  Tcp::socket socket_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, Result> results_;
  std::vector<std::unique_ptr<Upload>> uploads_;
  std::map<int32_t, Upload*> open_uploads_;
  bool eof_ = false;
  bool goaway_received_ = false;
};

// Runs a shell command, returning stdout (exit status in *status).
std::string RunCommand(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int rc = ::pclose(pipe);
  if (status) *status = rc;
  return out;
}

bool HaveTool(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

// A handler that streams "first", waits for `release`, then streams "second".
struct TwoPartStream {
  Event first_written;
  Event release;
  std::atomic<bool> second_written{false};

  Handler MakeHandler() {
    return [this](Request, std::shared_ptr<ResponseWriter> w) {
      w->StartStream(200, {{"content-type", "text/plain"}});
      w->Write("first");
      first_written.Set();
      release.Wait();
      second_written = true;
      w->Write("second");
      w->Finish();
    };
  }
};

// ---------------------------------------------------------------- HTTP/1.1

TEST(Http1, EchoesRequestWithRawTarget) {
  auto rec = std::make_shared<Recorder>();
  auto server = StartServer(EchoHandler(rec));
  ASSERT_TRUE(server);
  RawConn c(server->port());
  const std::string target =
      "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic."
      "claude-v2%3A1/invoke?x=a%2Fb";
  c.Send("POST " + target +
         " HTTP/1.1\r\nHost: bedrock.test:8080\r\nX-Amz-Date: 20240101T000000Z\r\n"
         "Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"prompt\":\"\"}");
  auto res = c.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 200);
  EXPECT_EQ(res->body(), "{\"prompt\":\"\"}");
  EXPECT_EQ((*res)["x-target"], target);
  EXPECT_EQ((*res)["Content-Length"], "13");

  Request req = rec->Last();
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, target);
  EXPECT_EQ(req.authority, "bedrock.test:8080");
  EXPECT_EQ(req.http_version, 11);
  EXPECT_EQ(req.remote_address, "127.0.0.1");
  EXPECT_FALSE(req.body_too_large);
  ASSERT_EQ(req.headers.size(), 4u);
  EXPECT_EQ(req.headers[0].name, "host");
  EXPECT_EQ(req.headers[1].name, "x-amz-date");
  EXPECT_EQ(req.headers[1].value, "20240101T000000Z");
  ASSERT_NE(req.FindHeader("content-type"), nullptr);
  EXPECT_EQ(*req.FindHeader("content-type"), "application/json");
  EXPECT_EQ(req.FindHeader("Content-Type"), nullptr);  // lookups are by lower-case name
}

TEST(Http1, RespondAddsOnlyContentLength) {
  auto server = StartServer([](Request, std::shared_ptr<ResponseWriter> w) {
    w->Respond(201, {{"X-Amzn-RequestId", "abc"}, {"Content-Type", "text/plain"}}, "hello");
  });
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send(Get("/"));
  ASSERT_TRUE(c.ReadUntil("hello"));
  EXPECT_EQ(c.data(),
            "HTTP/1.1 201 Created\r\nX-Amzn-RequestId: abc\r\nContent-Type: text/plain\r\n"
            "Content-Length: 5\r\n\r\nhello");
}

TEST(Http1, KeepAliveServesTwoRequestsOnOneConnection) {
  auto rec = std::make_shared<Recorder>();
  auto server = StartServer(EchoHandler(rec));
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send(Get("/one"));
  auto first = c.ReadResponse();
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)["x-target"], "/one");
  c.Send(Get("/two"));
  auto second = c.ReadResponse();
  ASSERT_TRUE(second);
  EXPECT_EQ((*second)["x-target"], "/two");
  EXPECT_FALSE(c.eof());
  EXPECT_EQ(rec->Count(), 2u);
}

TEST(Http1, PipelinedRequestsAnsweredInOrder) {
  auto rec = std::make_shared<Recorder>();
  auto server = StartServer(EchoHandler(rec));
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send(Get("/a") + Get("/b") + Get("/c"));
  for (const char* t : {"/a", "/b", "/c"}) {
    auto res = c.ReadResponse();
    ASSERT_TRUE(res) << t;
    EXPECT_EQ((*res)["x-target"], t);
  }
}

TEST(Http1, ChunkedRequestBody) {
  auto rec = std::make_shared<Recorder>();
  auto server = StartServer(EchoHandler(rec));
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send("POST /model/m/invoke HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
  std::this_thread::sleep_for(20ms);
  c.Send("lo\r\n7\r\n, world\r\n0\r\n\r\n");
  auto res = c.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "hello, world");
  EXPECT_EQ(rec->Last().body, "hello, world");
}

TEST(Http1, ExpectContinue) {
  auto rec = std::make_shared<Recorder>();
  auto server = StartServer(EchoHandler(rec));
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send("POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  auto interim = c.ReadResponse();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->result_int(), 100);
  c.Send("body");
  auto res = c.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 200);
  EXPECT_EQ(res->body(), "body");
}

TEST(Http1, StreamedChunkReachesClientBeforeNextWrite) {
  TwoPartStream s;
  auto server = StartServer(s.MakeHandler());
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send(Get("/stream"));
  ASSERT_TRUE(c.ReadUntil("first"));
  EXPECT_FALSE(s.second_written.load());
  EXPECT_NE(c.data().find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  s.release.Set();
  auto res = c.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "firstsecond");
  // The connection stays usable after a streamed response.
  c.Send(Get("/again"));
  s.release.Set();
  auto again = c.ReadResponse();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body(), "firstsecond");
}

TEST(Http1, ClientDisconnectMidStreamFiresOnCloseQuickly) {
  Event started, closed;
  std::atomic<int64_t> closed_at_ns{0};
  std::atomic<bool> write_after_close{true};
  std::atomic<bool> closed_flag{false};
  auto server = StartServer([&](Request, std::shared_ptr<ResponseWriter> w) {
    w->OnClose([&] {
      closed_at_ns = Clock::now().time_since_epoch().count();
      closed.Set();
    });
    w->StartStream(200, {});
    w->Write("token");
    started.Set();
    closed.Wait(5s);  // generation would be cancelled here
    closed_flag = w->Closed();
    write_after_close = w->Write("late");
  });
  ASSERT_TRUE(server);
  {
    RawConn c(server->port());
    c.Send(Get("/stream"));
    ASSERT_TRUE(c.ReadUntil("token"));
    ASSERT_TRUE(started.Wait());
    std::this_thread::sleep_for(50ms);  // the stream is idle now
    const auto t0 = Clock::now();
    c.Close();
    ASSERT_TRUE(closed.Wait(2s));
    const auto elapsed = std::chrono::nanoseconds(closed_at_ns.load()) - t0.time_since_epoch();
    EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 100);
  }
  server->Shutdown(1s);
  EXPECT_TRUE(closed_flag.load());
  EXPECT_FALSE(write_after_close.load());
}

TEST(Http1, BodyTooLargeByContentLength) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options;
  options.max_body_bytes = 1000;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'a'));
  auto res = c.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 413);
  EXPECT_EQ((*res)["Connection"], "close");
  EXPECT_TRUE(rec->Last().body_too_large);
  EXPECT_TRUE(rec->Last().body.empty());
  EXPECT_TRUE(c.WaitEof());
}

TEST(Http1, BodyTooLargeChunked) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options;
  options.max_body_bytes = 1000;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 4; ++i) c.Send("1f4\r\n" + std::string(500, 'b') + "\r\n");
  auto res = c.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 413);
  EXPECT_TRUE(rec->Last().body_too_large);
  EXPECT_TRUE(rec->Last().body.empty());
  EXPECT_TRUE(c.WaitEof());
}

TEST(Http1, BodyAtLimitIsAccepted) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options;
  options.max_body_bytes = 1000;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'a'));
  auto res = c.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 200);
  EXPECT_EQ(res->body().size(), 1000u);
}

TEST(Http1, MalformedRequestGets400AndClose) {
  auto rec = std::make_shared<Recorder>();
  auto server = StartServer(EchoHandler(rec));
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send("THIS IS NOT HTTP\r\n\r\n");
  auto res = c.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 400);
  EXPECT_TRUE(c.WaitEof());
  EXPECT_EQ(rec->Count(), 0u);

  RawConn bad_chunk(server->port());
  bad_chunk.Send("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
  auto res2 = bad_chunk.ReadResponse();
  ASSERT_TRUE(res2);
  EXPECT_EQ(res2->result_int(), 400);
  EXPECT_TRUE(bad_chunk.WaitEof());
}

TEST(Http1, IdleTimeoutClosesKeepAliveConnection) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options;
  options.idle_timeout = 1s;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send(Get("/x"));
  ASSERT_TRUE(c.ReadResponse());
  const auto t0 = Clock::now();
  EXPECT_TRUE(c.WaitEof(5s));
  EXPECT_GE(MillisSince(t0), 800);
}

TEST(Http1, DroppedWriterAnswers500) {
  auto server = StartServer([](Request, std::shared_ptr<ResponseWriter>) {});
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send(Get("/x"));
  auto res = c.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result_int(), 500);
}

TEST(Http1, HeadResponseHasNoBody) {
  auto server = StartServer(
      [](Request, std::shared_ptr<ResponseWriter> w) { w->Respond(200, {}, "abcdef"); });
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
  auto res = c.ReadResponse(5s, /*head_request=*/true);
  ASSERT_TRUE(res);
  EXPECT_EQ((*res)["Content-Length"], "6");
  c.Send(Get("/"));
  auto next = c.ReadResponse();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body(), "abcdef");
}

TEST(Http1, LargeUploadWithContentLength) {
  std::atomic<size_t> received{0};
  auto server = StartServer([&](Request req, std::shared_ptr<ResponseWriter> w) {
    received = req.body.size();
    w->Respond(200, {}, std::to_string(req.body.size()));
  });
  ASSERT_TRUE(server);
  RawConn c(server->port());
  const auto t0 = Clock::now();
  c.Send("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 25000000\r\n\r\n" +
         std::string(25'000'000, 'x'));
  auto res = c.ReadResponse(20s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "25000000");
  EXPECT_EQ(received.load(), 25'000'000u);
  EXPECT_LT(MillisSince(t0), 10'000);
}

// ---------------------------------------------------------------- HTTP/2

TEST(Http2, RequestWithBody) {
  auto rec = std::make_shared<Recorder>();
  auto server = StartServer(EchoHandler(rec));
  ASSERT_TRUE(server);
  H2Client c(server->port());
  const std::string target = "/model/anthropic.claude-v2%3A1/invoke-with-response-stream";
  const int32_t id =
      c.Submit("POST", target, {{"content-type", "application/json"}, {"x-amz-date", "20240101"}},
               std::string("{\"a\":1}"));
  ASSERT_TRUE(c.PumpUntilClosed(id));
  auto& r = c.result(id);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"a\":1}");
  EXPECT_TRUE(r.end_stream);
  EXPECT_EQ(r.error_code, 0u);
  EXPECT_EQ(c.Header(id, "content-length"), "7");
  Request req = rec->Last();
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, target);
  EXPECT_EQ(req.authority, "bedrock.test:443");
  EXPECT_EQ(req.http_version, 20);
  EXPECT_EQ(req.body, "{\"a\":1}");
  ASSERT_EQ(req.headers.size(), 2u);  // no pseudo-headers
  EXPECT_EQ(req.headers[0].name, "content-type");
  EXPECT_EQ(req.headers[1].name, "x-amz-date");
}

TEST(Http2, StripsConnectionSpecificResponseHeaders) {
  auto server = StartServer([](Request, std::shared_ptr<ResponseWriter> w) {
    w->Respond(200,
               {{"Connection", "keep-alive"},
                {"Transfer-Encoding", "chunked"},
                {"Keep-Alive", "timeout=5"},
                {"X-Amzn-RequestId", "r1"}},
               "ok");
  });
  ASSERT_TRUE(server);
  H2Client c(server->port());
  const int32_t id = c.Submit("GET", "/");
  ASSERT_TRUE(c.PumpUntilClosed(id));
  auto& r = c.result(id);
  EXPECT_EQ(r.error_code, 0u);  // a client rejects hop-by-hop headers with PROTOCOL_ERROR
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(c.Header(id, "x-amzn-requestid"), "r1");
  EXPECT_EQ(c.Header(id, "connection"), "<missing>");
  EXPECT_EQ(r.headers.size(), 2u);  // x-amzn-requestid, content-length
}

TEST(Http2, StreamedDataReachesClientBeforeNextWrite) {
  TwoPartStream s;
  auto server = StartServer(s.MakeHandler());
  ASSERT_TRUE(server);
  H2Client c(server->port());
  const int32_t id = c.Submit("POST", "/stream", {}, std::string("{}"));
  ASSERT_TRUE(c.Pump([&] { return c.result(id).body == "first"; }));
  EXPECT_FALSE(s.second_written.load());
  EXPECT_EQ(c.result(id).status, 200);
  s.release.Set();
  ASSERT_TRUE(c.PumpUntilClosed(id));
  EXPECT_EQ(c.result(id).body, "firstsecond");
  EXPECT_TRUE(c.result(id).end_stream);
}

TEST(Http2, ConcurrentStreamsOnOneConnection) {
  constexpr int kStreams = 8;
  std::mutex mu;
  std::condition_variable cv;
  int in_handler = 0;
  std::atomic<bool> all_concurrent{true};
  auto server = StartServer([&](Request req, std::shared_ptr<ResponseWriter> w) {
    {
      std::unique_lock lock(mu);
      ++in_handler;
      cv.notify_all();
      // Every stream must be in a handler at once, or this times out.
      if (!cv.wait_for(lock, 5s, [&] { return in_handler >= kStreams; })) all_concurrent = false;
    }
    w->StartStream(200, {});
    w->Write(req.target);
    w->Write("|done");
    w->Finish();
  });
  ASSERT_TRUE(server);
  H2Client c(server->port());
  std::vector<int32_t> ids;
  for (int i = 0; i < kStreams; ++i) ids.push_back(c.Submit("GET", "/s/" + std::to_string(i)));
  ASSERT_TRUE(c.Pump([&] {
    for (int32_t id : ids) {
      if (!c.result(id).closed) return false;
    }
    return true;
  }));
  EXPECT_TRUE(all_concurrent.load());
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_EQ(c.result(ids[i]).body, "/s/" + std::to_string(i) + "|done");
    EXPECT_EQ(c.result(ids[i]).error_code, 0u);
  }
}

TEST(Http2, RstStreamFiresOnClose) {
  Event started, closed;
  std::atomic<int64_t> closed_at_ns{0};
  auto server = StartServer([&](Request req, std::shared_ptr<ResponseWriter> w) {
    if (req.target == "/other") return w->Respond(200, {}, "other");
    w->OnClose([&] {
      closed_at_ns = Clock::now().time_since_epoch().count();
      closed.Set();
    });
    w->StartStream(200, {});
    w->Write("token");
    started.Set();
    closed.Wait(5s);
  });
  ASSERT_TRUE(server);
  H2Client c(server->port());
  const int32_t id = c.Submit("POST", "/stream", {}, std::string("{}"));
  const int32_t other = c.Submit("GET", "/other");
  ASSERT_TRUE(c.Pump([&] { return c.result(id).body == "token"; }));
  c.Rst(id);
  c.Pump([] { return true; });  // sends the RST_STREAM
  const auto t0 = Clock::now();
  ASSERT_TRUE(closed.Wait(2s));
  const auto elapsed = std::chrono::nanoseconds(closed_at_ns.load()) - t0.time_since_epoch();
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 100);
  // The connection and its other streams are unaffected.
  ASSERT_TRUE(c.PumpUntilClosed(other));
  EXPECT_EQ(c.result(other).body, "other");
  const int32_t after = c.Submit("GET", "/other");
  ASSERT_TRUE(c.PumpUntilClosed(after));
  EXPECT_EQ(c.result(after).body, "other");
  EXPECT_FALSE(c.eof());
}

TEST(Http2, ClientGoawayStillReceivesCompleteResponse) {
  auto server = StartServer([](Request, std::shared_ptr<ResponseWriter> w) {
    std::this_thread::sleep_for(200ms);
    w->StartStream(200, {});
    for (int i = 0; i < 5; ++i) {
      w->Write("chunk" + std::to_string(i) + ";");
      std::this_thread::sleep_for(20ms);
    }
    w->Finish();
  });
  ASSERT_TRUE(server);
  H2Client c(server->port());
  const int32_t id = c.Submit("POST", "/model/x/invoke", {}, std::string("{}"));
  c.Pump([] { return true; });
  c.Goaway();  // like the JS SDK closing its session right after the request
  ASSERT_TRUE(c.PumpUntilClosed(id));
  auto& r = c.result(id);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "chunk0;chunk1;chunk2;chunk3;chunk4;");
  EXPECT_TRUE(r.end_stream);
  EXPECT_EQ(r.error_code, 0u);
  // With nothing left in flight the server closes the connection.
  EXPECT_TRUE(c.Pump([&] { return c.eof(); }, 3s));
}

TEST(Http2, BodyTooLarge) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options;
  options.max_body_bytes = 1000;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  H2Client c(server->port());
  const int32_t with_length =
      c.Submit("POST", "/a", {{"content-length", "5000"}}, std::string(5000, 'a'));
  const int32_t without_length = c.Submit("POST", "/b", {}, std::string(5000, 'b'));
  const int32_t small = c.Submit("POST", "/c", {}, std::string(1000, 'c'));
  ASSERT_TRUE(c.Pump([&] {
    return c.result(with_length).closed && c.result(without_length).closed &&
           c.result(small).closed;
  }));
  EXPECT_EQ(c.result(with_length).status, 413);
  EXPECT_EQ(c.result(without_length).status, 413);
  EXPECT_EQ(c.result(small).status, 200);
  EXPECT_EQ(c.result(small).body.size(), 1000u);
  EXPECT_EQ(c.result(with_length).body, "");
  ASSERT_EQ(rec->Count(), 3u);
  for (const Request& r : rec->requests) {
    if (r.target == "/c") continue;
    EXPECT_TRUE(r.body_too_large) << r.target;
    EXPECT_TRUE(r.body.empty()) << r.target;
  }
}

TEST(Http2, LargeUploadIsFast) {
  std::atomic<size_t> received{0};
  auto server = StartServer([&](Request req, std::shared_ptr<ResponseWriter> w) {
    received = req.body.size();
    w->Respond(200, {}, std::to_string(req.body.size()));
  });
  ASSERT_TRUE(server);
  H2Client c(server->port());
  const auto t0 = Clock::now();
  const int32_t id = c.Submit("POST", "/big", {}, std::string(25'000'000, 'x'));
  ASSERT_TRUE(c.PumpUntilClosed(id, 20s));
  EXPECT_EQ(c.result(id).body, "25000000");
  EXPECT_EQ(received.load(), 25'000'000u);
  EXPECT_LT(MillisSince(t0), 10'000);
}

TEST(Http2, CurlPriorKnowledge) {
  if (!HaveTool("curl")) GTEST_SKIP() << "curl not installed";
  auto rec = std::make_shared<Recorder>();
  auto server = StartServer(EchoHandler(rec));
  ASSERT_TRUE(server);
  const std::string port = std::to_string(server->port());
  int status = 0;
  const std::string out = RunCommand(
      "curl -s --http2-prior-knowledge -d 'hi there' -w '|%{http_version}' "
      "'http://127.0.0.1:" +
          port + "/model/a%3Ab/converse'",
      &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out, "hi there|2");
  EXPECT_EQ(rec->Last().target, "/model/a%3Ab/converse");
  EXPECT_EQ(rec->Last().http_version, 20);
  EXPECT_EQ(rec->Last().authority, "127.0.0.1:" + port);
}

TEST(Http2, NodeClientClosingSessionGetsFullStream) {
  if (!HaveTool("node")) GTEST_SKIP() << "node not installed";
  auto server = StartServer([](Request req, std::shared_ptr<ResponseWriter> w) {
    std::this_thread::sleep_for(100ms);
    w->StartStream(200, {{"Content-Type", "application/vnd.amazon.eventstream"}});
    for (int i = 0; i < 4; ++i) {
      w->Write("t" + std::to_string(i));
      std::this_thread::sleep_for(10ms);
    }
    w->Finish();
  });
  ASSERT_TRUE(server);
  char path[] = "/tmp/basalt_h2_node_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  // Like @smithy/node-http2-handler with disableConcurrentStreams: close the session as soon
  // as the response headers arrive, which sends GOAWAY while the body is still streaming.
  const std::string script = R"(
    const http2 = require('node:http2');
    const session = http2.connect(process.argv[2]);
    const req = session.request(
        {':method': 'POST', ':path': '/model/m/invoke-with-response-stream'});
    let status = 0, body = '';
    req.setEncoding('utf8');
    req.on('response', (h) => { status = h[':status']; session.close(); });
    req.on('data', (d) => { body += d; });
    req.on('end', () => { process.stdout.write(status + '|' + body); });
    req.on('error', (e) => { process.stdout.write('error ' + e.code); });
    req.end('{}');
  )";
  ASSERT_EQ(::write(fd, script.data(), script.size()), static_cast<ssize_t>(script.size()));
  ::close(fd);
  int status = 0;
  const std::string out = RunCommand(
      "node " + std::string(path) + " http://127.0.0.1:" + std::to_string(server->port()) + " 2>&1",
      &status);
  ::unlink(path);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out, "200|t0t1t2t3");
}

// ---------------------------------------------------------------- TLS

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveTool("openssl") || !HaveTool("curl")) GTEST_SKIP() << "openssl/curl missing";
    char tmpl[] = "/tmp/basalt_http_tls_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    int status = 0;
    RunCommand("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout " +
                   dir_ + "/key.pem -out " + dir_ +
                   "/cert.pem -days 2 -nodes -subj /CN=localhost 2>&1",
               &status);
    ASSERT_EQ(status, 0);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(TlsTest, AlpnNegotiatesH2AndHttp11) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options;
  options.tls_cert_file = dir_ + "/cert.pem";
  options.tls_key_file = dir_ + "/key.pem";
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  const std::string url = "'https://127.0.0.1:" + std::to_string(server->port()) + "/tls%2Fx'";
  int status = 0;
  std::string out = RunCommand("curl -sk --http2 -d h2body -w '|%{http_version}' " + url, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out, "h2body|2");
  EXPECT_EQ(rec->Last().http_version, 20);
  EXPECT_EQ(rec->Last().target, "/tls%2Fx");

  out = RunCommand("curl -sk --http1.1 -d h1body -w '|%{http_version}' " + url, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out, "h1body|1.1");
  EXPECT_EQ(rec->Last().http_version, 11);
}

TEST_F(TlsTest, StreamingOverTls) {
  auto server = StartServer(
      [](Request, std::shared_ptr<ResponseWriter> w) {
        w->StartStream(200, {});
        for (int i = 0; i < 3; ++i) w->Write("part" + std::to_string(i));
        w->Finish();
      },
      [&] {
        ServerOptions o;
        o.tls_cert_file = dir_ + "/cert.pem";
        o.tls_key_file = dir_ + "/key.pem";
        return o;
      }());
  ASSERT_TRUE(server);
  const std::string url = "https://127.0.0.1:" + std::to_string(server->port()) + "/s";
  for (const char* flag : {"--http2", "--http1.1"}) {
    int status = 0;
    EXPECT_EQ(RunCommand(std::string("curl -sk ") + flag + " " + url, &status), "part0part1part2")
        << flag;
    EXPECT_EQ(status, 0);
  }
}

TEST_F(TlsTest, BadTlsFilesAreInvalidArgument) {
  ServerOptions options;
  options.tls_cert_file = dir_ + "/missing.pem";
  options.tls_key_file = dir_ + "/key.pem";
  auto server = Server::Start(options, [](Request, std::shared_ptr<ResponseWriter>) {});
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
  options.tls_cert_file = dir_ + "/cert.pem";
  options.tls_key_file = "";
  server = Server::Start(options, [](Request, std::shared_ptr<ResponseWriter>) {});
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- lifecycle

TEST(Lifecycle, PortInUseIsUnavailable) {
  auto first = StartServer([](Request, std::shared_ptr<ResponseWriter>) {});
  ASSERT_TRUE(first);
  ServerOptions options;
  options.port = first->port();
  auto second = Server::Start(options, [](Request, std::shared_ptr<ResponseWriter>) {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
}

TEST(Lifecycle, GracefulShutdownFinishesInFlightHttp1Stream) {
  Event started;
  auto server = StartServer([&](Request, std::shared_ptr<ResponseWriter> w) {
    w->StartStream(200, {});
    w->Write("a");
    started.Set();
    std::this_thread::sleep_for(300ms);
    w->Write("b");
    w->Finish();
  });
  ASSERT_TRUE(server);
  RawConn idle(server->port());  // an idle keep-alive connection is closed at once
  RawConn c(server->port());
  c.Send(Get("/stream"));
  ASSERT_TRUE(started.Wait());
  const auto t0 = Clock::now();
  std::thread stopper([&] { server->Shutdown(5s); });
  EXPECT_TRUE(idle.WaitEof(1s));
  auto res = c.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "ab");
  EXPECT_TRUE(c.WaitEof(2s));  // closed after the response
  stopper.join();
  EXPECT_LT(MillisSince(t0), 3000);
  server->Shutdown(1s);  // idempotent
}

TEST(Lifecycle, GracefulShutdownFinishesInFlightHttp2Stream) {
  Event started;
  auto server = StartServer([&](Request, std::shared_ptr<ResponseWriter> w) {
    w->StartStream(200, {});
    w->Write("a");
    started.Set();
    std::this_thread::sleep_for(300ms);
    w->Write("b");
    w->Finish();
  });
  ASSERT_TRUE(server);
  H2Client c(server->port());
  const int32_t id = c.Submit("GET", "/stream");
  ASSERT_TRUE(c.Pump([&] { return started.IsSet(); }));
  std::thread stopper([&] { server->Shutdown(5s); });
  ASSERT_TRUE(c.PumpUntilClosed(id));
  EXPECT_TRUE(c.goaway_received());
  EXPECT_EQ(c.result(id).body, "ab");
  EXPECT_EQ(c.result(id).error_code, 0u);
  EXPECT_TRUE(c.Pump([&] { return c.eof(); }, 3s));
  stopper.join();
}

TEST(Lifecycle, ShutdownClosesStreamsThatOutliveGrace) {
  Event started, closed;
  auto server = StartServer([&](Request, std::shared_ptr<ResponseWriter> w) {
    w->OnClose([&] { closed.Set(); });
    w->StartStream(200, {});
    started.Set();
    while (!w->Closed()) std::this_thread::sleep_for(5ms);
  });
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send(Get("/forever"));
  ASSERT_TRUE(started.Wait());
  const auto t0 = Clock::now();
  server->Shutdown(200ms);
  EXPECT_TRUE(closed.IsSet());
  EXPECT_LT(MillisSince(t0), 2000);
  EXPECT_TRUE(c.WaitEof(1s));
}

TEST(Lifecycle, WriterOutlivesServer) {
  std::mutex mu;
  std::shared_ptr<ResponseWriter> kept;
  Event got;
  auto server = StartServer([&](Request, std::shared_ptr<ResponseWriter> w) {
    w->StartStream(200, {});
    std::lock_guard lock(mu);
    kept = std::move(w);
    got.Set();
  });
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send(Get("/x"));
  ASSERT_TRUE(got.Wait());
  EXPECT_TRUE(kept->Write("one"));
  ASSERT_TRUE(c.ReadUntil("one"));
  server->Shutdown(100ms);
  server.reset();
  // Every method is a harmless no-op now.
  std::lock_guard lock(mu);
  EXPECT_TRUE(kept->Closed());
  EXPECT_FALSE(kept->Write("two"));
  kept->Finish();
  bool ran = false;
  kept->OnClose([&] { ran = true; });
  EXPECT_TRUE(ran);
  kept.reset();
}

TEST(Lifecycle, ManyRequestsAcrossProtocols) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options;
  options.io_threads = 2;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      if (t % 2 == 0) {
        RawConn c(server->port());
        for (int i = 0; i < 200; ++i) {
          c.Send(Get("/r" + std::to_string(i)));
          auto res = c.ReadResponse();
          if (res && (*res)["x-target"] == "/r" + std::to_string(i)) ++ok;
        }
      } else {
        H2Client c(server->port());
        for (int i = 0; i < 200; ++i) {
          const int32_t id = c.Submit("GET", "/r" + std::to_string(i));
          if (c.PumpUntilClosed(id) && c.result(id).status == 200) ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 800);
}

// ---------------------------------------------------------------- slow and greedy clients

// Options with short deadlines; each test shortens what it exercises.
ServerOptions ShortDeadlines() {
  ServerOptions options;
  options.header_timeout = 30s;
  options.body_timeout = 30s;
  options.idle_timeout = 30s;
  return options;
}

// Sends `next()` one byte every `every` until the server closes or `limit` passes; returns
// how long the server took to close (or -1).
int64_t TrickleUntilClosed(RawConn& c, const std::function<char()>& next,
                           std::chrono::milliseconds every, std::chrono::milliseconds limit) {
  const auto t0 = Clock::now();
  while (Clock::now() - t0 < limit) {
    const char byte = next();
    c.Send(std::string_view(&byte, 1));
    const auto until = Clock::now() + every;
    while (Clock::now() < until && !c.eof()) {
      c.ReadMore(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()));
    }
    if (c.eof()) return MillisSince(t0);
  }
  return -1;
}

// An HTTP/2 frame for the raw client.
std::string H2Frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>((payload.size() >> 16) & 0xff));
  f.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
  f.push_back(static_cast<char>(payload.size() & 0xff));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  f.push_back(static_cast<char>((stream >> 24) & 0x7f));
  f.push_back(static_cast<char>((stream >> 16) & 0xff));
  f.push_back(static_cast<char>((stream >> 8) & 0xff));
  f.push_back(static_cast<char>(stream & 0xff));
  f.append(payload);
  return f;
}

TEST(SlowClients, Http1HeaderTrickleGets408AndClose) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options = ShortDeadlines();
  options.header_timeout = 500ms;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send("GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ");
  // Each byte used to restart the idle timer, so this never ended.
  const int64_t closed_ms = TrickleUntilClosed(c, [] { return 'a'; }, 100ms, 5s);
  ASSERT_GE(closed_ms, 0) << "server kept the trickling connection open";
  EXPECT_GE(closed_ms, 300);
  EXPECT_LT(closed_ms, 3000);  // deadline plus the linger
  EXPECT_NE(c.data().find("HTTP/1.1 408"), std::string::npos) << c.data();
  EXPECT_EQ(rec->Count(), 0u);
}

TEST(SlowClients, Http1FirstRequestDeadlineCountsFromAccept) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options = ShortDeadlines();
  options.header_timeout = 500ms;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  RawConn silent(server->port());
  const auto t0 = Clock::now();
  EXPECT_TRUE(silent.WaitEof(3s));
  EXPECT_GE(MillisSince(t0), 300);
}

TEST(SlowClients, Http1KeepAliveWaitUsesIdleTimeout) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options = ShortDeadlines();
  options.header_timeout = 300ms;
  options.idle_timeout = 5s;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send(Get("/one"));
  ASSERT_TRUE(c.ReadResponse());
  std::this_thread::sleep_for(800ms);  // idle between requests: longer than header_timeout
  c.Send(Get("/two"));
  auto res = c.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ((*res)["x-target"], "/two");
}

TEST(SlowClients, Http1BodyTrickleGets408AndClose) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options = ShortDeadlines();
  options.body_timeout = 500ms;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n");
  const int64_t closed_ms = TrickleUntilClosed(c, [] { return 'b'; }, 100ms, 5s);
  ASSERT_GE(closed_ms, 0) << "server kept the trickling connection open";
  EXPECT_GE(closed_ms, 300);
  EXPECT_LT(closed_ms, 3000);
  EXPECT_NE(c.data().find("HTTP/1.1 408"), std::string::npos) << c.data();
  EXPECT_EQ(rec->Count(), 0u);
}

TEST(SlowClients, Http1WorkingHandlerIsNotTimedOut) {
  ServerOptions options = ShortDeadlines();
  options.header_timeout = 200ms;
  options.body_timeout = 200ms;
  options.idle_timeout = 200ms;
  auto server = StartServer(
      [](Request, std::shared_ptr<ResponseWriter> w) {
        std::this_thread::sleep_for(1s);
        w->Respond(200, {}, "done");
      },
      options);
  ASSERT_TRUE(server);
  RawConn c(server->port());
  c.Send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}");
  auto res = c.ReadResponse(5s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "done");
}

TEST(SlowClients, Http2HeaderBlockTrickleClosesConnection) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options = ShortDeadlines();
  options.header_timeout = 500ms;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  RawConn c(server->port());
  // HEADERS without END_HEADERS (:method GET, :scheme http, :path / from the HPACK static
  // table), then one CONTINUATION frame per 100 ms that never ends the block.
  c.Send(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + H2Frame(0x4, 0, 0, "") +
         H2Frame(0x1, 0x1, 1, "\x82\x86\x84"));
  const std::string literal(
      "\x00\x03x-a\x01"
      "b",
      7);
  const auto t0 = Clock::now();
  bool closed = false;
  while (!closed && Clock::now() - t0 < 5s) {
    c.Send(H2Frame(0x9, 0, 1, literal));
    const auto until = Clock::now() + 100ms;
    while (Clock::now() < until && !c.eof()) {
      c.ReadMore(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()));
    }
    closed = c.eof();
  }
  ASSERT_TRUE(closed) << "an open header block kept the connection alive";
  EXPECT_GE(MillisSince(t0), 300);
  EXPECT_LT(MillisSince(t0), 3500);
  EXPECT_EQ(rec->Count(), 0u);
}

TEST(SlowClients, Http2BodyTrickleResetsStreamOnly) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options = ShortDeadlines();
  options.body_timeout = 500ms;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  H2Client c(server->port());
  const int32_t id = c.SubmitOpen("POST", "/slow", {{"content-length", "1000"}});
  const auto t0 = Clock::now();
  while (!c.result(id).closed && Clock::now() - t0 < 5s) {
    c.Feed(id, "x");
    c.Pump([&] { return c.result(id).closed; }, 100ms);
  }
  ASSERT_TRUE(c.result(id).closed) << "the trickled stream was never reset";
  EXPECT_EQ(c.result(id).error_code, static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_GE(MillisSince(t0), 300);
  EXPECT_LT(MillisSince(t0), 3000);
  // The connection itself is fine.
  const int32_t next = c.Submit("GET", "/next");
  ASSERT_TRUE(c.PumpUntilClosed(next));
  EXPECT_EQ(c.result(next).status, 200);
  EXPECT_EQ(rec->Count(), 1u);
}

TEST(SlowClients, Http2StalledStreamDoesNotKeepConnectionAlive) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options = ShortDeadlines();
  options.idle_timeout = 500ms;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  H2Client c(server->port());
  c.SubmitOpen("POST", "/stalled");
  const auto t0 = Clock::now();
  // An open stream used to exempt the connection from every timeout.
  ASSERT_TRUE(c.Pump([&] { return c.eof(); }, 4s)) << "connection kept alive by a stalled stream";
  EXPECT_TRUE(c.goaway_received());
  EXPECT_GE(MillisSince(t0), 300);
  EXPECT_EQ(rec->Count(), 0u);
}

TEST(SlowClients, Http2DispatchedStreamKeepsConnectionAlive) {
  ServerOptions options = ShortDeadlines();
  options.idle_timeout = 200ms;
  options.header_timeout = 200ms;
  options.body_timeout = 200ms;
  auto server = StartServer(
      [](Request, std::shared_ptr<ResponseWriter> w) {
        std::this_thread::sleep_for(1s);
        w->Respond(200, {}, "done");
      },
      options);
  ASSERT_TRUE(server);
  H2Client c(server->port());
  const int32_t id = c.Submit("POST", "/work", {}, std::string("{}"));
  ASSERT_TRUE(c.PumpUntilClosed(id, 5s));
  EXPECT_EQ(c.result(id).status, 200);
  EXPECT_EQ(c.result(id).body, "done");
}

TEST(SlowClients, Http2PeerThatNeverOpensItsWindowIsReset) {
  Event closed;
  ServerOptions options = ShortDeadlines();
  options.idle_timeout = 500ms;
  auto server = StartServer(
      [&](Request, std::shared_ptr<ResponseWriter> w) {
        w->OnClose([&] { closed.Set(); });
        w->StartStream(200, {});
        w->Write(std::string(100, 'x'));
        closed.Wait(5s);
      },
      options);
  ASSERT_TRUE(server);
  RawConn c(server->port());
  // SETTINGS_INITIAL_WINDOW_SIZE = 0: the server may send no DATA until a WINDOW_UPDATE that
  // never comes, while the TCP connection stays perfectly readable.
  c.Send(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") +
         H2Frame(0x4, 0, 0, std::string("\x00\x04\x00\x00\x00\x00", 6)) +
         H2Frame(0x1, 0x5, 1, "\x82\x86\x84\x01\x01h"));  // + :authority h
  const auto t0 = Clock::now();
  while (!closed.IsSet() && Clock::now() - t0 < 4s) c.ReadMore(50ms);
  EXPECT_TRUE(closed.IsSet()) << "handler never learned that its response is not read";
  EXPECT_GE(MillisSince(t0), 300);
}

TEST(SlowClients, Http2ContentLengthReservesNothing) {
  auto rec = std::make_shared<Recorder>();
  auto server = StartServer(EchoHandler(rec));
  ASSERT_TRUE(server);
  H2Client c(server->port());
  constexpr int kStreams = 100;
  std::vector<int32_t> ids;
  for (int i = 0; i < kStreams; ++i) {
    ids.push_back(c.SubmitOpen("POST", "/big", {{"content-length", "25000000"}}));
    c.Feed(ids.back(), "0123456789");
  }
  // Each stream used to reserve its announced 25 MB (2.5 GB here).
  ASSERT_TRUE(c.Pump([&] { return server->BufferedBodyBytesForTest() >= kStreams * 10; }, 5s));
  EXPECT_LT(server->BufferedBodyBytesForTest(), 64u * 1024);
  for (int32_t id : ids) c.Rst(id);
  EXPECT_TRUE(c.Pump([&] { return server->BufferedBodyBytesForTest() == 0; }, 5s));
  EXPECT_EQ(rec->Count(), 0u);
}

TEST(SlowClients, Http2BufferedBodiesPerConnectionAreCapped) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options;
  options.max_body_bytes = 8000;
  options.max_buffered_body_bytes = 10000;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  H2Client c(server->port());
  const int32_t first = c.SubmitOpen("POST", "/first");
  c.Feed(first, std::string(6000, 'a'));
  ASSERT_TRUE(c.Pump([&] { return server->BufferedBodyBytesForTest() >= 6000; }));
  const int32_t second = c.SubmitOpen("POST", "/second");
  c.Feed(second, std::string(6000, 'b'));
  ASSERT_TRUE(c.PumpUntilClosed(second));
  EXPECT_EQ(c.result(second).error_code, static_cast<uint32_t>(NGHTTP2_REFUSED_STREAM));
  c.Feed(first, std::string(1000, 'a'), /*end=*/true);
  ASSERT_TRUE(c.PumpUntilClosed(first));
  EXPECT_EQ(c.result(first).status, 200);
  EXPECT_EQ(c.result(first).body.size(), 7000u);
  // One body over max_body_bytes still takes the body_too_large path.
  const int32_t huge = c.Submit("POST", "/huge", {}, std::string(9000, 'c'));
  ASSERT_TRUE(c.PumpUntilClosed(huge));
  EXPECT_EQ(c.result(huge).status, 413);
  EXPECT_TRUE(c.Pump([&] { return server->BufferedBodyBytesForTest() == 0; }));
}

// Opens connections until one answers, for up to `timeout` (closed slots free up async).
bool EventuallyServes(int port, std::chrono::milliseconds timeout = 3s) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    RawConn c(port);
    c.Send(Get("/again"));
    if (auto res = c.ReadResponse(500ms); res && res->result_int() == 200) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(ConnectionCaps, PerAddressCap) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options;
  options.max_connections_per_address = 2;
  options.max_connections = 100;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  auto first = std::make_unique<RawConn>(server->port());
  RawConn second(server->port());
  for (RawConn* c : {first.get(), &second}) {
    c->Send(Get("/held"));
    ASSERT_TRUE(c->ReadResponse());
  }
  RawConn third(server->port());
  EXPECT_TRUE(third.WaitEof(3s));
  EXPECT_TRUE(third.data().empty());
  RawConn other_address(server->port(), "127.0.0.2");
  if (other_address.connected()) {
    other_address.Send(Get("/other"));
    auto res = other_address.ReadResponse();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 200);
  }
  first.reset();
  EXPECT_TRUE(EventuallyServes(server->port()));
  second.Send(Get("/still"));
  EXPECT_TRUE(second.ReadResponse());
}

TEST(ConnectionCaps, TotalCap) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options;
  options.max_connections = 2;
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  auto first = std::make_unique<RawConn>(server->port());
  H2Client second(server->port());
  first->Send(Get("/held"));
  ASSERT_TRUE(first->ReadResponse());
  const int32_t id = second.Submit("GET", "/held");
  ASSERT_TRUE(second.PumpUntilClosed(id));
  RawConn third(server->port(), "127.0.0.3");
  if (third.connected()) {
    EXPECT_TRUE(third.WaitEof(3s));
  }
  RawConn fourth(server->port());
  EXPECT_TRUE(fourth.WaitEof(3s));
  first.reset();
  EXPECT_TRUE(EventuallyServes(server->port()));
}

TEST(ConnectionCaps, DefaultsAllowManyLoopbackConnections) {
  auto rec = std::make_shared<Recorder>();
  auto server = StartServer(EchoHandler(rec));
  ASSERT_TRUE(server);
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 64; ++i) conns.push_back(std::make_unique<RawConn>(server->port()));
  for (auto& c : conns) c->Send(Get("/many"));
  for (auto& c : conns) {
    auto res = c->ReadResponse();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 200);
  }
}

// Restores RLIMIT_NOFILE when it goes out of scope.
class FdLimitGuard {
 public:
  FdLimitGuard() { ::getrlimit(RLIMIT_NOFILE, &saved_); }
  ~FdLimitGuard() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  // Lowers the soft limit so that exactly `free` more descriptors can be opened.
  bool AllowOnly(int free) {
    // New descriptors take the lowest free numbers below the limit: stop right before the
    // (free + 1)th free number.
    int limit = 0;
    for (int left = free;; ++limit) {
      if (::fcntl(limit, F_GETFD) != -1) continue;  // open
      if (left == 0) break;
      --left;
    }
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(limit);
    return ::setrlimit(RLIMIT_NOFILE, &lowered) == 0;
  }

 private:
  rlimit saved_{};
};

// A client socket made before the descriptor limit is lowered.
class PlainSocket {
 public:
  PlainSocket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  ~PlainSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool Connect(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  void Send(std::string_view s) { (void)::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }
  // Reads until `timeout`; returns what came and sets *closed on EOF or reset.
  std::string Read(std::chrono::milliseconds timeout, bool* closed) {
    std::string out;
    *closed = false;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        *closed = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
      if (out.find("\r\n\r\n") != std::string::npos) break;
    }
    return out;
  }

 private:
  int fd_;
};

TEST(ConnectionCaps, OutOfDescriptorsShedsWaitingClient) {
  auto rec = std::make_shared<Recorder>();
  ServerOptions options;
  options.max_connections = 10'000;  // reach the descriptor limit, not the cap
  auto server = StartServer(EchoHandler(rec), options);
  ASSERT_TRUE(server);
  PlainSocket a, b, c;
  bool closed = false;
  {
    FdLimitGuard guard;
    ASSERT_TRUE(guard.AllowOnly(2));
    ASSERT_TRUE(a.Connect(server->port()));
    a.Send(Get("/a"));
    EXPECT_NE(a.Read(3s, &closed).find("200 OK"), std::string::npos);
    ASSERT_TRUE(b.Connect(server->port()));
    b.Send(Get("/b"));
    EXPECT_NE(b.Read(3s, &closed).find("200 OK"), std::string::npos);
    // No descriptor left for this one: it is accepted on the spare and closed, instead of
    // waiting in the backlog.
    ASSERT_TRUE(c.Connect(server->port()));
    const std::string got = c.Read(3s, &closed);
    EXPECT_TRUE(closed);
    EXPECT_TRUE(got.empty()) << got;
  }
  EXPECT_TRUE(EventuallyServes(server->port()));
}

// A handler that blocks on `release` for targets starting with /block.
struct BlockingHandler {
  Event entered;
  Event release;
  std::atomic<int> ran{0};

  Handler Make() {
    return [this](Request req, std::shared_ptr<ResponseWriter> w) {
      ++ran;
      if (req.target.rfind("/block", 0) == 0) {
        entered.Set();
        release.Wait(10s);
      }
      w->Respond(200, {}, "worked:" + req.target);
    };
  }
};

TEST(WorkerQueue, OverflowAnsweredByOverloadHandler) {
  BlockingHandler h;
  ServerOptions options;
  options.worker_threads = 1;
  options.max_queued_requests = 1;
  options.overload_handler = [](const Request& req, ResponseWriter& w) {
    w.Respond(529, {{"x-overload", req.target}}, "busy");
  };
  auto server = StartServer(h.Make(), options);
  ASSERT_TRUE(server);
  RawConn blocked(server->port());
  blocked.Send(Get("/block"));
  ASSERT_TRUE(h.entered.Wait());
  // One connection, so the server dispatches in order: /queued waits, /over overflows.
  H2Client c(server->port());
  const int32_t queued = c.Submit("GET", "/queued");
  const int32_t over = c.Submit("GET", "/over");
  ASSERT_TRUE(c.PumpUntilClosed(over));
  EXPECT_EQ(c.result(over).status, 529);
  EXPECT_EQ(c.Header(over, "x-overload"), "/over");
  EXPECT_FALSE(c.result(queued).closed);
  h.release.Set();
  ASSERT_TRUE(c.PumpUntilClosed(queued));
  EXPECT_EQ(c.result(queued).body, "worked:/queued");
  auto res = blocked.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "worked:/block");
  EXPECT_EQ(h.ran.load(), 2);
}

TEST(WorkerQueue, DefaultOverloadIs503) {
  BlockingHandler h;
  ServerOptions options;
  options.worker_threads = 1;
  options.max_queued_requests = 1;
  auto server = StartServer(h.Make(), options);
  ASSERT_TRUE(server);
  RawConn blocked(server->port());
  blocked.Send(Get("/block"));
  ASSERT_TRUE(h.entered.Wait());
  H2Client c(server->port());
  const int32_t queued = c.Submit("GET", "/queued");
  const int32_t over = c.Submit("GET", "/over");
  ASSERT_TRUE(c.PumpUntilClosed(over));
  EXPECT_EQ(c.result(over).status, 503);
  h.release.Set();
  ASSERT_TRUE(c.PumpUntilClosed(queued));
  EXPECT_EQ(c.result(queued).status, 200);
}

TEST(WorkerQueue, InlineHandlerAnswersWhileWorkersBlocked) {
  BlockingHandler h;
  ServerOptions options;
  options.worker_threads = 1;
  options.max_queued_requests = 1;
  options.inline_handler = [](const Request& req, ResponseWriter& w) {
    if (req.method != "GET" || req.target != "/health") return false;
    w.Respond(200, {{"content-type", "application/json"}}, R"({"status":"ok"})");
    return true;
  };
  auto server = StartServer(h.Make(), options);
  ASSERT_TRUE(server);
  RawConn blocked(server->port());
  blocked.Send(Get("/block"));
  ASSERT_TRUE(h.entered.Wait());
  RawConn queued(server->port());
  queued.Send(Get("/queued"));  // fills the queue
  for (int i = 0; i < 3; ++i) {
    RawConn health(server->port());
    health.Send(Get("/health"));
    auto res = health.ReadResponse(2s);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 200);
    EXPECT_EQ(res->body(), R"({"status":"ok"})");
  }
  H2Client c(server->port());
  const int32_t id = c.Submit("GET", "/health");
  ASSERT_TRUE(c.PumpUntilClosed(id, 2s));
  EXPECT_EQ(c.result(id).status, 200);
  EXPECT_FALSE(h.release.IsSet());
  h.release.Set();
  auto res = queued.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body(), "worked:/queued");
  EXPECT_EQ(h.ran.load(), 2);
}

// ---------------------------------------------------------------- throughput probe

// Not a unit test: run with --gtest_also_run_disabled_tests --gtest_filter='Perf.*' to see
// 1-token requests/s (client and server share the machine, so numbers are rough).
TEST(Perf, DISABLED_OneTokenRequestsPerSecond) {
  auto server = StartServer([](Request, std::shared_ptr<ResponseWriter> w) {
    w->Respond(200, {{"Content-Type", "application/json"}},
               R"({"completion":"x","stop_reason":"max_tokens"})");
  });
  ASSERT_TRUE(server);
  const std::string body = R"({"prompt":"hi","max_tokens_to_sample":1})";
  const std::string request =
      "POST /model/m/invoke HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  for (int connections : {1, 4, 16}) {
    for (bool h2 : {false, true}) {
      std::atomic<int64_t> done{0};
      std::atomic<bool> stop{false};
      std::vector<std::thread> threads;
      for (int i = 0; i < connections; ++i) {
        threads.emplace_back([&] {
          if (!h2) {
            RawConn c(server->port());
            while (!stop) {
              c.Send(request);
              if (!c.ReadResponse()) return;
              ++done;
            }
          } else {
            H2Client c(server->port());
            while (!stop) {
              const int32_t id = c.Submit("POST", "/model/m/invoke", {}, body);
              if (!c.PumpUntilClosed(id)) return;
              ++done;
            }
          }
        });
      }
      std::this_thread::sleep_for(2s);
      stop = true;
      for (auto& t : threads) t.join();
      std::printf("%s connections=%d: %.0f req/s\n", h2 ? "h2 " : "h1 ", connections,
                  static_cast<double>(done.load()) / 2.0);
    }
  }
}

}  // namespace
}  // namespace basalt::http
