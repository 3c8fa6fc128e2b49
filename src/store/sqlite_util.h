// A thin prepared-statement wrapper over the SQLite C API and what every SQLite store does
// alike (a private database file, connection settings, transactions, schema migrations),
// shared by the SQLite stores: this folder's, src/metering's usage database and src/apps'
// apps store. Header-only.
#pragma once

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

namespace basalt::store::sqlite {

// Statements of one connection prepared once and kept (SQLITE_PREPARE_PERSISTENT), for hot
// paths: preparing costs more than running a small statement. Not thread-safe: whoever
// serializes the use of the connection serializes this too. Statements are finalized on
// destruction (sqlite3_close_v2 waits for that, so the order of the two does not matter).
class StmtCache {
 public:
  explicit StmtCache(sqlite3* db) : db_(db) {}
  ~StmtCache() {
    for (auto& entry : stmts_) sqlite3_finalize(entry.second);
  }
  StmtCache(const StmtCache&) = delete;
  StmtCache& operator=(const StmtCache&) = delete;

  sqlite3* db() const { return db_; }
  // The statement for `sql`, ready to bind; nullptr with *rc set when it does not prepare.
  sqlite3_stmt* Get(std::string_view sql, int* rc) {
    auto it = stmts_.find(std::string(sql));
    if (it != stmts_.end()) {
      *rc = SQLITE_OK;
      return it->second;
    }
    sqlite3_stmt* stmt = nullptr;
    *rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                             SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (*rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return nullptr;
    }
    stmts_.emplace(std::string(sql), stmt);
    return stmt;
  }

 private:
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_;
};

// A prepared statement; finalized on destruction, or, when it comes from a StmtCache, reset
// and its bindings cleared for the next use. Errors stick and surface in status().
class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  }
  Stmt(StmtCache& cache, std::string_view sql) : db_(cache.db()), cached_(true) {
    stmt_ = cache.Get(sql, &rc_);
  }
  ~Stmt() {
    if (!cached_) {
      sqlite3_finalize(stmt_);
    } else if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int i, std::string_view text) {
    if (rc_ == SQLITE_OK) {
      rc_ =
          sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    }
    return *this;
  }
  Stmt& BindBlob(int i, std::string_view bytes) {
    if (rc_ == SQLITE_OK) {
      rc_ = sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()),
                              SQLITE_TRANSIENT);
    }
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& BindDouble(int i, double v) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Stmt& BindOptional(int i, const std::optional<std::string>& text) {
    if (text) return Bind(i, std::string_view(*text));
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_null(stmt_, i);
    return *this;
  }

  // Returns true on a row, false when done; errors land in status().
  bool Step() {
    if (rc_ != SQLITE_OK && rc_ != SQLITE_ROW) return false;
    rc_ = sqlite3_step(stmt_);
    if (rc_ == SQLITE_ROW) return true;
    if (rc_ == SQLITE_DONE) rc_ = SQLITE_OK;
    return false;
  }
  // Runs a statement that returns no rows.
  Status Run() {
    while (Step()) {
    }
    return status();
  }

  std::string Text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  std::string Blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    return p ? std::string(static_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }

  bool constraint_violation() const { return (rc_ & 0xFF) == SQLITE_CONSTRAINT; }
  bool foreign_key_violation() const { return rc_ == SQLITE_CONSTRAINT_FOREIGNKEY; }
  Status status() const {
    if (rc_ == SQLITE_OK || rc_ == SQLITE_ROW || rc_ == SQLITE_DONE) return Status::Ok();
    if (constraint_violation()) {
      return Status::AlreadyExists(std::string("constraint failed: ") + sqlite3_errmsg(db_));
    }
    return Status::Internal(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
  bool cached_ = false;
};

inline Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errmsg(db);
    sqlite3_free(error);
    return Status::Internal("sqlite: " + message);
  }
  return Status::Ok();
}

// How long a connection waits for another connection's (or process's) lock.
constexpr int kBusyTimeoutMs = 5000;

