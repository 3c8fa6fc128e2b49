// The SQLite implementation of Store: one connection behind a mutex, WAL journal,
// synchronous=FULL (usage records will need durability), schema versioned by PRAGMA user_version.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "iam/iam.h"
#include "store/secret_box.h"
#include "store/sqlite_console.h"
#include "store/sqlite_util.h"
#include "store/store.h"

namespace basalt::store {
namespace {

using internal::kMasterKeySize;

constexpr std::string_view kUpperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
constexpr std::string_view kLowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kDigits = "0123456789";
constexpr std::string_view kSecretAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr int kIdAttempts = 8;  // random ids that collide are drawn again

// Each entry moves the schema from version i to i+1; never edit one that has shipped.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'user')),
  created_at INTEGER NOT NULL,
  UNIQUE (account_id, name)
) STRICT;
CREATE TABLE access_keys (
  access_key_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  secret_sealed BLOB NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX access_keys_by_user ON access_keys(user_id);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  token_sha256 BLOB NOT NULL UNIQUE,
  status TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX api_keys_by_user ON api_keys(user_id);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
)sql",
    // 2: policies, their attachment to users, per-account model access, the use-case form and
    // model agreements.
    R"sql(
CREATE TABLE policies (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  document TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, name)
) STRICT;
-- custom_account_id is NULL for built-in policies; for custom ones it ties the row to its
-- policy, so an attached policy cannot be deleted (IAM's DeleteConflict).
CREATE TABLE user_policies (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  custom_account_id TEXT,
  attached_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, name),
  FOREIGN KEY (custom_account_id, name) REFERENCES policies(account_id, name)
) STRICT;
CREATE INDEX user_policies_by_policy ON user_policies(custom_account_id, name);
CREATE TABLE model_access (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  model_id TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('REQUESTED', 'GRANTED', 'DENIED')),
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, model_id)
) STRICT;
CREATE TABLE use_case_forms (
  account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  form_data BLOB NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE agreements (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  model_id TEXT NOT NULL,
  offer_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, model_id)
) STRICT;
)sql",
    // 3: web console passwords (Argon2id encoded hashes) and sessions (token SHA-256 only).
    R"sql(
CREATE TABLE user_passwords (
  user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  hash TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE console_sessions (
  token_sha256 BLOB PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
) STRICT;
CREATE INDEX console_sessions_by_user ON console_sessions(user_id);
CREATE INDEX console_sessions_by_expiry ON console_sessions(expires_at);
)sql",
};

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool ValidStatus(const std::string& s) { return s == "Active" || s == "Inactive"; }

// IAM's policy name rule: 1-128 of letters, digits and +=,.@_-
Status ValidatePolicyName(const std::string& name) {
  static constexpr std::string_view kExtra = "+=,.@_-";
  bool ok = !name.empty() && name.size() <= 128;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && kExtra.find(c) == std::string_view::npos) {
      ok = false;
    }
  }
  if (ok) return Status::Ok();
  return Status::InvalidArgument("policy name '" + name +
                                 "' must be 1-128 letters, digits or +=,.@_-");
}

Status ValidateModelId(const std::string& model_id) {
  if (model_id.empty()) return Status::InvalidArgument("model id must not be empty");
  return Status::Ok();
}

using sqlite::Exec;
using sqlite::Stmt;

Account ReadAccount(const Stmt& s) { return {s.Text(0), s.Text(1), s.Int(2)}; }
User ReadUser(const Stmt& s) { return {s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4)}; }
AccessKey ReadAccessKey(const Stmt& s) {
  return {s.Text(0), "", s.Text(1), s.Text(2), s.Text(3), s.Int(4)};
}
ApiKey ReadApiKey(const Stmt& s) {
  return {s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Int(5)};
}

constexpr char kAccountCols[] = "SELECT id, name, created_at FROM accounts";
constexpr char kUserCols[] = "SELECT id, account_id, name, role, created_at FROM users";
constexpr char kAccessKeyCols[] =
    "SELECT access_key_id, user_id, account_id, status, created_at FROM access_keys";
