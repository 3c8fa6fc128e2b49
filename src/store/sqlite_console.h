// Private to src/store: the SQLite statements behind the console parts of Store (user
// passwords, look-ups by name, console sessions). The caller holds the store's mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "common/status.h"
#include "store/store.h"

namespace basalt::store::internal {

StatusOr<User> FindUserByName(sqlite3* db, const std::string& account_id, const std::string& name);
StatusOr<Account> FindAccountByName(sqlite3* db, const std::string& name);
Status SetUserPassword(sqlite3* db, const std::string& user_id, const std::string& hash,
                       int64_t now);
StatusOr<std::string> GetUserPassword(sqlite3* db, const std::string& user_id);
Status CreateConsoleSession(sqlite3* db, const ConsoleSession& session);
StatusOr<ConsoleSession> GetConsoleSession(sqlite3* db, const std::string& token_sha256);
Status TouchConsoleSession(sqlite3* db, const std::string& token_sha256, int64_t last_seen_at);
Status DeleteConsoleSession(sqlite3* db, const std::string& token_sha256);
StatusOr<int64_t> DeleteExpiredConsoleSessions(sqlite3* db, int64_t now);
Status DeleteUserConsoleSessions(sqlite3* db, const std::string& user_id);

}  // namespace basalt::store::internal
