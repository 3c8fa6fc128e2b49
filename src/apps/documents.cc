// Document text extraction: UTF-8 checks for text and Markdown, poppler's pdftotext in a
// limited child process for PDFs (see documents.h for why a child process).
#include "apps/documents.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <vector>

namespace basalt::apps {
namespace documents_internal {
namespace {

constexpr std::string_view kPdfUnreadable =
    "The PDF could not be read: it may be damaged or encrypted.";

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string HumanBytes(int64_t n) {
  if (n >= (1 << 20) && n % (1 << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= (1 << 10) && n % (1 << 10) == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

// Length of the valid UTF-8 sequence at s[i] (1-4), or 0 when it is not one: overlong forms,
// surrogates and code points above U+10FFFF are refused (RFC 3629).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
  }
  return n;
}

// Checks `text` is UTF-8 without NUL bytes; the message says where it is not.
Status CheckUtf8Text(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '\0') {
      return Status::InvalidArgument(
          "The document is not a text file: it holds a NUL byte at "
          "byte " +
          std::to_string(i) + ".");
    }
    size_t n = Utf8SequenceLength(text, i);
    if (n == 0) {
      return Status::InvalidArgument(
          "The document is not UTF-8 text (an invalid byte sequence at byte " + std::to_string(i) +
          "): save it as UTF-8 and upload it again.");
    }
    i += n;
  }
  return Status::Ok();
}

// PDF text made safe to store: invalid sequences become U+FFFD, NUL bytes are dropped, page
// breaks (form feeds) become blank lines.
std::string SanitizePdfText(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size();) {
    size_t n = Utf8SequenceLength(raw, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (raw[i] == '\f') {
      out += "\n";
    } else if (raw[i] != '\0') {
      out.append(raw.substr(i, n));
    }
    i += n;
  }
  // pdftotext ends every page with a form feed: no trailing blank lines.
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// Cuts valid UTF-8 `text` to at most `max_chars` code points.
ExtractedText Limit(std::string text, int64_t max_chars) {
  ExtractedText out;
  size_t i = 0;
  int64_t chars = 0;
  while (i < text.size() && (max_chars <= 0 || chars < max_chars)) {
    size_t n = Utf8SequenceLength(text, i);
    i += n == 0 ? 1 : n;
    ++chars;
  }
  out.truncated = i < text.size();
  text.resize(i);
  out.text = std::move(text);
  out.chars = chars;
  return out;
}

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t' && c != '\f') return false;
  }
  return true;
}

// The executable `name` names: itself when it has a slash, else the first match in PATH.
// Resolved before fork, so the child only calls async-signal-safe functions.
StatusOr<std::string> ResolveExecutable(const std::string& name) {
  auto unavailable = [&](const std::string& why) {
    return Status::Unavailable("PDF documents cannot be read on this server: " + why +
                               " (install poppler-utils, or point --pdftotext at pdftotext).");
  };
  if (name.empty()) return unavailable("no pdftotext is configured");
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return name;
    return unavailable(Errno("cannot run " + name));
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return unavailable("'" + name + "' is not found in PATH");
}

// A private (0700) temporary directory, removed with everything in it on destruction.
class TempDir {
 public:
  Status Create(const std::string& base) {
    std::string root = base;
    if (root.empty()) {
      const char* env = std::getenv("TMPDIR");
      root = env && *env ? env : "/tmp";
    }
    std::string templ = root + "/basalt-doc-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) {
      return Status::Internal(Errno("cannot create a temporary directory in " + root));
    }
    path_ = buf.data();
    return Status::Ok();
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

Status WriteFile(const std::string& path, std::string_view bytes) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Status::Internal(Errno("cannot create " + path));
  while (!bytes.empty()) {
    ssize_t n = ::write(fd.get(), bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Internal(Errno("cannot write " + path));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// The child's side of the fork: only async-signal-safe calls from here to execv.
[[noreturn]] void RunChild(const char* exe, char* const argv[], int out_fd, int err_fd,
                           rlim_t memory, rlim_t cpu_seconds) {
  // Default signal handling and mask (the server ignores SIGPIPE, threads may block signals).
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(SIGPIPE, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  struct rlimit as{memory, memory};
  struct rlimit cpu{cpu_seconds, cpu_seconds + 1};
  struct rlimit core{0, 0};
  ::setrlimit(RLIMIT_AS, &as);
  ::setrlimit(RLIMIT_CPU, &cpu);
  ::setrlimit(RLIMIT_CORE, &core);

  int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(null_fd, 2) < 0) {
    int e = errno;
    (void)!::write(err_fd, &e, sizeof(e));
    ::_exit(127);
  }
  // Only stdin/out/err and the exec-error pipe (close-on-exec) stay open.
  // (The server's sockets need not be close-on-exec: pdftotext must not hold them.)
  if ((err_fd > 3 && ::close_range(3, static_cast<unsigned>(err_fd) - 1, 0) != 0) ||
      ::close_range(static_cast<unsigned>(err_fd) + 1, ~0U, 0) != 0) {
    for (int fd = 3; fd < 65536; ++fd) {
      if (fd != err_fd) ::close(fd);
    }
  }
  ::execv(exe, argv);
  int e = errno;
  (void)!::write(err_fd, &e, sizeof(e));
  ::_exit(127);
}

struct ChildResult {
  std::string out;
  bool capped = false;     // stdout reached the cap; the child was stopped
  bool timed_out = false;  // killed at the deadline
  int wait_status = 0;
};

// Runs argv[0]=exe with the limits in `options`, collecting at most `cap` bytes of stdout.
StatusOr<ChildResult> RunLimited(const std::string& exe, const std::vector<std::string>& args,
                                 const DocumentOptions& options, size_t cap) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Status::Internal(Errno("pipe"));
  Fd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return Status::Internal(Errno("pipe"));
  Fd err_read(err_pipe[0]), err_write(err_pipe[1]);
  const rlim_t memory = static_cast<rlim_t>(options.memory_limit_bytes);
  const rlim_t cpu =
      static_cast<rlim_t>(options.cpu_limit_seconds > 0 ? options.cpu_limit_seconds : 1);

  pid_t pid = ::fork();
  if (pid < 0) return Status::Internal(Errno("cannot start pdftotext (fork)"));
  if (pid == 0) RunChild(exe.c_str(), argv.data(), out_write.get(), err_write.get(), memory, cpu);
  out_write.Reset();
  err_write.Reset();

  ChildResult result;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options.timeout_ms);
  bool killed = false;
  char buf[16384];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    struct pollfd pfd{out_read.get(), POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    if (ready == 0) continue;
    ssize_t n = ::read(out_read.get(), buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // EOF: the child closed stdout (it is exiting)
    result.out.append(buf, static_cast<size_t>(n));
    if (result.out.size() >= cap) {
      result.out.resize(cap);
      result.capped = true;
      break;
    }
  }
  if (result.timed_out || result.capped) {
    ::kill(pid, SIGKILL);
    killed = true;
  }
  // After EOF the child exits at once; still, never wait past the deadline for it.
  while (true) {
    pid_t done = ::waitpid(pid, &result.wait_status, killed ? 0 : WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno == EINTR) continue;
    if (done < 0) return Status::Internal(Errno("waitpid"));
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      killed = true;
      result.timed_out = true;
      continue;
    }
    ::usleep(2000);
  }
  int exec_errno = 0;
  if (::read(err_read.get(), &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno)) {
    errno = exec_errno;
    return Status::Unavailable(
        Errno("PDF documents cannot be read on this server: cannot run " + exe));
  }
  return result;
}

StatusOr<ExtractedText> ExtractPdf(std::string_view bytes, const DocumentOptions& options) {
  if (bytes.substr(0, 5) != "%PDF-") {
    return Status::InvalidArgument(
        "The document is not a PDF (it does not start with %PDF-): upload a PDF, or a "
        "text/plain or text/markdown file.");
  }
  StatusOr<std::string> exe = ResolveExecutable(options.pdftotext);
  if (!exe.ok()) return exe.status();
  TempDir dir;
  BASALT_RETURN_IF_ERROR(dir.Create(options.temp_dir));
  const std::string input = dir.path() + "/input.pdf";
  BASALT_RETURN_IF_ERROR(WriteFile(input, bytes));
  // Up to 4 bytes a code point, plus room for the form feeds and blanks SanitizePdfText drops.
  const size_t cap = options.max_output_chars > 0
                         ? static_cast<size_t>(options.max_output_chars) * 4 + 4096
                         : size_t{64} << 20;
  StatusOr<ChildResult> child =
      RunLimited(*exe, {*exe, "-enc", "UTF-8", "-q", input, "-"}, options, cap);
  if (!child.ok()) return child.status();
  if (child->timed_out) return Status::InvalidArgument(std::string(kPdfUnreadable));
  if (!child->capped && (!WIFEXITED(child->wait_status) || WEXITSTATUS(child->wait_status) != 0)) {
    return Status::InvalidArgument(std::string(kPdfUnreadable));
  }
  std::string text = SanitizePdfText(child->out);
  if (IsBlank(text)) {
    return Status::InvalidArgument(
        "The PDF has no text to extract (it may be a scanned image): upload a PDF with a text "
        "layer, or the text itself.");
  }
  ExtractedText out = Limit(std::move(text), options.max_output_chars);
  out.truncated = out.truncated || child->capped;
  return out;
}

}  // namespace
}  // namespace documents_internal

