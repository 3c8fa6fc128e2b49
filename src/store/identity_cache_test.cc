#include "store/identity_cache.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

namespace basalt::store {
namespace {

namespace fs = std::filesystem;

class IdentityCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "basalt_idcache_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "basalt.db").string();
    auto inner = Store::OpenSqliteUncached(path_, key_);
    ASSERT_TRUE(inner.ok()) << inner.status().ToString();
    auto cache = IdentityCache::Open(std::move(inner).value(), path_);
    ASSERT_TRUE(cache.ok()) << cache.status().ToString();
    cache_ = std::move(cache).value();
    // Another connection on the same file, as `basalt admin` in another process has.
    auto other = Store::OpenSqliteUncached(path_, key_);
    ASSERT_TRUE(other.ok());
    other_ = std::move(other).value();

    auto account = cache_->CreateAccount("acme");
    ASSERT_TRUE(account.ok());
    account_ = account->id;
    auto user = cache_->CreateUser(account_, "alice", "user");
    ASSERT_TRUE(user.ok());
    user_ = user->id;
    auto key = cache_->CreateAccessKey(user_);
    ASSERT_TRUE(key.ok());
    key_id_ = key->access_key_id;
    secret_ = key->secret_access_key;
  }
  void TearDown() override {
    cache_.reset();
    other_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string KeyStatus() {
    auto k = cache_->GetAccessKey(key_id_);
    if (!k.ok()) return k.status().ToString();
    return k->status;
  }

  fs::path dir_;
  std::string path_;
  std::string key_ = std::string(32, '\x33');
  std::unique_ptr<IdentityCache> cache_;
  std::unique_ptr<Store> other_;
  std::string account_, user_, key_id_, secret_;
};

TEST_F(IdentityCacheTest, RepeatedReadsAreServedFromMemory) {
  ASSERT_EQ(KeyStatus(), "Active");
  auto before = cache_->StatsForTest();
  for (int i = 0; i < 5; ++i) {
    auto k = cache_->GetAccessKey(key_id_);
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k->secret_access_key, secret_);
    EXPECT_EQ(k->user_id, user_);
  }
  auto after = cache_->StatsForTest();
  EXPECT_EQ(after.hits - before.hits, 5);
  EXPECT_EQ(after.misses, before.misses);
}

TEST_F(IdentityCacheTest, WritesThroughTheCacheTakeEffectAtOnce) {
  ASSERT_EQ(KeyStatus(), "Active");
  ASSERT_TRUE(cache_->SetAccessKeyStatus(key_id_, "Inactive").ok());
  EXPECT_EQ(KeyStatus(), "Inactive");
  ASSERT_TRUE(cache_->SetAccessKeyStatus(key_id_, "Active").ok());
  EXPECT_EQ(KeyStatus(), "Active");
  ASSERT_TRUE(cache_->DeleteAccessKey(key_id_).ok());
  EXPECT_EQ(cache_->GetAccessKey(key_id_).status().code(), StatusCode::kNotFound);
}

TEST_F(IdentityCacheTest, ChangesByAnotherConnectionTakeEffectOnTheNextRead) {
  ASSERT_EQ(KeyStatus(), "Active");
  ASSERT_TRUE(cache_->AttachUserPolicy(user_, "BasaltInvokeOnly").ok());
  ASSERT_TRUE(cache_->SetModelAccess(account_, "m", "GRANTED").ok());
  auto api = cache_->CreateApiKey(user_, 0);
  ASSERT_TRUE(api.ok());
  ASSERT_EQ(cache_->ListUserPolicies(user_)->size(), 1u);
  ASSERT_EQ(*cache_->GetModelAccess(account_, "m"), "GRANTED");
  ASSERT_EQ(cache_->FindApiKeyByToken(api->token)->status, "Active");
  ASSERT_EQ(KeyStatus(), "Active");  // all cached now

  ASSERT_TRUE(other_->SetAccessKeyStatus(key_id_, "Inactive").ok());
  EXPECT_EQ(KeyStatus(), "Inactive");
  ASSERT_TRUE(other_->SetAccessKeyStatus(key_id_, "Active").ok());
  EXPECT_EQ(KeyStatus(), "Active");

  ASSERT_TRUE(other_->DetachUserPolicy(user_, "BasaltInvokeOnly").ok());
  EXPECT_TRUE(cache_->ListUserPolicies(user_)->empty());

  ASSERT_TRUE(other_->SetModelAccess(account_, "m", "DENIED").ok());
  EXPECT_EQ(*cache_->GetModelAccess(account_, "m"), "DENIED");

  ASSERT_TRUE(other_->SetApiKeyStatus(api->key.id, "Inactive").ok());
  EXPECT_EQ(cache_->FindApiKeyByToken(api->token)->status, "Inactive");
  ASSERT_TRUE(other_->DeleteApiKey(api->key.id).ok());
  EXPECT_EQ(cache_->FindApiKeyByToken(api->token).status().code(), StatusCode::kNotFound);

  ASSERT_TRUE(other_->DeleteAccessKey(key_id_).ok());
  EXPECT_EQ(cache_->GetAccessKey(key_id_).status().code(), StatusCode::kNotFound);
}

