// Metering: one durable usage record per invocation (API, console playground, app run), a
// versioned price book that fixes each record's cost when it is written, reports that add up
// exactly to the records, quotas checked before any work is done, and the CloudWatch-named
// Prometheus metrics. See docs/metering.md.
//
// Thread-safety: every class here may be used from many threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace basalt::metering {

struct UsageRecord {
  std::string request_id;
  int64_t timestamp_ms = 0;  // unix ms when the invocation ended
  std::string account_id;
  std::string user_id;
  std::string key_id;  // access key id or API key id
  std::string region;
  std::string model_id;        // as the caller named it (alias, ARN...)
  std::string operation;       // "InvokeModel", "ConverseStream", ...
  std::string source = "api";  // "api", "console", "app"
  std::string app_id;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cached_input_tokens = 0;
  int64_t images = 0;
  std::string image_size;     // e.g. "1024x1024"
  std::string image_quality;  // "standard", "premium"
  int64_t image_steps = 0;    // denoising steps run per image
  // The prompt the model was given when it is not the request's own (an image prompt
  // translated to English); "" otherwise.
  std::string prompt_used;
  int64_t first_byte_ms = 0;
  int64_t latency_ms = 0;
  std::string outcome;  // "success", "client_error", "server_error", "throttled", "cancelled",
                        // "client_gone"
  // Filled by UsageStore::Append from the price book. The store keeps the cost as an integer
  // count of nano-units (1e-9 of the currency unit), so sums are exact; `cost` is
  // cost_nanos / 1e9 for display.
  double cost = 0;
  int64_t price_version = 0;
  int64_t cost_nanos = 0;
};

// A price per model and region, valid from `effective_from_ms` until the next version.
struct Price {
  std::string model_id;  // "*" matches any model
  std::string region;    // "*" matches any region
  double input_per_1k_tokens = 0;
  double output_per_1k_tokens = 0;
  // Per image, keyed "<size>/<quality>" (e.g. "1024x1024/standard"), then "*/<quality>", then
  // "*" (the most specific key present prices the record).
  std::map<std::string, double> per_image;
  int64_t effective_from_ms = 0;
  int64_t version = 0;  // assigned by the store
};

struct UsageFilter {
  int64_t from_ms = 0;        // inclusive
  int64_t to_ms = INT64_MAX;  // exclusive
  std::string account_id;     // empty = any (an account only ever sees its own)
  std::string model_id, key_id, user_id, source, app_id;
};

// Group-by dimensions for reports: "day", "model", "key", "user", "source", "app",
// "account", "region", "operation", "outcome".
struct UsageRow {
  std::map<std::string, std::string> group;  // dimension -> value
  int64_t requests = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t images = 0;
  double cost = 0;         // cost_nanos / 1e9
  int64_t cost_nanos = 0;  // exact: the sum of the records' cost_nanos
};

struct UsageReport {
  std::vector<UsageRow> rows;
  UsageRow total;  // equals the sum of the rows and of the matching records
};

class UsageStore {
 public:
  // Opens (creating) the SQLite database at `path`: WAL, synchronous=FULL, so an appended
  // record survives a crash of the process (kill -9) or of the machine.
  // With `read_only` (reports, `basalt usage report`) nothing is created, migrated or
  // changed: writes fail with kFailedPrecondition, and a missing database is kNotFound.
  static StatusOr<std::unique_ptr<UsageStore>> Open(const std::string& path,
                                                    bool read_only = false);
  virtual ~UsageStore() = default;

  // Prices the record with the price in effect at its timestamp (most specific match:
  // model+region, model+"*", "*"+region, "*"+"*"), fixes `cost` and `price_version`, and
  // writes it durably before returning. It replaces the invocation's checkpoint (in progress,
  // or marked interrupted by a crash recovery). kAlreadyExists for a duplicate request_id.
  virtual StatusOr<UsageRecord> Append(UsageRecord record) = 0;

  // Matching records, oldest first (timestamp, then request_id); limit 0 = no limit.
  // Writes or replaces the record of an invocation still running, with outcome
  // "in_progress" and the tokens so far, so that a crash still leaves what was generated
  // billed. A later Append() for the same request_id replaces it. kAlreadyExists when the
  // invocation already has its final record.
  virtual Status Checkpoint(UsageRecord record) = 0;
  // For server start-up only (never while another process may be serving): records a crash
  // left "in_progress" become "interrupted". Returns how many.
  virtual StatusOr<int64_t> MarkInterrupted() = 0;

  virtual StatusOr<std::vector<UsageRecord>> List(const UsageFilter& filter, size_t limit) = 0;
  virtual StatusOr<UsageReport> Report(const UsageFilter& filter,
                                       const std::vector<std::string>& group_by) = 0;
  // CSV with a header line: the records (group_by empty) or the report rows.
  virtual StatusOr<std::string> ExportCsv(const UsageFilter& filter,
                                          const std::vector<std::string>& group_by) = 0;

  // Price book. AddPrice assigns the next version; prices are never edited in place.
  virtual StatusOr<Price> AddPrice(Price price) = 0;
  virtual StatusOr<std::vector<Price>> ListPrices() = 0;

  // Sums for quotas: requests, tokens and cost since `from_ms` of the records matching every
  // non-empty argument (account_id, key_id, user_id, source).
  struct Totals {
    int64_t requests = 0;
    int64_t tokens = 0;  // input + output
    double cost = 0;
    int64_t cost_nanos = 0;
  };
  virtual StatusOr<Totals> TotalsSince(const std::string& account_id, const std::string& key_id,
                                       const std::string& user_id, const std::string& source,
                                       int64_t from_ms) = 0;

  virtual Status CheckIntegrity() = 0;

  // Caps the database at its current size plus `extra_pages` (0 lifts the cap), so a test
  // can fill the "disk" between two records. SQLite then fails writes with SQLITE_FULL.
  virtual Status LimitSizeForTest(int64_t extra_pages) = 0;
};

}  // namespace basalt::metering
