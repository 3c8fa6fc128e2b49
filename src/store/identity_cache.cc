#include "store/identity_cache.h"

#include "store/secret_box.h"

namespace basalt::store {

StatusOr<std::unique_ptr<Store>> Store::OpenSqlite(const std::string& path,
                                                   const std::string& master_key) {
  BASALT_ASSIGN_OR_RETURN(std::unique_ptr<Store> inner, OpenSqliteUncached(path, master_key));
  BASALT_ASSIGN_OR_RETURN(std::unique_ptr<IdentityCache> cache,
                          IdentityCache::Open(std::move(inner), path));
  return std::unique_ptr<Store>(std::move(cache));
}

StatusOr<std::unique_ptr<IdentityCache>> IdentityCache::Open(std::unique_ptr<Store> inner,
                                                             const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  sqlite3_stmt* stmt = nullptr;
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_finalize(stmt);
    sqlite3_close_v2(db);
    return Status::Internal("cannot open the identity cache's connection to " + path + ": " +
                            message);
  }
  sqlite3_busy_timeout(db, 5000);
  return std::unique_ptr<IdentityCache>(new IdentityCache(std::move(inner), db, stmt));
}

IdentityCache::IdentityCache(std::unique_ptr<Store> inner, sqlite3* watch,
                             sqlite3_stmt* data_version)
    : inner_(std::move(inner)), watch_(watch), data_version_(data_version) {}

IdentityCache::~IdentityCache() {
  sqlite3_finalize(data_version_);
  sqlite3_close_v2(watch_);
}

IdentityCache::Stats IdentityCache::StatsForTest() const {
  std::lock_guard lock(mu_);
  return stats_;
}

StatusOr<uint64_t> IdentityCache::Validate() {
  int64_t version;
  {
    std::lock_guard lock(watch_mu_);
    int rc = sqlite3_step(data_version_);
    version = rc == SQLITE_ROW ? sqlite3_column_int64(data_version_, 0) : -1;
    sqlite3_reset(data_version_);
    if (rc != SQLITE_ROW) {
      return Status::Internal(std::string("sqlite: PRAGMA data_version: ") +
                              sqlite3_errmsg(watch_));
    }
  }
  std::lock_guard lock(mu_);
  if (version != seen_version_) {
    // Another connection committed (or this is the first read): forget everything. Two
    // readings that race may land out of order; then the cache is cleared once more than
    // needed, never once less.
    seen_version_ = version;
    ++generation_;
    ++stats_.invalidations;
    access_keys_.clear();
    api_keys_.clear();
    users_.clear();
    user_policies_.clear();
    policies_.clear();
    model_access_.clear();
  }
  return generation_;
}

void IdentityCache::Invalidate() {
  std::lock_guard lock(mu_);
  ++generation_;
  ++stats_.invalidations;
  access_keys_.clear();
  api_keys_.clear();
  users_.clear();
  user_policies_.clear();
  policies_.clear();
  model_access_.clear();
}

template <typename Map, typename Load>
auto IdentityCache::Cached(Map& map, const typename Map::key_type& key, Load load)
    -> decltype(load()) {
  auto generation = Validate();
  if (!generation.ok()) return generation.status();
  {
    std::lock_guard lock(mu_);
    auto it = map.find(key);
    if (it != map.end()) {
      ++stats_.hits;
      return it->second;
    }
    ++stats_.misses;
  }
  auto loaded = load();
  if (!loaded.ok()) return loaded;  // failures (unknown keys) are never cached
  std::lock_guard lock(mu_);
  // Kept only when nothing was invalidated while the store was read: otherwise the value may
  // predate a change that the invalidation stood for.
  if (generation_ == *generation) {
    if (map.size() >= kMaxEntries) map.clear();
    map.emplace(key, *loaded);
  }
  return loaded;
}

StatusOr<AccessKey> IdentityCache::GetAccessKey(const std::string& access_key_id) {
  return Cached(access_keys_, access_key_id, [&] { return inner_->GetAccessKey(access_key_id); });
}

