#include "apps/app_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <regex>
#include <set>
#include <thread>

namespace basalt::apps {
namespace {

namespace fs = std::filesystem;

std::string Def(const std::string& title, const std::string& description = "does things") {
  return R"({"schemaVersion": 1, "title": ")" + title + R"(", "description": ")" + description +
         R"(", "widgets": []})";
}

class AppStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("basalt_app_store_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    path_ = (dir_ / "sub" / "apps.db").string();
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    auto opened = AppStore::OpenSqlite(path_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }
  StoredApp Create(const std::string& title, const std::string& user = "AIDAUSER1") {
    auto app = store_->CreateApp("111111111111", user, Def(title), "created");
    EXPECT_TRUE(app.ok()) << app.status().ToString();
    return app.ok() ? *app : StoredApp{};
  }

  fs::path dir_;
  std::string path_;
  std::unique_ptr<AppStore> store_;
};

TEST_F(AppStoreTest, CreateGetList) {
  StoredApp a = Create("Trip planner");
  EXPECT_TRUE(std::regex_match(a.app_id, std::regex("app-[0-9a-f]{16}"))) << a.app_id;
  EXPECT_EQ(a.title, "Trip planner");
  EXPECT_EQ(a.description, "does things");
  EXPECT_EQ(a.version, 1);
  EXPECT_EQ(a.visibility, "private");
  EXPECT_EQ(a.share_token, "");
  EXPECT_FALSE(a.listed);
  EXPECT_EQ(a.definition_json, Def("Trip planner"));
  EXPECT_GT(a.created_at, 1700000000000);  // unix ms
  EXPECT_EQ(a.created_at, a.updated_at);

  auto got = store_->GetApp(a.app_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->title, "Trip planner");
  EXPECT_EQ(got->account_id, "111111111111");
  EXPECT_EQ(got->user_id, "AIDAUSER1");
  EXPECT_EQ(store_->GetApp("app-0000000000000000").status().code(), StatusCode::kNotFound);

  ::usleep(2000);
  StoredApp b = Create("Second");
  Create("Someone else's", "AIDAUSER2");
  auto mine = store_->ListApps("111111111111", "AIDAUSER1");
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].app_id, b.app_id);  // newest change first
  EXPECT_EQ((*mine)[1].app_id, a.app_id);
  ::usleep(2000);
  ASSERT_TRUE(store_->SaveVersion(a.app_id, "AIDAUSER1", Def("Trip planner 2"), "edited", 1).ok());
  mine = store_->ListApps("111111111111", "AIDAUSER1");
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ((*mine)[0].app_id, a.app_id);
  EXPECT_EQ((*mine)[0].title, "Trip planner 2");
  EXPECT_EQ(store_->ListApps("999999999999", "AIDAUSER1")->size(), 0u);
}

TEST_F(AppStoreTest, DefinitionMustBeAnObject) {
  auto bad = store_->CreateApp("111111111111", "AIDAUSER1", "[1, 2", "created");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  bad = store_->CreateApp("111111111111", "AIDAUSER1", "[]", "created");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  // Title and description default to "" when absent (validation is the definition library's).
  auto plain = store_->CreateApp("111111111111", "AIDAUSER1", R"({"widgets": []})", "created");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->title, "");
}

TEST_F(AppStoreTest, VersionsAndStaleBase) {
  StoredApp a = Create("v1");
  auto v2 = store_->SaveVersion(a.app_id, "AIDAUSER1", Def("v2"), "edited", 1);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->title, "v2");
  EXPECT_EQ(v2->definition_json, Def("v2"));

  auto stale = store_->SaveVersion(a.app_id, "AIDAUSER1", Def("lost"), "edited", 1);
  EXPECT_EQ(stale.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(stale.status().message().find("changed since you opened it"), std::string::npos);
  EXPECT_EQ(stale.status().reason(), "Conflict");  // 409 ConflictException
  EXPECT_EQ(store_->GetApp(a.app_id)->title, "v2");

  // base_version 0: no check (Generate's Regenerate, restores).
  auto v3 = store_->SaveVersion(a.app_id, "AIDAUSER2", Def("v1"), "restored 1", 0);
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(v3->version, 3);

  auto versions = store_->ListVersions(a.app_id);
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 3u);
  EXPECT_EQ((*versions)[0].version, 1);
  EXPECT_EQ((*versions)[0].note, "created");
  EXPECT_EQ((*versions)[0].definition_json, Def("v1"));
  EXPECT_EQ((*versions)[1].note, "edited");
  EXPECT_EQ((*versions)[2].note, "restored 1");
  EXPECT_EQ((*versions)[2].user_id, "AIDAUSER2");

  auto v2back = store_->GetVersion(a.app_id, 2);
  ASSERT_TRUE(v2back.ok());
  EXPECT_EQ(v2back->definition_json, Def("v2"));
  EXPECT_EQ(store_->GetVersion(a.app_id, 9).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetVersion("app-0000000000000000", 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ListVersions("app-0000000000000000").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->SaveVersion("app-0000000000000000", "u", Def("x"), "edited", 0).status().code(),
            StatusCode::kNotFound);
}

