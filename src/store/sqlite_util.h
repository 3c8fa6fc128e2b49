// A thin prepared-statement wrapper over the SQLite C API, shared by the SQLite stores
// (this folder's and src/metering's usage database). Header-only.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
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

}  // namespace basalt::store::sqlite
