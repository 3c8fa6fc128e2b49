// The SQLite implementation of AppStore (apps.db in the data dir): one connection behind a
// mutex, WAL journal, synchronous=FULL, schema versioned by PRAGMA user_version, set up by
// the helpers every store shares (src/store/sqlite_util.h). Multi-statement changes run in BEGIN
// IMMEDIATE transactions, so a second process on the same file (a restart overlapping the old one)
// sees whole changes.
#include <openssl/rand.h>
#include <sqlite3.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>

#include "apps/app_store.h"
#include "store/sqlite_util.h"

namespace basalt::apps {
namespace sqlite_app_store {
namespace {

using store::sqlite::Stmt;
using store::sqlite::Transaction;

constexpr int kIdAttempts = 8;  // random ids that collide are drawn again

// Each entry moves the schema from version i to i+1; never edit one that has shipped.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE apps (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  title TEXT NOT NULL,
  description TEXT NOT NULL,
  visibility TEXT NOT NULL CHECK (visibility IN ('private', 'public')),
  share_token TEXT UNIQUE,  -- NULL while private
  listed INTEGER NOT NULL CHECK (listed IN (0, 1)),
  version INTEGER NOT NULL,
  remixed_from TEXT NOT NULL,
  remixed_from_title TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX apps_by_owner ON apps(account_id, user_id, updated_at);
CREATE INDEX apps_listed ON apps(updated_at) WHERE visibility = 'public' AND listed = 1;
CREATE TABLE app_versions (
  app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  definition TEXT NOT NULL,
  user_id TEXT NOT NULL,
  note TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (app_id, version)
) STRICT;
CREATE TABLE app_runs (
  id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  account_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  app_version INTEGER NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('running', 'succeeded', 'failed', 'stopped', 'superseded')),
  widgets TEXT NOT NULL,
  error TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL
) STRICT;
CREATE INDEX app_runs_by_app ON app_runs(app_id, started_at);
CREATE INDEX app_runs_by_user ON app_runs(user_id, started_at);
CREATE INDEX app_runs_running ON app_runs(status) WHERE status = 'running';
CREATE TABLE documents (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL,
  media_type TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  text TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE app_settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
)sql",
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

StatusOr<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return Status::Internal("the random number generator failed");
  }
  return out;
}

// prefix + 16 lower-case hex digits (64 random bits).
StatusOr<std::string> RandomHexId(std::string_view prefix) {
  StatusOr<std::string> bytes = RandomBytes(8);
  if (!bytes.ok()) return bytes.status();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(prefix);
  for (unsigned char b : *bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 15]);
  }
  return id;
}

// 32 URL-safe characters (base64url of 24 random bytes: 192 bits).
StatusOr<std::string> RandomShareToken() {
  StatusOr<std::string> bytes = RandomBytes(24);
  if (!bytes.ok()) return bytes.status();
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes->data());
  for (size_t i = 0; i < bytes->size(); i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) token.push_back(kAlphabet[(v >> shift) & 63]);
  }
  return token;
}

struct TitleAndDescription {
  std::string title, description;
};

// The two fields the apps table copies from a definition (the definition library validates
// the rest before it gets here).
StatusOr<TitleAndDescription> ReadTitleAndDescription(const std::string& definition_json) {
  nlohmann::json def = nlohmann::json::parse(definition_json, nullptr, /*allow_exceptions=*/false);
  if (!def.is_object()) {
    return Status::InvalidArgument("the app definition must be a JSON object");
  }
  TitleAndDescription out;
  if (auto it = def.find("title"); it != def.end() && it->is_string()) out.title = *it;
  if (auto it = def.find("description"); it != def.end() && it->is_string()) {
    out.description = *it;
  }
  return out;
}

bool ValidRunStatus(const std::string& s) {
  return s == "running" || s == "succeeded" || s == "failed" || s == "stopped" || s == "superseded";
}

constexpr char kAppCols[] =
    "SELECT a.id, a.account_id, a.user_id, a.title, a.description, a.visibility, "
    "COALESCE(a.share_token, ''), a.listed, a.version, v.definition, a.remixed_from, "
    "a.remixed_from_title, a.created_at, a.updated_at FROM apps a "
    "JOIN app_versions v ON v.app_id = a.id AND v.version = a.version";

