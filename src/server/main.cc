// The basalt executable: flags, wiring, nothing else.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "api/api.h"
#include "apps/app_store.h"
#include "catalog/catalog.h"
#include "console/oidc.h"
#include "console/password.h"
#include "console/session.h"
#include "engine/engine.h"
#include "http/http_server.h"
#include "image/image.h"
#include "metering/invocation_log.h"
#include "metering/metrics.h"
#include "metering/quota.h"
#include "metering/usage.h"
#include "models/pull.h"
#include "models/reload.h"
#include "server/admin.h"
#include "store/store.h"

namespace fs = std::filesystem;
using namespace basalt;

namespace {

struct ServeFlags {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string data_dir;
  std::string catalog;
  std::vector<std::string> models_dirs;
  std::string hub_base_url = "https://huggingface.co";
  std::string tls_cert, tls_key;
  int threads = 0;
  int parallel = 4;
  int ctx_size = 0;
  int max_queue = 64;
  int http_workers = 128;
  int header_timeout_s = 20, body_timeout_s = 60, idle_timeout_s = 120;
  int max_connections = 0, max_connections_per_address = 256, max_queued_requests = 0;
  std::string region = "us-east-1";
  std::vector<std::string> regions;
  bool manual_access_approval = false;
  int64_t rpm_per_account = 0, tpm_per_account = 0, rpm_per_key = 0, tpm_per_key = 0;
  int64_t ipm_per_account = 0, ipm_per_key = 0;  // images per minute
  double monthly_budget = 0, daily_app_credits = 0;
  int usage_checkpoint_ms = 1000;
  std::string log_level = "info";
  int shutdown_grace_s = 30;
  bool mmap = false;
  bool no_speculative = false;
  std::string memory_limit;  // "" = what the system has
  bool no_model_watch = false;
  int model_watch_debounce_ms = 1000;
  int console_session_ttl_s = 43'200;
  int console_signin_max_failures = 5;
  int console_signin_lockout_s = 30;
  std::string console_dir;
  // Apps and members (docs/apps.md).
  bool no_sample_apps = false;
  std::string max_document_size = "5M";
  std::string pdftotext = "pdftotext";
  std::string oidc_config;
  bool allow_signup = false;
  std::vector<std::string> member_models;
  std::string public_url;
  // Image generation (docs/images.md).
  int image_threads = 0;  // 0 = all cores
  int image_queue = 16;
  std::string image_dtype = "auto";
  std::string prompt_translator;  // "" = the first instruct text model; "none" = off
};

std::string DefaultDataDir() {
  if (const char* home = std::getenv("HOME"); home && *home) {
    return (fs::path(home) / ".basalt").string();
  }
  return ".basalt";
}

std::atomic<int> g_signal{0};
void OnSignal(int sig) { g_signal = sig; }
std::atomic<int> g_reload{0};  // SIGHUPs not handled yet
void OnReloadSignal(int) { g_reload.fetch_add(1); }

// "512M", "2G", "1073741824": bytes; -1 when not a size.
int64_t ParseSize(const std::string& text) {
  if (text.empty()) return 0;
  size_t end = 0;
  double v = 0;
  try {
    v = std::stod(text, &end);
  } catch (...) {
    return -1;
  }
  std::string unit = text.substr(end);
  int64_t mul = 1;
  if (unit == "K" || unit == "KiB" || unit == "k")
    mul = 1ll << 10;
  else if (unit == "M" || unit == "MiB")
    mul = 1ll << 20;
  else if (unit == "G" || unit == "GiB")
    mul = 1ll << 30;
  else if (unit == "T" || unit == "TiB")
    mul = 1ll << 40;
  else if (!unit.empty() && unit != "B")
    return -1;
  if (v < 0) return -1;
  return static_cast<int64_t>(v * double(mul));
}

nlohmann::json ReloadReportJson(const models::ModelReloadReport& r) {
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& e : r.errors) errors.push_back({{"modelId", e.model}, {"message", e.message}});
  return {{"added", r.added},         {"replaced", r.replaced}, {"removed", r.removed},
          {"unchanged", r.unchanged}, {"errors", errors},       {"reload", r.sequence}};
}

int Fail(const Status& st) {
  spdlog::critical("{}", st.ToString());
  return 1;
}

// Writes a secret: created 0600 (never readable by others, not even for a moment), through
// no symbolic link, and fsynced.
Status WritePrivateFile(const std::string& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Internal("cannot create " + path + ": " + std::strerror(errno));
  Status st;
  if (::fchmod(fd, 0600) != 0) st = Status::Internal("cannot chmod " + path);
  size_t done = 0;
  while (st.ok() && done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      st = Status::Internal("cannot write " + path + ": " + std::strerror(errno));
    else
      done += static_cast<size_t>(n);
  }
  if (st.ok() && ::fsync(fd) != 0) st = Status::Internal("cannot sync " + path);
  ::close(fd);
  return st;
}