constexpr char kApiKeyCols[] =
    "SELECT id, user_id, account_id, status, expires_at, created_at FROM api_keys";

class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* db, std::string master_key) : db_(db), master_key_(std::move(master_key)) {}
  ~SqliteStore() override { sqlite3_close_v2(db_); }

  Status Init() {
    BASALT_RETURN_IF_ERROR(sqlite::ConfigureWriter(db_));
    return sqlite::Migrate(db_, "store", kMigrations);
  }

  StatusOr<Account> CreateAccount(const std::string& name) override {
    if (name.empty()) return Status::InvalidArgument("account name must not be empty");
    std::lock_guard lock(mu_);
    Account account{"", name, NowSeconds()};
    for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
      StatusOr<std::string> id = internal::RandomString(12, kDigits);
      if (!id.ok()) return id.status();
      account.id = *id;
      Stmt s(db_, "INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)");
      s.Bind(1, account.id).Bind(2, account.name).Bind(3, account.created_at);
      Status st = s.Run();
      if (st.ok()) return account;
      if (!s.constraint_violation()) return st;
    }
    return Status::Internal("could not draw a free account id");
  }

  StatusOr<Account> GetAccount(const std::string& id) override {
    std::lock_guard lock(mu_);
    return GetAccountLocked(id);
  }

  StatusOr<std::vector<Account>> ListAccounts() override {
    std::lock_guard lock(mu_);
    Stmt s(db_, std::string(kAccountCols) + " ORDER BY created_at, id");
    std::vector<Account> out;
    while (s.Step()) out.push_back(ReadAccount(s));
    BASALT_RETURN_IF_ERROR(s.status());
    return out;
  }

  StatusOr<User> CreateUser(const std::string& account_id, const std::string& name,
                            const std::string& role) override {
    if (name.empty()) return Status::InvalidArgument("user name must not be empty");
    if (role != "admin" && role != "user") {
      return Status::InvalidArgument("role must be 'admin' or 'user', not '" + role + "'");
    }
    std::lock_guard lock(mu_);
    StatusOr<Account> account = GetAccountLocked(account_id);
    if (!account.ok()) return account.status();
    User user{"", account_id, name, role, NowSeconds()};
    for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
      StatusOr<std::string> suffix = internal::RandomString(16, kUpperAlnum);
      if (!suffix.ok()) return suffix.status();
      user.id = "AIDA" + *suffix;
      if (IdTaken("users", "id", user.id)) continue;
      Stmt s(db_,
             "INSERT INTO users (id, account_id, name, role, created_at) VALUES (?, ?, ?, ?, ?)");
      s.Bind(1, user.id).Bind(2, user.account_id).Bind(3, user.name).Bind(4, user.role);
      s.Bind(5, user.created_at);
      Status st = s.Run();
      if (st.ok()) return user;
      if (s.constraint_violation()) {
        return Status::AlreadyExists("user '" + name + "' already exists in account " + account_id);
      }
      return st;
    }
    return Status::Internal("could not draw a free user id");
  }

  StatusOr<User> GetUser(const std::string& id) override {
    std::lock_guard lock(mu_);
    return GetUserLocked(id);
  }

  StatusOr<std::vector<User>> ListUsers(const std::string& account_id) override {
    std::lock_guard lock(mu_);
    StatusOr<Account> account = GetAccountLocked(account_id);
    if (!account.ok()) return account.status();
    Stmt s(db_, std::string(kUserCols) + " WHERE account_id = ? ORDER BY created_at, id");
    s.Bind(1, account_id);
    std::vector<User> out;
    while (s.Step()) out.push_back(ReadUser(s));
    BASALT_RETURN_IF_ERROR(s.status());
    return out;
  }

  StatusOr<User> FindUserByName(const std::string& account_id, const std::string& name) override {
    std::lock_guard lock(mu_);
    return internal::FindUserByName(db_, account_id, name);
  }

  StatusOr<Account> FindAccountByName(const std::string& name) override {
    std::lock_guard lock(mu_);
    return internal::FindAccountByName(db_, name);
  }

  Status SetUserPassword(const std::string& user_id, const std::string& encoded_hash) override {
    std::lock_guard lock(mu_);
    return internal::SetUserPassword(db_, user_id, encoded_hash, NowSeconds());
  }

  StatusOr<std::string> GetUserPassword(const std::string& user_id) override {
    std::lock_guard lock(mu_);
    return internal::GetUserPassword(db_, user_id);
  }

  Status CreateConsoleSession(const ConsoleSession& session) override {
    std::lock_guard lock(mu_);
    return internal::CreateConsoleSession(db_, session);
  }

  StatusOr<ConsoleSession> GetConsoleSession(const std::string& token_sha256) override {
    std::lock_guard lock(mu_);
    return internal::GetConsoleSession(db_, token_sha256);
  }

  Status TouchConsoleSession(const std::string& token_sha256, int64_t last_seen_at) override {
    std::lock_guard lock(mu_);
    return internal::TouchConsoleSession(db_, token_sha256, last_seen_at);
  }

  Status DeleteConsoleSession(const std::string& token_sha256) override {
    std::lock_guard lock(mu_);
    return internal::DeleteConsoleSession(db_, token_sha256);
  }

  StatusOr<int64_t> DeleteExpiredConsoleSessions(int64_t now) override {
    std::lock_guard lock(mu_);
    return internal::DeleteExpiredConsoleSessions(db_, now);
  }

  Status DeleteUserConsoleSessions(const std::string& user_id) override {
    std::lock_guard lock(mu_);
    return internal::DeleteUserConsoleSessions(db_, user_id);
  }

  StatusOr<AccessKey> CreateAccessKey(const std::string& user_id) override {
    std::lock_guard lock(mu_);
    StatusOr<User> user = GetUserLocked(user_id);
    if (!user.ok()) return user.status();
    StatusOr<std::string> secret = internal::RandomString(40, kSecretAlphabet);
    if (!secret.ok()) return secret.status();
    AccessKey key{"", *secret, user_id, user->account_id, "Active", NowSeconds()};
    for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
      StatusOr<std::string> suffix = internal::RandomString(16, kUpperAlnum);
      if (!suffix.ok()) return suffix.status();
      key.access_key_id = "AKIA" + *suffix;
      // The key id is the associated data: a sealed secret only opens under its own id.
      StatusOr<std::string> sealed =
          internal::Seal(master_key_, key.secret_access_key, key.access_key_id);
      if (!sealed.ok()) return sealed.status();
      Stmt s(db_,
             "INSERT INTO access_keys (access_key_id, user_id, account_id, secret_sealed, status,"
             " created_at) VALUES (?, ?, ?, ?, ?, ?)");
      s.Bind(1, key.access_key_id).Bind(2, key.user_id).Bind(3, key.account_id);
      s.BindBlob(4, *sealed).Bind(5, key.status).Bind(6, key.created_at);
      Status st = s.Run();
      if (st.ok()) return key;
      if (!s.constraint_violation()) return st;
    }
    return Status::Internal("could not draw a free access key id");
  }

  StatusOr<AccessKey> GetAccessKey(const std::string& access_key_id) override {
    std::lock_guard lock(mu_);
    Stmt q(db_,
           "SELECT access_key_id, user_id, account_id, status, created_at, secret_sealed"
           " FROM access_keys WHERE access_key_id = ?");
    q.Bind(1, access_key_id);
    if (!q.Step()) {
      BASALT_RETURN_IF_ERROR(q.status());
      return Status::NotFound("access key " + access_key_id + " not found");
    }
    AccessKey key = ReadAccessKey(q);
    StatusOr<std::string> secret = internal::Open(master_key_, q.Blob(5), key.access_key_id);
    if (!secret.ok()) {
      return Status::Internal("cannot decrypt the secret of access key " + access_key_id + ": " +
                              secret.status().message());
    }
    key.secret_access_key = std::move(secret).value();
    return key;
  }

  StatusOr<std::vector<AccessKey>> ListAccessKeys(const std::string& user_id) override {
    std::lock_guard lock(mu_);
    StatusOr<User> user = GetUserLocked(user_id);
    if (!user.ok()) return user.status();
    Stmt s(db_, std::string(kAccessKeyCols) +
                    " WHERE user_id = ? ORDER BY created_at, "
                    "access_key_id");
    s.Bind(1, user_id);
    std::vector<AccessKey> out;
    while (s.Step()) out.push_back(ReadAccessKey(s));
    BASALT_RETURN_IF_ERROR(s.status());
    return out;
  }

  Status SetAccessKeyStatus(const std::string& access_key_id, const std::string& status) override {
    if (!ValidStatus(status)) return Status::InvalidArgument("status must be Active or Inactive");
    std::lock_guard lock(mu_);
    Stmt s(db_, "UPDATE access_keys SET status = ? WHERE access_key_id = ?");
    s.Bind(1, status).Bind(2, access_key_id);
    return ChangedOne(s, "access key " + access_key_id);
  }

  Status DeleteAccessKey(const std::string& access_key_id) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, "DELETE FROM access_keys WHERE access_key_id = ?");
    s.Bind(1, access_key_id);
    return ChangedOne(s, "access key " + access_key_id);
  }

  StatusOr<NewApiKey> CreateApiKey(const std::string& user_id, int64_t expires_at) override {
    if (expires_at < 0) return Status::InvalidArgument("expires_at must not be negative");
    std::lock_guard lock(mu_);
    StatusOr<User> user = GetUserLocked(user_id);
    if (!user.ok()) return user.status();
    StatusOr<std::string> secret = internal::RandomString(40, kSecretAlphabet);
    if (!secret.ok()) return secret.status();
    NewApiKey out;
    out.key = ApiKey{"", user_id, user->account_id, "Active", expires_at, NowSeconds()};
    for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
      StatusOr<std::string> id = internal::RandomString(8, kLowerAlnum);
      if (!id.ok()) return id.status();
      out.key.id = *id;
      out.token = "ABSK" + internal::Base64("BedrockAPIKey-" + out.key.id + "-at-" +
                                            out.key.account_id + ":" + *secret);
      Stmt s(db_,
             "INSERT INTO api_keys (id, user_id, account_id, token_sha256, status, expires_at,"
             " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
      s.Bind(1, out.key.id).Bind(2, out.key.user_id).Bind(3, out.key.account_id);
      s.BindBlob(4, internal::Sha256(out.token)).Bind(5, out.key.status);
      s.Bind(6, out.key.expires_at).Bind(7, out.key.created_at);
      Status st = s.Run();
      if (st.ok()) return out;
      if (!s.constraint_violation()) return st;
    }
    return Status::Internal("could not draw a free API key id");
  }

  StatusOr<ApiKey> FindApiKeyByToken(const std::string& token) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, std::string(kApiKeyCols) + " WHERE token_sha256 = ?");
    s.BindBlob(1, internal::Sha256(token));
    if (!s.Step()) {
      BASALT_RETURN_IF_ERROR(s.status());
      return Status::NotFound("unknown API key");
    }
    return ReadApiKey(s);
  }

  StatusOr<std::vector<ApiKey>> ListApiKeys(const std::string& user_id) override {
    std::lock_guard lock(mu_);
    StatusOr<User> user = GetUserLocked(user_id);
    if (!user.ok()) return user.status();
    Stmt s(db_, std::string(kApiKeyCols) + " WHERE user_id = ? ORDER BY created_at, id");
    s.Bind(1, user_id);
    std::vector<ApiKey> out;
    while (s.Step()) out.push_back(ReadApiKey(s));
    BASALT_RETURN_IF_ERROR(s.status());
    return out;
  }

  Status SetApiKeyStatus(const std::string& id, const std::string& status) override {
    if (!ValidStatus(status)) return Status::InvalidArgument("status must be Active or Inactive");
    std::lock_guard lock(mu_);
    Stmt s(db_, "UPDATE api_keys SET status = ? WHERE id = ?");
    s.Bind(1, status).Bind(2, id);
    return ChangedOne(s, "API key " + id);
  }

  Status DeleteApiKey(const std::string& id) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, "DELETE FROM api_keys WHERE id = ?");
    s.Bind(1, id);
    return ChangedOne(s, "API key " + id);
  }

  Status PutPolicy(const std::string& account_id, const std::string& name,
                   const std::string& document_json) override {
    BASALT_RETURN_IF_ERROR(ValidatePolicyName(name));
    // Attachments are by name, so a custom policy may not shadow a built-in one.
    if (iam::BuiltinPolicy(name).ok()) {
      return Status::AlreadyExists("'" + name + "' is a built-in policy name");
    }
    StatusOr<iam::Policy> parsed = iam::ParsePolicyDocument(name, document_json);
    if (!parsed.ok()) return parsed.status();
    std::lock_guard lock(mu_);
    BASALT_RETURN_IF_ERROR(RequireAccountLocked(account_id));
    const int64_t now = NowSeconds();
    Stmt s(db_,
           "INSERT INTO policies (account_id, name, document, created_at, updated_at)"
           " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, name) DO UPDATE SET"
           " document = excluded.document, updated_at = excluded.updated_at");
    s.Bind(1, account_id).Bind(2, name).Bind(3, document_json).Bind(4, now).Bind(5, now);
    return s.Run();
  }

  StatusOr<std::string> GetPolicy(const std::string& account_id, const std::string& name) override {
    std::lock_guard lock(mu_);
    BASALT_RETURN_IF_ERROR(RequireAccountLocked(account_id));
    // Built-ins answer too, so callers can resolve any attached name the same way.
    if (StatusOr<iam::Policy> builtin = iam::BuiltinPolicy(name); builtin.ok()) {
      return iam::PolicyDocumentJson(*builtin);
    }
    Stmt s(db_, "SELECT document FROM policies WHERE account_id = ? AND name = ?");
    s.Bind(1, account_id).Bind(2, name);
    if (s.Step()) return s.Text(0);
    BASALT_RETURN_IF_ERROR(s.status());
    return Status::NotFound("policy " + name + " not found in account " + account_id);
  }

  StatusOr<std::vector<std::string>> ListPolicies(const std::string& account_id) override {
    std::lock_guard lock(mu_);
    BASALT_RETURN_IF_ERROR(RequireAccountLocked(account_id));
    Stmt s(db_, "SELECT name FROM policies WHERE account_id = ? ORDER BY name");
    s.Bind(1, account_id);
    std::vector<std::string> out;
    while (s.Step()) out.push_back(s.Text(0));
    BASALT_RETURN_IF_ERROR(s.status());
    return out;
  }

  Status DeletePolicy(const std::string& account_id, const std::string& name) override {
    if (iam::BuiltinPolicy(name).ok()) {
      return Status::InvalidArgument("built-in policy " + name + " cannot be deleted");
    }
    std::lock_guard lock(mu_);
    Stmt s(db_, "DELETE FROM policies WHERE account_id = ? AND name = ?");
    s.Bind(1, account_id).Bind(2, name);
    Status st = s.Run();
    if (s.foreign_key_violation()) {
      return Status::FailedPrecondition("policy " + name +
                                        " is attached to users; detach it first");
    }
    BASALT_RETURN_IF_ERROR(st);
    if (sqlite3_changes(db_) == 0) {
      return Status::NotFound("policy " + name + " not found in account " + account_id);
    }
    return Status::Ok();
  }

  Status AttachUserPolicy(const std::string& user_id, const std::string& name) override {
    std::lock_guard lock(mu_);
    StatusOr<User> user = GetUserLocked(user_id);
    if (!user.ok()) return user.status();
    std::optional<std::string> custom_account;
    if (!iam::BuiltinPolicy(name).ok()) custom_account = user->account_id;
    // Attaching twice is a no-op, as in IAM; the foreign key rejects unknown custom names.
    Stmt s(db_,
           "INSERT INTO user_policies (user_id, name, custom_account_id, attached_at)"
           " VALUES (?, ?, ?, ?) ON CONFLICT (user_id, name) DO NOTHING");
    s.Bind(1, user_id).Bind(2, name).BindOptional(3, custom_account).Bind(4, NowSeconds());
    Status st = s.Run();
    if (s.foreign_key_violation()) {
      return Status::NotFound("policy " + name + " is neither built in nor defined in account " +
                              user->account_id);
    }
    return st;
  }

  Status DetachUserPolicy(const std::string& user_id, const std::string& name) override {
    std::lock_guard lock(mu_);
    StatusOr<User> user = GetUserLocked(user_id);
    if (!user.ok()) return user.status();
    Stmt s(db_, "DELETE FROM user_policies WHERE user_id = ? AND name = ?");
    s.Bind(1, user_id).Bind(2, name);
    BASALT_RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(db_) == 0) {
      return Status::NotFound("policy " + name + " is not attached to user " + user_id);
    }
    return Status::Ok();
  }

  StatusOr<std::vector<std::string>> ListUserPolicies(const std::string& user_id) override {
    std::lock_guard lock(mu_);
    StatusOr<User> user = GetUserLocked(user_id);
    if (!user.ok()) return user.status();
    Stmt s(db_, "SELECT name FROM user_policies WHERE user_id = ? ORDER BY rowid");
    s.Bind(1, user_id);
    std::vector<std::string> out;
    while (s.Step()) out.push_back(s.Text(0));
    BASALT_RETURN_IF_ERROR(s.status());
    return out;
  }

  StatusOr<std::string> GetModelAccess(const std::string& account_id,
                                       const std::string& model_id) override {
    std::lock_guard lock(mu_);
    BASALT_RETURN_IF_ERROR(RequireAccountLocked(account_id));
    Stmt s(db_, "SELECT state FROM model_access WHERE account_id = ? AND model_id = ?");
    s.Bind(1, account_id).Bind(2, model_id);
    if (s.Step()) return s.Text(0);
    BASALT_RETURN_IF_ERROR(s.status());
    return std::string(iam::AccessStateName(iam::AccessState::kNotRequested));
  }

  Status SetModelAccess(const std::string& account_id, const std::string& model_id,
                        const std::string& state) override {
    StatusOr<iam::AccessState> parsed = iam::ParseAccessState(state);
    if (!parsed.ok()) return parsed.status();
    BASALT_RETURN_IF_ERROR(ValidateModelId(model_id));
    std::lock_guard lock(mu_);
    BASALT_RETURN_IF_ERROR(RequireAccountLocked(account_id));
    if (*parsed == iam::AccessState::kNotRequested) {  // "not requested" is the absence of a row
      Stmt s(db_, "DELETE FROM model_access WHERE account_id = ? AND model_id = ?");
      s.Bind(1, account_id).Bind(2, model_id);
      return s.Run();
    }
    Stmt s(db_,
           "INSERT INTO model_access (account_id, model_id, state, updated_at) VALUES (?, ?, ?, ?)"
           " ON CONFLICT (account_id, model_id) DO UPDATE SET state = excluded.state,"
           " updated_at = excluded.updated_at");
    s.Bind(1, account_id).Bind(2, model_id).Bind(3, state).Bind(4, NowSeconds());
    return s.Run();
  }

  StatusOr<std::vector<std::pair<std::string, std::string>>> ListModelAccess(
      const std::string& account_id) override {
    std::lock_guard lock(mu_);
    BASALT_RETURN_IF_ERROR(RequireAccountLocked(account_id));
    Stmt s(db_, "SELECT model_id, state FROM model_access WHERE account_id = ? ORDER BY model_id");
    s.Bind(1, account_id);
    std::vector<std::pair<std::string, std::string>> out;
    while (s.Step()) out.emplace_back(s.Text(0), s.Text(1));
    BASALT_RETURN_IF_ERROR(s.status());
    return out;
  }

  Status PutUseCaseForm(const std::string& account_id, const std::string& form_data) override {
    std::lock_guard lock(mu_);
    BASALT_RETURN_IF_ERROR(RequireAccountLocked(account_id));
    Stmt s(db_,
           "INSERT INTO use_case_forms (account_id, form_data, updated_at) VALUES (?, ?, ?)"
           " ON CONFLICT (account_id) DO UPDATE SET form_data = excluded.form_data,"
           " updated_at = excluded.updated_at");
    s.Bind(1, account_id).BindBlob(2, form_data).Bind(3, NowSeconds());
    return s.Run();
  }

  StatusOr<std::string> GetUseCaseForm(const std::string& account_id) override {
    std::lock_guard lock(mu_);
    BASALT_RETURN_IF_ERROR(RequireAccountLocked(account_id));
    Stmt s(db_, "SELECT form_data FROM use_case_forms WHERE account_id = ?");
    s.Bind(1, account_id);
    if (s.Step()) return s.Blob(0);
    BASALT_RETURN_IF_ERROR(s.status());
    return Status::NotFound("account " + account_id + " has no use-case form");
  }

  Status CreateAgreement(const std::string& account_id, const std::string& model_id,
                         const std::string& offer_token) override {
    BASALT_RETURN_IF_ERROR(ValidateModelId(model_id));
    std::lock_guard lock(mu_);
    BASALT_RETURN_IF_ERROR(RequireAccountLocked(account_id));
    Stmt s(db_,
           "INSERT INTO agreements (account_id, model_id, offer_token, created_at)"
           " VALUES (?, ?, ?, ?)");
    s.Bind(1, account_id).Bind(2, model_id).Bind(3, offer_token).Bind(4, NowSeconds());
    Status st = s.Run();
    if (s.constraint_violation()) {
      return Status::AlreadyExists("account " + account_id +
                                   " already has an agreement for model " + model_id);
    }
    return st;
  }

  Status DeleteAgreement(const std::string& account_id, const std::string& model_id) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, "DELETE FROM agreements WHERE account_id = ? AND model_id = ?");
    s.Bind(1, account_id).Bind(2, model_id);
    return ChangedOne(s, "agreement for model " + model_id + " in account " + account_id);
  }

  StatusOr<bool> HasAgreement(const std::string& account_id, const std::string& model_id) override {
    std::lock_guard lock(mu_);
    BASALT_RETURN_IF_ERROR(RequireAccountLocked(account_id));
    Stmt s(db_, "SELECT 1 FROM agreements WHERE account_id = ? AND model_id = ?");
    s.Bind(1, account_id).Bind(2, model_id);
    bool found = s.Step();
    BASALT_RETURN_IF_ERROR(s.status());
    return found;
  }

  StatusOr<std::optional<std::string>> GetSetting(const std::string& key) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, "SELECT value FROM settings WHERE key = ?");
    s.Bind(1, key);
    if (s.Step()) return std::optional<std::string>(s.Text(0));
    BASALT_RETURN_IF_ERROR(s.status());
    return std::optional<std::string>();
  }

  Status PutSetting(const std::string& key, const std::string& value) override {
    std::lock_guard lock(mu_);
    Stmt s(db_,
           "INSERT INTO settings (key, value) VALUES (?, ?)"
           " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    s.Bind(1, key).Bind(2, value);
    return s.Run();
  }

  Status CheckIntegrity() override {
    std::lock_guard lock(mu_);
    std::string problems;
    {
      Stmt s(db_, "PRAGMA integrity_check");
      while (s.Step()) {
        std::string row = s.Text(0);
        if (row != "ok") problems += row + "; ";
      }
      BASALT_RETURN_IF_ERROR(s.status());
    }
    {
      Stmt s(db_, "PRAGMA foreign_key_check");
      while (s.Step()) problems += "dangling reference in table " + s.Text(0) + "; ";
      BASALT_RETURN_IF_ERROR(s.status());
    }
    if (!problems.empty()) return Status::Internal("store integrity check failed: " + problems);
    return Status::Ok();
  }

 private:
  StatusOr<Account> GetAccountLocked(const std::string& id) {
    Stmt s(db_, std::string(kAccountCols) + " WHERE id = ?");
    s.Bind(1, id);
    if (s.Step()) return ReadAccount(s);
    BASALT_RETURN_IF_ERROR(s.status());
    return Status::NotFound("account " + id + " not found");
  }

  Status RequireAccountLocked(const std::string& id) { return GetAccountLocked(id).status(); }

  StatusOr<User> GetUserLocked(const std::string& id) {
    Stmt s(db_, std::string(kUserCols) + " WHERE id = ?");
    s.Bind(1, id);
    if (s.Step()) return ReadUser(s);
    BASALT_RETURN_IF_ERROR(s.status());
    return Status::NotFound("user " + id + " not found");
  }

  bool IdTaken(const char* table, const char* column, const std::string& id) {
    Stmt s(db_, std::string("SELECT 1 FROM ") + table + " WHERE " + column + " = ?");
    s.Bind(1, id);
    return s.Step();
  }

  Status ChangedOne(Stmt& s, const std::string& what) {
    BASALT_RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(db_) == 0) return Status::NotFound(what + " not found");
    return Status::Ok();
  }

  std::mutex mu_;
  sqlite3* db_;
  const std::string master_key_;
};