// A BEGIN IMMEDIATE transaction that rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { begin_ = Exec(db_, "BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (begin_.ok() && !done_) Exec(db_, "ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  const Status& begin_status() const { return begin_; }
  Status Commit() {
    done_ = true;
    Status st = Exec(db_, "COMMIT");
    if (!st.ok()) Exec(db_, "ROLLBACK");
    return st;
  }

 private:
  sqlite3* db_;
  Status begin_;
  bool done_ = false;
};

// Creates the directories above `path` when absent.
inline Status EnsureParentDir(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    return Status::Internal("cannot create directory " + parent.string() + ": " + ec.message());
  }
  return Status::Ok();
}

// Creates `path` with mode 0600 when absent, so the database and its WAL are private.
inline Status CreatePrivateFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return Status::Ok();
  }
  if (errno == EEXIST) return Status::Ok();
  return Status::Internal("cannot create " + path + ": " + std::strerror(errno));
}

// Opens `path` with `flags` (SQLITE_OPEN_NOMUTEX added: each store serializes its own use of a
// connection) and extended result codes. `what` names the database in the error: "cannot open
// <what> <path>: ...".
inline StatusOr<sqlite3*> OpenConnection(const std::string& path, int flags,
                                         std::string_view what) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Status::Internal("cannot open " + std::string(what) + " " + path + ": " + message);
  }
  sqlite3_extended_result_codes(db, 1);
  return db;
}

// The settings of a store's writing connection: foreign keys enforced, WAL journal,
// synchronous=FULL (a change is on disk when its COMMIT returns), the busy timeout.
inline Status ConfigureWriter(sqlite3* db) {
  BASALT_RETURN_IF_ERROR(Exec(db, "PRAGMA foreign_keys = ON"));
  {
    Stmt wal(db, "PRAGMA journal_mode = WAL");
    std::string mode = wal.Step() ? wal.Text(0) : "";
    BASALT_RETURN_IF_ERROR(wal.status());
    if (mode != "wal") return Status::Internal("sqlite: cannot enable WAL (mode " + mode + ")");
  }
  BASALT_RETURN_IF_ERROR(Exec(db, "PRAGMA synchronous = FULL"));
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  return Status::Ok();
}

// Applies the next of `migrations` (entry i moves the schema from version i to i+1, counted by
// PRAGMA user_version); false when the schema is already current. `what` names the database in
// errors ("<what> schema version ...", "<what> migration to version ...").
inline StatusOr<bool> MigrateOneStep(sqlite3* db, std::string_view what,
                                     std::span<const char* const> migrations) {
  const int schema_version = static_cast<int>(migrations.size());
  int version = 0;
  {
    Stmt s(db, "PRAGMA user_version");
    if (s.Step()) version = static_cast<int>(s.Int(0));
    BASALT_RETURN_IF_ERROR(s.status());
  }
  if (version > schema_version) {
    return Status::Internal(std::string(what) + " schema version " + std::to_string(version) +
                            " is newer than this build understands (" +
                            std::to_string(schema_version) + ")");
  }
  if (version == schema_version) return false;
  Status st = Exec(db, migrations[static_cast<size_t>(version)]);
  if (st.ok()) {
    st = Exec(db, ("PRAGMA user_version = " + std::to_string(version + 1)).c_str());
  }
  if (!st.ok()) {
    return Status::Internal(std::string(what) + " migration to version " +
                            std::to_string(version + 1) + " failed: " + st.message());
  }
  return true;
}

// Brings the schema up to date, one migration per transaction. The version is read inside the
// write transaction, so two processes opening a fresh database at once apply each step exactly
// once.
inline Status Migrate(sqlite3* db, std::string_view what, std::span<const char* const> migrations) {
  while (true) {
    Transaction tx(db);
    BASALT_RETURN_IF_ERROR(tx.begin_status());
    StatusOr<bool> stepped = MigrateOneStep(db, what, migrations);
    if (!stepped.ok()) return stepped.status();
    BASALT_RETURN_IF_ERROR(tx.Commit());
    if (!*stepped) return Status::Ok();
  }
}

}  // namespace basalt::store::sqlite
