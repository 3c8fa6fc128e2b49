// Invocation logs as JSON Lines with O_APPEND writes: each line reaches the kernel before
// Write returns, and lines from concurrent writers never interleave (one mutex, one write).
#include "metering/invocation_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string_view>

#include "common/json_depth.h"
#include "metering/time_util.h"

namespace basalt::metering {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;  // keeps Bedrock's field order

constexpr std::string_view kStem = "model-invocations";
constexpr std::string_view kExt = ".jsonl";

// The request and response bodies are JSON text; ones that do not parse, or nest too deep to
// re-serialize safely (dump recurses per level), are kept as strings.
Json BodyJson(const std::string& text) {
  if (!JsonDepthWithin(text)) return Json(text);
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
  const std::string& out_body = e.output_has_images && !config.image_data_delivery
                                    ? e.output_body_without_images_json
                                    : e.output_body_json;
  if (config.text_data_delivery && !out_body.empty()) {
    output["outputBodyJson"] = BodyJson(out_body);
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
  struct stat st{};
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

namespace {

Status LoggingError(const std::string& field, const std::string& constraint) {
  return Status::InvalidArgument("1 validation error detected: Value at 'loggingConfig." + field +
                                 "' failed to satisfy constraint: " + constraint);
}

// A client-chosen name becomes folders under the account's log folder: only plain
// components, never "..", so no configuration can write outside it.
Status SafeRelativePath(const std::string& field, const std::string& value, bool allow_hash) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t slash = value.find('/', start);
    if (slash == std::string::npos) slash = value.size();
    std::string part = value.substr(start, slash - start);
    if (part == "." || part == "..") {
      return LoggingError(field, "Member must not contain '.' or '..' path segments");
    }
    for (char c : part) {
      bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
                (allow_hash && c == '#');
      if (!ok) {
        return LoggingError(field, "Member must satisfy regular expression pattern: [\\.\\-_/" +
                                       std::string(allow_hash ? "#" : "") + "A-Za-z0-9]*");
      }
    }
    start = slash + 1;
  }
  return Status::Ok();
}

std::string TrimSlashes(const std::string& s) {
  size_t b = s.find_first_not_of('/');
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of('/');
  // Inner runs of '/' collapse when the folder is made.
  return s.substr(b, e - b + 1);
}

}  // namespace

StatusOr<AccountLogging> ParseLoggingConfig(const std::string& json_text) {
  if (!JsonDepthWithin(json_text)) return LoggingError("", "Member nests too deep");
  Json cfg = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (cfg.is_discarded() || !cfg.is_object()) {
    return Status::InvalidArgument(
        "1 validation error detected: Value at 'loggingConfig' failed to satisfy constraint: "
        "Member must be a structure");
  }
  AccountLogging out;
  for (auto& [field, target] :
       {std::pair<const char*, bool*>{"textDataDeliveryEnabled", &out.text_data_delivery},
        {"imageDataDeliveryEnabled", &out.image_data_delivery},
        {"embeddingDataDeliveryEnabled", &out.embedding_data_delivery}}) {
    if (!cfg.contains(field) || cfg[field].is_null()) continue;
    if (!cfg[field].is_boolean()) return LoggingError(field, "Member must be a boolean");
    *target = cfg[field].get<bool>();
  }
  for (const char* field : {"videoDataDeliveryEnabled", "audioDataDeliveryEnabled"}) {
    if (cfg.contains(field) && !cfg[field].is_null() && !cfg[field].is_boolean()) {
      return LoggingError(field, "Member must be a boolean");
    }
  }
  auto string_member = [](const Json& obj, const std::string& where, const char* key,
                          size_t min_len, size_t max_len, bool required,
                          std::string* out_value) -> Status {
    if (!obj.contains(key) || obj[key].is_null()) {
      if (!required) return Status::Ok();
      return Status::InvalidArgument("1 validation error detected: Value null at 'loggingConfig." +
                                     where + "." + key +
                                     "' failed to satisfy constraint: Member must not be null");
    }
    if (!obj[key].is_string()) return LoggingError(where + "." + key, "Member must be a string");
    *out_value = obj[key].get<std::string>();
    if (out_value->size() < min_len || out_value->size() > max_len) {
      return LoggingError(where + "." + key, "Member must have length between " +
                                                 std::to_string(min_len) + " and " +
                                                 std::to_string(max_len));
    }
    return Status::Ok();
  };
  if (cfg.contains("s3Config") && !cfg["s3Config"].is_null()) {
    const Json& s3 = cfg["s3Config"];
    if (!s3.is_object()) return LoggingError("s3Config", "Member must be a structure");
    std::string bucket, prefix;
    BASALT_RETURN_IF_ERROR(string_member(s3, "s3Config", "bucketName", 3, 63, true, &bucket));
    BASALT_RETURN_IF_ERROR(string_member(s3, "s3Config", "keyPrefix", 0, 1024, false, &prefix));
    if (bucket.find('/') != std::string::npos) {
      return LoggingError("s3Config.bucketName", "Member must not contain '/'");
    }
    BASALT_RETURN_IF_ERROR(SafeRelativePath("s3Config.bucketName", bucket, false));
    BASALT_RETURN_IF_ERROR(SafeRelativePath("s3Config.keyPrefix", prefix, false));
    std::string dest = "s3/" + bucket;
    if (!TrimSlashes(prefix).empty()) dest += "/" + TrimSlashes(prefix);
    out.destinations.push_back(dest);
  }
  if (cfg.contains("cloudWatchConfig") && !cfg["cloudWatchConfig"].is_null()) {
    const Json& cw = cfg["cloudWatchConfig"];
    if (!cw.is_object()) return LoggingError("cloudWatchConfig", "Member must be a structure");
    std::string group, role;
    BASALT_RETURN_IF_ERROR(
        string_member(cw, "cloudWatchConfig", "logGroupName", 1, 512, true, &group));
    BASALT_RETURN_IF_ERROR(string_member(cw, "cloudWatchConfig", "roleArn", 0, 2048, true, &role));
    BASALT_RETURN_IF_ERROR(SafeRelativePath("cloudWatchConfig.logGroupName", group, true));
    if (TrimSlashes(group).empty()) {
      return LoggingError("cloudWatchConfig.logGroupName", "Member must name a log group");
    }
    out.destinations.push_back("cloudwatch/" + TrimSlashes(group));
  }
  if (out.destinations.empty()) {
    return Status::InvalidArgument(
        "At least one of s3Config or cloudWatchConfig must be set: logs are written to this "
        "deployment's invocation-logs folder either way.");
  }
  return out;
}

std::string InvocationLogs::FolderOf(const std::string& account_id,
                                     const std::string& destination) const {
  return (fs::path(root_) / account_id / destination).string();
}

void InvocationLogs::Configure(const std::string& account_id, const AccountLogging& logging) {
  auto account = std::make_shared<Account>();
  account->logging = logging;
  for (const std::string& dest : logging.destinations) {
    LoggingConfig c;
    c.enabled = true;
    c.text_data_delivery = logging.text_data_delivery;
    c.image_data_delivery = logging.image_data_delivery;
    c.embedding_data_delivery = logging.embedding_data_delivery;
    c.folder = FolderOf(account_id, dest);
    account->loggers.push_back(std::make_unique<InvocationLogger>(c));
  }
  std::lock_guard lock(mu_);
  accounts_[account_id] = std::move(account);
}

void InvocationLogs::Remove(const std::string& account_id) {
  std::lock_guard lock(mu_);
  accounts_.erase(account_id);
}

bool InvocationLogs::Enabled(const std::string& account_id) const {
  std::lock_guard lock(mu_);
  return accounts_.count(account_id) > 0;
}

Status InvocationLogs::Write(const InvocationLogEntry& entry) {
  std::shared_ptr<Account> account;
  {
    std::lock_guard lock(mu_);
    auto it = accounts_.find(entry.account_id);
    if (it == accounts_.end()) return Status::Ok();
    account = it->second;  // a concurrent Configure swaps the pointer; this write finishes
  }
  Status first;
  for (auto& logger : account->loggers) {
    Status st = logger->Write(entry);
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

}  // namespace basalt::metering
