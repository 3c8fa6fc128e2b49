// PullModel against tests/fixtures/hf_server.py (a local Hugging Face-style server).
#include "models/pull.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "models/pull_internal.h"

namespace basalt::models {
namespace {

namespace fs = std::filesystem;

constexpr size_t kFileSize = 3 * 1024 * 1024;

std::string Sha256Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const fs::path& path, const std::string& data) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

bool HavePython() {
  static const bool have = std::system("python3 -c '' >/dev/null 2>&1") == 0;
  return have;
}

bool HaveOpenssl() {
  static const bool have = std::system("openssl version >/dev/null 2>&1") == 0;
  return have;
}

std::string ServerScript() {
  const char* root = std::getenv("BASALT_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/tests/fixtures/hf_server.py";
}

// hf_server.py in a child process; killed on destruction.
class HfServer {
 public:
  ~HfServer() { Stop(); }

  bool Start(std::vector<std::string> args) {
    int fds[2];
    if (pipe(fds) != 0) return false;
    args.insert(args.begin(), {"python3", ServerScript()});
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("python3", argv.data());
      _exit(127);
    }
    close(fds[1]);
    // The server prints its port once it listens.
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[64];
      ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    port_ = std::atoi(line.c_str());
    return port_ > 0;
  }

  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

class PullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HavePython()) GTEST_SKIP() << "python3 not found";
    std::string tmpl = (fs::temp_directory_path() / "basalt_pull_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    srv_ = root_ / "srv";
    out_ = root_ / "out";
    log_ = root_ / "requests.log";
    std::mt19937_64 rng(42);
    data_.resize(kFileSize);
    for (size_t i = 0; i < data_.size(); i += 8) {
      uint64_t v = rng();
      for (size_t j = 0; j < 8 && i + j < data_.size(); ++j) {
        data_[i + j] = static_cast<char>(v >> (8 * j));
      }
    }
    sha_ = Sha256Hex(data_);
    WriteFile(srv_ / "org/model/model.gguf", data_);
  }

  void TearDown() override {
    server_.Stop();
    if (!root_.empty()) fs::remove_all(root_);
  }

  void StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--dir", srv_.string(), "--log", log_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_TRUE(server_.Start(args)) << "hf_server.py did not start";
  }

  PullOptions Options() const {
    PullOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(server_.port());
    o.repo = "org/model";
    o.file = "model.gguf";
    o.dest_dir = out_.string();
    o.progress = false;
    return o;
  }

  fs::path Final() const { return out_ / "model.gguf"; }
  fs::path Part() const { return out_ / "model.gguf.part"; }

  std::vector<std::string> LogLines() const {
    std::vector<std::string> lines;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  void ExpectDownloaded(const StatusOr<PullResult>& r) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->path, Final().string());
    EXPECT_EQ(r->bytes, kFileSize);
    EXPECT_EQ(r->sha256, sha_);
    EXPECT_TRUE(ReadFile(Final()) == data_);
    EXPECT_FALSE(fs::exists(Part()));
  }

  fs::path root_, srv_, out_, log_;
  std::string data_;
  std::string sha_;
  HfServer server_;
};

TEST_F(PullTest, DownloadsAndVerifiesServerChecksum) {
  StartServer();
  StatusOr<PullResult> r = PullModel(Options());
  ExpectDownloaded(r);
  EXPECT_FALSE(r->resumed);
  std::vector<std::string> log = LogLines();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("\"/org/model/resolve/main/model.gguf\""), std::string::npos);
  EXPECT_NE(log[0].find("\"range\": null"), std::string::npos);
}