// First start: an administrator account, user, access key and API key, written where the
// README says so that `aws configure` (or `source admin.env`) can use them.
Status BootstrapAdmin(store::Store& store, const std::string& data_dir, const ServeFlags& f,
                      const std::string& endpoint) {
  auto done = store.GetSetting("admin_bootstrapped");
  if (!done.ok()) return done.status();
  if (done->has_value()) return Status::Ok();
  auto account = store.CreateAccount("admin");
  if (!account.ok()) return account.status();
  auto user = store.CreateUser(account->id, "admin", "admin");
  if (!user.ok()) return user.status();
  BASALT_RETURN_IF_ERROR(store.AttachUserPolicy(user->id, "BasaltAdministrator"));
  // The operator's own account may call every model from the start.
  BASALT_RETURN_IF_ERROR(store.SetModelAccess(account->id, "*", "GRANTED"));
  BASALT_RETURN_IF_ERROR(store.PutSetting("operator_account", account->id));
  auto key = store.CreateAccessKey(user->id);
  if (!key.ok()) return key.status();
  auto api_key = store.CreateApiKey(user->id, 0);
  if (!api_key.ok()) return api_key.status();

  fs::path creds = fs::path(data_dir) / "admin-credentials";
  fs::path env = fs::path(data_dir) / "admin.env";
  std::ostringstream creds_text, env_text;
  creds_text << "# Basalt administrator credentials (shown once; keep this file private).\n"
             << "# Use with: AWS_SHARED_CREDENTIALS_FILE=" << fs::absolute(creds).string()
             << " AWS_PROFILE=basalt\n"
             << "[basalt]\naws_access_key_id = " << key->access_key_id
             << "\naws_secret_access_key = " << key->secret_access_key << "\n";
  env_text << "# Basalt administrator environment: source this file, then run boto3 / aws / JS "
              "code.\n"
           << "export AWS_ACCESS_KEY_ID=" << key->access_key_id << "\n"
           << "export AWS_SECRET_ACCESS_KEY=" << key->secret_access_key << "\n"
           << "export AWS_REGION=" << f.region << "\n"
           << "export AWS_DEFAULT_REGION=" << f.region << "\n"
           << "export AWS_ENDPOINT_URL=" << endpoint << "\n"
           << "# Bedrock API key (Authorization: Bearer); uncomment to use it instead of SigV4.\n"
           << "# export AWS_BEARER_TOKEN_BEDROCK=" << api_key->token << "\n";
  BASALT_RETURN_IF_ERROR(WritePrivateFile(creds.string(), creds_text.str()));
  BASALT_RETURN_IF_ERROR(WritePrivateFile(env.string(), env_text.str()));
  BASALT_RETURN_IF_ERROR(store.PutSetting("admin_bootstrapped", "1"));
  std::cout << "basalt: created the administrator key " << key->access_key_id
            << "; credentials written to " << fs::absolute(creds).string() << " and "
            << fs::absolute(env).string() << std::endl;
  return Status::Ok();
}

// The operator administrator's console password: made on first start, and on any start
// where that user has none (an upgrade from a build without the console), and written to
// <data-dir>/console-password (0600). Returns the file's path, or "" when nothing was made.
StatusOr<std::string> EnsureConsolePassword(store::Store& store, const std::string& data_dir) {
  auto op = store.GetSetting("operator_account");
  if (!op.ok()) return op.status();
  if (!op->has_value()) return std::string();
  auto account = store.GetAccount(**op);
  if (!account.ok()) return account.status();
  auto user = store.FindUserByName(account->id, "admin");
  if (!user.ok()) {
    if (user.status().code() == StatusCode::kNotFound) return std::string();  // renamed
    return user.status();
  }
  auto existing = store.GetUserPassword(user->id);
  if (!existing.ok()) return existing.status();
  if (!existing->empty()) return std::string();
  auto password = console::RandomToken(15);  // 120 bits, 20 characters
  if (!password.ok()) return password.status();
  auto hash = console::HashPassword(*password);
  if (!hash.ok()) return hash.status();
  fs::path path = fs::path(data_dir) / "console-password";
  std::ostringstream text;
  text << "# Basalt web console sign-in of the operator administrator (keep this file private;\n"
       << "# change the password in the console under Settings, then delete this file).\n"
       << "account_id = " << account->id << "\n"
       << "account_name = " << account->name << "\n"
       << "user_name = " << user->name << "\n"
       << "password = " << *password << "\n";
  // The file first: a password nobody can read would lock the console until `basalt admin
  // set-password`.
  BASALT_RETURN_IF_ERROR(WritePrivateFile(path.string(), text.str()));
  BASALT_RETURN_IF_ERROR(store.SetUserPassword(user->id, *hash));
  return fs::absolute(path).string();
}

