// PullModel: model downloads with resume and SHA-256 checks over the shared HTTP client
// (http/client.h: deadlines on every network step, redirects, TLS verification). Body bytes go
// from the client's read buffer straight to dest_dir/file.part.
#include "models/pull.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/client.h"
#include "models/pull_internal.h"

namespace basalt::models {
namespace internal {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kChunk = 256 * 1024;  // body bytes handed to the file per write
constexpr int kMaxRestarts = 2;        // server ignored or botched our Range

std::string ErrnoText(int err) { return std::strerror(err); }

// ---------------------------------------------------------------------------------------------
// SHA-256 over OpenSSL's EVP interface.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { Reset(); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Reset() { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  void Update(const void* data, size_t n) { EVP_DigestUpdate(ctx_, data, n); }
  std::string HexDigest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out += kHex[md[i] >> 4];
      out += kHex[md[i] & 15];
    }
    Reset();
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// ---------------------------------------------------------------------------------------------
// The .part file: locked against a concurrent pull of the same file, written with pwrite.
class PartFile {
 public:
  ~PartFile() { Close(); }

  Status Open(const fs::path& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::Internal("cannot open " + path.string() + ": " + ErrnoText(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      Close();
      if (err == EWOULDBLOCK) {
        return Status::Unavailable("another pull is writing " + path.string());
      }
      return Status::Internal("cannot lock " + path.string() + ": " + ErrnoText(err));
    }
    struct stat st{};
    if (::fstat(fd_, &st) != 0) {
      return Status::Internal("cannot stat " + path.string() + ": " + ErrnoText(errno));
    }
    size_ = static_cast<uint64_t>(st.st_size);
    return Status::Ok();
  }

  uint64_t size() const { return size_; }

  Status Truncate() {
    if (::ftruncate(fd_, 0) != 0) {
      return Status::Internal("cannot truncate " + path_.string() + ": " + ErrnoText(errno));
    }
    size_ = 0;
    return Status::Ok();
  }

  Status Append(const char* data, size_t n) {
    while (n > 0) {
      ssize_t w = ::pwrite(fd_, data, n, static_cast<off_t>(size_));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        int err = errno;
        std::string m = "cannot write " + path_.string() + ": " + ErrnoText(err);
        return err == ENOSPC || err == EDQUOT ? Status::ResourceExhausted(m) : Status::Internal(m);
      }
      data += w;
      n -= static_cast<size_t>(w);
      size_ += static_cast<uint64_t>(w);
    }
    return Status::Ok();
  }