TEST_F(PullTest, ServerChecksumCatchesCorruption) {
  StartServer();
  // The server's X-Linked-ETag is the SHA of the real file; corrupt a complete .part.
  std::string bad = data_;
  bad[1234] ^= 1;
  WriteFile(Part(), bad);
  StatusOr<PullResult> r = PullModel(Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  EXPECT_FALSE(fs::exists(Part()));
  EXPECT_FALSE(fs::exists(Final()));
}

TEST_F(PullTest, LargerThanBeastDefaultBodyLimit) {
  // Beast caps response bodies at 8 MB unless told otherwise; GGUF files are gigabytes.
  std::string big(10 * 1024 * 1024, 'z');
  WriteFile(srv_ / "org/model/big.gguf", big);
  StartServer();
  PullOptions o = Options();
  o.file = "big.gguf";
  StatusOr<PullResult> r = PullModel(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->bytes, big.size());
  EXPECT_EQ(r->sha256, Sha256Hex(big));
}

TEST_F(PullTest, NoEtagStillReportsDigest) {
  StartServer({"--no-etag"});
  ExpectDownloaded(PullModel(Options()));
}

TEST_F(PullTest, FollowsRelativeRedirect) {
  StartServer({"--redirect"});
  StatusOr<PullResult> r = PullModel(Options());
  ExpectDownloaded(r);
  std::vector<std::string> log = LogLines();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_NE(log[0].find("\"status\": 302"), std::string::npos);
  EXPECT_NE(log[1].find("\"/cdn/org/model/model.gguf\""), std::string::npos);
}

TEST_F(PullTest, TooManyRedirects) {
  StartServer({"--redirect"});
  PullOptions o = Options();
  o.max_redirects = 0;
  StatusOr<PullResult> r = PullModel(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("redirect"), std::string::npos) << r.status().ToString();
  EXPECT_FALSE(fs::exists(Part()));
}

TEST_F(PullTest, CrossHostRedirectDropsToken) {
  // 127.0.0.1 redirects to localhost: another host to the client, so no Authorization there.
  StartServer({"--redirect", "--redirect-host", "localhost", "--token", "s3cret"});
  PullOptions o = Options();
  o.token = "s3cret";
  ExpectDownloaded(PullModel(o));
  std::vector<std::string> log = LogLines();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_NE(log[0].find("\"authorization\": \"Bearer s3cret\""), std::string::npos) << log[0];
  EXPECT_NE(log[1].find("\"host\": \"localhost:"), std::string::npos) << log[1];
  EXPECT_NE(log[1].find("\"authorization\": null"), std::string::npos) << log[1];
}

TEST_F(PullTest, SameHostRedirectKeepsToken) {
  StartServer({"--redirect", "--token", "s3cret"});
  PullOptions o = Options();
  o.token = "s3cret";
  ExpectDownloaded(PullModel(o));
  std::vector<std::string> log = LogLines();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_NE(log[1].find("\"authorization\": \"Bearer s3cret\""), std::string::npos) << log[1];
}

TEST_F(PullTest, ResumesAfterDroppedConnection) {
  StartServer({"--drop-after", "1000000", "--redirect"});
  StatusOr<PullResult> first = PullModel(Options());
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable) << first.status().ToString();
  EXPECT_FALSE(fs::exists(Final()));
  ASSERT_TRUE(fs::exists(Part()));
  EXPECT_EQ(fs::file_size(Part()), 1000000u);

  StatusOr<PullResult> second = PullModel(Options());
  ExpectDownloaded(second);
  EXPECT_TRUE(second->resumed);
  std::vector<std::string> log = LogLines();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_NE(log[3].find("\"range\": \"bytes=1000000-\""), std::string::npos) << log[3];
  EXPECT_NE(log[3].find("\"status\": 206"), std::string::npos) << log[3];
}

TEST_F(PullTest, RestartsWhenServerIgnoresRange) {
  StartServer({"--ignore-range"});
  WriteFile(Part(), std::string(5000, 'x'));  // garbage a 200 must replace, not extend
  StatusOr<PullResult> r = PullModel(Options());
  ExpectDownloaded(r);
  EXPECT_FALSE(r->resumed);
}

TEST_F(PullTest, CompletePartGets416AndIsVerified) {
  StartServer();
  WriteFile(Part(), data_);
  StatusOr<PullResult> r = PullModel(Options());
  ExpectDownloaded(r);
  EXPECT_TRUE(r->resumed);
  std::vector<std::string> log = LogLines();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("\"status\": 416"), std::string::npos) << log[0];
}

TEST_F(PullTest, OverlongPartRestarts) {
  StartServer();
  WriteFile(Part(), data_ + "trailing junk");
  StatusOr<PullResult> r = PullModel(Options());
  ExpectDownloaded(r);
  EXPECT_FALSE(r->resumed);
}

TEST_F(PullTest, WrongExpectedShaFails) {
  StartServer();
  PullOptions o = Options();
  o.expected_sha256 = std::string(64, 'a');
  StatusOr<PullResult> r = PullModel(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find(sha_), std::string::npos) << r.status().ToString();
  EXPECT_FALSE(fs::exists(Final()));
  EXPECT_FALSE(fs::exists(Part()));
}