Status ReadAll(int fd, const std::string& path, std::string& out) {
  char buf[256];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Internal("cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) return Status::Ok();
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > 4096) return Status::Internal(path + " is too large to be a master key");
  }
}

StatusOr<std::string> ReadMasterKey(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return Status::NotFound(path + " does not exist");
  if (fd < 0) return Status::Internal("cannot open " + path + ": " + std::strerror(errno));
  std::string key;
  Status st = ReadAll(fd, path, key);
  ::close(fd);
  BASALT_RETURN_IF_ERROR(st);
  if (key.size() != kMasterKeySize) {
    return Status::Internal("master key file " + path + " must hold exactly 32 bytes, not " +
                            std::to_string(key.size()));
  }
  return key;
}

}  // namespace

StatusOr<std::unique_ptr<Store>> Store::OpenSqliteUncached(const std::string& path,
                                                           const std::string& master_key) {
  if (master_key.size() != kMasterKeySize) {
    return Status::InvalidArgument("the master key must be 32 bytes");
  }
  BASALT_RETURN_IF_ERROR(sqlite::EnsureParentDir(path));
  BASALT_RETURN_IF_ERROR(sqlite::CreatePrivateFile(path));
  BASALT_ASSIGN_OR_RETURN(
      sqlite3 * db,
      sqlite::OpenConnection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "store"));
  auto store = std::make_unique<SqliteStore>(db, master_key);
  Status st = store->Init();
  if (!st.ok()) return Status::Internal("cannot open store " + path + ": " + st.message());
  return std::unique_ptr<Store>(std::move(store));
}