TEST_F(AppStoreTest, ShareTokenSetAndWithdrawn) {
  StoredApp a = Create("Shared");
  auto pub = store_->SetVisibility(a.app_id, "public", false);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->visibility, "public");
  EXPECT_TRUE(std::regex_match(pub->share_token, std::regex("[A-Za-z0-9_-]{32}")))
      << pub->share_token;
  const std::string token = pub->share_token;
  auto by_token = store_->GetAppByShareToken(token);
  ASSERT_TRUE(by_token.ok());
  EXPECT_EQ(by_token->app_id, a.app_id);

  // Sharing again keeps the link; only `listed` changes.
  auto again = store_->SetVisibility(a.app_id, "public", true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->share_token, token);
  EXPECT_TRUE(again->listed);

  auto priv = store_->SetVisibility(a.app_id, "private", true);
  ASSERT_TRUE(priv.ok());
  EXPECT_EQ(priv->visibility, "private");
  EXPECT_EQ(priv->share_token, "");
  EXPECT_FALSE(priv->listed);
  EXPECT_EQ(store_->GetAppByShareToken(token).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetAppByShareToken("").status().code(), StatusCode::kNotFound);

  // Shared again: a new token, the old one stays dead.
  auto repub = store_->SetVisibility(a.app_id, "public", false);
  ASSERT_TRUE(repub.ok());
  EXPECT_NE(repub->share_token, token);
  EXPECT_EQ(store_->GetAppByShareToken(token).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetAppByShareToken(repub->share_token).ok());

  EXPECT_EQ(store_->SetVisibility(a.app_id, "everyone", false).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->SetVisibility("app-0000000000000000", "public", false).status().code(),
            StatusCode::kNotFound);
}

TEST_F(AppStoreTest, DiscoverListsPublicListedOnly) {
  StoredApp hidden = Create("Private");
  StoredApp link_only = Create("Link only");
  StoredApp first = Create("Listed first");
  ASSERT_TRUE(store_->SetVisibility(link_only.app_id, "public", false).ok());
  ASSERT_TRUE(store_->SetVisibility(first.app_id, "public", true).ok());
  ::usleep(2000);
  StoredApp second = Create("Listed second", "AIDAUSER2");
  ASSERT_TRUE(store_->SetVisibility(second.app_id, "public", true).ok());

  auto discover = store_->ListDiscover(10);
  ASSERT_TRUE(discover.ok());
  ASSERT_EQ(discover->size(), 2u);
  EXPECT_EQ((*discover)[0].app_id, second.app_id);  // newest first
  EXPECT_EQ((*discover)[1].app_id, first.app_id);
  EXPECT_EQ(store_->ListDiscover(1)->size(), 1u);

  ASSERT_TRUE(store_->SetVisibility(second.app_id, "private", false).ok());
  discover = store_->ListDiscover(10);
  ASSERT_EQ(discover->size(), 1u);
  EXPECT_EQ((*discover)[0].app_id, first.app_id);
  (void)hidden;
}

TEST_F(AppStoreTest, RemixRemembersOrigin) {
  StoredApp original = Create("Original");
  auto remix = store_->CreateApp("222222222222", "AIDAUSER2", original.definition_json, "remixed",
                                 original.app_id, original.title);
  ASSERT_TRUE(remix.ok());
  EXPECT_NE(remix->app_id, original.app_id);
  EXPECT_EQ(remix->account_id, "222222222222");
  EXPECT_EQ(remix->remixed_from, original.app_id);
  EXPECT_EQ(remix->remixed_from_title, "Original");
  EXPECT_EQ(remix->version, 1);
  EXPECT_EQ(store_->ListVersions(remix->app_id)->at(0).note, "remixed");
  // The origin is remembered even after the original is gone.
  ASSERT_TRUE(store_->DeleteApp(original.app_id).ok());
  EXPECT_EQ(store_->GetApp(remix->app_id)->remixed_from, original.app_id);
  EXPECT_EQ(original.remixed_from, "");
}