int Serve(const ServeFlags& flags) {
  spdlog::set_level(spdlog::level::from_str(flags.log_level));
  std::string data_dir = flags.data_dir.empty() ? DefaultDataDir() : flags.data_dir;
  std::error_code ec;
  // The data folder holds keys, prompts and bills: private from the moment it exists.
  // Everything the server creates (databases, logs, credentials) is private to its user.
  umask(077);
  // Connections are capped below the descriptor limit (see --max-connections): start from
  // the hard limit rather than the usual soft 1024.
  if (rlimit nofile{};
      getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &nofile) != 0) spdlog::warn("cannot raise the open-file limit");
  }
  fs::create_directories(data_dir, ec);
  if (ec) return Fail(Status::Internal("cannot create data dir " + data_dir + ": " + ec.message()));
  fs::permissions(data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) spdlog::warn("cannot make {} private (0700): {}", data_dir, ec.message());

  auto master = store::LoadOrCreateMasterKey((fs::path(data_dir) / "master.key").string());
  if (!master.ok()) return Fail(master.status());
  auto store = store::Store::OpenSqlite((fs::path(data_dir) / "basalt.db").string(), *master);
  if (!store.ok()) return Fail(store.status());

  catalog::LoadOptions copts;
  copts.models_dirs = flags.models_dirs;
  if (copts.models_dirs.empty())
    copts.models_dirs.push_back((fs::path(data_dir) / "models").string());
  fs::create_directories(copts.models_dirs.front(), ec);
  std::string catalog_path =
      flags.catalog.empty() ? (fs::path(data_dir) / "catalog.json").string() : flags.catalog;
  auto cat = catalog::Catalog::LoadOrCreate(catalog_path, copts);
  if (!cat.ok()) return Fail(cat.status());

  // One engine model per catalog model (aliases share their primary's).
  auto engine_models = [&flags](const catalog::Catalog& c) {
    std::vector<engine::ModelConfig> out;
    std::set<std::string> seen;
    for (const auto& e : c.entries()) {
      if (e.image_model()) continue;  // served by the image engine
      if (!seen.insert(e.engine_model).second) continue;
      engine::ModelConfig mc;
      mc.name = e.engine_model;
      mc.path = e.weights_path;
      mc.parallel = e.parallel > 0 ? e.parallel : flags.parallel;
      int per_slot = e.context_length > 0 ? e.context_length : 0;
      mc.context_length = flags.ctx_size > 0 ? flags.ctx_size : per_slot * mc.parallel;
      mc.threads = flags.threads;
      mc.max_queue = flags.max_queue;
      mc.use_mmap = flags.mmap;
      mc.speculative = !flags.no_speculative;
      out.push_back(mc);
    }
    return out;
  };
  engine::EngineOptions eopts;
  eopts.models = engine_models(**cat);
  eopts.memory_limit_bytes = ParseSize(flags.memory_limit);
  if (eopts.memory_limit_bytes < 0) {
    return Fail(Status::InvalidArgument("--memory-limit takes a size such as 512M or 8G, not '" +
                                        flags.memory_limit + "'"));
  }
  auto engine = engine::Engine::Open(eopts);
  if (!engine.ok()) return Fail(engine.status());

  // One image engine for the catalog's image models (one per primary entry); they load on
  // first use. Image entries added by a later reload need a restart to be generated from.
  image::ImageEngineOptions iopts;
  iopts.threads = flags.image_threads;
  iopts.max_queue = std::max(0, flags.image_queue);
  iopts.dtype = flags.image_dtype;
  if (iopts.dtype != "auto" && iopts.dtype != "bf16" && iopts.dtype != "f32") {
    return Fail(Status::InvalidArgument("--image-dtype must be auto, bf16 or f32, not '" +
                                        flags.image_dtype + "'"));
  }
  {
    std::set<std::string> seen;
    for (const auto& e : (*cat)->entries()) {
      if (!e.image_model() || !seen.insert(e.engine_model).second) continue;
      image::ImageModelConfig mc;
      mc.name = e.engine_model;
      mc.path = e.weights_path;
      mc.tokenizer_dir = e.image.tokenizer_dir;
      mc.tae_decoder_path = e.image.tae_decoder_path;
      mc.variant = e.image.variant;
      mc.default_steps = e.image.steps_standard;
      mc.default_cfg_scale = e.image.cfg_scale;
      mc.default_sampler = e.image.sampler;
      iopts.models.push_back(mc);
    }
  }
  std::unique_ptr<image::ImageEngine> images = image::ImageEngine::Create(iopts);
  if (!iopts.models.empty() && !images->available()) {
    spdlog::warn("this build has no image generation (BASALT_IMAGES=OFF): image models answer 503");
  }
  // The text model that translates image prompts which are not English.
  std::string translator;
  if (flags.prompt_translator == "none") {
    translator.clear();
  } else if (!flags.prompt_translator.empty()) {
    const catalog::ModelEntry* t = (*cat)->Find(flags.prompt_translator);
    if (t == nullptr || t->embedding() || t->image_model()) {
      return Fail(Status::InvalidArgument("--prompt-translator: " + flags.prompt_translator +
                                          " is not a text model of the catalog"));
    }
    translator = t->model_id;
  } else {
    auto lower = [](std::string v) {
      for (char& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return v;
    };
    for (const auto& e : (*cat)->entries()) {
      if (e.is_alias || e.embedding() || e.image_model()) continue;
      if (lower(e.model_id + " " + e.model_name).find("instruct") == std::string::npos) continue;
      translator = e.model_id;
      break;
    }
  }

  auto usage = metering::UsageStore::Open((fs::path(data_dir) / "usage.db").string());
  if (!usage.ok()) return Fail(usage.status());
  // Invocations cut by a crash keep their last checkpoint, billed, marked "interrupted".
  if (auto n = (*usage)->MarkInterrupted(); n.ok() && *n > 0) {
    spdlog::warn("{} invocations were interrupted by a crash; their usage so far is recorded", *n);
  }
  // The catalog's prices enter the versioned price book when they change; records keep the
  // price that was in effect when they were written.
  {
    auto prices = (*usage)->ListPrices();
    if (!prices.ok()) return Fail(prices.status());
    int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    for (const auto& e : (*cat)->entries()) {
      const metering::Price* latest = nullptr;
      for (const auto& p : *prices) {
        if (p.model_id == e.model_id && p.region == "*" &&
            (latest == nullptr || p.version > latest->version)) {
          latest = &p;
        }
      }
      if (latest != nullptr && latest->input_per_1k_tokens == e.price.input_per_1k_tokens &&
          latest->output_per_1k_tokens == e.price.output_per_1k_tokens &&
          latest->per_image == e.price.per_image) {
        continue;
      }
      if (latest == nullptr && e.price.input_per_1k_tokens == 0 &&
          e.price.output_per_1k_tokens == 0 && e.price.per_image.empty()) {
        continue;
      }
      metering::Price p;
      p.model_id = e.model_id;
      p.region = "*";
      p.input_per_1k_tokens = e.price.input_per_1k_tokens;
      p.output_per_1k_tokens = e.price.output_per_1k_tokens;
      p.per_image = e.price.per_image;
      p.effective_from_ms = now_ms;
      auto added = (*usage)->AddPrice(p);
      if (!added.ok()) return Fail(added.status());
    }
  }
  metering::QuotaConfig qc;
  qc.account_default.requests_per_minute = flags.rpm_per_account;
  qc.account_default.tokens_per_minute = flags.tpm_per_account;
  qc.account_default.monthly_budget = flags.monthly_budget;
  qc.account_default.daily_app_credits = flags.daily_app_credits;
  qc.key_default.requests_per_minute = flags.rpm_per_key;
  qc.key_default.tokens_per_minute = flags.tpm_per_key;
  qc.account_default.images_per_minute = flags.ipm_per_account;
  qc.key_default.images_per_minute = flags.ipm_per_key;
  metering::QuotaManager quotas(usage->get(), qc);
  metering::Metrics metrics;
  // Each account's invocation logging configuration comes back from the store.
  metering::InvocationLogs invocation_log((fs::path(data_dir) / "invocation-logs").string());
  if (auto accounts = (*store)->ListAccounts(); accounts.ok()) {
    for (const auto& a : *accounts) {
      auto v = (*store)->GetSetting(api::LoggingSettingKey(a.id));
      if (!v.ok() || !v->has_value() || (*v)->empty()) continue;
      auto logging = metering::ParseLoggingConfig(**v);
      if (logging.ok()) {
        invocation_log.Configure(a.id, *logging);
      } else {
        spdlog::warn("account {}: stored invocation logging configuration ignored: {}", a.id,
                     logging.status().message());
      }
    }
  }
  // Tokens/s is the generated-token count's rate between two scrapes.
  struct RateState {
    std::mutex mu;
    std::map<std::string, std::pair<int64_t, std::chrono::steady_clock::time_point>> last;
  };
  auto rate_state = std::make_shared<RateState>();
  // Every model the engine serves now (models added, replaced or removed at run time too).
  metrics.SetGaugeSource([eng = engine->get(), rate_state] {
    std::vector<metering::EngineGauge> out;
    std::set<std::string> seen;
    auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(rate_state->mu);
    for (const auto& mc : eng->Models()) {
      if (!seen.insert(mc.name).second) continue;
      engine::EngineStats st = eng->Stats(mc.name);
      metering::EngineGauge g;
      g.model = mc.name;
      g.queued = st.queued;
      g.busy_slots = st.busy_slots;
      g.total_slots = st.total_slots;
      g.kv_cache_used_ratio =
          st.kv_cells_total > 0 ? double(st.kv_cells_used) / double(st.kv_cells_total) : 0;
      auto it = rate_state->last.find(mc.name);
      if (it != rate_state->last.end()) {
        double secs = std::chrono::duration<double>(now - it->second.second).count();
        if (secs > 0)
          g.tokens_per_second = double(st.generated_tokens_total - it->second.first) / secs;
      }
      rate_state->last[mc.name] = {st.generated_tokens_total, now};
      out.push_back(g);
    }
    return out;
  });

  std::string scheme = flags.tls_cert.empty() ? "http" : "https";
  api::ApiOptions aopts;
  aopts.default_region = flags.region;
  // Only the regions named are served (default: the configured region), so a signature for
  // another region can neither dodge a region-scoped Deny nor a regional price. "*" serves any.
  if (flags.regions.empty()) {
    aopts.regions = {flags.region};
  } else if (!(flags.regions.size() == 1 && flags.regions[0] == "*")) {
    aopts.regions = flags.regions;
  }
  aopts.manual_model_access_approval = flags.manual_access_approval;
  aopts.prompt_translator = translator;
  aopts.console.session_ttl = std::chrono::seconds(std::max(1, flags.console_session_ttl_s));
  aopts.console.signin_max_failures = std::max(1, flags.console_signin_max_failures);
  aopts.console.signin_lockout = std::chrono::seconds(std::max(1, flags.console_signin_lockout_s));
  aopts.console.static_dir = flags.console_dir;
  aopts.console.secure_cookies = !flags.tls_cert.empty();
  aopts.usage_checkpoint_interval =
      std::chrono::milliseconds(std::max(1, flags.usage_checkpoint_ms));
  aopts.apps.seed_samples = !flags.no_sample_apps;
  aopts.apps.max_document_bytes = ParseSize(flags.max_document_size);
  if (aopts.apps.max_document_bytes <= 0) {
    return Fail(
        Status::InvalidArgument("--max-document-size: not a size: " + flags.max_document_size));
  }
  aopts.apps.pdftotext = flags.pdftotext;
  aopts.members.oidc_config_file = flags.oidc_config;
  aopts.members.allow_signup = flags.allow_signup;
  aopts.members.member_models = flags.member_models;
  aopts.members.public_url = flags.public_url;
  if (!flags.oidc_config.empty()) {  // a bad provider list stops the start (console/oidc.h)
    auto providers = console::oidc::LoadProviderConfigs(flags.oidc_config);
    if (!providers.ok()) return Fail(providers.status());
  }
  if (!flags.public_url.empty() && !console::oidc::ParseUrl(flags.public_url).ok()) {
    return Fail(
        Status::InvalidArgument("--public-url must be an http(s) URL: " + flags.public_url));
  }
  for (const std::string& m : flags.member_models) {
    if ((*cat)->Find(m) == nullptr) {
      return Fail(Status::InvalidArgument("--member-models: " + m + " is not in the catalog"));
    }
  }
  auto app_store = apps::AppStore::OpenSqlite((fs::path(data_dir) / "apps.db").string());
  if (!app_store.ok()) return Fail(app_store.status());
  api::ApiDeps deps;
  deps.apps = app_store->get();
  deps.store = store->get();
  deps.engine = engine->get();
  deps.images = images.get();
  deps.catalog = *cat;
  deps.usage = usage->get();
  deps.quotas = &quotas;
  deps.metrics = &metrics;
  deps.invocation_log = &invocation_log;
  // Model changes without a restart (models/reload.h): after a weight pull, on POST
  // /basalt/models/reload, SIGHUP and the watch. Made once the API (and its catalog) exists.
  std::unique_ptr<models::ModelReloader> reloader;
  deps.model_admin.models_dir = copts.models_dirs.front();
  deps.model_admin.hub_base_url = flags.hub_base_url;
  if (const char* token = std::getenv("HF_TOKEN")) deps.model_admin.hub_token = token;
  deps.model_admin.reload = [&reloader]() -> StatusOr<models::ModelReloadReport> {
    if (reloader == nullptr) return Status::Unavailable("The server is starting.");
    return reloader->Reload();
  };
  auto api = std::make_shared<api::BedrockApi>(deps, aopts);
  reloader = std::make_unique<models::ModelReloader>(
      models::ReloadOptions{catalog_path, copts, engine_models}, engine->get(),
      &api->live_catalog());
  if (!flags.no_model_watch) {
    Status watching = reloader->StartWatch(
        std::chrono::milliseconds(std::max(50, flags.model_watch_debounce_ms)));
    if (!watching.ok()) spdlog::warn("{}", watching.message());
  }

  http::ServerOptions sopts;
  sopts.host = flags.host;
  sopts.port = flags.port;
  sopts.tls_cert_file = flags.tls_cert;
  sopts.tls_key_file = flags.tls_key;
  sopts.worker_threads = flags.http_workers;
  sopts.header_timeout = std::chrono::seconds(flags.header_timeout_s);
  sopts.body_timeout = std::chrono::seconds(flags.body_timeout_s);
  sopts.idle_timeout = std::chrono::seconds(flags.idle_timeout_s);
  sopts.max_connections = flags.max_connections;
  sopts.max_connections_per_address = flags.max_connections_per_address;
  sopts.max_queued_requests = flags.max_queued_requests;
  // Answered on the I/O thread so health checks pass even with every worker busy (the API
  // answers the same way if a request reaches it).
  sopts.inline_handler = [](const http::Request& r, http::ResponseWriter& w) {
    const std::string_view path = std::string_view(r.target).substr(0, r.target.find('?'));
    if (r.method != "GET" || !path.ends_with("/health")) return false;
    w.Respond(200, {{"Content-Type", "application/json"}}, R"({"status":"ok"})");
    return true;
  };
  sopts.overload_handler = [](const http::Request&, http::ResponseWriter& w) {
    w.Respond(
        503,
        {{"Content-Type", "application/json"}, {"x-amzn-ErrorType", "ServiceUnavailableException"}},
        R"({"message":"The server is busy. Try your request again."})");
  };
  auto server =
      http::Server::Start(sopts, [api](http::Request r, std::shared_ptr<http::ResponseWriter> w) {
        api->Handle(std::move(r), std::move(w));
      });
  if (!server.ok()) return Fail(server.status());
  std::string host =
      flags.host.find(':') != std::string::npos ? "[" + flags.host + "]" : flags.host;
  std::string endpoint = scheme + "://" + (flags.host == "0.0.0.0" ? "127.0.0.1" : host) + ":" +
                         std::to_string((*server)->port());

  Status boot = BootstrapAdmin(**store, data_dir, flags, endpoint);
  if (!boot.ok()) return Fail(boot);
  auto console_password = EnsureConsolePassword(**store, data_dir);
  if (!console_password.ok()) return Fail(console_password.status());
  if (!console_password->empty()) {
    std::cout << "basalt: web console password of the operator administrator written to "
              << *console_password << std::endl;
  }

  for (const auto& m : (*cat)->missing()) {
    if (std::find(m.output_modalities.begin(), m.output_modalities.end(), "IMAGE") !=
        m.output_modalities.end()) {
      spdlog::warn(
          "image model {}: weights {} not found in the models folders; download the diffusers "
          "folder of https://huggingface.co/{} there as {} (docs/catalog.md, \"Image models\")",
          m.model_id, m.weights, m.source_repo, m.weights);
      continue;
    }
    spdlog::warn(
        "model {}: weights {} not found in the models folders; get them with: basalt "
        "models pull {} {}",
        m.model_id, m.weights, m.source_repo, m.source_file);
  }
  std::map<std::string, std::vector<std::string>> served;
  for (const auto& e : (*cat)->entries()) served[e.engine_model].push_back(e.model_id);
  for (const auto& [model, ids] : served) {
    std::string list;
    for (const auto& id : ids) list += (list.empty() ? "" : ", ") + id;
    spdlog::info("serving {} as: {}", model, list);
  }
  if (!iopts.models.empty()) {
    spdlog::info("image prompts that are not English are translated by: {}",
                 translator.empty() ? std::string("nobody (no instruct text model)") : translator);
  }
  if (served.empty()) {
    std::cout << "basalt: no model is available yet, so the catalog is empty. Get the "
                 "recommended small model with:\n  basalt models pull "
                 "Qwen/Qwen2.5-0.5B-Instruct-GGUF qwen2.5-0.5b-instruct-q4_k_m.gguf --dir "
              << copts.models_dirs.front() << "\nthen restart basalt." << std::endl;
  }
  std::cout << "basalt: web console at " << endpoint << "/" << std::endl;
  std::cout << "basalt: listening on " << endpoint << std::endl;

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGHUP, OnReloadSignal);
  // `basalt models reload` finds the server by this file and reads the outcome from
  // model-reload.json.
  const fs::path pid_file = fs::path(data_dir) / "basalt.pid";
  if (Status st = WritePrivateFile(pid_file.string(), std::to_string(::getpid()) + "\n");
      !st.ok()) {
    spdlog::warn("{}", st.message());
  }
  int64_t signals_done = 0;
  while (g_signal == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const int pending = g_reload.exchange(0);
    if (pending == 0) continue;
    signals_done += pending;
    spdlog::info("SIGHUP: reloading the catalog and the models folders");
    auto report = reloader->Reload();
    nlohmann::json out = report.ok() ? ReloadReportJson(*report)
                                     : nlohmann::json{{"error", report.status().message()}};
    out["signal"] = signals_done;
    Status st = WritePrivateFile((fs::path(data_dir) / "model-reload.json.tmp").string(),
                                 out.dump(2) + "\n");
    if (st.ok()) {
      fs::rename(fs::path(data_dir) / "model-reload.json.tmp",
                 fs::path(data_dir) / "model-reload.json", ec);
    }
  }
  reloader->StopWatch();
  fs::remove(pid_file, ec);
  spdlog::info("signal {}: finishing in-flight requests (up to {} s)", int(g_signal),
               flags.shutdown_grace_s);
  (*server)->Shutdown(std::chrono::seconds(flags.shutdown_grace_s));
  return 0;
}