  // Feeds the first `n` bytes already on disk to `sha` (resume and 416 paths).
  Status HashPrefix(uint64_t n, Sha256& sha) {
    std::vector<char> buf(1 << 20);
    uint64_t off = 0;
    while (off < n) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - off));
      ssize_t r = ::pread(fd_, buf.data(), want, static_cast<off_t>(off));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        return Status::Internal("cannot read " + path_.string() + ": " +
                                (r < 0 ? ErrnoText(errno) : std::string("short file")));
      }
      sha.Update(buf.data(), static_cast<size_t>(r));
      off += static_cast<uint64_t>(r);
    }
    return Status::Ok();
  }

  Status Sync() {
    if (::fsync(fd_) != 0) {
      return Status::Internal("cannot fsync " + path_.string() + ": " + ErrnoText(errno));
    }
    return Status::Ok();
  }

  // Removes the file while still holding the lock, so no other pull sees a half-state.
  void Remove() {
    ::unlink(path_.c_str());
    Close();
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  fs::path path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// ---------------------------------------------------------------------------------------------
// One-line progress bar on stderr, redrawn with '\r' at most every 100 ms.
class Progress {
 public:
  Progress(bool enabled, std::string name) : enabled_(enabled), name_(std::move(name)) {
    if (name_.size() > 32) name_ = "..." + name_.substr(name_.size() - 29);
  }

  void Start(uint64_t already, std::optional<uint64_t> total) {
    start_bytes_ = already;
    total_ = total;
    start_ = Clock::now();
    last_draw_ = {};
    active_ = true;
  }

  void Update(uint64_t done) {
    if (!enabled_ || !active_) return;
    auto now = Clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    Draw(done, now);
  }

  void Finish(uint64_t done) {
    if (!enabled_ || !active_) return;
    Draw(done, Clock::now());
    std::fputc('\n', stderr);
    std::fflush(stderr);
    active_ = false;
  }

  // Ends the line after an error so the next message starts clean.
  void Abort() {
    if (enabled_ && active_ && drawn_) {
      std::fputc('\n', stderr);
      std::fflush(stderr);
    }
    active_ = false;
  }

 private:
  void Draw(uint64_t done, Clock::time_point now) {
    double secs = std::chrono::duration<double>(now - start_).count();
    double rate = secs > 0.05 ? static_cast<double>(done - start_bytes_) / secs : 0;
    char line[160];
    int n;
    if (total_ && *total_ > 0) {
      double pct = 100.0 * static_cast<double>(done) / static_cast<double>(*total_);
      char eta[32] = "--:--";
      if (rate > 0 && *total_ >= done) {
        auto left = static_cast<uint64_t>(static_cast<double>(*total_ - done) / rate);
        if (left >= 3600) {
          std::snprintf(eta, sizeof eta, "%uh%02um", static_cast<unsigned>(left / 3600),
                        static_cast<unsigned>(left / 60 % 60));
        } else {
          std::snprintf(eta, sizeof eta, "%02u:%02u", static_cast<unsigned>(left / 60),
                        static_cast<unsigned>(left % 60));
        }
      }
      n = std::snprintf(line, sizeof line, "%s %5.1f%% %9.1f/%.1f MB %7.1f MB/s ETA %s",
                        name_.c_str(), pct, done / 1e6, static_cast<double>(*total_) / 1e6,
                        rate / 1e6, eta);
    } else {
      n = std::snprintf(line, sizeof line, "%s %9.1f MB %7.1f MB/s", name_.c_str(), done / 1e6,
                        rate / 1e6);
    }
    n = std::clamp(n, 0, static_cast<int>(sizeof line) - 1);
    // Pad over the tail of a longer previous line.
    int pad = std::max(0, last_len_ - n);
    std::fprintf(stderr, "\r%s%*s", line, pad, "");
    std::fflush(stderr);
    last_len_ = n;
    drawn_ = true;
  }

  bool enabled_;
  std::string name_;
  bool active_ = false;
  bool drawn_ = false;
  uint64_t start_bytes_ = 0;
  std::optional<uint64_t> total_;
  Clock::time_point start_;
  Clock::time_point last_draw_;
  int last_len_ = 0;
};

// ---------------------------------------------------------------------------------------------

bool IsHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
         });
}

std::string LowerAscii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A relative path without empty, "." or ".." segments, so dest_dir/file stays inside dest_dir.
bool IsSafeRelativePath(std::string_view p) {
  if (p.empty() || p.front() == '/' || p.find('\0') != std::string_view::npos) return false;
  size_t pos = 0;
  while (pos <= p.size()) {
    size_t next = p.find('/', pos);
    if (next == std::string_view::npos) next = p.size();
    std::string_view seg = p.substr(pos, next - pos);
    if (seg.empty() || seg == "." || seg == "..") return false;
    pos = next + 1;
  }
  return true;
}

struct ContentRange {
  std::optional<uint64_t> first;  // absent for "bytes */N"
  std::optional<uint64_t> last;
  std::optional<uint64_t> total;  // absent for ".../*"
};