TEST_F(AppStoreTest, RunsAndInterruptedRuns) {
  StoredApp a = Create("Runs");
  auto id1 = NewRunId();
  auto id2 = NewRunId();
  ASSERT_TRUE(id1.ok() && id2.ok());
  EXPECT_TRUE(std::regex_match(*id1, std::regex("run-[0-9a-f]{16}"))) << *id1;
  EXPECT_NE(*id1, *id2);

  AppRun r1{*id1, a.app_id, "111111111111", "AIDAUSER1", 1, "running", "w4,w5", "", 1000, 0};
  AppRun r2{*id2, a.app_id, "222222222222", "AIDAUSER2", 1, "", "w4", "", 2000, 0};
  ASSERT_TRUE(store_->CreateRun(r1).ok());
  ASSERT_TRUE(store_->CreateRun(r2).ok());
  EXPECT_EQ(store_->CreateRun(r1).code(), StatusCode::kAlreadyExists);
  AppRun orphan = r1;
  orphan.run_id = *NewRunId();
  orphan.app_id = "app-0000000000000000";
  EXPECT_EQ(store_->CreateRun(orphan).code(), StatusCode::kNotFound);
  AppRun bad = r1;
  bad.run_id = *NewRunId();
  bad.status = "exploded";
  EXPECT_EQ(store_->CreateRun(bad).code(), StatusCode::kInvalidArgument);

  auto runs = store_->ListRuns(a.app_id, "", 10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].run_id, *id2);  // newest first
  EXPECT_EQ((*runs)[0].status, "running");
  EXPECT_EQ((*runs)[1].widgets, "w4,w5");
  EXPECT_EQ(store_->ListRuns(a.app_id, "", 1)->size(), 1u);
  auto user2 = store_->ListRuns("", "AIDAUSER2", 10);
  ASSERT_EQ(user2->size(), 1u);
  EXPECT_EQ((*user2)[0].account_id, "222222222222");
  EXPECT_EQ(store_->ListRuns("", "", 10).status().code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(store_->FinishRun(*id1, "succeeded", "", 1500).ok());
  EXPECT_EQ(store_->FinishRun(*id1, "running", "", 1500).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->FinishRun("run-0000000000000000", "failed", "x", 1).code(),
            StatusCode::kNotFound);

  // A restart finds r2 still running: it becomes failed, r1 keeps its status.
  Reopen();
  auto marked = store_->MarkInterruptedRuns(9000);
  ASSERT_TRUE(marked.ok());
  EXPECT_EQ(*marked, 1);
  EXPECT_EQ(*store_->MarkInterruptedRuns(9001), 0);
  runs = store_->ListRuns(a.app_id, "", 10);
  EXPECT_EQ((*runs)[0].status, "failed");
  EXPECT_EQ((*runs)[0].finished_at, 9000);
  EXPECT_FALSE((*runs)[0].error.empty());
  EXPECT_EQ((*runs)[1].status, "succeeded");
  EXPECT_EQ((*runs)[1].finished_at, 1500);
}