struct UsageFlags {
  std::string data_dir;
  std::string from, to, account, model, key, user, source, app;
  std::vector<std::string> group_by;
  bool csv = false;
};

bool ParseDay(const std::string& v, int64_t* out) {
  if (v.empty()) return true;
  std::tm tm{};
  const char* end = strptime(v.c_str(), "%Y-%m-%d", &tm);
  if (end == nullptr || *end != '\0') return false;
  *out = static_cast<int64_t>(timegm(&tm)) * 1000;
  return true;
}

// `basalt usage report`: the same report as GET /basalt/usage, read from the usage database.
int UsageReportCommand(const UsageFlags& f) {
  std::string data_dir = f.data_dir.empty() ? DefaultDataDir() : f.data_dir;
  // Read-only: a report never changes records (a running server may be writing them; crash
  // recovery belongs to `basalt serve` start-up alone).
  auto usage = metering::UsageStore::Open((fs::path(data_dir) / "usage.db").string(),
                                          /*read_only=*/true);
  if (!usage.ok()) return Fail(usage.status());
  metering::UsageFilter filter;
  if (!ParseDay(f.from, &filter.from_ms) || !ParseDay(f.to, &filter.to_ms)) {
    std::cerr << "basalt usage report: --from and --to take YYYY-MM-DD" << std::endl;
    return 1;
  }
  filter.account_id = f.account;
  filter.model_id = f.model;
  filter.key_id = f.key;
  filter.user_id = f.user;
  filter.source = f.source;
  filter.app_id = f.app;
  if (f.csv) {
    auto csv = (*usage)->ExportCsv(filter, f.group_by);
    if (!csv.ok()) return Fail(csv.status());
    std::cout << *csv;
    return 0;
  }
  auto report = (*usage)->Report(filter, f.group_by);
  if (!report.ok()) return Fail(report.status());
  auto row = [](const metering::UsageRow& r) {
    nlohmann::json j = {{"group", r.group},
                        {"requests", r.requests},
                        {"inputTokens", r.input_tokens},
                        {"outputTokens", r.output_tokens},
                        {"images", r.images},
                        {"cost", r.cost}};
    return j;
  };
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : report->rows) rows.push_back(row(r));
  std::cout << nlohmann::json{{"rows", rows}, {"total", row(report->total)}}.dump(2) << std::endl;
  return 0;
}

