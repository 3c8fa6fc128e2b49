// The Bedrock HTTP API: routes raw request paths to the runtime operations (InvokeModel,
// InvokeModelWithResponseStream, Converse, ConverseStream, CountTokens) and the control-plane
// catalog operations, authenticates every call, and renders every reply (errors included) in
// the service's wire shape. See shared/docs/bedrock-api.md (the wire reference).
//
// Thread-safety: Handle() is called concurrently from the HTTP server's worker threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "apps/app_store.h"
#include "catalog/catalog.h"
#include "engine/engine.h"
#include "http/http_server.h"
#include "image/image.h"
#include "metering/invocation_log.h"
#include "metering/metrics.h"
#include "metering/quota.h"
#include "metering/usage.h"
#include "models/pull_jobs.h"
#include "models/reload.h"
#include "store/store.h"

namespace basalt::api {

// The web console (docs/console.md).
struct ConsoleOptions {
  std::chrono::seconds session_ttl{43'200};
  int signin_max_failures = 5;              // per (account, user name); 4x per client address
  std::chrono::seconds signin_lockout{30};  // doubles per further failure, at most 15 min
  std::string static_dir;       // serve the front end from here instead of the embedded copy
  bool secure_cookies = false;  // the server speaks TLS: cookies get `Secure`
};

// Apps (docs/apps.md).
struct AppsOptions {
  // Each user's daily app credits are a quota (metering/quota.h, `--daily-app-credits`):
  // calls made with source "app" are refused once the day's app usage reaches it.
  bool seed_samples = true;  // put the sample apps in Discover on first start
  int64_t max_document_bytes = 5 << 20;
  std::string pdftotext = "pdftotext";  // poppler-utils, run as a child process
};

// Members: people who sign in with OpenID Connect or sign up themselves, each in a personal
// account of their own (docs/apps.md).
struct MembersOptions {
  std::string oidc_config_file;  // JSON list of providers; "" = no OpenID Connect sign-in
  bool allow_signup = false;     // self-service sign-up with e-mail and password
  // Models a new member's account gets access to; empty = every model in the catalog.
  std::vector<std::string> member_models;
  // This server's public base URL (https://basalt.example.com), for OpenID Connect redirect
  // URIs; "" = from the request's Host header.
  std::string public_url;
};

struct ApiOptions {
  std::string default_region = "us-east-1";
  // Regions this deployment serves; a signature scoped to another region is refused.
  // Empty: any region.
  std::vector<std::string> regions;
  // Model access requests wait for an administrator (`basalt admin grant-model-access`)
  // instead of being granted at once.
  bool manual_model_access_approval = false;
  int default_max_tokens = 4096;  // Converse without inferenceConfig.maxTokens
  // The text model (catalog id) that translates image prompts which are not English; "" =
  // none: such prompts are used as they are (docs/images.md).
  std::string prompt_translator;
  // How often a running invocation's usage is checkpointed, so a crash bills what was
  // generated so far.
  std::chrono::milliseconds usage_checkpoint_interval{1000};
  std::function<std::chrono::system_clock::time_point()> clock = [] {
    return std::chrono::system_clock::now();
  };
  ConsoleOptions console;
  AppsOptions apps;
  MembersOptions members;
};

struct GenerationResult;
struct AppCallRequest;  // app_invoke.h
struct AppCallResult;

// Weight downloads from the console (/basalt/models/pull).
struct ModelAdmin {
  std::string models_dir;    // where pulled weights go (the first models folder)
  std::string hub_base_url;  // Hugging Face-style hub
  std::string hub_token;     // bearer token for gated repositories (HF_TOKEN)
  // Re-reads the catalog and the models folders and applies the difference to the engine and
  // to the API's served catalog (BedrockApi::live_catalog(); models/reload.h). Empty:
  // downloads and POST /basalt/models/reload are disabled.
  std::function<StatusOr<models::ModelReloadReport>()> reload;
};

// What the API works with. All pointers must outlive the API; the metering ones may be null
// (then nothing is recorded, limited or logged).
struct ApiDeps {
  store::Store* store = nullptr;
  engine::Engine* engine = nullptr;
  // Image models (outputModalities IMAGE); null: their calls answer 503.
  image::ImageEngine* images = nullptr;
  std::shared_ptr<const catalog::Catalog> catalog;
  metering::UsageStore* usage = nullptr;
  metering::QuotaManager* quotas = nullptr;
  metering::Metrics* metrics = nullptr;
  metering::InvocationLogs* invocation_log = nullptr;
  ModelAdmin model_admin;
  apps::AppStore* apps = nullptr;  // null: the apps routes answer 404
};

class BedrockApi {
 public:
  BedrockApi(ApiDeps deps, ApiOptions options);