TEST_F(AppStoreTest, DeleteRemovesVersionsAndRuns) {
  StoredApp a = Create("Doomed");
  StoredApp kept = Create("Kept");
  ASSERT_TRUE(store_->SaveVersion(a.app_id, "AIDAUSER1", Def("Doomed 2"), "edited", 1).ok());
  ASSERT_TRUE(store_->SetVisibility(a.app_id, "public", true).ok());
  const std::string token = store_->GetApp(a.app_id)->share_token;
  AppRun run{*NewRunId(), a.app_id, "111111111111", "AIDAUSER1", 2, "running", "w1", "", 0, 0};
  ASSERT_TRUE(store_->CreateRun(run).ok());
  AppRun other{*NewRunId(), kept.app_id, "111111111111", "AIDAUSER1", 1, "running", "w1", "", 0, 0};
  ASSERT_TRUE(store_->CreateRun(other).ok());

  ASSERT_TRUE(store_->DeleteApp(a.app_id).ok());
  EXPECT_EQ(store_->GetApp(a.app_id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->GetAppByShareToken(token).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteApp(a.app_id).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->ListDiscover(10)->size(), 0u);
  EXPECT_EQ(store_->ListRuns("", "AIDAUSER1", 10)->size(), 1u);
  store_.reset();
  // Nothing of it is left in the file.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  for (const char* table : {"app_versions", "app_runs"}) {
    std::string sql = std::string("SELECT COUNT(*) FROM ") + table + " WHERE app_id = ?";
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
    sqlite3_bind_text(stmt, 1, a.app_id.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(stmt, 0), 0) << table;
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
}

TEST_F(AppStoreTest, Documents) {
  Document doc;
  doc.account_id = "111111111111";
  doc.user_id = "AIDAUSER1";
  doc.name = "brochure.pdf";
  doc.media_type = "application/pdf";
  doc.bytes = 12345;
  doc.text = "Jeju: volcanic island. 제주도";
  auto created = store_->CreateDocument(doc);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_TRUE(std::regex_match(created->document_id, std::regex("doc-[0-9a-f]{16}")));
  EXPECT_GT(created->created_at, 0);
  auto got = store_->GetDocument(created->document_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->text, doc.text);
  EXPECT_EQ(got->name, "brochure.pdf");
  EXPECT_EQ(got->media_type, "application/pdf");
  EXPECT_EQ(got->bytes, 12345);
  EXPECT_EQ(got->user_id, "AIDAUSER1");
  EXPECT_EQ(store_->GetDocument("doc-0000000000000000").status().code(), StatusCode::kNotFound);
  Document anonymous = doc;
  anonymous.user_id = "";
  EXPECT_EQ(store_->CreateDocument(anonymous).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(AppStoreTest, SettingsAndPersistenceAcrossReopen) {
  EXPECT_EQ(*store_->GetSetting("samples_seeded"), "");
  ASSERT_TRUE(store_->PutSetting("samples_seeded", "1").ok());
  ASSERT_TRUE(store_->PutSetting("samples_seeded", "2").ok());
  StoredApp a = Create("Durable");
  ASSERT_TRUE(store_->SaveVersion(a.app_id, "AIDAUSER1", Def("Durable 2"), "edited", 1).ok());
  auto shared = store_->SetVisibility(a.app_id, "public", true);
  ASSERT_TRUE(shared.ok());
  Document doc{"", "111111111111", "AIDAUSER1", "a.txt", "text/plain", 3, "abc", 0};
  auto created = store_->CreateDocument(doc);
  ASSERT_TRUE(created.ok());

  Reopen();
  EXPECT_EQ(*store_->GetSetting("samples_seeded"), "2");
  auto got = store_->GetApp(a.app_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->title, "Durable 2");
  EXPECT_EQ(got->share_token, shared->share_token);
  EXPECT_TRUE(store_->GetAppByShareToken(shared->share_token).ok());
  EXPECT_EQ(store_->ListVersions(a.app_id)->size(), 2u);
  EXPECT_EQ(store_->GetDocument(created->document_id)->text, "abc");

  // The database file is private to the server's user, and the schema is versioned.
  struct stat st{};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 1);
  sqlite3_finalize(stmt);
  // A database from a newer build is refused, not misread.
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto newer = AppStore::OpenSqlite(path_);
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.status().message().find("newer"), std::string::npos);
}

TEST_F(AppStoreTest, OpenFailsOnAnUnusablePath) {
  // A directory where the file should be: the open fails with a message naming the path.
  fs::create_directories(dir_ / "is_a_dir.db");
  auto opened = AppStore::OpenSqlite((dir_ / "is_a_dir.db").string());
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("is_a_dir.db"), std::string::npos);
}

TEST_F(AppStoreTest, ConcurrentSavesOneWinnerPerBaseVersion) {
  StoredApp a = Create("Race");
  constexpr int kThreads = 8;
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    const int64_t base = 1 + round;
    std::atomic<int> won{0}, stale{0}, other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto saved = store_->SaveVersion(
            a.app_id, "AIDAUSER1",
            Def("round " + std::to_string(round) + " thread " + std::to_string(t)), "edited", base);
        if (saved.ok()) {
          ++won;
        } else if (saved.status().code() == StatusCode::kFailedPrecondition) {
          ++stale;
        } else {
          ++other;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(won.load(), 1) << "round " << round;
    EXPECT_EQ(stale.load(), kThreads - 1);
    EXPECT_EQ(other.load(), 0);
  }
  auto versions = store_->ListVersions(a.app_id);
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->size(), static_cast<size_t>(1 + kRounds));
  EXPECT_EQ(store_->GetApp(a.app_id)->version, 1 + kRounds);
}

TEST_F(AppStoreTest, TwoConnectionsOnOneFileAgree) {
  // A second process (a restart overlapping the old one) sees whole changes and respects the
  // same version check: the transaction reads the version it writes over.
  StoredApp a = Create("Two");
  auto second = AppStore::OpenSqlite(path_);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE((*second)->SaveVersion(a.app_id, "AIDAUSER1", Def("Two b"), "edited", 1).ok());
  EXPECT_EQ(store_->SaveVersion(a.app_id, "AIDAUSER1", Def("Two c"), "edited", 1).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->GetApp(a.app_id)->title, "Two b");
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.insert(*NewRunId());
  EXPECT_EQ(ids.size(), 50u);
}

}  // namespace
}  // namespace basalt::apps
