// The Store keeps Basalt's durable state: accounts, users, access keys and API keys (and,
// later, model access grants and usage records). Two implementations are planned: SQLite
// (embedded default, here) and PostgreSQL (scale-out).
//
// Secret access keys are kept encrypted at rest (AES-256-GCM) under the server master key,
// because SigV4 verification needs the plaintext secret. API key tokens are kept only as
// SHA-256 hashes.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace basalt::store {

struct Account {
  std::string id;  // 12 digits, like an AWS account id
  std::string name;
  int64_t created_at = 0;  // unix seconds
};

struct User {
  std::string id;
  std::string account_id;
  std::string name;
  std::string role;  // "admin" or "user" (policies come later)
  int64_t created_at = 0;
};

struct AccessKey {
  std::string access_key_id;  // "AKIA" + 16 upper-case alphanumerics
  std::string secret_access_key;  // plaintext; only filled where the caller needs it
  std::string user_id;
  std::string account_id;
  std::string status;  // "Active" or "Inactive"
  int64_t created_at = 0;
};

struct ApiKey {
  std::string id;  // the <id> in BedrockAPIKey-<id>-at-<account>
  std::string user_id;
  std::string account_id;
  std::string status;       // "Active" or "Inactive"
  int64_t expires_at = 0;   // unix seconds; 0 = never
  int64_t created_at = 0;
};

// A signed-in web console session. The token itself is never stored, only its SHA-256.
struct ConsoleSession {
  std::string token_sha256;  // raw 32 bytes
  std::string user_id;
  std::string account_id;
  std::string csrf_token;
  int64_t created_at = 0;  // unix seconds
  int64_t expires_at = 0;
  int64_t last_seen_at = 0;
};

// The result of creating an API key: the token is shown once and never stored.
struct NewApiKey {
  ApiKey key;
  std::string token;  // "ABSK..."
};

class Store {
 public:
  // Opens (creating if needed) the SQLite database at `path` and applies migrations.
  // `master_key` is 32 bytes. Returns kInternal on I/O or schema failure. The store serves
  // the reads of every request from memory (identity_cache.h), with changes made by any
  // process taking effect on the next read.
  static StatusOr<std::unique_ptr<Store>> OpenSqlite(const std::string& path,
                                                     const std::string& master_key);
  // The same without the cache: every read goes to SQLite.
  static StatusOr<std::unique_ptr<Store>> OpenSqliteUncached(const std::string& path,
                                                             const std::string& master_key);
  virtual ~Store() = default;

  virtual StatusOr<Account> CreateAccount(const std::string& name) = 0;
  virtual StatusOr<Account> GetAccount(const std::string& id) = 0;
  virtual StatusOr<std::vector<Account>> ListAccounts() = 0;

  virtual StatusOr<User> CreateUser(const std::string& account_id, const std::string& name,
                                    const std::string& role) = 0;
  virtual StatusOr<User> GetUser(const std::string& id) = 0;
  virtual StatusOr<std::vector<User>> ListUsers(const std::string& account_id) = 0;

  // Finds a user by name within an account. kNotFound when there is none.
  virtual StatusOr<User> FindUserByName(const std::string& account_id, const std::string& name) = 0;
  // Finds the account called `name`. kNotFound when none; kFailedPrecondition when several
  // accounts share the name (callers should then use the account id).
  virtual StatusOr<Account> FindAccountByName(const std::string& name) = 0;

  // The console password of a user, as an encoded hash (console/password.h). Setting ""
  // removes it. Either way the user's console sessions end. kNotFound for an unknown user.
  virtual Status SetUserPassword(const std::string& user_id, const std::string& encoded_hash) = 0;
  // The encoded hash, or "" when the user has none. kNotFound for an unknown user.
  virtual StatusOr<std::string> GetUserPassword(const std::string& user_id) = 0;

  // Console sessions (deleted with their user). Create: kNotFound for an unknown user,
  // kAlreadyExists for a duplicate token. Get: kNotFound when unknown (expiry is the
  // caller's check). Delete: OK when absent too.
  virtual Status CreateConsoleSession(const ConsoleSession& session) = 0;
  virtual StatusOr<ConsoleSession> GetConsoleSession(const std::string& token_sha256) = 0;
  virtual Status TouchConsoleSession(const std::string& token_sha256, int64_t last_seen_at) = 0;
  virtual Status DeleteConsoleSession(const std::string& token_sha256) = 0;
  // Deletes sessions with expires_at <= now; returns how many.
  virtual StatusOr<int64_t> DeleteExpiredConsoleSessions(int64_t now) = 0;
  virtual Status DeleteUserConsoleSessions(const std::string& user_id) = 0;

