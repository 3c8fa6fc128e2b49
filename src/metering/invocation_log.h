// Model invocation logging like Bedrock's (Put/Get/DeleteModelInvocationLoggingConfiguration):
// opt-in JSON Lines of requests and responses written to a local folder, rotated by size.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace basalt::metering {

struct LoggingConfig {
  bool enabled = false;
  bool text_data_delivery = true;
  bool image_data_delivery = false;
  bool embedding_data_delivery = false;
  std::string folder;                 // where the .jsonl files go
  int64_t max_file_bytes = 64 << 20;  // rotate past this size
  int max_files = 10;                 // keep this many rotated files
};

struct InvocationLogEntry {
  std::string request_id;
  int64_t timestamp_ms = 0;
  std::string account_id;
  std::string identity_arn;
  std::string region;
  std::string model_id;
  std::string operation;
  std::string input_body_json;   // the request body (JSON text)
  std::string output_body_json;  // the response body, or the assembled stream
  // An image model's response: output_body_json carries the images; when the configuration's
  // imageDataDeliveryEnabled is false, this copy without them is logged instead.
  bool output_has_images = false;
  std::string output_body_without_images_json;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  std::string error_code;
};

// One log destination: a folder with the live JSON Lines file and its rotations.
class InvocationLogger {
 public:
  InvocationLogger() = default;  // disabled until SetConfig
  explicit InvocationLogger(const LoggingConfig& config) : config_(config) {}
  ~InvocationLogger();
  InvocationLogger(const InvocationLogger&) = delete;
  InvocationLogger& operator=(const InvocationLogger&) = delete;

  // The live file in `folder`; rotated ones are model-invocations.1.jsonl (newest) to
  // model-invocations.<max_files>.jsonl.
  static constexpr char kFileName[] = "model-invocations.jsonl";

  // Entries follow Bedrock's log record shape (schemaType "ModelInvocationLog",
  // schemaVersion "1.0", timestamp, accountId, identity.arn, region, requestId, operation,
  // modelId, input{inputContentType, inputBodyJson, inputTokenCount}, output{...}).
  // One line per entry, written (not buffered) before returning. A no-op when disabled.
  Status Write(const InvocationLogEntry& entry);
  void SetConfig(const LoggingConfig& config);
  LoggingConfig config() const;

 private:
  Status OpenLocked();
  Status RotateLocked();
  void CloseLocked();

  mutable std::mutex mu_;
  LoggingConfig config_;
  int fd_ = -1;       // the live file, opened on the first write
  int64_t size_ = 0;  // its size in bytes
};

// What one account asked for with PutModelInvocationLoggingConfiguration.
struct AccountLogging {
  bool text_data_delivery = true;
  bool image_data_delivery = false;
  bool embedding_data_delivery = false;
  // Destinations relative to the account's log folder: "s3/<bucket>/<keyPrefix>" for
  // s3Config, "cloudwatch/<logGroupName>" for cloudWatchConfig.
  std::vector<std::string> destinations;
};

// Validates a Bedrock LoggingConfig object (JSON text: s3Config, cloudWatchConfig,
// textDataDeliveryEnabled, ...) with the service's rules and returns what it asks for.
// kInvalidArgument ("1 validation error detected: ...") for a wrong type, a missing member,
// or a bucket, prefix or log group name that is not a safe relative path.
StatusOr<AccountLogging> ParseLoggingConfig(const std::string& json_text);

// Invocation logging per account: each account's configuration governs only its own
// invocations, which are written under <root>/<account_id>/<destination>/ (see
// AccountLogging). An account without a configuration is not logged.
// Thread-safe.
class InvocationLogs {
 public:
  explicit InvocationLogs(std::string root) : root_(std::move(root)) {}

  // Replaces the account's configuration.
  void Configure(const std::string& account_id, const AccountLogging& logging);
  void Remove(const std::string& account_id);
  bool Enabled(const std::string& account_id) const;
  // Writes `entry` to every destination of entry.account_id; a no-op when it has none.
  Status Write(const InvocationLogEntry& entry);
  // The folder of one destination (for tests and the README).
  std::string FolderOf(const std::string& account_id, const std::string& destination) const;

 private:
  struct Account {
    AccountLogging logging;
    std::vector<std::unique_ptr<InvocationLogger>> loggers;  // one per destination
  };
  const std::string root_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Account>> accounts_;
};

}  // namespace basalt::metering
