#include "store/store.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace basalt::store {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string DecodeBase64(const std::string& text) {
  std::string out(text.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return {};
  size_t pad = 0;
  while (pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

namespace internal_test {
std::string Sha(const std::string& token) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(token.data(), token.size(), out, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}
}  // namespace internal_test

int64_t SqliteInt(const fs::path& db_path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK);
  int64_t v = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return v;
}

std::string SqliteText(const fs::path& db_path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK);
  std::string v;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    v = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return v;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "basalt_store_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    db_path_ = dir_ / "data" / "basalt.db";
    master_key_ = std::string(32, '\x5a');
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void Reopen(const std::string& key = {}) {
    store_.reset();
    auto opened = Store::OpenSqlite(db_path_.string(), key.empty() ? master_key_ : key);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }

  // An account with one user, for the key tests.
  User MakeUser(const std::string& name = "alice") {
    auto account = store_->CreateAccount("acme");
    EXPECT_TRUE(account.ok());
    auto user = store_->CreateUser(account->id, name, "user");
    EXPECT_TRUE(user.ok()) << user.status().ToString();
    return *user;
  }

  fs::path dir_;
  fs::path db_path_;
  std::string master_key_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, AccountsCreateGetList) {
  auto a = store_->CreateAccount("acme");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(std::regex_match(a->id, std::regex("[0-9]{12}"))) << a->id;
  EXPECT_EQ(a->name, "acme");
  EXPECT_GT(a->created_at, 1700000000);
  auto b = store_->CreateAccount("globex");
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a->id, b->id);

  auto got = store_->GetAccount(a->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "acme");
  EXPECT_EQ(got->created_at, a->created_at);
  EXPECT_EQ(store_->GetAccount("000000000000").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->CreateAccount("").status().code(), StatusCode::kInvalidArgument);

  auto all = store_->ListAccounts();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  std::set<std::string> ids = {(*all)[0].id, (*all)[1].id};
  EXPECT_EQ(ids, (std::set<std::string>{a->id, b->id}));
}

TEST_F(StoreTest, UsersCreateGetList) {
  auto account = store_->CreateAccount("acme");
  ASSERT_TRUE(account.ok());
  auto admin = store_->CreateUser(account->id, "root", "admin");
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  EXPECT_TRUE(std::regex_match(admin->id, std::regex("AIDA[A-Z0-9]{16}"))) << admin->id;
  EXPECT_EQ(admin->account_id, account->id);
  EXPECT_EQ(admin->role, "admin");
  auto bob = store_->CreateUser(account->id, "bob", "user");
  ASSERT_TRUE(bob.ok());

  EXPECT_EQ(store_->CreateUser(account->id, "bob", "user").status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CreateUser(account->id, "carol", "superuser").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CreateUser(account->id, "", "user").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CreateUser("999999999999", "dave", "user").status().code(),
            StatusCode::kNotFound);

  auto got = store_->GetUser(bob->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "bob");
  EXPECT_EQ(store_->GetUser("AIDANOPE").status().code(), StatusCode::kNotFound);

  auto users = store_->ListUsers(account->id);
  ASSERT_TRUE(users.ok());
  EXPECT_EQ(users->size(), 2u);
  auto other = store_->CreateAccount("other");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(store_->ListUsers(other->id)->empty());
  EXPECT_EQ(store_->ListUsers("123").status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, AccessKeySecretRoundTrip) {
  User user = MakeUser();
  auto key = store_->CreateAccessKey(user.id);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_TRUE(std::regex_match(key->access_key_id, std::regex("AKIA[A-Z0-9]{16}")))
      << key->access_key_id;
  EXPECT_EQ(key->secret_access_key.size(), 40u);
  EXPECT_TRUE(std::regex_match(key->secret_access_key, std::regex("[A-Za-z0-9+/]{40}")));
  EXPECT_EQ(key->user_id, user.id);
  EXPECT_EQ(key->account_id, user.account_id);
  EXPECT_EQ(key->status, "Active");

  auto got = store_->GetAccessKey(key->access_key_id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->secret_access_key, key->secret_access_key);
  EXPECT_EQ(got->user_id, user.id);
  EXPECT_EQ(got->account_id, user.account_id);
  EXPECT_EQ(got->created_at, key->created_at);

  auto second = store_->CreateAccessKey(user.id);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->access_key_id, key->access_key_id);
  EXPECT_NE(second->secret_access_key, key->secret_access_key);

  auto list = store_->ListAccessKeys(user.id);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  for (const AccessKey& k : *list) EXPECT_TRUE(k.secret_access_key.empty());

  EXPECT_EQ(store_->GetAccessKey("AKIAUNKNOWN000000000").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->CreateAccessKey("AIDANOPE").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ListAccessKeys("AIDANOPE").status().code(), StatusCode::kNotFound);

  // Secrets never reach the disk in the clear.
  std::string disk = ReadFile(db_path_) + ReadFile(db_path_.string() + "-wal");
  EXPECT_EQ(disk.find(key->secret_access_key), std::string::npos);
  EXPECT_NE(disk.find(key->access_key_id), std::string::npos);
}

