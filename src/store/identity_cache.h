// IdentityCache is a Store that serves the reads every authenticated request makes (access key
// with its decrypted secret, API key by token, user, attached policy names, custom policy
// documents, model access) from memory, and forwards everything else to the SQLite store it
// wraps. Store::OpenSqlite returns one.
//
// Invalidation, so that a change takes effect on the very next request:
// - Writes through this Store clear the cache after they commit.
// - Writes by any other connection, above all `basalt admin` in another process on the same
//   file, are seen through SQLite's `PRAGMA data_version` on a connection of the cache's own
//   (the watch connection): its value changes whenever any other connection, the wrapped
//   store's included, commits. Every cached read first reads it (one prepared statement that
//   opens a WAL read transaction: a look at the shared-memory WAL index, no file I/O) and
//   clears the cache when it moved.
// - A fill races with invalidation safely: a read that missed notes the cache generation
//   before it goes to the store, and its result is kept only if no invalidation happened in
//   between.
// Failed look-ups (unknown keys) are never cached, and each map is bounded (cleared when full),
// so unknown or random keys cannot grow it.
//
// Thread-safety: all methods may be called concurrently. The maps sit behind one mutex held
// only for look-ups and inserts, the watch connection behind its own.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/store.h"

namespace basalt::store {

class IdentityCache final : public Store {
 public:
  // Wraps `inner`, the store of the SQLite database at `path`, and opens the watch connection
  // on the same file. kInternal when it cannot be opened.
  static StatusOr<std::unique_ptr<IdentityCache>> Open(std::unique_ptr<Store> inner,
                                                       const std::string& path);
  ~IdentityCache() override;

  struct Stats {
    int64_t hits = 0;
    int64_t misses = 0;
    int64_t invalidations = 0;  // by writes here and by changes another connection made
  };
  Stats StatsForTest() const;

  // Cached reads.
  StatusOr<AccessKey> GetAccessKey(const std::string& access_key_id) override;
  StatusOr<ApiKey> FindApiKeyByToken(const std::string& token) override;
  StatusOr<User> GetUser(const std::string& id) override;
  StatusOr<std::vector<std::string>> ListUserPolicies(const std::string& user_id) override;
  StatusOr<std::string> GetPolicy(const std::string& account_id, const std::string& name) override;
  StatusOr<std::string> GetModelAccess(const std::string& account_id,
                                       const std::string& model_id) override;

  // Writes that change what is cached: forwarded, then the cache is cleared.
  StatusOr<Account> CreateAccount(const std::string& name) override;
  StatusOr<User> CreateUser(const std::string& account_id, const std::string& name,
                            const std::string& role) override;
  StatusOr<AccessKey> CreateAccessKey(const std::string& user_id) override;
  Status SetAccessKeyStatus(const std::string& access_key_id, const std::string& status) override;
  Status DeleteAccessKey(const std::string& access_key_id) override;
  StatusOr<NewApiKey> CreateApiKey(const std::string& user_id, int64_t expires_at) override;
  Status SetApiKeyStatus(const std::string& id, const std::string& status) override;
  Status DeleteApiKey(const std::string& id) override;
  Status PutPolicy(const std::string& account_id, const std::string& name,
                   const std::string& document_json) override;
  Status DeletePolicy(const std::string& account_id, const std::string& name) override;
  Status AttachUserPolicy(const std::string& user_id, const std::string& name) override;
  Status DetachUserPolicy(const std::string& user_id, const std::string& name) override;
  Status SetModelAccess(const std::string& account_id, const std::string& model_id,
                        const std::string& state) override;

