// UsageStore on SQLite: one connection behind a mutex, WAL journal with synchronous=FULL and
// one transaction per record (so a record is on disk when Append returns), schema versioned by
// PRAGMA user_version. Costs are integer nano-units so that every sum is exact.
#include <sqlite3.h>

#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <set>
#include <string_view>
#include <utility>
#include <variant>

#include "metering/time_util.h"
#include "metering/usage.h"
#include "store/sqlite_util.h"

namespace basalt::metering {
namespace {

using store::sqlite::Exec;
using store::sqlite::kBusyTimeoutMs;
using store::sqlite::Stmt;
using store::sqlite::StmtCache;
using store::sqlite::Transaction;

// Each entry moves the schema from version i to i+1; never edit one that has shipped.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE usage_records (
  request_id TEXT PRIMARY KEY,
  timestamp_ms INTEGER NOT NULL,
  day TEXT NOT NULL,
  account_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  region TEXT NOT NULL,
  model_id TEXT NOT NULL,
  operation TEXT NOT NULL,
  source TEXT NOT NULL,
  app_id TEXT NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  images INTEGER NOT NULL,
  image_size TEXT NOT NULL,
  image_quality TEXT NOT NULL,
  first_byte_ms INTEGER NOT NULL,
  latency_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  cost_nanos INTEGER NOT NULL,
  price_version INTEGER NOT NULL
) STRICT;
CREATE INDEX usage_by_time ON usage_records(timestamp_ms);
CREATE INDEX usage_by_model ON usage_records(model_id, timestamp_ms);
-- The quota sums read only these indexes (they cover the summed columns).
CREATE INDEX usage_by_account
  ON usage_records(account_id, timestamp_ms, cost_nanos, input_tokens, output_tokens);
CREATE INDEX usage_by_key
  ON usage_records(key_id, timestamp_ms, cost_nanos, input_tokens, output_tokens);
CREATE INDEX usage_by_user
  ON usage_records(user_id, source, timestamp_ms, cost_nanos, input_tokens, output_tokens);
CREATE TABLE prices (
  version INTEGER PRIMARY KEY,
  model_id TEXT NOT NULL,
  region TEXT NOT NULL,
  input_per_1k_tokens REAL NOT NULL,
  output_per_1k_tokens REAL NOT NULL,
  effective_from_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX prices_by_match ON prices(model_id, region, effective_from_ms);
CREATE TABLE price_images (
  version INTEGER NOT NULL REFERENCES prices(version),
  image_key TEXT NOT NULL,
  price REAL NOT NULL,
  PRIMARY KEY (version, image_key)
) STRICT;
)sql",
    // Image generation (issue 9): the denoising steps run per image, and the prompt the image
    // model was given when it differs from the request's (a translated prompt).
    R"sql(
ALTER TABLE usage_records ADD COLUMN image_steps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN prompt_used TEXT NOT NULL DEFAULT '';
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr char kRecordCols[] =
    "SELECT request_id, timestamp_ms, account_id, user_id, key_id, region, model_id, operation, "
    "source, app_id, input_tokens, output_tokens, cached_input_tokens, images, image_size, "
    "image_quality, first_byte_ms, latency_ms, outcome, cost_nanos, price_version, image_steps, "
    "prompt_used FROM usage_records";

// Report dimension -> column.
constexpr std::pair<std::string_view, std::string_view> kDimensions[] = {
    {"day", "day"},
    {"model", "model_id"},
    {"key", "key_id"},
    {"user", "user_id"},
    {"source", "source"},
    {"app", "app_id"},
    {"account", "account_id"},
    {"region", "region"},
    {"operation", "operation"},
    {"outcome", "outcome"},
};

double NanosToCost(int64_t nanos) { return static_cast<double>(nanos) / 1e9; }

// Exact decimal text of a nano-unit amount, e.g. 1234 -> "0.000001234".
std::string FormatNanos(int64_t nanos) {
  char buf[48];
  const char* sign = nanos < 0 ? "-" : "";
  uint64_t abs = nanos < 0 ? 0 - static_cast<uint64_t>(nanos) : static_cast<uint64_t>(nanos);
  std::snprintf(buf, sizeof(buf), "%s%" PRIu64 ".%09" PRIu64, sign, abs / 1'000'000'000u,
                abs % 1'000'000'000u);
  return buf;
}

UsageRecord ReadRecord(const Stmt& s) {
  UsageRecord r;
  r.request_id = s.Text(0);
  r.timestamp_ms = s.Int(1);
  r.account_id = s.Text(2);
  r.user_id = s.Text(3);
  r.key_id = s.Text(4);
  r.region = s.Text(5);
  r.model_id = s.Text(6);
  r.operation = s.Text(7);
  r.source = s.Text(8);
  r.app_id = s.Text(9);
  r.input_tokens = s.Int(10);
  r.output_tokens = s.Int(11);
  r.cached_input_tokens = s.Int(12);
  r.images = s.Int(13);
  r.image_size = s.Text(14);
  r.image_quality = s.Text(15);
  r.first_byte_ms = s.Int(16);
  r.latency_ms = s.Int(17);
  r.outcome = s.Text(18);
  r.cost_nanos = s.Int(19);
  r.cost = NanosToCost(r.cost_nanos);
  r.price_version = s.Int(20);
  r.image_steps = s.Int(21);
  r.prompt_used = s.Text(22);
  return r;
}

// A WHERE clause with its positional arguments.
struct Where {
  std::string sql;
  std::vector<std::variant<int64_t, std::string>> args;

  void Eq(const char* column, const std::string& value) {
    if (value.empty()) return;
    sql += std::string(" AND ") + column + " = ?";
    args.emplace_back(value);
  }
  void BindTo(Stmt& s) const {
    int i = 1;
    for (const auto& a : args) {
      if (std::holds_alternative<int64_t>(a)) {
        s.Bind(i++, std::get<int64_t>(a));
      } else {
        s.Bind(i++, std::get<std::string>(a));
      }
    }
  }
};

Where FilterWhere(const UsageFilter& f) {
  Where w;
  w.sql = " WHERE timestamp_ms >= ? AND timestamp_ms < ?";
  w.args.emplace_back(f.from_ms);
  w.args.emplace_back(f.to_ms);
  w.Eq("account_id", f.account_id);
  w.Eq("model_id", f.model_id);
  w.Eq("key_id", f.key_id);
  w.Eq("user_id", f.user_id);
  w.Eq("source", f.source);
  w.Eq("app_id", f.app_id);
  return w;
}

// RFC 4180: quote a field holding a separator, a quote or a line break; double the quotes.
void AppendCsvField(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void AppendCsvLine(std::string& out, const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    AppendCsvField(out, fields[i]);
  }
  out += '\n';
}

Status ValidateRecord(const UsageRecord& r) {
  if (r.request_id.empty()) return Status::InvalidArgument("usage record needs a request_id");
  if (r.input_tokens < 0 || r.output_tokens < 0 || r.cached_input_tokens < 0 || r.images < 0 ||
      r.first_byte_ms < 0 || r.latency_ms < 0) {
    return Status::InvalidArgument("usage record " + r.request_id +
                                   " has a negative count or duration");
  }
  return Status::Ok();
}

bool ValidAmount(double v) { return std::isfinite(v) && v >= 0; }

Status ValidatePrice(const Price& p) {
  if (p.model_id.empty() || p.region.empty()) {
    return Status::InvalidArgument("a price needs a model_id and a region (\"*\" for any)");
  }
  if (!ValidAmount(p.input_per_1k_tokens) || !ValidAmount(p.output_per_1k_tokens)) {
    return Status::InvalidArgument("token prices must be finite and not negative");
  }
  for (const auto& [key, value] : p.per_image) {
    if (key.empty()) return Status::InvalidArgument("per-image price keys must not be empty");
    if (!ValidAmount(value)) {
      return Status::InvalidArgument("per-image prices must be finite and not negative");
    }
  }
  return Status::Ok();
}

// cost = input/1000 * in + output/1000 * out + images * per_image, in nano-units, rounded
// half away from zero once per record.
StatusOr<int64_t> CostNanos(const UsageRecord& r, double in_per_1k, double out_per_1k,
                            double per_image) {
  long double nanos = static_cast<long double>(r.input_tokens) * in_per_1k * 1e6L +
                      static_cast<long double>(r.output_tokens) * out_per_1k * 1e6L +
                      static_cast<long double>(r.images) * per_image * 1e9L;
  if (!(nanos < 9.0e18L)) {
    return Status::InvalidArgument("the cost of usage record " + r.request_id + " is out of range");
  }
  return static_cast<int64_t>(std::llroundl(nanos));
}

Status AddChecked(int64_t& into, int64_t v) {
  if (__builtin_add_overflow(into, v, &into)) return Status::Internal("usage sum overflows");
  return Status::Ok();
}

Status AddRow(UsageRow& total, const UsageRow& row) {
  BASALT_RETURN_IF_ERROR(AddChecked(total.requests, row.requests));
  BASALT_RETURN_IF_ERROR(AddChecked(total.input_tokens, row.input_tokens));
  BASALT_RETURN_IF_ERROR(AddChecked(total.output_tokens, row.output_tokens));
  BASALT_RETURN_IF_ERROR(AddChecked(total.images, row.images));
  BASALT_RETURN_IF_ERROR(AddChecked(total.cost_nanos, row.cost_nanos));
  total.cost = NanosToCost(total.cost_nanos);
  return Status::Ok();
}

class SqliteUsageStore final : public UsageStore {
 public:
  // `db` writes (group commit, checkpoints, prices); `reader` serves reports and quota sums
  // on its own connection and lock, so a long report or CSV export never holds up a commit
  // (WAL lets it read the last committed state meanwhile). Read-only stores have no writer.
  SqliteUsageStore(sqlite3* db, sqlite3* reader) : db_(db), reader_(reader) {}
  ~SqliteUsageStore() override {
    if (reader_ != db_) sqlite3_close_v2(reader_);
    sqlite3_close_v2(db_);
  }

  Status InitReadOnly() {
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    Stmt s(db_, "PRAGMA user_version");
    int version = s.Step() ? static_cast<int>(s.Int(0)) : 0;
    BASALT_RETURN_IF_ERROR(s.status());
    if (version != kSchemaVersion) {
      return Status::FailedPrecondition(
          "usage schema version " + std::to_string(version) + " is not the one this build reads (" +
          std::to_string(kSchemaVersion) + "); start `basalt serve` once to migrate it");
    }
    read_only_ = true;
    return Status::Ok();
  }

  Status Init() {
    BASALT_RETURN_IF_ERROR(store::sqlite::ConfigureWriter(db_));
    sqlite3_busy_timeout(reader_, kBusyTimeoutMs);
    return store::sqlite::Migrate(db_, "usage", kMigrations);
  }

  // Group commit: concurrent Appends and Checkpoints share one transaction and one fsync.
  // The first caller to find no commit running becomes the leader and writes every queued
  // record; each record has its own savepoint, so one refused record (a duplicate) does not
  // undo the others. Every call still returns only after its record is durable.
  StatusOr<UsageRecord> Append(UsageRecord record) override {
    BASALT_RETURN_IF_ERROR(ValidateRecord(record));
    Status st = Enqueue(&record, /*checkpoint=*/false);
    if (!st.ok()) return st;
    return record;
  }

  Status Checkpoint(UsageRecord record) override {
    BASALT_RETURN_IF_ERROR(ValidateRecord(record));
    record.outcome = "in_progress";
    return Enqueue(&record, /*checkpoint=*/true);
  }

  Status Enqueue(UsageRecord* record, bool checkpoint) {
    if (read_only_) return Status::FailedPrecondition("the usage database is open read-only");
    PendingAppend self{record, checkpoint};
    std::unique_lock queue_lock(queue_mu_);
    queue_.push_back(&self);
    while (!self.done) {
      if (committing_) {
        queue_cv_.wait(queue_lock);
        continue;
      }
      committing_ = true;
      std::vector<PendingAppend*> batch(queue_.begin(), queue_.end());
      queue_.clear();
      queue_lock.unlock();
      CommitBatch(batch);
      queue_lock.lock();
      for (PendingAppend* p : batch) p->done = true;
      committing_ = false;
      queue_cv_.notify_all();
    }
    return self.status;
  }

  StatusOr<int64_t> MarkInterrupted() override {
    std::lock_guard lock(mu_);
    Stmt s(db_, "UPDATE usage_records SET outcome = 'interrupted' WHERE outcome = 'in_progress'");
    BASALT_RETURN_IF_ERROR(s.Run());
    return static_cast<int64_t>(sqlite3_changes(db_));
  }

  StatusOr<std::vector<UsageRecord>> List(const UsageFilter& filter, size_t limit) override {
    Where w = FilterWhere(filter);
    int64_t sql_limit =
        (limit == 0 || limit > static_cast<size_t>(INT64_MAX)) ? -1 : static_cast<int64_t>(limit);
    std::lock_guard lock(read_mu_);
    Stmt s(reader_,
           std::string(kRecordCols) + w.sql + " ORDER BY timestamp_ms, request_id LIMIT ?");
    w.BindTo(s);
    s.Bind(static_cast<int>(w.args.size()) + 1, sql_limit);
    std::vector<UsageRecord> out;
    while (s.Step()) out.push_back(ReadRecord(s));
    BASALT_RETURN_IF_ERROR(s.status());
    return out;
  }

  StatusOr<UsageReport> Report(const UsageFilter& filter,
                               const std::vector<std::string>& group_by) override {
    BASALT_ASSIGN_OR_RETURN(std::vector<std::string> dims, Dimensions(group_by));
    std::string cols;
    for (const std::string& d : dims) {
      if (!cols.empty()) cols += ", ";
      cols += ColumnOf(d);
    }
    Where w = FilterWhere(filter);
    std::string sql = "SELECT " + (cols.empty() ? "" : cols + ", ") +
                      "COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(images), "
                      "SUM(cost_nanos) FROM usage_records" +
                      w.sql;
    // BINARY collation orders like std::string, so rows come sorted by their group values.
    if (!cols.empty()) sql += " GROUP BY " + cols + " ORDER BY " + cols;

    UsageReport report;
    std::lock_guard lock(read_mu_);
    Stmt s(reader_, sql);
    w.BindTo(s);
    const int n = static_cast<int>(dims.size());
    while (s.Step()) {
      UsageRow row;
      row.requests = s.Int(n);
      if (row.requests == 0) continue;  // no GROUP BY and nothing matched
      for (int i = 0; i < n; ++i) row.group[dims[static_cast<size_t>(i)]] = s.Text(i);
      row.input_tokens = s.Int(n + 1);
      row.output_tokens = s.Int(n + 2);
      row.images = s.Int(n + 3);
      row.cost_nanos = s.Int(n + 4);
      row.cost = NanosToCost(row.cost_nanos);
      BASALT_RETURN_IF_ERROR(AddRow(report.total, row));
      report.rows.push_back(std::move(row));
    }
    BASALT_RETURN_IF_ERROR(s.status());
    return report;
  }

  StatusOr<std::string> ExportCsv(const UsageFilter& filter,
                                  const std::vector<std::string>& group_by) override {
    std::string out;
    if (group_by.empty()) {
      BASALT_ASSIGN_OR_RETURN(std::vector<UsageRecord> records, List(filter, 0));
      AppendCsvLine(
          out, {"request_id", "timestamp_ms",  "time_utc",      "account_id",          "user_id",
                "key_id",     "region",        "model_id",      "operation",           "source",
                "app_id",     "input_tokens",  "output_tokens", "cached_input_tokens", "images",
                "image_size", "image_quality", "first_byte_ms", "latency_ms",          "outcome",
                "cost",       "price_version", "image_steps",   "prompt_used"});
      for (const UsageRecord& r : records) {
        AppendCsvLine(out, {r.request_id,
                            std::to_string(r.timestamp_ms),
                            internal::Iso8601Seconds(r.timestamp_ms),
                            r.account_id,
                            r.user_id,
                            r.key_id,
                            r.region,
                            r.model_id,
                            r.operation,
                            r.source,
                            r.app_id,
                            std::to_string(r.input_tokens),
                            std::to_string(r.output_tokens),
                            std::to_string(r.cached_input_tokens),
                            std::to_string(r.images),
                            r.image_size,
                            r.image_quality,
                            std::to_string(r.first_byte_ms),
                            std::to_string(r.latency_ms),
                            r.outcome,
                            FormatNanos(r.cost_nanos),
                            std::to_string(r.price_version),
                            std::to_string(r.image_steps),
                            r.prompt_used});
      }
      return out;
    }
    BASALT_ASSIGN_OR_RETURN(std::vector<std::string> dims, Dimensions(group_by));
    BASALT_ASSIGN_OR_RETURN(UsageReport report, Report(filter, dims));
    std::vector<std::string> header = dims;
    for (const char* c : {"requests", "input_tokens", "output_tokens", "images", "cost"}) {
      header.emplace_back(c);
    }
    AppendCsvLine(out, header);
    for (const UsageRow& row : report.rows) {
      std::vector<std::string> fields;
      for (const std::string& d : dims) fields.push_back(row.group.at(d));
      fields.push_back(std::to_string(row.requests));
      fields.push_back(std::to_string(row.input_tokens));
      fields.push_back(std::to_string(row.output_tokens));
      fields.push_back(std::to_string(row.images));
      fields.push_back(FormatNanos(row.cost_nanos));
      AppendCsvLine(out, fields);
    }
    return out;
  }

  StatusOr<Price> AddPrice(Price price) override {
    BASALT_RETURN_IF_ERROR(ValidatePrice(price));
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    BASALT_RETURN_IF_ERROR(tx.begin_status());
    BASALT_RETURN_IF_ERROR(AddPriceLocked(price));
    BASALT_RETURN_IF_ERROR(tx.Commit());
    return price;
  }

  StatusOr<std::vector<Price>> ListPrices() override {
    std::lock_guard lock(read_mu_);
    std::vector<Price> prices;
    {
      Stmt s(reader_,
             "SELECT version, model_id, region, input_per_1k_tokens, output_per_1k_tokens, "
             "effective_from_ms FROM prices ORDER BY version");
      while (s.Step()) {
        Price p;
        p.version = s.Int(0);
        p.model_id = s.Text(1);
        p.region = s.Text(2);
        p.input_per_1k_tokens = s.Double(3);
        p.output_per_1k_tokens = s.Double(4);
        p.effective_from_ms = s.Int(5);
        prices.push_back(std::move(p));
      }
      BASALT_RETURN_IF_ERROR(s.status());
    }
    Stmt s(reader_, "SELECT version, image_key, price FROM price_images ORDER BY version");
    size_t i = 0;
    while (s.Step()) {
      int64_t version = s.Int(0);
      while (i < prices.size() && prices[i].version < version) ++i;
      if (i < prices.size() && prices[i].version == version) {
        prices[i].per_image[s.Text(1)] = s.Double(2);
      }
    }
    BASALT_RETURN_IF_ERROR(s.status());
    return prices;
  }

  StatusOr<Totals> TotalsSince(const std::string& account_id, const std::string& key_id,
                               const std::string& user_id, const std::string& source,
                               int64_t from_ms) override {
    UsageFilter f;
    f.from_ms = from_ms;
    f.account_id = account_id;
    f.key_id = key_id;
    f.user_id = user_id;
    f.source = source;
    Where w = FilterWhere(f);
    std::lock_guard lock(read_mu_);
    Stmt s(reader_,
           "SELECT COUNT(*), COALESCE(SUM(input_tokens), 0) + COALESCE(SUM(output_tokens), 0), "
           "SUM(cost_nanos) "
           "FROM usage_records" +
               w.sql);
    w.BindTo(s);
    Totals t;
    if (s.Step()) {
      t.requests = s.Int(0);
      t.tokens = s.Int(1);
      t.cost_nanos = s.Int(2);
      t.cost = NanosToCost(t.cost_nanos);
    }
    BASALT_RETURN_IF_ERROR(s.status());
    return t;
  }

  Status LimitSizeForTest(int64_t extra_pages) override {
    std::lock_guard lock(mu_);
    int64_t pages = 0;
    {
      Stmt s(db_, "PRAGMA page_count");
      if (s.Step()) pages = s.Int(0);
      BASALT_RETURN_IF_ERROR(s.status());
    }
    const int64_t limit = extra_pages == 0 ? 1073741823 : pages + extra_pages;
    return Exec(db_, ("PRAGMA max_page_count = " + std::to_string(limit)).c_str());
  }

  Status CheckIntegrity() override {
    std::lock_guard lock(read_mu_);
    Stmt s(reader_, "PRAGMA integrity_check");
    std::string problems;
    while (s.Step()) {
      std::string line = s.Text(0);
      if (line == "ok") continue;
      if (!problems.empty()) problems += "; ";
      problems += line;
    }
    BASALT_RETURN_IF_ERROR(s.status());
    if (!problems.empty()) return Status::Internal("usage database is damaged: " + problems);
    return Status::Ok();
  }

 private:
  static std::string_view ColumnOf(std::string_view dimension) {
    for (const auto& [name, column] : kDimensions) {
      if (name == dimension) return column;
    }
    return {};
  }

  // The requested dimensions, each once, in the order given.
  static StatusOr<std::vector<std::string>> Dimensions(const std::vector<std::string>& group_by) {
    std::vector<std::string> dims;
    std::set<std::string> seen;
    for (const std::string& d : group_by) {
      if (ColumnOf(d).empty()) {
        return Status::InvalidArgument(
            "unknown report dimension \"" + d +
            "\" (use day, model, key, user, source, app, account, region, operation, outcome)");
      }
      if (seen.insert(d).second) dims.push_back(d);
    }
    return dims;
  }

  struct PendingAppend {
    UsageRecord* record;
    bool checkpoint = false;  // an in-progress record, replaced by the final one
    Status status;
    bool done = false;
  };

  void CommitBatch(const std::vector<PendingAppend*>& batch) {
    std::lock_guard lock(mu_);
    // The price is read inside the write transaction, so a concurrent AddPrice is either
    // wholly before or wholly after these records.
    Status st = Stmt(stmts_, "BEGIN IMMEDIATE").Run();
    if (!st.ok()) {
      for (PendingAppend* p : batch) p->status = st;
      return;
    }
    // On some errors (SQLITE_FULL, SQLITE_IOERR) SQLite rolls back the whole transaction,
    // not just the statement: then every record of the batch so far is gone, and later ones
    // must not run in autocommit mode behind our back (they would be durable but reported
    // failed). Such a batch fails as a whole.
    Status lost;
    for (PendingAppend* p : batch) {
      if (!lost.ok()) {
        p->status = lost;
        continue;
      }
      p->status = Stmt(stmts_, "SAVEPOINT usage_record").Run();
      if (!p->status.ok() && sqlite3_get_autocommit(db_)) {
        lost = p->status;
        for (PendingAppend* q : batch) q->status = lost;
        continue;
      }
      if (!p->status.ok()) continue;
      // A final record replaces the invocation's checkpoint, if it has one (also one that a
      // crash recovery marked interrupted meanwhile); a checkpoint replaces the previous one.
      p->status = DeleteUnfinishedLocked(p->record->request_id, !p->checkpoint);
      if (p->status.ok()) p->status = AppendLocked(*p->record);
      if (!p->status.ok() && sqlite3_get_autocommit(db_)) {
        lost = p->status;
        for (PendingAppend* q : batch) q->status = lost;
        continue;
      }
      if (!p->status.ok()) Stmt(stmts_, "ROLLBACK TO usage_record").Run();
      Stmt(stmts_, "RELEASE usage_record").Run();
    }
    if (!lost.ok()) return;
    st = Stmt(stmts_, "COMMIT").Run();
    if (!st.ok()) {
      Exec(db_, "ROLLBACK");
      for (PendingAppend* p : batch) {
        if (p->status.ok()) p->status = st;
      }
    }
  }

  Status DeleteUnfinishedLocked(const std::string& request_id, bool interrupted_too) {
    Stmt s(stmts_, interrupted_too
                       ? "DELETE FROM usage_records WHERE request_id = ?1 AND outcome "
                         "IN ('in_progress', 'interrupted')"
                       : "DELETE FROM usage_records WHERE request_id = ?1 AND outcome = "
                         "'in_progress'");
    s.Bind(1, request_id);
    return s.Run();
  }

  Status AppendLocked(UsageRecord& r) {
    double in_per_1k = 0, out_per_1k = 0, per_image = 0;
    int64_t version = 0;
    {
      // Most specific first: model+region, model+*, *+region, *+*; then the latest in effect.
      Stmt s(stmts_,
             "SELECT version, input_per_1k_tokens, output_per_1k_tokens FROM prices "
             "WHERE model_id IN (?1, '*') AND region IN (?2, '*') AND effective_from_ms <= ?3 "
             "ORDER BY model_id = '*', region = '*', effective_from_ms DESC, version DESC "
             "LIMIT 1");
      s.Bind(1, r.model_id).Bind(2, r.region).Bind(3, r.timestamp_ms);
      if (s.Step()) {
        version = s.Int(0);
        in_per_1k = s.Double(1);
        out_per_1k = s.Double(2);
      }
      BASALT_RETURN_IF_ERROR(s.status());
    }
    if (version != 0 && r.images > 0) {
      Stmt s(stmts_,
             "SELECT price FROM price_images WHERE version = ?1 AND image_key IN (?2, ?3, '*') "
             "ORDER BY image_key = '*', image_key = ?3 LIMIT 1");
      s.Bind(1, version)
          .Bind(2, r.image_size + "/" + r.image_quality)
          .Bind(3, "*/" + r.image_quality);
      if (s.Step()) per_image = s.Double(0);
      BASALT_RETURN_IF_ERROR(s.status());
    }
    BASALT_ASSIGN_OR_RETURN(r.cost_nanos, CostNanos(r, in_per_1k, out_per_1k, per_image));
    r.cost = NanosToCost(r.cost_nanos);
    r.price_version = version;

    Stmt s(stmts_,
           "INSERT INTO usage_records (request_id, timestamp_ms, day, account_id, user_id, "
           "key_id, region, model_id, operation, source, app_id, input_tokens, output_tokens, "
           "cached_input_tokens, images, image_size, image_quality, first_byte_ms, latency_ms, "
           "outcome, cost_nanos, price_version, image_steps, prompt_used) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.Bind(1, r.request_id)
        .Bind(2, r.timestamp_ms)
        .Bind(3, internal::UtcDay(r.timestamp_ms))
        .Bind(4, r.account_id)
        .Bind(5, r.user_id)
        .Bind(6, r.key_id)
        .Bind(7, r.region)
        .Bind(8, r.model_id)
        .Bind(9, r.operation)
        .Bind(10, r.source)
        .Bind(11, r.app_id)
        .Bind(12, r.input_tokens)
        .Bind(13, r.output_tokens)
        .Bind(14, r.cached_input_tokens)
        .Bind(15, r.images)
        .Bind(16, r.image_size)
        .Bind(17, r.image_quality)
        .Bind(18, r.first_byte_ms)
        .Bind(19, r.latency_ms)
        .Bind(20, r.outcome)
        .Bind(21, r.cost_nanos)
        .Bind(22, r.price_version)
        .Bind(23, r.image_steps)
        .Bind(24, r.prompt_used);
    Status st = s.Run();
    if (st.code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists("usage record " + r.request_id + " already exists");
    }
    return st;
  }

  Status AddPriceLocked(Price& p) {
    {
      Stmt s(db_,
             "INSERT INTO prices (model_id, region, input_per_1k_tokens, output_per_1k_tokens, "
             "effective_from_ms) VALUES (?, ?, ?, ?, ?)");
      s.Bind(1, p.model_id)
          .Bind(2, p.region)
          .BindDouble(3, p.input_per_1k_tokens)
          .BindDouble(4, p.output_per_1k_tokens)
          .Bind(5, p.effective_from_ms);
      BASALT_RETURN_IF_ERROR(s.Run());
    }
    p.version = sqlite3_last_insert_rowid(db_);
    for (const auto& [key, value] : p.per_image) {
      Stmt s(db_, "INSERT INTO price_images (version, image_key, price) VALUES (?, ?, ?)");
      s.Bind(1, p.version).Bind(2, key).BindDouble(3, value);
      BASALT_RETURN_IF_ERROR(s.Run());
    }
    return Status::Ok();
  }

  std::mutex mu_;       // the writer connection
  std::mutex read_mu_;  // the reader connection
  bool read_only_ = false;
  // The Append queue for group commit (see Append()).
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<PendingAppend*> queue_;
  bool committing_ = false;
  sqlite3* db_;
  sqlite3* reader_;
  // The writer's statements of every Append (CommitBatch), prepared once; used under mu_.
  StmtCache stmts_{db_};
};

StatusOr<sqlite3*> OpenConnection(const std::string& path, int flags) {
  return store::sqlite::OpenConnection(path, flags, "usage database");
}

}  // namespace

StatusOr<std::unique_ptr<UsageStore>> UsageStore::Open(const std::string& path, bool read_only) {
  if (path.empty()) return Status::InvalidArgument("usage database path must not be empty");
  if (read_only) {
    if (!std::filesystem::exists(path)) {
      return Status::NotFound("no usage database at " + path);
    }
    BASALT_ASSIGN_OR_RETURN(sqlite3 * db, OpenConnection(path, SQLITE_OPEN_READONLY));
    auto store = std::make_unique<SqliteUsageStore>(db, db);
    Status st = store->InitReadOnly();
    if (!st.ok()) return st;
    return std::unique_ptr<UsageStore>(std::move(store));
  }
  BASALT_RETURN_IF_ERROR(store::sqlite::EnsureParentDir(path));
  BASALT_RETURN_IF_ERROR(store::sqlite::CreatePrivateFile(path));
  BASALT_ASSIGN_OR_RETURN(sqlite3 * db,
                          OpenConnection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  auto reader = OpenConnection(path, SQLITE_OPEN_READWRITE);
  if (!reader.ok()) {
    sqlite3_close_v2(db);
    return reader.status();
  }
  auto store = std::make_unique<SqliteUsageStore>(db, *reader);
  Status st = store->Init();
  if (!st.ok()) {
    return Status::Internal("cannot open usage database " + path + ": " + st.message());
  }
  return std::unique_ptr<UsageStore>(std::move(store));
}

}  // namespace basalt::metering
