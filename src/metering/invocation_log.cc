// Invocation logs as JSON Lines with O_APPEND writes: each line reaches the kernel before
// Write returns, and lines from concurrent writers never interleave (one mutex, one write).
#include "metering/invocation_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string_view>

#include "metering/time_util.h"

namespace basalt::metering {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;  // keeps Bedrock's field order

constexpr std::string_view kStem = "model-invocations";
constexpr std::string_view kExt = ".jsonl";

// The request and response bodies are JSON text; ones that do not parse are kept as strings.
Json BodyJson(const std::string& text) {
  Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Json(text);
  return parsed;
}

std::string FormatLine(const InvocationLogEntry& e, const LoggingConfig& config) {
  Json line;
  line["schemaType"] = "ModelInvocationLog";
  line["schemaVersion"] = "1.0";
  line["timestamp"] = internal::Iso8601Seconds(e.timestamp_ms);
  line["accountId"] = e.account_id;
  line["identity"] = Json{{"arn", e.identity_arn}};
  line["region"] = e.region;
  line["requestId"] = e.request_id;
  line["operation"] = e.operation;
  line["modelId"] = e.model_id;
  Json input;
  input["inputContentType"] = "application/json";
  if (config.text_data_delivery && !e.input_body_json.empty()) {
    input["inputBodyJson"] = BodyJson(e.input_body_json);
  }
  input["inputTokenCount"] = e.input_tokens;
  line["input"] = std::move(input);
  Json output;
  output["outputContentType"] = "application/json";
  if (config.text_data_delivery && !e.output_body_json.empty()) {
    output["outputBodyJson"] = BodyJson(e.output_body_json);
  }
  output["outputTokenCount"] = e.output_tokens;
  line["output"] = std::move(output);
  if (!e.error_code.empty()) line["errorCode"] = e.error_code;
  // Invalid UTF-8 in a body must not throw: it is replaced with U+FFFD.
  return line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string RotatedName(int index) {
  return std::string(kStem) + "." + std::to_string(index) + std::string(kExt);
}

// The index N of "model-invocations.N.jsonl", or 0.
int RotatedIndex(const std::string& name) {
  std::string prefix = std::string(kStem) + ".";
  if (name.size() <= prefix.size() + kExt.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - kExt.size(), kExt.size(), kExt) != 0) {
    return 0;
  }
  std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - kExt.size());
  if (digits.empty() || digits.size() > 6 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return 0;
  }
  return std::stoi(digits);
}

}  // namespace

InvocationLogger::~InvocationLogger() { CloseLocked(); }

void InvocationLogger::SetConfig(const LoggingConfig& config) {
  std::lock_guard lock(mu_);
  CloseLocked();  // reopened on the next write, in the new folder if it changed
  config_ = config;
}

LoggingConfig InvocationLogger::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

Status InvocationLogger::Write(const InvocationLogEntry& entry) {
  std::lock_guard lock(mu_);
  if (!config_.enabled) return Status::Ok();
  if (config_.folder.empty()) {
    return Status::FailedPrecondition("invocation logging is enabled without a folder");
  }
  const std::string line = FormatLine(entry, config_);
  if (fd_ < 0) BASALT_RETURN_IF_ERROR(OpenLocked());
  if (size_ > 0 && size_ + static_cast<int64_t>(line.size()) > config_.max_file_bytes) {
    BASALT_RETURN_IF_ERROR(RotateLocked());
    BASALT_RETURN_IF_ERROR(OpenLocked());
  }
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string error = std::strerror(errno);
      CloseLocked();  // the size is unknown now; fstat again on the next write
      return Status::Internal("cannot write the invocation log: " + error);
    }
    done += static_cast<size_t>(n);
  }
  size_ += static_cast<int64_t>(line.size());
  return Status::Ok();
}

Status InvocationLogger::OpenLocked() {
  std::error_code ec;
  fs::create_directories(config_.folder, ec);
  if (ec) {
    return Status::Internal("cannot create the invocation log folder " + config_.folder + ": " +
                            ec.message());
  }
  const std::string path = (fs::path(config_.folder) / kFileName).string();
  // Logs hold prompts and answers: private to the server's user.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Internal("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    std::string error = std::strerror(errno);
    ::close(fd);
    return Status::Internal("cannot stat " + path + ": " + error);
  }
  fd_ = fd;
  size_ = static_cast<int64_t>(st.st_size);
  return Status::Ok();
}

// model-invocations.jsonl -> .1.jsonl -> .2.jsonl ...; the oldest past max_files is deleted.
Status InvocationLogger::RotateLocked() {
  CloseLocked();
  const fs::path folder(config_.folder);
  const int keep = config_.max_files > 0 ? config_.max_files : 0;
  std::error_code ec;
  // Drops the file that would fall off the end, and any left over from a larger max_files.
  fs::directory_iterator it(folder, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    int index = RotatedIndex(it->path().filename().string());
    if (index > 0 && index >= keep) {
      std::error_code remove_ec;
      fs::remove(it->path(), remove_ec);
    }
  }
  if (ec) {
    return Status::Internal("cannot list the invocation log folder " + config_.folder + ": " +
                            ec.message());
  }
  for (int i = keep - 1; i >= 1; --i) {
    fs::path from = folder / RotatedName(i);
    if (!fs::exists(from, ec)) continue;
    fs::rename(from, folder / RotatedName(i + 1), ec);
    if (ec) return Status::Internal("cannot rotate " + from.string() + ": " + ec.message());
  }
  const fs::path live = folder / kFileName;
  if (keep == 0) {
    fs::remove(live, ec);
  } else {
    fs::rename(live, folder / RotatedName(1), ec);
  }
  if (ec) return Status::Internal("cannot rotate " + live.string() + ": " + ec.message());
  return Status::Ok();
}

void InvocationLogger::CloseLocked() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  size_ = 0;
}

}  // namespace basalt::metering
