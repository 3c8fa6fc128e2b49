#include "store/sqlite_console.h"

#include "store/sqlite_util.h"

namespace basalt::store::internal {

using sqlite::Exec;
using sqlite::Stmt;

namespace {

Status RequireUser(sqlite3* db, const std::string& user_id) {
  Stmt s(db, "SELECT 1 FROM users WHERE id = ?");
  s.Bind(1, user_id);
  if (s.Step()) return Status::Ok();
  BASALT_RETURN_IF_ERROR(s.status());
  return Status::NotFound("user " + user_id + " not found");
}

}  // namespace

StatusOr<User> FindUserByName(sqlite3* db, const std::string& account_id, const std::string& name) {
  Stmt s(db,
         "SELECT id, account_id, name, role, created_at FROM users"
         " WHERE account_id = ? AND name = ?");
  s.Bind(1, account_id).Bind(2, name);
  if (s.Step()) return User{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4)};
  BASALT_RETURN_IF_ERROR(s.status());
  return Status::NotFound("user " + name + " not found in account " + account_id);
}

StatusOr<Account> FindAccountByName(sqlite3* db, const std::string& name) {
  Stmt s(db, "SELECT id, name, created_at FROM accounts WHERE name = ? ORDER BY id LIMIT 2");
  s.Bind(1, name);
  if (!s.Step()) {
    BASALT_RETURN_IF_ERROR(s.status());
    return Status::NotFound("account " + name + " not found");
  }
  Account account{s.Text(0), s.Text(1), s.Int(2)};
  if (s.Step()) {
    return Status::FailedPrecondition("several accounts are named " + name +
                                      "; use the account id");
  }
  BASALT_RETURN_IF_ERROR(s.status());
  return account;
}

Status SetUserPassword(sqlite3* db, const std::string& user_id, const std::string& hash,
                       int64_t now) {
  BASALT_RETURN_IF_ERROR(RequireUser(db, user_id));
  // One transaction: a password change and the end of the old sessions happen together.
  BASALT_RETURN_IF_ERROR(Exec(db, "SAVEPOINT set_password"));
  Status st;
  if (hash.empty()) {
    Stmt s(db, "DELETE FROM user_passwords WHERE user_id = ?");
    s.Bind(1, user_id);
    st = s.Run();
  } else {
    Stmt s(db,
           "INSERT INTO user_passwords (user_id, hash, updated_at) VALUES (?, ?, ?)"
           " ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash,"
           " updated_at = excluded.updated_at");
    s.Bind(1, user_id).Bind(2, hash).Bind(3, now);
    st = s.Run();
  }
  if (st.ok()) st = DeleteUserConsoleSessions(db, user_id);
  if (!st.ok()) {
    Exec(db, "ROLLBACK TO set_password");
    Exec(db, "RELEASE set_password");
    return st;
  }
  return Exec(db, "RELEASE set_password");
}

StatusOr<std::string> GetUserPassword(sqlite3* db, const std::string& user_id) {
  BASALT_RETURN_IF_ERROR(RequireUser(db, user_id));
  Stmt s(db, "SELECT hash FROM user_passwords WHERE user_id = ?");
  s.Bind(1, user_id);
  if (s.Step()) return s.Text(0);
  BASALT_RETURN_IF_ERROR(s.status());
  return std::string();
}

Status CreateConsoleSession(sqlite3* db, const ConsoleSession& session) {
  if (session.token_sha256.empty()) {
    return Status::InvalidArgument("a console session needs a token hash");
  }
  BASALT_RETURN_IF_ERROR(RequireUser(db, session.user_id));
  Stmt s(db,
         "INSERT INTO console_sessions (token_sha256, user_id, account_id, csrf_token,"
         " created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  s.BindBlob(1, session.token_sha256).Bind(2, session.user_id).Bind(3, session.account_id);
  s.Bind(4, session.csrf_token).Bind(5, session.created_at).Bind(6, session.expires_at);
  s.Bind(7, session.last_seen_at);
  Status st = s.Run();
  if (s.constraint_violation()) return Status::AlreadyExists("console session already exists");
  return st;
}

StatusOr<ConsoleSession> GetConsoleSession(sqlite3* db, const std::string& token_sha256) {
  Stmt s(db,
         "SELECT token_sha256, user_id, account_id, csrf_token, created_at, expires_at,"
         " last_seen_at FROM console_sessions WHERE token_sha256 = ?");
  s.BindBlob(1, token_sha256);
  if (s.Step()) {
    return ConsoleSession{s.Blob(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5), s.Int(6)};
  }
  BASALT_RETURN_IF_ERROR(s.status());
  return Status::NotFound("no such console session");
}

Status TouchConsoleSession(sqlite3* db, const std::string& token_sha256, int64_t last_seen_at) {
  Stmt s(db, "UPDATE console_sessions SET last_seen_at = ? WHERE token_sha256 = ?");
  s.Bind(1, last_seen_at).BindBlob(2, token_sha256);
  return s.Run();
}

Status DeleteConsoleSession(sqlite3* db, const std::string& token_sha256) {
  Stmt s(db, "DELETE FROM console_sessions WHERE token_sha256 = ?");
  s.BindBlob(1, token_sha256);
  return s.Run();
}

StatusOr<int64_t> DeleteExpiredConsoleSessions(sqlite3* db, int64_t now) {
  Stmt s(db, "DELETE FROM console_sessions WHERE expires_at <= ?");
  s.Bind(1, now);
  BASALT_RETURN_IF_ERROR(s.Run());
  return static_cast<int64_t>(sqlite3_changes(db));
}

Status DeleteUserConsoleSessions(sqlite3* db, const std::string& user_id) {
  Stmt s(db, "DELETE FROM console_sessions WHERE user_id = ?");
  s.Bind(1, user_id);
  return s.Run();
}

}  // namespace basalt::store::internal