  void Handle(http::Request request, std::shared_ptr<http::ResponseWriter> writer);
  // The catalog the API serves; model reloads replace it (models/reload.h).
  catalog::LiveCatalog& live_catalog() { return catalog_; }

  struct Call;  // one request in flight (defined in call.h)

 private:
  struct Routes;        // the route table (api.cc)
  struct ConsoleState;  // sessions, sign-in throttle, static files (console_api.cc)
  // A deleter defined beside ConsoleState, so this header needs no console include.
  struct ConsoleStateDeleter {
    void operator()(ConsoleState* state) const;
  };
  using ConsoleStatePtr = std::unique_ptr<ConsoleState, ConsoleStateDeleter>;
  static ConsoleStatePtr MakeConsoleState(store::Store* store, const ApiOptions& options);

  void Dispatch(Call& call);
  // Loads the authenticated caller's identity and runs the matching operation.
  void RouteCall(Call& call);
  // /console/api/...: sign-in and sessions, or a session-authenticated call to Route().
  void Console(Call& call);
  void ConsoleSignIn(Call& call);
  void ConsoleGetSession(Call& call);
  void ConsoleSignOut(Call& call);
  void ConsoleChangePassword(Call& call);
  // GET of the console's front end (/, page paths, /assets/...); false when not one.
  bool ServeStatic(Call& call);
  // GET /basalt/catalog: the catalog with access states, for the console's cards.
  void ConsoleCatalog(Call& call);
  void InvokeModel(Call& call, const std::string& model_id, bool stream);
  void Converse(Call& call, const std::string& model_id, bool stream);
  void CountTokens(Call& call, const std::string& model_id);
  // InvokeModel on an embedding model (embeddings.cc), after the header checks.
  void InvokeEmbedding(Call& call, const catalog::ModelEntry& entry);
  // InvokeModel on an image model (images.cc), after the header checks: runs on the calling
  // HTTP worker thread, which waits for the image engine's queue like a text call waits for
  // its tokens; the I/O threads and other workers keep serving.
  void InvokeImage(Call& call, const catalog::ModelEntry& entry);
  void ListFoundationModels(Call& call);
  void GetFoundationModel(Call& call, const std::string& model_id);
  void GetFoundationModelAvailability(Call& call, const std::string& model_id);
  void ListAgreementOffers(Call& call, const std::string& model_id);
  void CreateAgreement(Call& call);
  void DeleteAgreement(Call& call);
  void PutUseCase(Call& call);
  void GetUseCase(Call& call);
  void ListInferenceProfiles(Call& call);
  void GetInferenceProfile(Call& call, const std::string& id);
  void LoggingConfiguration(Call& call);
  void UsageReport(Call& call);
  void Metrics(Call& call);
  void Admin(Call& call, const std::vector<std::string>& rest);
  void ListServedModels(Call& call);
  void PullWeights(Call& call);
  void ReloadModels(Call& call);