TEST_F(IdentityCacheTest, CustomPolicyEditedElsewhereIsReadAgain) {
  const std::string allow =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})";
  const std::string deny =
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]})";
  ASSERT_TRUE(cache_->PutPolicy(account_, "p", allow).ok());
  ASSERT_EQ(*cache_->GetPolicy(account_, "p"), allow);
  ASSERT_TRUE(other_->PutPolicy(account_, "p", deny).ok());
  EXPECT_EQ(*cache_->GetPolicy(account_, "p"), deny);
}

// A raw SQL write from another process (fork + its own connection), as `basalt admin` makes.
TEST_F(IdentityCacheTest, ChangeByAnotherProcessIsSeen) {
  ASSERT_EQ(KeyStatus(), "Active");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open(path_.c_str(), &db);
    std::string sql =
        "UPDATE access_keys SET status = 'Inactive' WHERE access_key_id = '" + key_id_ + "'";
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    sqlite3_close(db);
    ::_exit(rc == SQLITE_OK ? 0 : 1);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  EXPECT_EQ(KeyStatus(), "Inactive");
}

TEST_F(IdentityCacheTest, FailedLookupsAreNotCached) {
  EXPECT_EQ(cache_->GetAccessKey("AKIANOSUCHKEY0000000").status().code(), StatusCode::kNotFound);
  auto before = cache_->StatsForTest();
  EXPECT_EQ(cache_->GetAccessKey("AKIANOSUCHKEY0000000").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(cache_->FindApiKeyByToken("ABSKnope").status().code(), StatusCode::kNotFound);
  auto after = cache_->StatsForTest();
  EXPECT_EQ(after.misses - before.misses, 2);
  EXPECT_EQ(after.hits, before.hits);
}

// Readers fill the cache while another connection flips the key's status; after each flip
// commits, the writer's own next read through the cache must see it (the "very next request"
// rule), however the readers' fills interleave with the invalidation.
TEST_F(IdentityCacheTest, ConcurrentFillsNeverResurrectAnOldValue) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto k = cache_->GetAccessKey(key_id_);
        EXPECT_TRUE(k.ok());
        if (k.ok()) {
          EXPECT_TRUE(k->status == "Active" || k->status == "Inactive");
        }
        auto p = cache_->ListUserPolicies(user_);
        EXPECT_TRUE(p.ok());
        reads.fetch_add(1);
      }
    });
  }
  int stale = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string want = i % 2 == 0 ? "Inactive" : "Active";
    ASSERT_TRUE(other_->SetAccessKeyStatus(key_id_, want).ok());
    if (KeyStatus() != want) ++stale;
  }
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(stale, 0);
  EXPECT_GT(reads.load(), 0);
}

TEST_F(IdentityCacheTest, OpenSqliteServesThroughTheCache) {
  cache_.reset();
  auto store = Store::OpenSqlite(path_, key_);
  ASSERT_TRUE(store.ok());
  auto* cache = dynamic_cast<IdentityCache*>(store->get());
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE((*store)->GetAccessKey(key_id_).ok());
  ASSERT_TRUE((*store)->GetAccessKey(key_id_).ok());
  EXPECT_EQ(cache->StatsForTest().hits, 1);
}

}  // namespace
}  // namespace basalt::store