  // Everything else goes straight to the wrapped store.
  StatusOr<Account> GetAccount(const std::string& id) override { return inner_->GetAccount(id); }
  StatusOr<std::vector<Account>> ListAccounts() override { return inner_->ListAccounts(); }
  StatusOr<std::vector<User>> ListUsers(const std::string& account_id) override {
    return inner_->ListUsers(account_id);
  }
  StatusOr<User> FindUserByName(const std::string& account_id, const std::string& name) override {
    return inner_->FindUserByName(account_id, name);
  }
  StatusOr<Account> FindAccountByName(const std::string& name) override {
    return inner_->FindAccountByName(name);
  }
  Status SetUserPassword(const std::string& user_id, const std::string& encoded_hash) override {
    return inner_->SetUserPassword(user_id, encoded_hash);
  }
  StatusOr<std::string> GetUserPassword(const std::string& user_id) override {
    return inner_->GetUserPassword(user_id);
  }
  Status CreateConsoleSession(const ConsoleSession& session) override {
    return inner_->CreateConsoleSession(session);
  }
  StatusOr<ConsoleSession> GetConsoleSession(const std::string& token_sha256) override {
    return inner_->GetConsoleSession(token_sha256);
  }
  Status TouchConsoleSession(const std::string& token_sha256, int64_t last_seen_at) override {
    return inner_->TouchConsoleSession(token_sha256, last_seen_at);
  }
  Status DeleteConsoleSession(const std::string& token_sha256) override {
    return inner_->DeleteConsoleSession(token_sha256);
  }
  StatusOr<int64_t> DeleteExpiredConsoleSessions(int64_t now) override {
    return inner_->DeleteExpiredConsoleSessions(now);
  }
  Status DeleteUserConsoleSessions(const std::string& user_id) override {
    return inner_->DeleteUserConsoleSessions(user_id);
  }
  StatusOr<std::vector<AccessKey>> ListAccessKeys(const std::string& user_id) override {
    return inner_->ListAccessKeys(user_id);
  }
  StatusOr<std::vector<ApiKey>> ListApiKeys(const std::string& user_id) override {
    return inner_->ListApiKeys(user_id);
  }
  StatusOr<std::vector<std::string>> ListPolicies(const std::string& account_id) override {
    return inner_->ListPolicies(account_id);
  }
  StatusOr<std::vector<std::pair<std::string, std::string>>> ListModelAccess(
      const std::string& account_id) override {
    return inner_->ListModelAccess(account_id);
  }
  Status PutUseCaseForm(const std::string& account_id, const std::string& form_data) override {
    return inner_->PutUseCaseForm(account_id, form_data);
  }
  StatusOr<std::string> GetUseCaseForm(const std::string& account_id) override {
    return inner_->GetUseCaseForm(account_id);
  }
  Status CreateAgreement(const std::string& account_id, const std::string& model_id,
                         const std::string& offer_token) override {
    return inner_->CreateAgreement(account_id, model_id, offer_token);
  }
  Status DeleteAgreement(const std::string& account_id, const std::string& model_id) override {
    return inner_->DeleteAgreement(account_id, model_id);
  }
  StatusOr<bool> HasAgreement(const std::string& account_id, const std::string& model_id) override {
    return inner_->HasAgreement(account_id, model_id);
  }
  StatusOr<std::optional<std::string>> GetSetting(const std::string& key) override {
    return inner_->GetSetting(key);
  }
  Status PutSetting(const std::string& key, const std::string& value) override {
    return inner_->PutSetting(key, value);
  }
  Status CheckIntegrity() override { return inner_->CheckIntegrity(); }

  // Entries per map before it is cleared.
  static constexpr size_t kMaxEntries = 10000;

 private:
  IdentityCache(std::unique_ptr<Store> inner, sqlite3* watch, sqlite3_stmt* data_version);

  // Reads the watch connection's data_version and clears the cache when it moved. Returns the
  // generation a fill must still see to be kept, or an error when the database cannot be read.
  StatusOr<uint64_t> Validate();
  void Invalidate();
  template <typename Map, typename Load>
  auto Cached(Map& map, const typename Map::key_type& key, Load load) -> decltype(load());

  std::unique_ptr<Store> inner_;

  std::mutex watch_mu_;
  sqlite3* watch_;              // guarded by watch_mu_
  sqlite3_stmt* data_version_;  // guarded by watch_mu_

  mutable std::mutex mu_;
  int64_t seen_version_ = -1;  // guarded by mu_
  uint64_t generation_ = 0;    // guarded by mu_; bumped by every invalidation
  Stats stats_;                // guarded by mu_
  std::unordered_map<std::string, AccessKey> access_keys_;                   // by access key id
  std::unordered_map<std::string, ApiKey> api_keys_;                         // by token SHA-256
  std::unordered_map<std::string, User> users_;                              // by user id
  std::unordered_map<std::string, std::vector<std::string>> user_policies_;  // by user id
  std::map<std::pair<std::string, std::string>, std::string> policies_;      // (account, name)
  std::map<std::pair<std::string, std::string>, std::string> model_access_;  // (account, model)
};

}  // namespace basalt::store