std::string CanonicalMediaType(std::string_view content_type) {
  std::string_view v = content_type.substr(0, content_type.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string out(v);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

StatusOr<ExtractedText> ExtractDocument(std::string_view media_type, std::string_view bytes,
                                        const DocumentOptions& options) {
  namespace di = documents_internal;
  const std::string type = CanonicalMediaType(media_type);
  if (type != "text/plain" && type != "text/markdown" && type != "application/pdf") {
    return Status::InvalidArgument(
        "Unsupported document type '" + type +
        "': upload text/plain, text/markdown or application/pdf (a .txt, .md or .pdf file).");
  }
  if (options.max_input_bytes > 0 && static_cast<int64_t>(bytes.size()) > options.max_input_bytes) {
    return Status::InvalidArgument("The document is " + std::to_string(bytes.size()) +
                                   " bytes, over the limit of " +
                                   di::HumanBytes(options.max_input_bytes) + " (" +
                                   std::to_string(options.max_input_bytes) + " bytes).");
  }
  if (type == "application/pdf") return di::ExtractPdf(bytes, options);
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);  // byte order mark
  BASALT_RETURN_IF_ERROR(di::CheckUtf8Text(bytes));
  return di::Limit(std::string(bytes), options.max_output_chars);
}

StatusOr<std::string> ExtractDocumentText(std::string_view media_type, std::string_view bytes,
                                          const DocumentOptions& options) {
  StatusOr<ExtractedText> extracted = ExtractDocument(media_type, bytes, options);
  if (!extracted.ok()) return extracted.status();
  std::string text = std::move(extracted->text);
  if (extracted->truncated) {
    text += "\n\n[The document is longer: only its first " +
            std::to_string(options.max_output_chars) + " characters are kept.]";
  }
  return text;
}

}  // namespace basalt::apps