StoredApp ReadApp(const Stmt& s) {
  StoredApp app;
  app.app_id = s.Text(0);
  app.account_id = s.Text(1);
  app.user_id = s.Text(2);
  app.title = s.Text(3);
  app.description = s.Text(4);
  app.visibility = s.Text(5);
  app.share_token = s.Text(6);
  app.listed = s.Int(7) != 0;
  app.version = s.Int(8);
  app.definition_json = s.Text(9);
  app.remixed_from = s.Text(10);
  app.remixed_from_title = s.Text(11);
  app.created_at = s.Int(12);
  app.updated_at = s.Int(13);
  return app;
}

constexpr char kRunCols[] =
    "SELECT id, app_id, account_id, user_id, app_version, status, widgets, error, started_at, "
    "finished_at FROM app_runs";

AppRun ReadRun(const Stmt& s) {
  return {s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4),
          s.Text(5), s.Text(6), s.Text(7), s.Int(8),  s.Int(9)};
}

constexpr char kDocumentCols[] =
    "SELECT id, account_id, user_id, name, media_type, bytes, text, created_at FROM documents";

Document ReadDocument(const Stmt& s) {
  return {s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Int(5), s.Text(6), s.Int(7)};
}

class SqliteAppStore final : public AppStore {
 public:
  explicit SqliteAppStore(sqlite3* db) : db_(db) {}
  ~SqliteAppStore() override { sqlite3_close_v2(db_); }

  Status Init() {
    BASALT_RETURN_IF_ERROR(store::sqlite::ConfigureWriter(db_));
    return store::sqlite::Migrate(db_, "apps store", kMigrations);
  }