int Pull(const models::PullOptions& opts) {
  auto r = models::PullModel(opts);
  if (!r.ok()) {
    std::cerr << "basalt models pull: " << r.status().message() << std::endl;
    return 1;
  }
  std::cout << r->path << " (" << r->bytes << " bytes, sha256 " << r->sha256
            << (r->resumed ? ", resumed" : "") << ")" << std::endl;
  return 0;
}

// `basalt models reload`: signals the server of `data_dir` and prints model-reload.json once
// the server has written the outcome of this signal. Exit status 1 when the reload failed or
// some model could not be used.
int ReloadCommand(const std::string& data_dir, int timeout_s) {
  const fs::path pid_file = fs::path(data_dir) / "basalt.pid";
  const fs::path result_file = fs::path(data_dir) / "model-reload.json";
  std::ifstream pid_in(pid_file);
  long pid = 0;
  if (!(pid_in >> pid) || pid <= 0) {
    std::cerr << "basalt models reload: no server is running with the data dir " << data_dir << " ("
              << pid_file.string() << " is missing)" << std::endl;
    return 1;
  }
  auto read_result = [&result_file]() -> nlohmann::json {
    std::ifstream in(result_file);
    if (!in) return nlohmann::json::object();
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    return j.is_object() ? j : nlohmann::json::object();
  };
  const int64_t before = read_result().value("signal", int64_t{0});
  if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    std::cerr << "basalt models reload: cannot signal the server (pid " << pid
              << "): " << std::strerror(errno) << std::endl;
    return 1;
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < until) {
    nlohmann::json result = read_result();
    if (result.value("signal", int64_t{0}) > before) {
      result.erase("signal");
      std::cout << result.dump(2) << std::endl;
      const bool failed =
          result.contains("error") || (result.contains("errors") && !result["errors"].empty());
      return failed ? 1 : 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cerr << "basalt models reload: the server did not answer within " << timeout_s << " s"
            << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr; stdout carries only what a user or script reads (the endpoint).
  spdlog::set_default_logger(spdlog::stderr_color_mt("basalt"));
  CLI::App app{"Basalt: a self-hosted, Bedrock-compatible generative AI server"};
  app.require_subcommand(1);

  ServeFlags sf;
  auto* serve = app.add_subcommand("serve", "Run the server");
  serve->add_option("--host", sf.host, "Address to listen on")
      ->envname("BASALT_HOST")
      ->capture_default_str();
  serve->add_option("--port", sf.port, "Port (0 picks a free one)")
      ->envname("BASALT_PORT")
      ->capture_default_str();
  serve->add_option("--data-dir", sf.data_dir, "State folder (default ~/.basalt)")
      ->envname("BASALT_DATA_DIR");
  serve
      ->add_option("--hub-url", sf.hub_base_url,
                   "Hugging Face-style hub for weight downloads from the console (env "
                   "BASALT_HF_BASE_URL)")
      ->envname("BASALT_HF_BASE_URL")
      ->capture_default_str();
  serve->add_option("--catalog", sf.catalog, "Model catalog JSON (default <data-dir>/catalog.json)")
      ->envname("BASALT_CATALOG");
  serve
      ->add_option("--models-dir", sf.models_dirs,
                   "Folders searched for GGUF weights, in order (default <data-dir>/models)")
      ->envname("BASALT_MODELS_DIRS")
      ->delimiter(',');
  serve->add_option("--tls-cert", sf.tls_cert, "PEM certificate: serve HTTPS (ALPN h2, http/1.1)")
      ->envname("BASALT_TLS_CERT");
  serve->add_option("--tls-key", sf.tls_key, "PEM private key")->envname("BASALT_TLS_KEY");
  serve->add_option("--threads", sf.threads, "CPU threads per model (0 = all cores)")
      ->envname("BASALT_THREADS")
      ->capture_default_str();
  serve
      ->add_flag("--no-speculative", sf.no_speculative,
                 "Turn off speculative decoding by prompt lookup (greedy requests)")
      ->envname("BASALT_NO_SPECULATIVE");
  serve->add_option("--parallel", sf.parallel, "Concurrent sequences per model")
      ->envname("BASALT_PARALLEL")
      ->capture_default_str();
  serve
      ->add_option("--ctx-size", sf.ctx_size,
                   "Total KV cache cells per model (0 = contextLength x parallel)")
      ->envname("BASALT_CTX_SIZE")
      ->capture_default_str();
  serve
      ->add_option("--max-queue", sf.max_queue,
                   "Queued requests per model before ThrottlingException")
      ->envname("BASALT_MAX_QUEUE")
      ->capture_default_str();
  serve->add_option("--http-workers", sf.http_workers, "Request handler threads")
      ->envname("BASALT_HTTP_WORKERS")
      ->capture_default_str();
  serve
      ->add_option("--header-timeout", sf.header_timeout_s,
                   "Seconds for a whole request head to arrive (0 = no limit)")
      ->envname("BASALT_HEADER_TIMEOUT")
      ->capture_default_str();
  serve
      ->add_option("--body-timeout", sf.body_timeout_s,
                   "Seconds for a request body to arrive, plus 1 s per 256 KiB (0 = no limit)")
      ->envname("BASALT_BODY_TIMEOUT")
      ->capture_default_str();
  serve->add_option("--idle-timeout", sf.idle_timeout_s, "Seconds a keep-alive connection may idle")
      ->envname("BASALT_IDLE_TIMEOUT")
      ->capture_default_str();
  serve
      ->add_option("--max-connections", sf.max_connections,
                   "Open connections in total (0 = file descriptor limit minus 128)")
      ->envname("BASALT_MAX_CONNECTIONS")
      ->capture_default_str();
  serve
      ->add_option("--max-connections-per-address", sf.max_connections_per_address,
                   "Open connections per client address (IPv6: per /64)")
      ->envname("BASALT_MAX_CONNECTIONS_PER_ADDRESS")
      ->capture_default_str();
  serve
      ->add_option("--max-queued-requests", sf.max_queued_requests,
                   "Requests waiting for a handler thread before 503 (0 = 4 x --http-workers)")
      ->envname("BASALT_MAX_QUEUED_REQUESTS")
      ->capture_default_str();
  serve->add_option("--region", sf.region, "Default region (ARNs, admin.env)")
      ->envname("BASALT_REGION")
      ->capture_default_str();
  serve
      ->add_option(
          "--regions", sf.regions,
          "Regions served (comma-separated; \"*\" for any); signatures for others are refused "
          "(default: --region)")
      ->envname("BASALT_REGIONS")
      ->delimiter(',');
  serve
      ->add_flag("--manual-model-access-approval", sf.manual_access_approval,
                 "Model access requests wait for `basalt admin grant-model-access`")
      ->envname("BASALT_MANUAL_MODEL_ACCESS");
  serve
      ->add_option("--rpm-per-account", sf.rpm_per_account,
                   "Requests per minute per account (0 = unlimited)")
      ->envname("BASALT_RPM_PER_ACCOUNT")
      ->capture_default_str();
  serve
      ->add_option("--tpm-per-account", sf.tpm_per_account,
                   "Tokens per minute per account (0 = unlimited)")
      ->envname("BASALT_TPM_PER_ACCOUNT")
      ->capture_default_str();
  serve->add_option("--rpm-per-key", sf.rpm_per_key, "Requests per minute per key (0 = unlimited)")
      ->envname("BASALT_RPM_PER_KEY")
      ->capture_default_str();
  serve->add_option("--tpm-per-key", sf.tpm_per_key, "Tokens per minute per key (0 = unlimited)")
      ->envname("BASALT_TPM_PER_KEY")
      ->capture_default_str();
  serve
      ->add_option("--ipm-per-account", sf.ipm_per_account,
                   "Images per minute per account (0 = unlimited)")
      ->envname("BASALT_IPM_PER_ACCOUNT")
      ->capture_default_str();
  serve->add_option("--ipm-per-key", sf.ipm_per_key, "Images per minute per key (0 = unlimited)")
      ->envname("BASALT_IPM_PER_KEY")
      ->capture_default_str();
  serve
      ->add_option("--monthly-budget", sf.monthly_budget,
                   "Monthly cost budget per account (0 = unlimited)")
      ->envname("BASALT_MONTHLY_BUDGET")
      ->capture_default_str();
  serve
      ->add_option("--daily-app-credits", sf.daily_app_credits,
                   "Daily app-run credit allowance per user (0 = unlimited)")
      ->envname("BASALT_DAILY_APP_CREDITS")
      ->capture_default_str();
  serve->add_flag("--no-sample-apps", sf.no_sample_apps, "Do not seed Discover with sample apps");
  serve
      ->add_option("--max-document-size", sf.max_document_size,
                   "Largest document an app user may upload (5M, 512K, ...)")
      ->capture_default_str();
  serve->add_option("--pdftotext", sf.pdftotext, "poppler's pdftotext, for PDF documents in apps")
      ->capture_default_str();
  serve
      ->add_option("--oidc-config", sf.oidc_config,
                   "JSON file of OpenID Connect providers members sign in with (docs/apps.md)")
      ->envname("BASALT_OIDC_CONFIG");
  serve->add_flag("--allow-signup", sf.allow_signup,
                  "Let people sign up as members with an e-mail address and a password");
  serve
      ->add_option("--member-models", sf.member_models,
                   "Models a new member may use (default: every catalog model)")
      ->delimiter(',');
  serve
      ->add_option("--public-url", sf.public_url,
                   "This server's public base URL, for OpenID Connect redirects")
      ->envname("BASALT_PUBLIC_URL");
  serve
      ->add_option("--usage-checkpoint-ms", sf.usage_checkpoint_ms,
                   "How often running invocations checkpoint their usage (crash billing)")
      ->envname("BASALT_USAGE_CHECKPOINT_MS")
      ->capture_default_str();
  serve->add_option("--log-level", sf.log_level, "trace, debug, info, warn, error")
      ->envname("BASALT_LOG_LEVEL")
      ->capture_default_str();
  serve
      ->add_option("--shutdown-grace", sf.shutdown_grace_s,
                   "Seconds to finish in-flight streams on SIGTERM")
      ->capture_default_str();
  serve
      ->add_option("--console-session-ttl", sf.console_session_ttl_s,
                   "Seconds a web console sign-in lasts")
      ->envname("BASALT_CONSOLE_SESSION_TTL")
      ->capture_default_str();
  serve
      ->add_option("--console-signin-max-failures", sf.console_signin_max_failures,
                   "Failed console sign-ins per user name before a lockout (4x per address)")
      ->envname("BASALT_CONSOLE_SIGNIN_MAX_FAILURES")
      ->capture_default_str();
  serve
      ->add_option("--console-signin-lockout", sf.console_signin_lockout_s,
                   "Seconds of the first sign-in lockout; doubles per further failure (max 15 "
                   "min)")
      ->envname("BASALT_CONSOLE_SIGNIN_LOCKOUT")
      ->capture_default_str();
  serve
      ->add_option("--console-dir", sf.console_dir,
                   "Serve the web console from this folder (e.g. web/dist) instead of the copy "
                   "built into the binary (front-end development)")
      ->envname("BASALT_CONSOLE_DIR");
  serve
      ->add_flag("--mmap", sf.mmap,
                 "Memory-map model weights instead of reading them into memory (for huge models "
                 "on trusted storage: a weights file truncated in place kills the server)")
      ->envname("BASALT_MMAP");

  serve
      ->add_option("--memory-limit", sf.memory_limit,
                   "Memory all models may take (e.g. 6G); a model that does not fit is refused "
                   "(default: what the system has, MemAvailable and the cgroup limit)")
      ->envname("BASALT_MEMORY_LIMIT");
  serve
      ->add_option("--image-threads", sf.image_threads,
                   "CPU threads of a running image job (0 = all cores)")
      ->envname("BASALT_IMAGE_THREADS")
      ->capture_default_str();
  serve
      ->add_option("--image-queue", sf.image_queue,
                   "Image requests waiting per image model before ThrottlingException")
      ->envname("BASALT_IMAGE_QUEUE")
      ->capture_default_str();
  serve
      ->add_option("--image-dtype", sf.image_dtype,
                   "Image compute precision: auto (bf16 where the CPU has it), bf16 or f32")
      ->envname("BASALT_IMAGE_DTYPE")
      ->capture_default_str();
  serve
      ->add_option("--prompt-translator", sf.prompt_translator,
                   "Text model (catalog id) that translates image prompts which are not English "
                   "(default: the first instruct model; none: off)")
      ->envname("BASALT_PROMPT_TRANSLATOR");
  serve
      ->add_flag("--no-model-watch", sf.no_model_watch,
                 "Do not watch the catalog file and models folders (reload with SIGHUP, "
                 "`basalt models reload` or POST /basalt/models/reload)")
      ->envname("BASALT_NO_MODEL_WATCH");
  serve
      ->add_option("--model-watch-debounce-ms", sf.model_watch_debounce_ms,
                   "Quiet time after a change to the catalog or a GGUF before the reload")
      ->envname("BASALT_MODEL_WATCH_DEBOUNCE_MS")
      ->capture_default_str();

  auto* models_cmd = app.add_subcommand("models", "Manage model weights");
  models_cmd->require_subcommand(1);
  models::PullOptions po;
  po.base_url = "https://huggingface.co";
  if (const char* e = std::getenv("BASALT_HF_BASE_URL"); e && *e) po.base_url = e;
  if (const char* t = std::getenv("HF_TOKEN"); t && *t) po.token = t;
  po.dest_dir = (fs::path(DefaultDataDir()) / "models").string();
  auto* pull =
      models_cmd->add_subcommand("pull", "Download a GGUF from a Hugging Face-style server");
  pull->add_option("repo", po.repo, "Repository, e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF")->required();
  pull->add_option("file", po.file,
                   "File in the repository, e.g. qwen2.5-0.5b-instruct-q4_k_m.gguf")
      ->required();
  pull->add_option("--dir", po.dest_dir, "Destination folder")->capture_default_str();
  pull->add_option("--base-url", po.base_url, "Server base URL (env BASALT_HF_BASE_URL)")
      ->capture_default_str();
  pull->add_option("--revision", po.revision, "Branch, tag or commit")->capture_default_str();
  pull->add_option("--sha256", po.expected_sha256, "Expected SHA-256 of the file");
  pull->add_option("--token", po.token, "Bearer token (env HF_TOKEN)");
  bool quiet = false;
  pull->add_flag("--quiet", quiet, "No progress bar");

  std::string reload_data_dir;
  int reload_timeout_s = 300;
  auto* reload = models_cmd->add_subcommand(
      "reload",
      "Make a running server re-read its catalog and models folders (SIGHUP to the pid in "
      "<data-dir>/basalt.pid) and print what changed");
  reload->add_option("--data-dir", reload_data_dir, "The server's state folder (default ~/.basalt)")
      ->envname("BASALT_DATA_DIR");
  reload->add_option("--timeout", reload_timeout_s, "Seconds to wait for the outcome")
      ->capture_default_str();

  auto* version = app.add_subcommand("version", "Print the version");
  server::AddAdminCommands(&app);

  UsageFlags uf;
  auto* usage_cmd = app.add_subcommand("usage", "Usage and cost reports");
  usage_cmd->require_subcommand(1);
  auto* report = usage_cmd->add_subcommand("report", "Usage and cost for a date range, grouped");
  report->add_option("--data-dir", uf.data_dir, "State folder (default ~/.basalt)")
      ->envname("BASALT_DATA_DIR");
  report->add_option("--from", uf.from, "First day (YYYY-MM-DD, UTC)");
  report->add_option("--to", uf.to, "Day after the last (YYYY-MM-DD, UTC)");
  report
      ->add_option("--group-by", uf.group_by,
                   "day, model, key, user, source, app, account, region, operation, outcome")
      ->delimiter(',');
  report->add_option("--account", uf.account, "Only this account");
  report->add_option("--model", uf.model, "Only this model id");
  report->add_option("--key", uf.key, "Only this key id");
  report->add_option("--user", uf.user, "Only this user id");
  report->add_option("--source", uf.source, "Only this source (api, console, app)");
  report->add_option("--app", uf.app, "Only this app id");
  report->add_flag("--csv", uf.csv, "CSV instead of JSON");

  CLI11_PARSE(app, argc, argv);
  if (serve->parsed()) return Serve(sf);
  if (pull->parsed()) {
    po.progress = !quiet;
    return Pull(po);
  }
  if (reload->parsed()) {
    return ReloadCommand(reload_data_dir.empty() ? DefaultDataDir() : reload_data_dir,
                         reload_timeout_s);
  }
  if (int rc = server::RunAdminIfParsed(); rc >= 0) return rc;
  if (report->parsed()) return UsageReportCommand(uf);
  if (version->parsed()) {
    std::cout << "basalt 0.1.0" << std::endl;
    return 0;
  }
  return 0;
}