std::optional<uint64_t> ParseU64(std::string_view s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// "bytes 100-199/1000", "bytes */1000", "bytes 100-199/*".
std::optional<ContentRange> ParseContentRange(std::string_view v) {
  if (!v.starts_with("bytes ")) return std::nullopt;
  v.remove_prefix(6);
  size_t slash = v.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view range = v.substr(0, slash);
  std::string_view total = v.substr(slash + 1);
  ContentRange cr;
  if (total != "*") {
    cr.total = ParseU64(total);
    if (!cr.total) return std::nullopt;
  }
  if (range != "*") {
    size_t dash = range.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    cr.first = ParseU64(range.substr(0, dash));
    cr.last = ParseU64(range.substr(dash + 1));
    if (!cr.first || !cr.last || *cr.last < *cr.first) return std::nullopt;
  }
  return cr;
}

// Makes a rename durable: the directory entry must reach the disk too.
void SyncDirectory(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

class Puller {
 public:
  Puller(const PullOptions& options, const PullTimeouts& timeouts)
      : options_(options), timeouts_(timeouts), progress_(options.progress, options.file) {}

  StatusOr<PullResult> Run() {
    BASALT_RETURN_IF_ERROR(Validate());
    std::error_code fec;
    fs::create_directories(final_path_.parent_path(), fec);
    if (fec) {
      return Status::Internal("cannot create " + final_path_.parent_path().string() + ": " +
                              fec.message());
    }
    if (std::optional<PullResult> done = AlreadyThere()) return *done;

    BASALT_RETURN_IF_ERROR(part_.Open(part_path_));
    StatusOr<PullResult> result = Download();
    if (!result.ok()) {
      progress_.Abort();
      // An empty .part has nothing to resume from; do not leave litter behind.
      if (part_.size() == 0) part_.Remove();
    }
    return result;
  }

 private:
  Status Validate() {
    if (options_.repo.empty() || options_.repo.front() == '/' ||
        !IsSafeRelativePath(options_.repo)) {
      return Status::InvalidArgument("invalid repository \"" + options_.repo + "\"");
    }
    if (!IsSafeRelativePath(options_.file)) {
      return Status::InvalidArgument("invalid file name \"" + options_.file + "\"");
    }
    if (options_.revision.empty()) return Status::InvalidArgument("empty revision");
    if (options_.max_redirects < 0) return Status::InvalidArgument("negative max_redirects");
    if (!options_.expected_sha256.empty()) {
      if (!IsHex64(options_.expected_sha256)) {
        return Status::InvalidArgument("expected SHA-256 must be 64 hex digits, got \"" +
                                       options_.expected_sha256 + "\"");
      }
      expected_sha256_ = LowerAscii(options_.expected_sha256);
    }
    StatusOr<Url> base = ParseUrl(options_.base_url);
    if (!base.ok()) return base.status();
    if (base->target.find('?') != std::string::npos) {
      return Status::InvalidArgument("base URL must not have a query: " + options_.base_url);
    }
    start_ = std::move(base).value();
    std::string prefix = start_.target;
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    start_.target = prefix + "/" + PercentEncode(options_.repo, true) + "/resolve/" +
                    PercentEncode(options_.revision, false) + "/" +
                    PercentEncode(options_.file, true);
    url_text_ = start_.ForDisplay();

    fs::path dir = options_.dest_dir.empty() ? fs::path(".") : fs::path(options_.dest_dir);
    final_path_ = dir / options_.file;
    part_path_ = final_path_;
    part_path_ += ".part";
    return Status::Ok();
  }

  // With a known digest, an existing final file that matches needs no download.
  std::optional<PullResult> AlreadyThere() {
    std::error_code ec;
    if (expected_sha256_.empty() || !fs::is_regular_file(final_path_, ec) ||
        fs::exists(part_path_, ec)) {
      return std::nullopt;
    }
    int fd = ::open(final_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    Sha256 sha;
    std::vector<char> buf(1 << 20);
    uint64_t total = 0;
    ssize_t r;
    while ((r = ::read(fd, buf.data(), buf.size())) > 0 || (r < 0 && errno == EINTR)) {
      if (r < 0) continue;
      sha.Update(buf.data(), static_cast<size_t>(r));
      total += static_cast<uint64_t>(r);
    }
    ::close(fd);
    if (r < 0 || sha.HexDigest() != expected_sha256_) return std::nullopt;
    return PullResult{final_path_.string(), total, expected_sha256_, false};
  }

  std::string Where(const Url& url) const {
    std::string s = url_text_;
    if (url.ToString() != start_.ToString()) s += " (redirected to " + url.ForDisplay() + ")";
    return s;
  }

  // What a response asks of the download loop.
  enum class Next { kStream, kRestart, kComplete };

  StatusOr<PullResult> Download() {
    for (int restart = 0;; ++restart) {
      uint64_t offset = part_.size();
      http::ClientRequest req;
      req.url = start_.ToString();
      req.headers = {{"Accept", "*/*"},
                     {"Accept-Encoding", "identity"}};  // byte ranges of the stored file
      if (offset > 0) req.headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-");
      // The client sends it to this origin only: a CDN (or a downgrade to http) never sees it.
      if (!options_.token.empty()) {
        req.headers.emplace_back("Authorization", "Bearer " + options_.token);
      }
      req.timeouts.connect = timeouts_.connect;
      req.timeouts.io = timeouts_.io;
      req.follow_redirects = true;
      req.max_redirects = options_.max_redirects;

      Next next = Next::kStream;
      std::optional<uint64_t> total;
      Clock::time_point last_report{};
      auto report = [&](bool force) {
        if (!options_.on_progress) return;
        auto now = Clock::now();
        if (!force && now - last_report < std::chrono::milliseconds(100)) return;
        last_report = now;
        options_.on_progress(part_.size(), total.value_or(0));
      };
      http::BodySink sink;
      sink.chunk_bytes = kChunk;
      sink.on_head = [&](const http::ClientResponseHead& res) -> StatusOr<bool> {
        BASALT_ASSIGN_OR_RETURN(next, OnResponse(res, offset, restart, total));
        if (next != Next::kStream) return false;
        if (resumed_) BASALT_RETURN_IF_ERROR(part_.HashPrefix(offset, sha_));
        progress_.Start(part_.size(), total);
        progress_.Update(part_.size());
        report(true);
        BASALT_RETURN_IF_ERROR(CheckCancel());
        return true;
      };
      sink.on_data = [&](std::string_view piece) -> Status {
        // Checked between chunks: the bytes on disk stay a prefix of the file to resume from.
        BASALT_RETURN_IF_ERROR(CheckCancel());
        BASALT_RETURN_IF_ERROR(part_.Append(piece.data(), piece.size()));
        sha_.Update(piece.data(), piece.size());
        progress_.Update(part_.size());
        report(false);
        return Status::Ok();
      };
      StatusOr<http::ClientResponse> res = http::Download(req, sink);
      if (!res.ok()) return res.status();
      if (restart == 0) {
        // Hugging Face puts the LFS SHA-256 on the first response (often the redirect).
        const http::ClientResponseHead& first =
            res->redirects.empty() ? *res : res->redirects.front();
        server_sha256_ = Sha256FromEtag(first.Header("X-Linked-ETag"));
        if (server_sha256_.empty()) server_sha256_ = Sha256FromEtag(first.Header("ETag"));
      }
      if (next == Next::kRestart) {
        BASALT_RETURN_IF_ERROR(part_.Truncate());
        continue;
      }
      if (next == Next::kComplete) {
        BASALT_RETURN_IF_ERROR(part_.HashPrefix(offset, sha_));
        return Finish();
      }
      report(true);
      if (total && part_.size() != *total) {
        // E.g. a 206 that stopped short of the end: keep the bytes, the next pull resumes.
        return Status::Unavailable("download of " + url_text_ + " ended at " +
                                   std::to_string(part_.size()) + " of " + std::to_string(*total) +
                                   " bytes");
      }
      progress_.Finish(part_.size());
      return Finish();
    }
  }

  // Decides from the final response's status what the download does next; sets resumed_ and
  // the expected total size.
  StatusOr<Next> OnResponse(const http::ClientResponseHead& res, uint64_t offset, int restart,
                            std::optional<uint64_t>& total) {
    unsigned status = static_cast<unsigned>(res.status);
    if (status == 200) {
      if (offset > 0) BASALT_RETURN_IF_ERROR(part_.Truncate());  // server ignored Range
      resumed_ = false;
      total = res.content_length;
      return Next::kStream;
    }
    if (status == 206) {
      std::optional<ContentRange> cr = ParseContentRange(res.Header("Content-Range"));
      if (!cr || !cr->first || *cr->first != offset) {
        // Not the range we asked for: start over rather than splice wrong bytes.
        if (restart >= kMaxRestarts) {
          return Status::Unavailable("server sent an unexpected range for " + Where(res.url));
        }
        return Next::kRestart;
      }
      total = cr->total;
      resumed_ = true;
      return Next::kStream;
    }
    if (status == 416 && offset > 0) {
      std::optional<ContentRange> cr = ParseContentRange(res.Header("Content-Range"));
      if (cr && cr->total && *cr->total != offset) {
        // The .part does not match the file's size (it changed upstream): start over.
        if (restart >= kMaxRestarts) {
          return Status::Unavailable("server rejected the range for " + Where(res.url));
        }
        return Next::kRestart;
      }
      resumed_ = true;
      return Next::kComplete;
    }
    return HttpError(status, res.url);
  }

  Status CheckCancel() const {
    if (options_.cancel != nullptr && options_.cancel->load()) {
      return Status::Cancelled("download of " + url_text_ + " stopped at " +
                               std::to_string(part_.size()) + " bytes; pull again to resume");
    }
    return Status::Ok();
  }

  Status HttpError(unsigned status, const Url& url) const {
    std::string code = "HTTP " + std::to_string(status);
    if (status == 404) return Status::NotFound("not found: " + Where(url) + " (" + code + ")");
    if (status == 401 || status == 403) {
      if (options_.token.empty()) {
        return Status::PermissionDenied(
            code + " for " + Where(url) +
            ": the repository may be gated or private; pass a Hugging Face access token "
            "(HF_TOKEN)");
      }
      return Status::PermissionDenied(code + " for " + Where(url) +
                                      ": the token was rejected or has no access to " +
                                      options_.repo);
    }
    if (status == 408 || status == 429 || status >= 500) {
      return Status::Unavailable(code + " from " + Where(url));
    }
    return Status::Internal("unexpected " + code + " from " + Where(url));
  }

  StatusOr<PullResult> Finish() {
    BASALT_RETURN_IF_ERROR(part_.Sync());
    PullResult result;
    result.sha256 = sha_.HexDigest();
    result.bytes = part_.size();
    result.resumed = resumed_;
    const std::string& expected = !expected_sha256_.empty() ? expected_sha256_ : server_sha256_;
    if (!expected.empty() && expected != result.sha256) {
      part_.Remove();
      return Status::FailedPrecondition("SHA-256 mismatch for " + options_.file + ": expected " +
                                        expected + ", got " + result.sha256 +
                                        "; the partial download was removed");
    }
    if (std::rename(part_path_.c_str(), final_path_.c_str()) != 0) {
      return Status::Internal("cannot rename " + part_path_.string() + " to " +
                              final_path_.string() + ": " + ErrnoText(errno));
    }
    part_.Close();
    SyncDirectory(final_path_.parent_path());
    result.path = final_path_.string();
    return result;
  }

  const PullOptions& options_;
  const PullTimeouts& timeouts_;
  Url start_;
  std::string url_text_;
  std::string expected_sha256_;
  std::string server_sha256_;
  fs::path final_path_;
  fs::path part_path_;
  PartFile part_;
  Sha256 sha_;
  Progress progress_;
  bool resumed_ = false;
};

}  // namespace

StatusOr<PullResult> PullModel(const PullOptions& options, const PullTimeouts& timeouts) {
  try {
    return Puller(options, timeouts).Run();
  } catch (const std::exception& e) {
    // Boost throws on allocation and a few setup paths; nothing may cross this boundary.
    return Status::Internal(std::string("pull failed: ") + e.what());
  }
}

}  // namespace internal

StatusOr<PullResult> PullModel(const PullOptions& options) {
  return internal::PullModel(options, internal::PullTimeouts{});
}

}  // namespace basalt::models