StatusOr<std::string> LoadOrCreateMasterKey(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("master key path must not be empty");
  StatusOr<std::string> existing = ReadMasterKey(path);
  if (existing.ok() || existing.status().code() != StatusCode::kNotFound) return existing;

  BASALT_RETURN_IF_ERROR(sqlite::EnsureParentDir(path));
  StatusOr<std::string> key = internal::RandomBytes(kMasterKeySize);
  if (!key.ok()) return key.status();
  // Write a private temporary file completely, then link() it into place: the key appears
  // atomically, and a concurrent creator's key wins instead of being overwritten.
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Internal("cannot create " + tmp + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, key->data(), key->size()) == static_cast<ssize_t>(key->size()) &&
            ::fsync(fd) == 0;
  int saved_errno = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return Status::Internal("cannot write " + tmp + ": " + std::strerror(saved_errno));
  }
  int link_rc = ::link(tmp.c_str(), path.c_str());
  saved_errno = errno;
  ::unlink(tmp.c_str());
  if (link_rc != 0) {
    if (saved_errno == EEXIST) return ReadMasterKey(path);
    return Status::Internal("cannot create " + path + ": " + std::strerror(saved_errno));
  }
  // Make the new directory entry durable too.
  std::string dir = std::filesystem::path(path).parent_path().string();
  int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return key;
}

}  // namespace basalt::store
