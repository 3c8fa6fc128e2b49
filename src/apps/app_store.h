// The apps' durable state (docs/apps.md): apps with every saved version, share links, remix
// origins, Discover listings, runs, and uploaded documents. SQLite (apps.db in the data dir);
// a PostgreSQL implementation can follow the same interface.
//
// Credits are not kept here: an app run's cost is in the usage records (source "app", with
// the app id), and Backstage and the daily allowance read them from there, so the two can
// never disagree.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace basalt::apps {

struct StoredApp {
  std::string app_id;                  // "app-" + 16 lower-case hex
  std::string account_id;              // owner
  std::string user_id;                 // owner
  std::string title;                   // copied from the current version's definition
  std::string description;             // same
  std::string visibility = "private";  // "private" or "public" (shared by link)
  std::string share_token;             // set while public: 32 url-safe characters
  bool listed = false;          // shown in Discover (the samples; shared apps when the owner asks)
  int64_t version = 0;          // the current version
  std::string definition_json;  // of the current version
  std::string remixed_from;     // app id it was remixed from; "" when none
  std::string remixed_from_title;
  int64_t created_at = 0;  // unix ms
  int64_t updated_at = 0;
};

struct AppVersion {
  int64_t version = 0;
  std::string definition_json;
  std::string user_id;  // who saved it
  std::string note;     // "created", "edited", "generated", "restored 3", "remixed", ...
  int64_t created_at = 0;
};

struct AppRun {
  std::string run_id;  // "run-" + 16 hex
  std::string app_id;
  std::string account_id;  // the runner's
  std::string user_id;
  int64_t app_version = 0;
  std::string status;      // "running", "succeeded", "failed", "stopped", "superseded"
  std::string widgets;     // the widget ids that ran, comma-separated
  std::string error;       // first error message, if any
  int64_t started_at = 0;  // unix ms
  int64_t finished_at = 0;
};

struct Document {
  std::string document_id;          // "doc-" + 16 hex
  std::string account_id, user_id;  // the uploader; only they may use or read it
  std::string name;                 // file name as uploaded
  std::string media_type;           // "text/plain", "text/markdown", "application/pdf"
  int64_t bytes = 0;                // of the upload
  std::string text;                 // extracted text (UTF-8)
  int64_t created_at = 0;
};

// A fresh run id ("run-" + 16 hex, from the OpenSSL random generator) for CreateRun.
StatusOr<std::string> NewRunId();

class AppStore {
 public:
  // Opens (creating if needed) the SQLite database at `path`, applying migrations.
  static StatusOr<std::unique_ptr<AppStore>> OpenSqlite(const std::string& path);
  virtual ~AppStore() = default;

  // Creates an app with version 1. `definition_json` must already validate (callers check);
  // title and description are read from it. `note` goes to the version.
  virtual StatusOr<StoredApp> CreateApp(const std::string& account_id, const std::string& user_id,
                                        const std::string& definition_json, const std::string& note,
                                        const std::string& remixed_from = "",
                                        const std::string& remixed_from_title = "") = 0;
  // kNotFound for an unknown or deleted app.
  virtual StatusOr<StoredApp> GetApp(const std::string& app_id) = 0;
  virtual StatusOr<StoredApp> GetAppByShareToken(const std::string& token) = 0;  // kNotFound
  // Apps owned by the user, newest change first.
  virtual StatusOr<std::vector<StoredApp>> ListApps(const std::string& account_id,
                                                    const std::string& user_id) = 0;
  // Public listed apps, newest first.
  virtual StatusOr<std::vector<StoredApp>> ListDiscover(int limit) = 0;
  // Saves a new version. `base_version` > 0 must equal the current version, else
  // kFailedPrecondition ("the app changed since you opened it": the editor reloads).
  virtual StatusOr<StoredApp> SaveVersion(const std::string& app_id, const std::string& user_id,
                                          const std::string& definition_json,
                                          const std::string& note, int64_t base_version) = 0;
  virtual StatusOr<std::vector<AppVersion>> ListVersions(const std::string& app_id) = 0;
  virtual StatusOr<AppVersion> GetVersion(const std::string& app_id, int64_t version) = 0;
  // Public with a new token (or the existing one), or private (token withdrawn; the old link
  // then fails). `listed` only applies when public.
  virtual StatusOr<StoredApp> SetVisibility(const std::string& app_id,
                                            const std::string& visibility, bool listed) = 0;
  virtual Status DeleteApp(const std::string& app_id) = 0;  // its versions and runs too

  // kNotFound for an unknown app, kAlreadyExists for a run id in use; an empty status is
  // "running", started_at 0 is now. FinishRun: kNotFound for an unknown run.
  virtual Status CreateRun(const AppRun& run) = 0;
  virtual Status FinishRun(const std::string& run_id, const std::string& status,
                           const std::string& error, int64_t finished_at) = 0;
  // Runs of an app by anyone (for its owner), newest first; or a user's own runs of any app
  // when app_id is "" (user_id is not used when app_id is set). limit <= 0: all.
  virtual StatusOr<std::vector<AppRun>> ListRuns(const std::string& app_id,
                                                 const std::string& user_id, int limit) = 0;
  // Marks runs still "running" as "failed" (after a crash). Returns how many.
  virtual StatusOr<int64_t> MarkInterruptedRuns(int64_t now) = 0;

  virtual StatusOr<Document> CreateDocument(const Document& doc) = 0;  // fills id, created_at
  virtual StatusOr<Document> GetDocument(const std::string& document_id) = 0;  // kNotFound

  // Settings (the samples' seed mark, the samples' account).
  virtual StatusOr<std::string> GetSetting(const std::string& key) = 0;  // "" when unset
  virtual Status PutSetting(const std::string& key, const std::string& value) = 0;
};

}  // namespace basalt::apps