StatusOr<ApiKey> IdentityCache::FindApiKeyByToken(const std::string& token) {
  // Keyed by hash so the cache holds no bearer tokens.
  return Cached(api_keys_, internal::Sha256(token),
                [&] { return inner_->FindApiKeyByToken(token); });
}

StatusOr<User> IdentityCache::GetUser(const std::string& id) {
  return Cached(users_, id, [&] { return inner_->GetUser(id); });
}

StatusOr<std::vector<std::string>> IdentityCache::ListUserPolicies(const std::string& user_id) {
  return Cached(user_policies_, user_id, [&] { return inner_->ListUserPolicies(user_id); });
}

StatusOr<std::string> IdentityCache::GetPolicy(const std::string& account_id,
                                               const std::string& name) {
  return Cached(policies_, {account_id, name}, [&] { return inner_->GetPolicy(account_id, name); });
}

StatusOr<std::string> IdentityCache::GetModelAccess(const std::string& account_id,
                                                    const std::string& model_id) {
  return Cached(model_access_, {account_id, model_id},
                [&] { return inner_->GetModelAccess(account_id, model_id); });
}

// Writes: the cache is cleared after the write returns, whatever it returned (a failed write
// may still have committed part of its work, e.g. a busy timeout after COMMIT).
#define BASALT_WRITE_THEN_INVALIDATE(call) \
  auto result = inner_->call;              \
  Invalidate();                            \
  return result

StatusOr<Account> IdentityCache::CreateAccount(const std::string& name) {
  BASALT_WRITE_THEN_INVALIDATE(CreateAccount(name));
}
StatusOr<User> IdentityCache::CreateUser(const std::string& account_id, const std::string& name,
                                         const std::string& role) {
  BASALT_WRITE_THEN_INVALIDATE(CreateUser(account_id, name, role));
}
StatusOr<AccessKey> IdentityCache::CreateAccessKey(const std::string& user_id) {
  BASALT_WRITE_THEN_INVALIDATE(CreateAccessKey(user_id));
}
Status IdentityCache::SetAccessKeyStatus(const std::string& access_key_id,
                                         const std::string& status) {
  BASALT_WRITE_THEN_INVALIDATE(SetAccessKeyStatus(access_key_id, status));
}
Status IdentityCache::DeleteAccessKey(const std::string& access_key_id) {
  BASALT_WRITE_THEN_INVALIDATE(DeleteAccessKey(access_key_id));
}
StatusOr<NewApiKey> IdentityCache::CreateApiKey(const std::string& user_id, int64_t expires_at) {
  BASALT_WRITE_THEN_INVALIDATE(CreateApiKey(user_id, expires_at));
}
Status IdentityCache::SetApiKeyStatus(const std::string& id, const std::string& status) {
  BASALT_WRITE_THEN_INVALIDATE(SetApiKeyStatus(id, status));
}
Status IdentityCache::DeleteApiKey(const std::string& id) {
  BASALT_WRITE_THEN_INVALIDATE(DeleteApiKey(id));
}
Status IdentityCache::PutPolicy(const std::string& account_id, const std::string& name,
                                const std::string& document_json) {
  BASALT_WRITE_THEN_INVALIDATE(PutPolicy(account_id, name, document_json));
}
Status IdentityCache::DeletePolicy(const std::string& account_id, const std::string& name) {
  BASALT_WRITE_THEN_INVALIDATE(DeletePolicy(account_id, name));
}
Status IdentityCache::AttachUserPolicy(const std::string& user_id, const std::string& name) {
  BASALT_WRITE_THEN_INVALIDATE(AttachUserPolicy(user_id, name));
}
Status IdentityCache::DetachUserPolicy(const std::string& user_id, const std::string& name) {
  BASALT_WRITE_THEN_INVALIDATE(DetachUserPolicy(user_id, name));
}
Status IdentityCache::SetModelAccess(const std::string& account_id, const std::string& model_id,
                                     const std::string& state) {
  BASALT_WRITE_THEN_INVALIDATE(SetModelAccess(account_id, model_id, state));
}

#undef BASALT_WRITE_THEN_INVALIDATE

}  // namespace basalt::store