  StatusOr<StoredApp> CreateApp(const std::string& account_id, const std::string& user_id,
                                const std::string& definition_json, const std::string& note,
                                const std::string& remixed_from,
                                const std::string& remixed_from_title) override {
    if (account_id.empty() || user_id.empty()) {
      return Status::InvalidArgument("an app needs an owner account and user");
    }
    StatusOr<TitleAndDescription> td = ReadTitleAndDescription(definition_json);
    if (!td.ok()) return td.status();
    const int64_t now = NowMs();
    std::lock_guard lock(mu_);
    for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
      StatusOr<std::string> id = RandomHexId("app-");
      if (!id.ok()) return id.status();
      Transaction tx(db_);
      BASALT_RETURN_IF_ERROR(tx.begin_status());
      Stmt s(db_,
             "INSERT INTO apps (id, account_id, user_id, title, description, visibility, "
             "share_token, listed, version, remixed_from, remixed_from_title, created_at, "
             "updated_at) VALUES (?, ?, ?, ?, ?, 'private', NULL, 0, 1, ?, ?, ?, ?)");
      s.Bind(1, *id).Bind(2, account_id).Bind(3, user_id).Bind(4, td->title);
      s.Bind(5, td->description).Bind(6, remixed_from).Bind(7, remixed_from_title);
      s.Bind(8, now).Bind(9, now);
      Status st = s.Run();
      if (!st.ok() && s.constraint_violation()) continue;  // id taken: draw again
      BASALT_RETURN_IF_ERROR(st);
      BASALT_RETURN_IF_ERROR(InsertVersion(*id, 1, definition_json, user_id, note, now));
      BASALT_RETURN_IF_ERROR(tx.Commit());
      return GetAppLocked(*id);
    }
    return Status::Internal("could not draw a free app id");
  }

  StatusOr<StoredApp> GetApp(const std::string& app_id) override {
    std::lock_guard lock(mu_);
    return GetAppLocked(app_id);
  }

  StatusOr<StoredApp> GetAppByShareToken(const std::string& token) override {
    if (token.empty()) return Status::NotFound("shared app not found");
    std::lock_guard lock(mu_);
    Stmt s(db_, std::string(kAppCols) + " WHERE a.share_token = ? AND a.visibility = 'public'");
    s.Bind(1, token);
    if (s.Step()) return ReadApp(s);
    BASALT_RETURN_IF_ERROR(s.status());
    return Status::NotFound("shared app not found (the link may have been withdrawn)");
  }

  StatusOr<std::vector<StoredApp>> ListApps(const std::string& account_id,
                                            const std::string& user_id) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, std::string(kAppCols) +
                    " WHERE a.account_id = ? AND a.user_id = ?"
                    " ORDER BY a.updated_at DESC, a.created_at DESC, a.id");
    s.Bind(1, account_id).Bind(2, user_id);
    return Collect(s);
  }

  StatusOr<std::vector<StoredApp>> ListDiscover(int limit) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, std::string(kAppCols) +
                    " WHERE a.visibility = 'public' AND a.listed = 1"
                    " ORDER BY a.updated_at DESC, a.id LIMIT ?");
    s.Bind(1, int64_t{limit > 0 ? limit : -1});
    return Collect(s);
  }

  StatusOr<StoredApp> SaveVersion(const std::string& app_id, const std::string& user_id,
                                  const std::string& definition_json, const std::string& note,
                                  int64_t base_version) override {
    StatusOr<TitleAndDescription> td = ReadTitleAndDescription(definition_json);
    if (!td.ok()) return td.status();
    const int64_t now = NowMs();
    std::lock_guard lock(mu_);
    Transaction tx(db_);
    BASALT_RETURN_IF_ERROR(tx.begin_status());
    int64_t current = 0;
    {
      Stmt s(db_, "SELECT version FROM apps WHERE id = ?");
      s.Bind(1, app_id);
      if (!s.Step()) {
        BASALT_RETURN_IF_ERROR(s.status());
        return Status::NotFound("app " + app_id + " not found");
      }
      current = s.Int(0);
    }
    if (base_version > 0 && base_version != current) {
      // Reason "Conflict": api/errors.cc answers 409 ConflictException.
      return Status(StatusCode::kFailedPrecondition,
                    "the app changed since you opened it (you edited version " +
                        std::to_string(base_version) + ", it is now at version " +
                        std::to_string(current) + "): reload it and make your change again",
                    "Conflict");
    }
    const int64_t next = current + 1;
    BASALT_RETURN_IF_ERROR(InsertVersion(app_id, next, definition_json, user_id, note, now));
    Stmt u(db_,
           "UPDATE apps SET version = ?, title = ?, description = ?, updated_at = ? WHERE id = ?");
    u.Bind(1, next).Bind(2, td->title).Bind(3, td->description).Bind(4, now).Bind(5, app_id);
    BASALT_RETURN_IF_ERROR(u.Run());
    BASALT_RETURN_IF_ERROR(tx.Commit());
    return GetAppLocked(app_id);
  }

  StatusOr<std::vector<AppVersion>> ListVersions(const std::string& app_id) override {
    std::lock_guard lock(mu_);
    BASALT_RETURN_IF_ERROR(AppExistsLocked(app_id));
    Stmt s(db_,
           "SELECT version, definition, user_id, note, created_at FROM app_versions "
           "WHERE app_id = ? ORDER BY version");
    s.Bind(1, app_id);
    std::vector<AppVersion> out;
    while (s.Step()) out.push_back({s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4)});
    BASALT_RETURN_IF_ERROR(s.status());
    return out;
  }

  StatusOr<AppVersion> GetVersion(const std::string& app_id, int64_t version) override {
    std::lock_guard lock(mu_);
    Stmt s(db_,
           "SELECT version, definition, user_id, note, created_at FROM app_versions "
           "WHERE app_id = ? AND version = ?");
    s.Bind(1, app_id).Bind(2, version);
    if (s.Step()) return AppVersion{s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4)};
    BASALT_RETURN_IF_ERROR(s.status());
    BASALT_RETURN_IF_ERROR(AppExistsLocked(app_id));
    return Status::NotFound("app " + app_id + " has no version " + std::to_string(version));
  }

  StatusOr<StoredApp> SetVisibility(const std::string& app_id, const std::string& visibility,
                                    bool listed) override {
    if (visibility != "private" && visibility != "public") {
      return Status::InvalidArgument("visibility must be 'private' or 'public', not '" +
                                     visibility + "'");
    }
    const int64_t now = NowMs();
    std::lock_guard lock(mu_);
    StatusOr<StoredApp> app = GetAppLocked(app_id);
    if (!app.ok()) return app.status();
    if (visibility == "private") {
      Stmt s(db_,
             "UPDATE apps SET visibility = 'private', share_token = NULL, listed = 0, "
             "updated_at = ? WHERE id = ?");
      s.Bind(1, now).Bind(2, app_id);
      BASALT_RETURN_IF_ERROR(s.Run());
      return GetAppLocked(app_id);
    }
    for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
      std::string token = app->share_token;  // public already: the link stays the same
      if (token.empty()) {
        StatusOr<std::string> fresh = RandomShareToken();
        if (!fresh.ok()) return fresh.status();
        token = *fresh;
      }
      Stmt s(db_,
             "UPDATE apps SET visibility = 'public', share_token = ?, listed = ?, updated_at = ? "
             "WHERE id = ?");
      s.Bind(1, token).Bind(2, int64_t{listed ? 1 : 0}).Bind(3, now).Bind(4, app_id);
      Status st = s.Run();
      if (!st.ok() && s.constraint_violation() && app->share_token.empty()) continue;
      BASALT_RETURN_IF_ERROR(st);
      return GetAppLocked(app_id);
    }
    return Status::Internal("could not draw a free share token");
  }

  Status DeleteApp(const std::string& app_id) override {
    std::lock_guard lock(mu_);
    // Versions and runs go with it (ON DELETE CASCADE).
    Stmt s(db_, "DELETE FROM apps WHERE id = ?");
    s.Bind(1, app_id);
    BASALT_RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(db_) == 0) return Status::NotFound("app " + app_id + " not found");
    return Status::Ok();
  }

  Status CreateRun(const AppRun& run) override {
    if (run.run_id.empty()) return Status::InvalidArgument("a run needs an id (NewRunId)");
    const std::string status = run.status.empty() ? "running" : run.status;
    if (!ValidRunStatus(status)) {
      return Status::InvalidArgument("unknown run status '" + status + "'");
    }
    std::lock_guard lock(mu_);
    Stmt s(db_,
           "INSERT INTO app_runs (id, app_id, account_id, user_id, app_version, status, widgets, "
           "error, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.Bind(1, run.run_id).Bind(2, run.app_id).Bind(3, run.account_id).Bind(4, run.user_id);
    s.Bind(5, run.app_version).Bind(6, status).Bind(7, run.widgets).Bind(8, run.error);
    s.Bind(9, run.started_at > 0 ? run.started_at : NowMs()).Bind(10, run.finished_at);
    Status st = s.Run();
    if (s.foreign_key_violation()) return Status::NotFound("app " + run.app_id + " not found");
    if (s.constraint_violation()) {
      return Status::AlreadyExists("run " + run.run_id + " already exists");
    }
    return st;
  }

  Status FinishRun(const std::string& run_id, const std::string& status, const std::string& error,
                   int64_t finished_at) override {
    if (!ValidRunStatus(status) || status == "running") {
      return Status::InvalidArgument("a run cannot finish with status '" + status + "'");
    }
    std::lock_guard lock(mu_);
    Stmt s(db_, "UPDATE app_runs SET status = ?, error = ?, finished_at = ? WHERE id = ?");
    s.Bind(1, status).Bind(2, error).Bind(3, finished_at > 0 ? finished_at : NowMs());
    s.Bind(4, run_id);
    BASALT_RETURN_IF_ERROR(s.Run());
    if (sqlite3_changes(db_) == 0) return Status::NotFound("run " + run_id + " not found");
    return Status::Ok();
  }

  StatusOr<std::vector<AppRun>> ListRuns(const std::string& app_id, const std::string& user_id,
                                         int limit) override {
    const int64_t n = limit > 0 ? limit : -1;
    std::lock_guard lock(mu_);
    if (!app_id.empty()) {
      Stmt s(db_, std::string(kRunCols) + " WHERE app_id = ? ORDER BY started_at DESC, id LIMIT ?");
      s.Bind(1, app_id).Bind(2, n);
      return CollectRuns(s);
    }
    if (user_id.empty()) return Status::InvalidArgument("ListRuns needs an app id or a user id");
    Stmt s(db_, std::string(kRunCols) + " WHERE user_id = ? ORDER BY started_at DESC, id LIMIT ?");
    s.Bind(1, user_id).Bind(2, n);
    return CollectRuns(s);
  }

  StatusOr<int64_t> MarkInterruptedRuns(int64_t now) override {
    std::lock_guard lock(mu_);
    Stmt s(db_,
           "UPDATE app_runs SET status = 'failed', finished_at = ?, "
           "error = CASE WHEN error = '' THEN 'The server stopped while the app was running.' "
           "ELSE error END WHERE status = 'running'");
    s.Bind(1, now);
    BASALT_RETURN_IF_ERROR(s.Run());
    return int64_t{sqlite3_changes(db_)};
  }

  StatusOr<Document> CreateDocument(const Document& doc) override {
    if (doc.account_id.empty() || doc.user_id.empty()) {
      return Status::InvalidArgument("a document needs an uploader");
    }
    Document out = doc;
    out.created_at = NowMs();
    std::lock_guard lock(mu_);
    for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
      StatusOr<std::string> id = RandomHexId("doc-");
      if (!id.ok()) return id.status();
      out.document_id = *id;
      Stmt s(db_,
             "INSERT INTO documents (id, account_id, user_id, name, media_type, bytes, text, "
             "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
      s.Bind(1, out.document_id).Bind(2, out.account_id).Bind(3, out.user_id).Bind(4, out.name);
      s.Bind(5, out.media_type).Bind(6, out.bytes).Bind(7, out.text).Bind(8, out.created_at);
      Status st = s.Run();
      if (st.ok()) return out;
      if (!s.constraint_violation()) return st;
    }
    return Status::Internal("could not draw a free document id");
  }

  StatusOr<Document> GetDocument(const std::string& document_id) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, std::string(kDocumentCols) + " WHERE id = ?");
    s.Bind(1, document_id);
    if (s.Step()) return ReadDocument(s);
    BASALT_RETURN_IF_ERROR(s.status());
    return Status::NotFound("document " + document_id + " not found");
  }

  StatusOr<std::string> GetSetting(const std::string& key) override {
    std::lock_guard lock(mu_);
    Stmt s(db_, "SELECT value FROM app_settings WHERE key = ?");
    s.Bind(1, key);
    if (s.Step()) return s.Text(0);
    BASALT_RETURN_IF_ERROR(s.status());
    return std::string();
  }

  Status PutSetting(const std::string& key, const std::string& value) override {
    std::lock_guard lock(mu_);
    Stmt s(db_,
           "INSERT INTO app_settings (key, value) VALUES (?, ?) "
           "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    s.Bind(1, key).Bind(2, value);
    return s.Run();
  }

 private:
  Status InsertVersion(const std::string& app_id, int64_t version, const std::string& definition,
                       const std::string& user_id, const std::string& note, int64_t now) {
    Stmt s(db_,
           "INSERT INTO app_versions (app_id, version, definition, user_id, note, created_at) "
           "VALUES (?, ?, ?, ?, ?, ?)");
    s.Bind(1, app_id).Bind(2, version).Bind(3, definition).Bind(4, user_id).Bind(5, note);
    s.Bind(6, now);
    return s.Run();
  }

  StatusOr<StoredApp> GetAppLocked(const std::string& app_id) {
    Stmt s(db_, std::string(kAppCols) + " WHERE a.id = ?");
    s.Bind(1, app_id);
    if (s.Step()) return ReadApp(s);
    BASALT_RETURN_IF_ERROR(s.status());
    return Status::NotFound("app " + app_id + " not found");
  }

  Status AppExistsLocked(const std::string& app_id) {
    Stmt s(db_, "SELECT 1 FROM apps WHERE id = ?");
    s.Bind(1, app_id);
    if (s.Step()) return Status::Ok();
    BASALT_RETURN_IF_ERROR(s.status());
    return Status::NotFound("app " + app_id + " not found");
  }

  static StatusOr<std::vector<StoredApp>> Collect(Stmt& s) {
    std::vector<StoredApp> out;
    while (s.Step()) out.push_back(ReadApp(s));
    BASALT_RETURN_IF_ERROR(s.status());
    return out;
  }

  static StatusOr<std::vector<AppRun>> CollectRuns(Stmt& s) {
    std::vector<AppRun> out;
    while (s.Step()) out.push_back(ReadRun(s));
    BASALT_RETURN_IF_ERROR(s.status());
    return out;
  }

  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace
}  // namespace sqlite_app_store

StatusOr<std::string> NewRunId() { return sqlite_app_store::RandomHexId("run-"); }

StatusOr<std::unique_ptr<AppStore>> AppStore::OpenSqlite(const std::string& path) {
  BASALT_RETURN_IF_ERROR(store::sqlite::EnsureParentDir(path));
  BASALT_RETURN_IF_ERROR(store::sqlite::CreatePrivateFile(path));
  BASALT_ASSIGN_OR_RETURN(
      sqlite3 * db, store::sqlite::OpenConnection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                                  "the apps store"));
  auto store = std::make_unique<sqlite_app_store::SqliteAppStore>(db);
  Status st = store->Init();
  if (!st.ok()) {
    return Status::Internal("cannot open the apps store " + path + ": " + st.message());
  }
  return std::unique_ptr<AppStore>(std::move(store));
}

}  // namespace basalt::apps