  // Apps (apps_api.cc: definitions, versions, sharing, remix, Discover, documents, Backstage;
  // app_runs.cc: runs, chat, stop). `rest` is the path after /basalt/.
  struct AppsState;  // runs in flight, seeding (apps_api.cc)
  struct AppsStateDeleter {
    void operator()(AppsState* state) const;
  };
  void InitApps();  // from the constructor: state, crash recovery, sample seeding
  void Apps(Call& call, const std::vector<std::string>& rest);
  void RunApp(Call& call, const apps::StoredApp& app, bool owner);
  void ChatApp(Call& call, const apps::StoredApp& app, bool owner);
  void StopAppRun(Call& call, const std::string& run_id);
  // A model call made for an app as `outer`'s caller (the runner): source "app", the app id on
  // the usage record, through Converse/InvokeModel's own admission, metering and cancellation
  // (app_invoke.h, app_invoke.cc). Blocks until the call ends; thread-safe.
  AppCallResult InvokeForApp(const Call& outer, const AppCallRequest& request);
  // The apps routes beside definitions (apps_generate.cc, apps_backstage.cc).
  void GenerateApp(Call& call);
  void AppDocuments(Call& call, const std::vector<std::string>& rest);
  void Backstage(Call& call);
  // Whether the caller may name `model` in a widget of `type` (apps::Validate's
  // model_allowed): "" (the default) always; else the model is served in the caller's region,
  // makes that widget's modality, and the caller's policies and model access allow invoking
  // it. kInvalidArgument naming the model otherwise.
  Status AppModelAllowed(const Call& call, const std::string& type, const std::string& model);
  // The models the caller may use for widgets of `type` (text: text-generation and chatbot;
  // image-generation), one id per local model (primary ids before aliases), in catalog order:
  // the first is the default a widget with model "" runs on. Empty when there is none.
  std::vector<std::string> AppModels(const Call& call, const std::string& type);
  Status SeedSampleApps();
  // Saves a new version; a stale base version is kFailedPrecondition with reason "Conflict"
  // (409 ConflictException).
  StatusOr<apps::StoredApp> SaveAppVersion(const Call& call, const std::string& app_id,
                                           const std::string& definition_json,
                                           const std::string& note, int64_t base_version);
  // Members (members_api.cc): OpenID Connect sign-in and sign-up, before authentication.
  // Returns true when the call was one of theirs (and has been answered).
  bool Members(Call& call);

  // Runtime checks shared by every model operation: the model exists in the caller's
  // region, the caller's policies allow `action` on it, the account has access, and the
  // quotas admit `estimated_tokens`. Replies with the error and returns nullptr otherwise.
  const catalog::ModelEntry* AdmitModelCall(Call& call, const std::string& model_id,
                                            const std::string& action, bool stream);
  // Records one finished (or failed) invocation: usage record (durable), metrics, quota
  // settlement and invocation log. Called before the final bytes go to the client. Returns
  // kInternal when the usage record could not be made durable: the caller then withholds the
  // result (billing fails closed).
  Status FinishInvocation(Call& call, const std::string& operation, const std::string& model_id,
                          const GenerationResult* result, const Status& status,
                          const std::string& outcome, const std::string& output_body);

  // Writes the in-progress usage record of a running invocation (crash billing).
  void CheckpointInvocation(Call& call, const std::string& operation, const std::string& model_id,
                            int64_t input_tokens, int64_t output_tokens);

  bool RegionServed(const std::string& region) const;
  bool ModelInRegion(const catalog::ModelEntry& entry, const std::string& region,
                     const std::string& requested_id) const;

  ApiDeps deps_;
  store::Store* store_;
  engine::Engine* engine_;
  catalog::LiveCatalog catalog_;  // replaced when pulled weights make a model available
  ApiOptions options_;
  ConsoleStatePtr console_;
  models::PullJobs pulls_;
  std::unique_ptr<AppsState, AppsStateDeleter> apps_state_;
};

// The store setting that holds an account's invocation logging configuration (Bedrock's
// LoggingConfig JSON); read at start to restore every account's logging.
std::string LoggingSettingKey(const std::string& account_id);

// RFC 7231 date for the Date header.
std::string HttpDate(std::chrono::system_clock::time_point t);
std::string NewRequestId();
// Percent-decodes one path segment; kInvalidArgument on a bad escape.
StatusOr<std::string> PercentDecode(std::string_view s);

}  // namespace basalt::api