  // Creates an access key for `user_id`; the result carries the plaintext secret.
  virtual StatusOr<AccessKey> CreateAccessKey(const std::string& user_id) = 0;
  // Looks a key up by id, with its decrypted secret. kNotFound when unknown.
  virtual StatusOr<AccessKey> GetAccessKey(const std::string& access_key_id) = 0;
  virtual StatusOr<std::vector<AccessKey>> ListAccessKeys(const std::string& user_id) = 0;
  virtual Status SetAccessKeyStatus(const std::string& access_key_id,
                                    const std::string& status) = 0;
  virtual Status DeleteAccessKey(const std::string& access_key_id) = 0;

  // Creates a long-term API key; `expires_at` 0 means it never expires.
  virtual StatusOr<NewApiKey> CreateApiKey(const std::string& user_id, int64_t expires_at) = 0;
  // Finds the key a bearer token belongs to (by hash). kNotFound when unknown.
  virtual StatusOr<ApiKey> FindApiKeyByToken(const std::string& token) = 0;
  virtual StatusOr<std::vector<ApiKey>> ListApiKeys(const std::string& user_id) = 0;
  virtual Status SetApiKeyStatus(const std::string& id, const std::string& status) = 0;
  virtual Status DeleteApiKey(const std::string& id) = 0;

  // Policies. A user's effective policies are the attached built-in names (iam.h) and the
  // account's custom policies attached by name.
  virtual Status PutPolicy(const std::string& account_id, const std::string& name,
                           const std::string& document_json) = 0;
  virtual StatusOr<std::string> GetPolicy(const std::string& account_id,
                                          const std::string& name) = 0;  // kNotFound
  virtual StatusOr<std::vector<std::string>> ListPolicies(const std::string& account_id) = 0;
  virtual Status DeletePolicy(const std::string& account_id, const std::string& name) = 0;
  virtual Status AttachUserPolicy(const std::string& user_id, const std::string& name) = 0;
  virtual Status DetachUserPolicy(const std::string& user_id, const std::string& name) = 0;
  virtual StatusOr<std::vector<std::string>> ListUserPolicies(const std::string& user_id) = 0;

  // Model access per account and model id: "NOT_REQUESTED" (no row), "REQUESTED", "GRANTED",
  // "DENIED" (iam::AccessState names).
  virtual StatusOr<std::string> GetModelAccess(const std::string& account_id,
                                               const std::string& model_id) = 0;
  virtual Status SetModelAccess(const std::string& account_id, const std::string& model_id,
                                const std::string& state) = 0;
  // (model_id, state) pairs with a row.
  virtual StatusOr<std::vector<std::pair<std::string, std::string>>> ListModelAccess(
      const std::string& account_id) = 0;

  // Anthropic's use-case form (opaque bytes, stored and returned unchanged). kNotFound if none.
  virtual Status PutUseCaseForm(const std::string& account_id, const std::string& form_data) = 0;
  virtual StatusOr<std::string> GetUseCaseForm(const std::string& account_id) = 0;

  // Marketplace-style agreements (CreateFoundationModelAgreement). kAlreadyExists / kNotFound.
  virtual Status CreateAgreement(const std::string& account_id, const std::string& model_id,
                                 const std::string& offer_token) = 0;
  virtual Status DeleteAgreement(const std::string& account_id, const std::string& model_id) = 0;
  virtual StatusOr<bool> HasAgreement(const std::string& account_id,
                                      const std::string& model_id) = 0;

  // Small key/value settings (e.g. "bootstrap_done").
  virtual StatusOr<std::optional<std::string>> GetSetting(const std::string& key) = 0;
  virtual Status PutSetting(const std::string& key, const std::string& value) = 0;

  // PRAGMA integrity_check (or equivalent); OK when the store is sound.
  virtual Status CheckIntegrity() = 0;
};

// Reads the 32-byte master key from `path`, creating it (mode 0600, random) if absent.
StatusOr<std::string> LoadOrCreateMasterKey(const std::string& path);

}  // namespace basalt::store
