// Model invocation logging like Bedrock's (Put/Get/DeleteModelInvocationLoggingConfiguration):
// opt-in JSON Lines of requests and responses written to a local folder, rotated by size.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

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
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  std::string error_code;
};

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

}  // namespace basalt::metering