TEST_F(StoreTest, AccessKeyDeactivateAndDelete) {
  User user = MakeUser();
  auto key = store_->CreateAccessKey(user.id);
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(store_->SetAccessKeyStatus(key->access_key_id, "Inactive").ok());
  EXPECT_EQ(store_->GetAccessKey(key->access_key_id)->status, "Inactive");
  EXPECT_TRUE(store_->SetAccessKeyStatus(key->access_key_id, "Active").ok());
  EXPECT_EQ(store_->GetAccessKey(key->access_key_id)->status, "Active");
  EXPECT_EQ(store_->SetAccessKeyStatus(key->access_key_id, "active").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SetAccessKeyStatus("AKIANOPE", "Inactive").code(), StatusCode::kNotFound);

  EXPECT_TRUE(store_->DeleteAccessKey(key->access_key_id).ok());
  EXPECT_EQ(store_->GetAccessKey(key->access_key_id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteAccessKey(key->access_key_id).code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->ListAccessKeys(user.id)->empty());
}

TEST_F(StoreTest, ApiKeyTokenLookup) {
  User user = MakeUser();
  auto created = store_->CreateApiKey(user.id, 1900000000);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string& token = created->token;
  ASSERT_EQ(token.rfind("ABSK", 0), 0u);
  std::string decoded = DecodeBase64(token.substr(4));
  std::smatch m;
  ASSERT_TRUE(std::regex_match(decoded, m,
                               std::regex("BedrockAPIKey-([a-z0-9]+)-at-([0-9]{12}):(.+)")))
      << decoded;
  EXPECT_EQ(m[1], created->key.id);
  EXPECT_EQ(m[2], user.account_id);
  EXPECT_GE(m[3].length(), 32);
  EXPECT_EQ(created->key.status, "Active");
  EXPECT_EQ(created->key.expires_at, 1900000000);

  auto found = store_->FindApiKeyByToken(token);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->id, created->key.id);
  EXPECT_EQ(found->user_id, user.id);
  EXPECT_EQ(found->account_id, user.account_id);
  EXPECT_EQ(found->expires_at, 1900000000);
  EXPECT_EQ(store_->FindApiKeyByToken(token + "x").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->FindApiKeyByToken("").status().code(), StatusCode::kNotFound);

  auto forever = store_->CreateApiKey(user.id, 0);
  ASSERT_TRUE(forever.ok());
  EXPECT_NE(forever->token, token);
  EXPECT_EQ(store_->FindApiKeyByToken(forever->token)->expires_at, 0);
  EXPECT_EQ(store_->CreateApiKey(user.id, -1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CreateApiKey("AIDANOPE", 0).status().code(), StatusCode::kNotFound);

  auto list = store_->ListApiKeys(user.id);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);

  // Only the hash is stored.
  std::string disk = ReadFile(db_path_) + ReadFile(db_path_.string() + "-wal");
  EXPECT_EQ(disk.find(token), std::string::npos);
  EXPECT_EQ(disk.find(m[3].str()), std::string::npos);

  EXPECT_TRUE(store_->SetApiKeyStatus(created->key.id, "Inactive").ok());
  EXPECT_EQ(store_->FindApiKeyByToken(token)->status, "Inactive");
  EXPECT_EQ(store_->SetApiKeyStatus(created->key.id, "Disabled").code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->DeleteApiKey(created->key.id).ok());
  EXPECT_EQ(store_->FindApiKeyByToken(token).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteApiKey(created->key.id).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->SetApiKeyStatus(created->key.id, "Active").code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, Settings) {
  auto missing = store_->GetSetting("bootstrap_done");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_TRUE(store_->PutSetting("bootstrap_done", "1").ok());
  EXPECT_EQ(store_->GetSetting("bootstrap_done")->value(), "1");
  EXPECT_TRUE(store_->PutSetting("bootstrap_done", "2").ok());
  EXPECT_EQ(store_->GetSetting("bootstrap_done")->value(), "2");
  EXPECT_TRUE(store_->PutSetting("empty", "").ok());
  EXPECT_EQ(store_->GetSetting("empty")->value(), "");
}

TEST_F(StoreTest, ReopenPersistsAndUsesWal) {
  User user = MakeUser();
  auto key = store_->CreateAccessKey(user.id);
  auto api = store_->CreateApiKey(user.id, 0);
  ASSERT_TRUE(key.ok() && api.ok());
  ASSERT_TRUE(store_->PutSetting("k", "v").ok());
  Reopen();
  EXPECT_EQ(store_->GetUser(user.id)->name, "alice");
  EXPECT_EQ(store_->GetAccessKey(key->access_key_id)->secret_access_key, key->secret_access_key);
  EXPECT_EQ(store_->FindApiKeyByToken(api->token)->id, api->key.id);
  EXPECT_EQ(store_->GetSetting("k")->value(), "v");
  EXPECT_TRUE(store_->CheckIntegrity().ok());
  store_.reset();

  EXPECT_EQ(SqliteText(db_path_, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(SqliteInt(db_path_, "PRAGMA user_version"), 3);
  struct stat st {};
  ASSERT_EQ(::stat(db_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(StoreTest, WrongMasterKeyCannotDecrypt) {
  User user = MakeUser();
  auto key = store_->CreateAccessKey(user.id);
  ASSERT_TRUE(key.ok());
  Reopen(std::string(32, '\x01'));
  auto got = store_->GetAccessKey(key->access_key_id);
  EXPECT_EQ(got.status().code(), StatusCode::kInternal) << got.status().ToString();
  // Everything that needs no secret still works.
  EXPECT_TRUE(store_->GetUser(user.id).ok());
  EXPECT_TRUE(store_->ListAccessKeys(user.id).ok());
  Reopen();
  EXPECT_TRUE(store_->GetAccessKey(key->access_key_id).ok());
}

TEST_F(StoreTest, SealedSecretIsBoundToItsKeyId) {
  User user = MakeUser();
  auto a = store_->CreateAccessKey(user.id);
  auto b = store_->CreateAccessKey(user.id);
  ASSERT_TRUE(a.ok() && b.ok());
  store_.reset();
  // Swap the sealed secrets behind the store's back: neither may decrypt.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  std::string sql = "UPDATE access_keys SET secret_sealed = (SELECT secret_sealed FROM "
                    "access_keys WHERE access_key_id = '" + b->access_key_id +
                    "') WHERE access_key_id = '" + a->access_key_id + "'";
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  Reopen();
  EXPECT_EQ(store_->GetAccessKey(a->access_key_id).status().code(), StatusCode::kInternal);
  EXPECT_TRUE(store_->GetAccessKey(b->access_key_id).ok());
}

TEST_F(StoreTest, IntegrityCheck) {
  MakeUser();
  EXPECT_TRUE(store_->CheckIntegrity().ok());
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(store_->PutSetting("k" + std::to_string(i), std::string(1000, 'x')).ok());
  }
  store_.reset();
  // Checkpoint the WAL into the main file, then damage a page in the middle of it.
  ASSERT_EQ(SqliteText(db_path_, "PRAGMA wal_checkpoint(TRUNCATE)"), "0");
  {
    std::fstream f(db_path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(db_path_) / 2));
    std::string junk(3000, '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto opened = Store::OpenSqlite(db_path_.string(), master_key_);
  if (opened.ok()) {
    EXPECT_FALSE((*opened)->CheckIntegrity().ok());
  } else {
    EXPECT_EQ(opened.status().code(), StatusCode::kInternal);
  }
}

TEST_F(StoreTest, RefusesNewerSchemaAndBadKeys) {
  store_.reset();
  EXPECT_EQ(Store::OpenSqlite(db_path_.string(), "short").status().code(),
            StatusCode::kInvalidArgument);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto opened = Store::OpenSqlite(db_path_.string(), master_key_);
  EXPECT_EQ(opened.status().code(), StatusCode::kInternal);
  std::ofstream(dir_ / "file") << "x";
  EXPECT_EQ(Store::OpenSqlite((dir_ / "file" / "db").string(), master_key_).status().code(),
            StatusCode::kInternal);
}

TEST_F(StoreTest, ConcurrentUse) {
  User user = MakeUser();
  std::vector<std::thread> threads;
  std::vector<std::vector<AccessKey>> created(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 8; ++i) {
        auto key = store_->CreateAccessKey(user.id);
        if (!key.ok()) continue;
        created[t].push_back(*key);
        auto got = store_->GetAccessKey(key->access_key_id);
        if (got.ok() && got->secret_access_key != key->secret_access_key) created[t].clear();
        (void)store_->PutSetting("t" + std::to_string(t), std::to_string(i));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> ids;
  for (const auto& keys : created) {
    EXPECT_EQ(keys.size(), 8u);
    for (const auto& k : keys) ids.insert(k.access_key_id);
  }
  EXPECT_EQ(ids.size(), 32u);
  EXPECT_EQ(store_->ListAccessKeys(user.id)->size(), 32u);
}

constexpr char kPolicyDoc[] = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
  "Action":["bedrock:InvokeModel"],"Resource":"*"}]})";
constexpr char kModel[] = "amazon.nova-lite-v1:0";

TEST_F(StoreTest, PoliciesPutGetListDelete) {
  auto account = store_->CreateAccount("acme");
  ASSERT_TRUE(account.ok());
  const std::string id = account->id;
  EXPECT_TRUE(store_->ListPolicies(id)->empty());
  ASSERT_TRUE(store_->PutPolicy(id, "invoke-only", kPolicyDoc).ok());
  ASSERT_TRUE(store_->PutPolicy(id, "a.b@c=d,e+f_g-h", kPolicyDoc).ok());
  EXPECT_EQ(*store_->GetPolicy(id, "invoke-only"), kPolicyDoc);  // stored unchanged
  EXPECT_EQ(*store_->ListPolicies(id),
            (std::vector<std::string>{"a.b@c=d,e+f_g-h", "invoke-only"}));

  // Put replaces the document.
  const std::string deny = R"({"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}})";
  ASSERT_TRUE(store_->PutPolicy(id, "invoke-only", deny).ok());
  EXPECT_EQ(*store_->GetPolicy(id, "invoke-only"), deny);
  EXPECT_EQ(store_->ListPolicies(id)->size(), 2u);

  // Built-ins resolve through GetPolicy too, but cannot be shadowed or deleted.
  auto builtin = store_->GetPolicy(id, "AmazonBedrockFullAccess");
  ASSERT_TRUE(builtin.ok()) << builtin.status().ToString();
  EXPECT_NE(builtin->find("bedrock:*"), std::string::npos);
  EXPECT_EQ(store_->PutPolicy(id, "BasaltAdministrator", kPolicyDoc).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->DeletePolicy(id, "BasaltAdministrator").code(),
            StatusCode::kInvalidArgument);

  // Validation.
  Status bad = store_->PutPolicy(id, "bad", R"({"Statement":[{"Effect":"Allow",
      "NotAction":"bedrock:*","Resource":"*"}]})");
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("NotAction"), std::string::npos) << bad.message();
  EXPECT_EQ(store_->PutPolicy(id, "bad", "{").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->PutPolicy(id, "", kPolicyDoc).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->PutPolicy(id, "has space", kPolicyDoc).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->PutPolicy(id, std::string(129, 'x'), kPolicyDoc).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->PutPolicy(id, std::string(128, 'x'), kPolicyDoc).ok());
  EXPECT_EQ(store_->GetPolicy(id, "bad").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->PutPolicy("000000000000", "p", kPolicyDoc).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ListPolicies("000000000000").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetPolicy("000000000000", "AmazonBedrockFullAccess").status().code(),
            StatusCode::kNotFound);

  ASSERT_TRUE(store_->DeletePolicy(id, "invoke-only").ok());
  EXPECT_EQ(store_->DeletePolicy(id, "invoke-only").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetPolicy(id, "invoke-only").status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, UserPolicyAttachments) {
  User alice = MakeUser("alice");
  ASSERT_TRUE(store_->PutPolicy(alice.account_id, "custom", kPolicyDoc).ok());
  EXPECT_TRUE(store_->ListUserPolicies(alice.id)->empty());
  ASSERT_TRUE(store_->AttachUserPolicy(alice.id, "BasaltInvokeOnly").ok());
  ASSERT_TRUE(store_->AttachUserPolicy(alice.id, "custom").ok());
  ASSERT_TRUE(store_->AttachUserPolicy(alice.id, "BasaltInvokeOnly").ok());  // idempotent
  EXPECT_EQ(*store_->ListUserPolicies(alice.id),
            (std::vector<std::string>{"BasaltInvokeOnly", "custom"}));

  EXPECT_EQ(store_->AttachUserPolicy(alice.id, "nope").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->AttachUserPolicy(alice.id, "basaltinvokeonly").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->AttachUserPolicy("AIDANOSUCHUSER00000", "BasaltInvokeOnly").code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->ListUserPolicies("AIDANOSUCHUSER00000").status().code(),
            StatusCode::kNotFound);

  // An attached custom policy cannot be deleted (IAM's DeleteConflict); updating it is fine.
  EXPECT_EQ(store_->DeletePolicy(alice.account_id, "custom").code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->PutPolicy(alice.account_id, "custom", kPolicyDoc).ok());
  ASSERT_TRUE(store_->DetachUserPolicy(alice.id, "custom").ok());
  EXPECT_EQ(store_->DetachUserPolicy(alice.id, "custom").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DetachUserPolicy("AIDANOSUCHUSER00000", "custom").code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(store_->DeletePolicy(alice.account_id, "custom").ok());
  EXPECT_EQ(*store_->ListUserPolicies(alice.id), std::vector<std::string>{"BasaltInvokeOnly"});
  EXPECT_TRUE(store_->CheckIntegrity().ok());
}

TEST_F(StoreTest, ModelAccessStates) {
  auto account = store_->CreateAccount("acme");
  ASSERT_TRUE(account.ok());
  const std::string id = account->id;
  EXPECT_EQ(*store_->GetModelAccess(id, kModel), "NOT_REQUESTED");
  EXPECT_TRUE(store_->ListModelAccess(id)->empty());
  ASSERT_TRUE(store_->SetModelAccess(id, kModel, "REQUESTED").ok());
  EXPECT_EQ(*store_->GetModelAccess(id, kModel), "REQUESTED");
  ASSERT_TRUE(store_->SetModelAccess(id, kModel, "GRANTED").ok());
  ASSERT_TRUE(store_->SetModelAccess(id, "anthropic.claude", "DENIED").ok());
  EXPECT_EQ(*store_->GetModelAccess(id, kModel), "GRANTED");
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(*store_->ListModelAccess(id),
            (Pairs{{"amazon.nova-lite-v1:0", "GRANTED"}, {"anthropic.claude", "DENIED"}}));
  // NOT_REQUESTED is the absence of a row.
  ASSERT_TRUE(store_->SetModelAccess(id, "anthropic.claude", "NOT_REQUESTED").ok());
  EXPECT_EQ(*store_->ListModelAccess(id), (Pairs{{"amazon.nova-lite-v1:0", "GRANTED"}}));
  EXPECT_EQ(*store_->GetModelAccess(id, "anthropic.claude"), "NOT_REQUESTED");

  EXPECT_EQ(store_->SetModelAccess(id, kModel, "granted").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SetModelAccess(id, "", "GRANTED").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*store_->GetModelAccess(id, kModel), "GRANTED");
  EXPECT_EQ(store_->SetModelAccess("000000000000", kModel, "GRANTED").code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->GetModelAccess("000000000000", kModel).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->ListModelAccess("000000000000").status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, UseCaseFormIsOpaque) {
  auto account = store_->CreateAccount("acme");
  ASSERT_TRUE(account.ok());
  EXPECT_EQ(store_->GetUseCaseForm(account->id).status().code(), StatusCode::kNotFound);
  static constexpr char kForm[] = "eyJjb21wYW55IjoiQWNtZSJ9\0\xff\x01 tail";
  const std::string form(kForm, sizeof(kForm) - 1);  // NUL and non-UTF-8 bytes included
  ASSERT_TRUE(store_->PutUseCaseForm(account->id, form).ok());
  EXPECT_EQ(*store_->GetUseCaseForm(account->id), form);
  ASSERT_TRUE(store_->PutUseCaseForm(account->id, "second").ok());
  EXPECT_EQ(*store_->GetUseCaseForm(account->id), "second");
  EXPECT_EQ(store_->PutUseCaseForm("000000000000", form).code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, Agreements) {
  auto account = store_->CreateAccount("acme");
  ASSERT_TRUE(account.ok());
  const std::string id = account->id;
  EXPECT_FALSE(*store_->HasAgreement(id, kModel));
  ASSERT_TRUE(store_->CreateAgreement(id, kModel, "offer-token").ok());
  EXPECT_TRUE(*store_->HasAgreement(id, kModel));
  EXPECT_EQ(store_->CreateAgreement(id, kModel, "offer-token").code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CreateAgreement(id, "", "offer-token").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CreateAgreement("000000000000", kModel, "t").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->HasAgreement("000000000000", kModel).status().code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(store_->DeleteAgreement(id, kModel).ok());
  EXPECT_FALSE(*store_->HasAgreement(id, kModel));
  EXPECT_EQ(store_->DeleteAgreement(id, kModel).code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, AccountsNeverSeeEachOthersRows) {
  User alice = MakeUser("alice");  // account "acme"
  auto other = store_->CreateAccount("globex");
  ASSERT_TRUE(other.ok());
  auto bob = store_->CreateUser(other->id, "bob", "user");
  ASSERT_TRUE(bob.ok());
  const std::string a = alice.account_id, b = other->id;

  ASSERT_TRUE(store_->PutPolicy(a, "shared-name", kPolicyDoc).ok());
  ASSERT_TRUE(store_->PutPolicy(a, "only-acme", kPolicyDoc).ok());
  const std::string deny = R"({"Statement":{"Effect":"Deny","Action":"*","Resource":"*"}})";
  ASSERT_TRUE(store_->PutPolicy(b, "shared-name", deny).ok());
  EXPECT_EQ(*store_->ListPolicies(a), (std::vector<std::string>{"only-acme", "shared-name"}));
  EXPECT_EQ(*store_->ListPolicies(b), std::vector<std::string>{"shared-name"});
  EXPECT_EQ(*store_->GetPolicy(a, "shared-name"), kPolicyDoc);
  EXPECT_EQ(*store_->GetPolicy(b, "shared-name"), deny);
  EXPECT_EQ(store_->GetPolicy(b, "only-acme").status().code(), StatusCode::kNotFound);
  // Bob cannot attach a policy that exists only in another account.
  EXPECT_EQ(store_->AttachUserPolicy(bob->id, "only-acme").code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->AttachUserPolicy(bob->id, "shared-name").ok());
  ASSERT_TRUE(store_->AttachUserPolicy(alice.id, "shared-name").ok());
  // Each account's attachment pins only its own policy.
  ASSERT_TRUE(store_->DetachUserPolicy(alice.id, "shared-name").ok());
  EXPECT_TRUE(store_->DeletePolicy(a, "shared-name").ok());
  EXPECT_EQ(store_->DeletePolicy(b, "shared-name").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->DeletePolicy(b, "only-acme").code(), StatusCode::kNotFound);
  EXPECT_EQ(*store_->GetPolicy(b, "shared-name"), deny);

  ASSERT_TRUE(store_->SetModelAccess(a, kModel, "GRANTED").ok());
  EXPECT_EQ(*store_->GetModelAccess(b, kModel), "NOT_REQUESTED");
  EXPECT_TRUE(store_->ListModelAccess(b)->empty());
  ASSERT_TRUE(store_->SetModelAccess(b, kModel, "DENIED").ok());
  EXPECT_EQ(*store_->GetModelAccess(a, kModel), "GRANTED");

  ASSERT_TRUE(store_->PutUseCaseForm(a, "acme form").ok());
  EXPECT_EQ(store_->GetUseCaseForm(b).status().code(), StatusCode::kNotFound);

  ASSERT_TRUE(store_->CreateAgreement(a, kModel, "t").ok());
  EXPECT_FALSE(*store_->HasAgreement(b, kModel));
  EXPECT_EQ(store_->DeleteAgreement(b, kModel).code(), StatusCode::kNotFound);
  EXPECT_TRUE(*store_->HasAgreement(a, kModel));
}

TEST_F(StoreTest, ReopenPersistsIamState) {
  User alice = MakeUser("alice");
  const std::string a = alice.account_id;
  ASSERT_TRUE(store_->PutPolicy(a, "custom", kPolicyDoc).ok());
  ASSERT_TRUE(store_->AttachUserPolicy(alice.id, "custom").ok());
  ASSERT_TRUE(store_->AttachUserPolicy(alice.id, "AmazonBedrockReadOnly").ok());
  ASSERT_TRUE(store_->SetModelAccess(a, kModel, "GRANTED").ok());
  ASSERT_TRUE(store_->PutUseCaseForm(a, "form").ok());
  ASSERT_TRUE(store_->CreateAgreement(a, kModel, "t").ok());
  Reopen();
  EXPECT_EQ(*store_->GetPolicy(a, "custom"), kPolicyDoc);
  EXPECT_EQ(*store_->ListUserPolicies(alice.id),
            (std::vector<std::string>{"custom", "AmazonBedrockReadOnly"}));
  EXPECT_EQ(*store_->GetModelAccess(a, kModel), "GRANTED");
  EXPECT_EQ(*store_->GetUseCaseForm(a), "form");
  EXPECT_TRUE(*store_->HasAgreement(a, kModel));
  EXPECT_TRUE(store_->CheckIntegrity().ok());
}

TEST_F(StoreTest, DeletingAnAccountOrUserCascades) {
  User alice = MakeUser("alice");
  const std::string a = alice.account_id;
  ASSERT_TRUE(store_->PutPolicy(a, "custom", kPolicyDoc).ok());
  ASSERT_TRUE(store_->AttachUserPolicy(alice.id, "custom").ok());
  ASSERT_TRUE(store_->SetModelAccess(a, kModel, "GRANTED").ok());
  ASSERT_TRUE(store_->PutUseCaseForm(a, "form").ok());
  ASSERT_TRUE(store_->CreateAgreement(a, kModel, "t").ok());
  User bob = MakeUser("bob");
  ASSERT_TRUE(store_->AttachUserPolicy(bob.id, "BasaltInvokeOnly").ok());
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, ("DELETE FROM accounts WHERE id = '" + a + "'").c_str(), nullptr,
                         nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_exec(db, ("DELETE FROM users WHERE id = '" + bob.id + "'").c_str(), nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  for (const char* table :
       {"policies", "user_policies", "model_access", "use_case_forms", "agreements"}) {
    EXPECT_EQ(SqliteInt(db_path_, (std::string("SELECT count(*) FROM ") + table).c_str()), 0)
        << table;
  }
  Reopen();
  EXPECT_TRUE(store_->CheckIntegrity().ok());
}

TEST_F(StoreTest, MigratesAVersion1Database) {
  User alice = MakeUser("alice");
  store_.reset();
  // Roll the file back to the version-1 schema, keeping its rows.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TABLE user_policies; DROP TABLE policies; DROP TABLE model_access;"
                         " DROP TABLE use_case_forms; DROP TABLE agreements;"
                         " DROP TABLE user_passwords; DROP TABLE console_sessions;"
                         " PRAGMA user_version = 1;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  Reopen();
  EXPECT_EQ(SqliteInt(db_path_, "PRAGMA user_version"), 3);
  EXPECT_EQ(store_->GetUser(alice.id)->name, "alice");
  ASSERT_TRUE(store_->AttachUserPolicy(alice.id, "BasaltInvokeOnly").ok());
  EXPECT_EQ(*store_->GetModelAccess(alice.account_id, kModel), "NOT_REQUESTED");
  EXPECT_TRUE(store_->CheckIntegrity().ok());
}

TEST_F(StoreTest, MigratesAVersion2Database) {
  User alice = MakeUser("alice");
  ASSERT_TRUE(store_->AttachUserPolicy(alice.id, "BasaltInvokeOnly").ok());
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TABLE user_passwords; DROP TABLE console_sessions;"
                         " PRAGMA user_version = 2;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  Reopen();
  EXPECT_EQ(SqliteInt(db_path_, "PRAGMA user_version"), 3);
  EXPECT_EQ(*store_->ListUserPolicies(alice.id), std::vector<std::string>{"BasaltInvokeOnly"});
  EXPECT_EQ(*store_->GetUserPassword(alice.id), "");
  ASSERT_TRUE(store_->SetUserPassword(alice.id, "$argon2id$x").ok());
  EXPECT_EQ(*store_->GetUserPassword(alice.id), "$argon2id$x");
  EXPECT_TRUE(store_->CheckIntegrity().ok());
}

TEST_F(StoreTest, FindUserAndAccountByName) {
  User alice = MakeUser("alice");
  auto found = store_->FindUserByName(alice.account_id, "alice");
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->id, alice.id);
  EXPECT_EQ(store_->FindUserByName(alice.account_id, "bob").status().code(), StatusCode::kNotFound);
  auto other = store_->CreateAccount("globex");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(store_->FindUserByName(other->id, "alice").status().code(), StatusCode::kNotFound);

  EXPECT_EQ(store_->FindAccountByName("globex")->id, other->id);
  EXPECT_EQ(store_->FindAccountByName("initech").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->CreateAccount("globex").ok());
  EXPECT_EQ(store_->FindAccountByName("globex").status().code(), StatusCode::kFailedPrecondition);
}

ConsoleSession MakeSession(const User& user, const std::string& token, int64_t expires_at) {
  return ConsoleSession{
      internal_test::Sha(token), user.id, user.account_id, "csrf-" + token, 100, expires_at, 100};
}

TEST_F(StoreTest, UserPasswordsSetGetRemove) {
  User alice = MakeUser("alice");
  EXPECT_EQ(*store_->GetUserPassword(alice.id), "");
  ASSERT_TRUE(store_->SetUserPassword(alice.id, "hash-1").ok());
  EXPECT_EQ(*store_->GetUserPassword(alice.id), "hash-1");
  ASSERT_TRUE(store_->SetUserPassword(alice.id, "hash-2").ok());
  EXPECT_EQ(*store_->GetUserPassword(alice.id), "hash-2");
  ASSERT_TRUE(store_->SetUserPassword(alice.id, "").ok());
  EXPECT_EQ(*store_->GetUserPassword(alice.id), "");
  ASSERT_TRUE(store_->SetUserPassword(alice.id, "").ok());  // removing twice is fine
  EXPECT_EQ(store_->SetUserPassword("AIDANOSUCHUSER", "h").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetUserPassword("AIDANOSUCHUSER").status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, ConsoleSessionsLifecycle) {
  User alice = MakeUser("alice");
  User bob = *store_->CreateUser(alice.account_id, "bob", "user");
  ASSERT_TRUE(store_->CreateConsoleSession(MakeSession(alice, "a1", 1000)).ok());
  ASSERT_TRUE(store_->CreateConsoleSession(MakeSession(alice, "a2", 2000)).ok());
  ASSERT_TRUE(store_->CreateConsoleSession(MakeSession(bob, "b1", 3000)).ok());
  EXPECT_EQ(store_->CreateConsoleSession(MakeSession(bob, "b1", 3000)).code(),
            StatusCode::kAlreadyExists);
  ConsoleSession ghost = MakeSession(bob, "g", 3000);
  ghost.user_id = "AIDANOSUCHUSER";
  EXPECT_EQ(store_->CreateConsoleSession(ghost).code(), StatusCode::kNotFound);

  auto got = store_->GetConsoleSession(internal_test::Sha("a1"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->user_id, alice.id);
  EXPECT_EQ(got->account_id, alice.account_id);
  EXPECT_EQ(got->csrf_token, "csrf-a1");
  EXPECT_EQ(got->expires_at, 1000);
  EXPECT_EQ(got->token_sha256, internal_test::Sha("a1"));
  ASSERT_TRUE(store_->TouchConsoleSession(internal_test::Sha("a1"), 500).ok());
  EXPECT_EQ(store_->GetConsoleSession(internal_test::Sha("a1"))->last_seen_at, 500);
  EXPECT_EQ(store_->GetConsoleSession(internal_test::Sha("zz")).status().code(),
            StatusCode::kNotFound);

  EXPECT_EQ(*store_->DeleteExpiredConsoleSessions(1000), 1);  // a1 expires at 1000
  EXPECT_FALSE(store_->GetConsoleSession(internal_test::Sha("a1")).ok());
  EXPECT_TRUE(store_->GetConsoleSession(internal_test::Sha("a2")).ok());

  ASSERT_TRUE(store_->DeleteConsoleSession(internal_test::Sha("b1")).ok());
  ASSERT_TRUE(store_->DeleteConsoleSession(internal_test::Sha("b1")).ok());
  EXPECT_FALSE(store_->GetConsoleSession(internal_test::Sha("b1")).ok());

  ASSERT_TRUE(store_->CreateConsoleSession(MakeSession(bob, "b2", 3000)).ok());
  ASSERT_TRUE(store_->DeleteUserConsoleSessions(alice.id).ok());
  EXPECT_FALSE(store_->GetConsoleSession(internal_test::Sha("a2")).ok());
  EXPECT_TRUE(store_->GetConsoleSession(internal_test::Sha("b2")).ok());
}

TEST_F(StoreTest, PasswordChangeOrRemovalEndsTheUsersSessions) {
  User alice = MakeUser("alice");
  User bob = *store_->CreateUser(alice.account_id, "bob", "user");
  ASSERT_TRUE(store_->SetUserPassword(alice.id, "hash-1").ok());
  ASSERT_TRUE(store_->CreateConsoleSession(MakeSession(alice, "a1", 9000)).ok());
  ASSERT_TRUE(store_->CreateConsoleSession(MakeSession(bob, "b1", 9000)).ok());
  ASSERT_TRUE(store_->SetUserPassword(alice.id, "hash-2").ok());
  EXPECT_FALSE(store_->GetConsoleSession(internal_test::Sha("a1")).ok());
  EXPECT_TRUE(store_->GetConsoleSession(internal_test::Sha("b1")).ok());
  ASSERT_TRUE(store_->CreateConsoleSession(MakeSession(alice, "a2", 9000)).ok());
  ASSERT_TRUE(store_->SetUserPassword(alice.id, "").ok());
  EXPECT_FALSE(store_->GetConsoleSession(internal_test::Sha("a2")).ok());
}

TEST_F(StoreTest, DeletingAUserDeletesItsPasswordAndSessions) {
  User alice = MakeUser("alice");
  ASSERT_TRUE(store_->SetUserPassword(alice.id, "hash").ok());
  ASSERT_TRUE(store_->CreateConsoleSession(MakeSession(alice, "a1", 9000)).ok());
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(
          db, ("PRAGMA foreign_keys = ON; DELETE FROM users WHERE id = '" + alice.id + "'").c_str(),
          nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(SqliteInt(db_path_, "SELECT count(*) FROM user_passwords"), 0);
  EXPECT_EQ(SqliteInt(db_path_, "SELECT count(*) FROM console_sessions"), 0);
  Reopen();
  EXPECT_TRUE(store_->CheckIntegrity().ok());
}

TEST(MasterKey, CreatesPrivateFileOnceAndReloads) {
  std::string tmpl = (fs::temp_directory_path() / "basalt_mk_XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  fs::path dir = tmpl;
  fs::path path = dir / "nested" / "deeper" / "master.key";
  mode_t old_umask = ::umask(0);  // even a permissive umask must give 0600
  auto key = LoadOrCreateMasterKey(path.string());
  ::umask(old_umask);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->size(), 32u);
  EXPECT_NE(*key, std::string(32, '\0'));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadFile(path), *key);

  auto again = LoadOrCreateMasterKey(path.string());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *key);
  // No temporary files are left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(path.parent_path()), fs::directory_iterator()),
            1);

  fs::path other = dir / "other.key";
  auto fresh = LoadOrCreateMasterKey(other.string());
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(*fresh, *key);

  std::ofstream(dir / "bad.key") << "too short";
  EXPECT_EQ(LoadOrCreateMasterKey((dir / "bad.key").string()).status().code(),
            StatusCode::kInternal);
  EXPECT_EQ(LoadOrCreateMasterKey("").status().code(), StatusCode::kInvalidArgument);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace basalt::store