TEST_F(PullTest, ExpectedShaAcceptsUpperCase) {
  StartServer({"--no-etag"});
  PullOptions o = Options();
  o.expected_sha256 = sha_;
  for (char& c : o.expected_sha256) c = static_cast<char>(std::toupper(c));
  ExpectDownloaded(PullModel(o));
}

TEST_F(PullTest, ExistingVerifiedFileIsNotDownloadedAgain) {
  StartServer();
  WriteFile(Final(), data_);
  PullOptions o = Options();
  o.expected_sha256 = sha_;
  ExpectDownloaded(PullModel(o));
  EXPECT_TRUE(LogLines().empty());
}

TEST_F(PullTest, NotFound) {
  StartServer();
  PullOptions o = Options();
  o.repo = "org/missing";
  StatusOr<PullResult> r = PullModel(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(o.base_url + "/org/missing/resolve/main/model.gguf"),
            std::string::npos)
      << r.status().ToString();
  EXPECT_FALSE(fs::exists(Part()));
}

TEST_F(PullTest, TokenRequired) {
  StartServer({"--token", "s3cret"});
  PullOptions o = Options();
  StatusOr<PullResult> r = PullModel(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("401"), std::string::npos);
  EXPECT_NE(r.status().message().find("token"), std::string::npos) << r.status().ToString();

  o.token = "wrong";
  r = PullModel(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("token"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(r.status().message().find("wrong"), std::string::npos) << "token leaked";

  o.token = "s3cret";
  ExpectDownloaded(PullModel(o));
}

TEST_F(PullTest, BaseUrlWithPathPrefix) {
  StartServer({"--prefix", "/mirror", "--redirect"});
  PullOptions o = Options();
  o.base_url += "/mirror/";
  ExpectDownloaded(PullModel(o));
}

TEST_F(PullTest, FileInSubdirectoryAndRevision) {
  WriteFile(srv_ / "org/model/q4/part 1.gguf", data_);
  StartServer();
  PullOptions o = Options();
  o.file = "q4/part 1.gguf";
  o.revision = "refs/pr/1";
  StatusOr<PullResult> r = PullModel(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->path, (out_ / "q4/part 1.gguf").string());
  EXPECT_TRUE(ReadFile(out_ / "q4/part 1.gguf") == data_);
  std::vector<std::string> log = LogLines();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("/org/model/resolve/refs%2Fpr%2F1/q4/part%201.gguf"), std::string::npos)
      << log[0];
}

TEST_F(PullTest, ReadTimeoutKeepsPart) {
  StartServer({"--stall-after", "100000"});
  internal::PullTimeouts t;
  t.io = std::chrono::milliseconds(500);
  auto start = std::chrono::steady_clock::now();
  StatusOr<PullResult> r = internal::PullModel(Options(), t);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().ToString();
  ASSERT_TRUE(fs::exists(Part()));
  EXPECT_EQ(fs::file_size(Part()), 100000u);
}

TEST_F(PullTest, ConnectionRefused) {
  // A bound socket that never listens: connecting to it is refused.
  int s = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  PullOptions o = Options();
  o.base_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  StatusOr<PullResult> r = PullModel(o);
  close(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_FALSE(fs::exists(Part()));
}

TEST_F(PullTest, InvalidArguments) {
  PullOptions o = Options();
  o.base_url = "ftp://example.com";
  EXPECT_EQ(PullModel(o).status().code(), StatusCode::kInvalidArgument);
  o = Options();
  o.base_url = "http://:80";
  EXPECT_EQ(PullModel(o).status().code(), StatusCode::kInvalidArgument);
  o = Options();
  o.base_url = "http://host:99999";
  EXPECT_EQ(PullModel(o).status().code(), StatusCode::kInvalidArgument);
  o = Options();
  o.file = "../escape.gguf";
  EXPECT_EQ(PullModel(o).status().code(), StatusCode::kInvalidArgument);
  o = Options();
  o.file = "";
  EXPECT_EQ(PullModel(o).status().code(), StatusCode::kInvalidArgument);
  o = Options();
  o.expected_sha256 = "abc";
  EXPECT_EQ(PullModel(o).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(out_));
}

TEST_F(PullTest, ProgressBarOnStderr) {
  StartServer();
  PullOptions o = Options();
  o.progress = true;
  ::testing::internal::CaptureStderr();
  StatusOr<PullResult> r = PullModel(o);
  std::string err = ::testing::internal::GetCapturedStderr();
  ExpectDownloaded(r);
  EXPECT_NE(err.find("model.gguf"), std::string::npos) << err;
  EXPECT_NE(err.find("100.0%"), std::string::npos) << err;
  EXPECT_NE(err.find("MB/s"), std::string::npos) << err;
  EXPECT_NE(err.find('\r'), std::string::npos);
  EXPECT_EQ(err.back(), '\n');
}

TEST_F(PullTest, NoProgressWhenDisabled) {
  StartServer();
  ::testing::internal::CaptureStderr();
  StatusOr<PullResult> r = PullModel(Options());
  std::string err = ::testing::internal::GetCapturedStderr();
  ExpectDownloaded(r);
  EXPECT_EQ(err, "");
}

// https with a throwaway CA: the certificate names only "localhost".
class PullTlsTest : public PullTest {
 protected:
  void SetUp() override {
    PullTest::SetUp();
    if (IsSkipped()) return;
    if (!HaveOpenssl()) GTEST_SKIP() << "openssl CLI not found";
    cert_ = root_ / "cert.pem";
    fs::path key = root_ / "key.pem";
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost "
        "-keyout '" +
        key.string() + "' -out '" + cert_.string() + "' >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    const char* old = std::getenv("SSL_CERT_FILE");
    if (old != nullptr) old_cert_file_ = old;
    StartServer({"--tls", cert_.string(), key.string()});
  }

  void TearDown() override {
    if (old_cert_file_) {
      setenv("SSL_CERT_FILE", old_cert_file_->c_str(), 1);
    } else {
      unsetenv("SSL_CERT_FILE");
    }
    PullTest::TearDown();
  }

  PullOptions TlsOptions(const std::string& host) const {
    PullOptions o = Options();
    o.base_url = "https://" + host + ":" + std::to_string(server_.port());
    return o;
  }

  fs::path cert_;
  std::optional<std::string> old_cert_file_;
};

TEST_F(PullTlsTest, VerifiedDownload) {
  setenv("SSL_CERT_FILE", cert_.c_str(), 1);
  ExpectDownloaded(PullModel(TlsOptions("localhost")));
}

TEST_F(PullTlsTest, UntrustedCertificateFails) {
  unsetenv("SSL_CERT_FILE");
  StatusOr<PullResult> r = PullModel(TlsOptions("localhost"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("certificate"), std::string::npos) << r.status().ToString();
  EXPECT_FALSE(fs::exists(Final()));
}

TEST_F(PullTlsTest, HostnameMismatchFails) {
  setenv("SSL_CERT_FILE", cert_.c_str(), 1);
  StatusOr<PullResult> r = PullModel(TlsOptions("127.0.0.1"));  // cert names localhost only
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("TLS"), std::string::npos) << r.status().ToString();
}

TEST_F(PullTlsTest, BadCertFileIsReported) {
  setenv("SSL_CERT_FILE", (root_ / "missing.pem").c_str(), 1);
  StatusOr<PullResult> r = PullModel(TlsOptions("localhost"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("SSL_CERT_FILE"), std::string::npos) << r.status().ToString();
}

// ---------------------------------------------------------------------------------------------
// URL helpers (no server needed; URL parsing itself is tested in http/client_test.cc).

TEST(UrlTest, EtagAndEncoding) {
  std::string hex(64, 'A');
  EXPECT_EQ(internal::Sha256FromEtag("\"" + hex + "\""), std::string(64, 'a'));
  EXPECT_EQ(internal::Sha256FromEtag(hex), "");
  EXPECT_EQ(internal::Sha256FromEtag("W/\"" + hex + "\""), "");
  EXPECT_EQ(internal::Sha256FromEtag("\"" + std::string(32, '0') + "\""), "");
  EXPECT_EQ(internal::PercentEncode("refs/pr/1", false), "refs%2Fpr%2F1");
  EXPECT_EQ(internal::PercentEncode("a b/c~d.gguf", true), "a%20b/c~d.gguf");
}

}  // namespace
}  // namespace basalt::models
