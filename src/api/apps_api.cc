// Apps over HTTP (docs/apps.md): the route dispatch of Apps(), definitions, versions,
// sharing, remix, Discover and the sample apps. Generate is in apps_generate.cc, documents and
// Backstage in apps_backstage.cc, runs and chat in app_runs.cc.
//
// Authorization: an app belongs to its owner (account and user); anyone else gets 404 for it,
// never 403, so app ids do not leak. A shared (public) app is reached by its token only, and
// what a non-owner sees of it carries no owner identifiers.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <map>

#include "api/api.h"
#include "api/apps_internal.h"
#include "api/apps_state.h"
#include "api/call.h"
#include "apps/definition.h"

namespace basalt::api {

namespace {

constexpr const char* kSamplesSeeded = "samples_seeded_v1";
constexpr const char* kSamplesAccount = "Basalt samples";
constexpr const char* kSamplesUser = "samples";

Status AppNotFound(const std::string& id) {
  return Status::NotFound("The app '" + id + "' was not found (or it is not yours).");
}

Status SharedNotFound() {
  return Status::NotFound("This app is not shared (the link was withdrawn, or it never existed).");
}

Json BlankDefinition() {
  return {{"schemaVersion", apps::kSchemaVersion},
          {"title", "Untitled app"},
          {"description", ""},
          {"widgets", Json::array()}};
}

// A version number from a path segment: 1..2^53.
bool ParseVersion(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 15) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return v >= 1;
}

// The optional integer member `baseVersion` (0 = not given: no check).
StatusOr<int64_t> BaseVersion(const Json& body) {
  if (!body.contains("baseVersion") || body["baseVersion"].is_null()) return int64_t{0};
  const Json& v = body["baseVersion"];
  if (!v.is_number_integer() || v.get<int64_t>() < 1) {
    return Status::InvalidArgument(
        "baseVersion must be a positive integer (the version the edit "
        "started from).");
  }
  return v.get<int64_t>();
}

}  // namespace

void BedrockApi::AppsStateDeleter::operator()(AppsState* state) const { delete state; }

std::string AppsIsoTime(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool AppOwnedBy(const apps::StoredApp& app, const BedrockApi::Call& call) {
  return app.account_id == call.principal.account_id && app.user_id == call.principal.user_id;
}

Json AppJson(const apps::StoredApp& app, const BedrockApi::Call& call) {
  const bool owner = AppOwnedBy(app, call);
  Json definition = Json::parse(app.definition_json, nullptr, false);
  if (definition.is_discarded()) definition = nullptr;
  Json j = {{"appId", app.app_id},
            {"title", app.title},
            {"description", app.description},
            {"visibility", app.visibility},
            {"listed", app.listed},
            {"version", app.version},
            {"definition", std::move(definition)},
            // Only the owner sees who owns it: a user name can be an e-mail address.
            {"owner", owner ? Json{{"userName", call.identity.user_name}} : Json(nullptr)},
            {"isOwner", owner},
            {"remixedFrom", app.remixed_from.empty() ? Json(nullptr)
                                                     : Json{{"appId", app.remixed_from},
                                                            {"title", app.remixed_from_title}}},
            {"createdAt", AppsIsoTime(app.created_at)},
            {"updatedAt", AppsIsoTime(app.updated_at)}};
  // A public app's link is public: whoever may see the app (its owner, Discover, the link's
  // holders) may see the link. A private app has none.
  if (app.visibility == "public" && !app.share_token.empty()) {
    j["shareToken"] = app.share_token;
    j["shareUrl"] = "/shared/" + app.share_token;
  }
  return j;
}

Json AppRunJson(const apps::AppRun& run, const std::string& runner_name) {
  Json widgets = Json::array();
  for (size_t pos = 0; pos < run.widgets.size();) {
    size_t comma = run.widgets.find(',', pos);
    if (comma == std::string::npos) comma = run.widgets.size();
    if (comma > pos) widgets.push_back(run.widgets.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return {{"runId", run.run_id},
          {"appId", run.app_id},
          {"version", run.app_version},
          {"status", run.status},
          {"widgets", widgets},
          {"error", run.error.empty() ? Json(nullptr) : Json(run.error)},
          {"runner", {{"userName", runner_name}}},
          {"startedAt", AppsIsoTime(run.started_at)},
          {"finishedAt", run.finished_at > 0 ? Json(AppsIsoTime(run.finished_at)) : Json(nullptr)}};
}

StatusOr<apps::AppDefinition> CheckAppDefinition(
    const Json& definition,
    const std::function<Status(const std::string&, const std::string&)>& model_allowed) {
  if (!definition.is_object()) {
    return Status::InvalidArgument(
        "definition must be a JSON object (an app definition, "
        "schemaVersion 1; see GET /basalt/apps/schema).");
  }
  BASALT_ASSIGN_OR_RETURN(apps::AppDefinition def, apps::FromJson(definition));
  BASALT_RETURN_IF_ERROR(apps::Validate(def, model_allowed));
  return def;
}

void BedrockApi::InitApps() {
  apps_state_.reset(new AppsState());
  if (deps_.apps == nullptr) return;
  auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.clock().time_since_epoch())
          .count();
  auto interrupted = deps_.apps->MarkInterruptedRuns(now_ms);
  if (!interrupted.ok()) {
    spdlog::error("apps: cannot mark interrupted runs: {}", interrupted.status().ToString());
  } else if (*interrupted > 0) {
    spdlog::warn("apps: {} run(s) were interrupted by a restart and are marked failed",
                 *interrupted);
  }
  if (!options_.apps.seed_samples || store_ == nullptr) return;
  Status st = SeedSampleApps();
  if (!st.ok()) spdlog::error("apps: the sample apps were not seeded: {}", st.ToString());
}

// Once per data folder (setting samples_seeded_v1): the samples' own account and user, each
// sample app created there, public and listed in Discover. A start that fails half-way
// leaves no mark, and the next start reuses the account and adds the missing samples.
Status BedrockApi::SeedSampleApps() {
  BASALT_ASSIGN_OR_RETURN(std::string seeded, deps_.apps->GetSetting(kSamplesSeeded));
  if (!seeded.empty()) return Status::Ok();
  store::Account account;
  if (auto found = store_->FindAccountByName(kSamplesAccount); found.ok()) {
    account = *found;
  } else if (found.status().code() == StatusCode::kNotFound) {
    BASALT_ASSIGN_OR_RETURN(account, store_->CreateAccount(kSamplesAccount));
  } else {
    return found.status();
  }
  store::User user;
  if (auto found = store_->FindUserByName(account.id, kSamplesUser); found.ok()) {
    user = *found;
  } else if (found.status().code() == StatusCode::kNotFound) {
    BASALT_ASSIGN_OR_RETURN(user, store_->CreateUser(account.id, kSamplesUser, "user"));
  } else {
    return found.status();
  }
  BASALT_ASSIGN_OR_RETURN(auto existing, deps_.apps->ListApps(account.id, user.id));
  int created = 0;
  for (const apps::AppDefinition& sample : apps::SampleApps()) {
    bool have = std::any_of(existing.begin(), existing.end(),
                            [&](const apps::StoredApp& a) { return a.title == sample.title; });
    if (have) continue;
    // The samples name no model (each widget runs on the runner's default), so only the
    // structure is checked here.
    BASALT_RETURN_IF_ERROR(apps::Validate(sample));
    BASALT_ASSIGN_OR_RETURN(
        apps::StoredApp app,
        deps_.apps->CreateApp(account.id, user.id, apps::ToJson(sample).dump(), "sample"));
    BASALT_RETURN_IF_ERROR(deps_.apps->SetVisibility(app.app_id, "public", true).status());
    ++created;
  }
  BASALT_RETURN_IF_ERROR(deps_.apps->PutSetting(kSamplesSeeded, "1"));
  std::lock_guard lock(apps_state_->mu);
  apps_state_->samples_account_id = account.id;
  apps_state_->samples_user_id = user.id;
  spdlog::info("apps: seeded {} sample app(s) into Discover", created);
  return Status::Ok();
}

void BedrockApi::Apps(Call& call, const std::vector<std::string>& raw) {
  auto now = options_.clock();
  if (deps_.apps == nullptr) {
    return SendError(call,
                     Status::NotFound("Apps are not enabled on this server (it has no apps "
                                      "store)."),
                     now);
  }
  std::vector<std::string> rest;
  for (const std::string& s : raw) {
    auto decoded = PercentDecode(s);
    if (!decoded.ok()) return SendError(call, decoded.status(), now);
    rest.push_back(std::move(*decoded));
  }
  const std::string& method = call.request.method;
  const size_t n = rest.size();
  auto unknown = [&] {
    SendError(call, Status::NotFound("Unknown operation " + method + " " + call.path), now);
  };
  auto body = [&]() -> StatusOr<Json> { return ControlBody(call.request.body); };
  auto model_allowed = [&](const std::string& type, const std::string& model) {
    return AppModelAllowed(call, type, model);
  };
  auto reply_app = [&](int status, const StatusOr<apps::StoredApp>& app) {
    if (!app.ok()) return SendError(call, app.status(), now);
    SendJson(call, status, {{"app", AppJson(*app, call)}}, now);
  };
  // Copies `source` into the caller's apps, remembering where it came from.
  auto remix = [&](const apps::StoredApp& source) {
    auto def = apps::FromJson(Json::parse(source.definition_json, nullptr, false));
    if (!def.ok()) return SendError(call, def.status(), now);
    // Models the remixer may not use fall back to their default.
    for (apps::Widget& w : def->widgets) {
      if (!w.model.empty() && !AppModelAllowed(call, w.type, w.model).ok()) w.model.clear();
    }
    reply_app(201, deps_.apps->CreateApp(call.principal.account_id, call.principal.user_id,
                                         apps::ToJson(*def).dump(), "remixed", source.app_id,
                                         source.title));
  };

  if (rest[0] == "discover") {
    if (n != 1 || method != "GET") return unknown();
    auto listed = deps_.apps->ListDiscover(200);
    if (!listed.ok()) return SendError(call, listed.status(), now);
    Json list = Json::array();
    for (const auto& app : *listed) list.push_back(AppJson(app, call));
    return SendJson(call, 200, {{"apps", list}}, now);
  }
  if (rest[0] == "documents") return AppDocuments(call, rest);
  if (rest[0] == "backstage") {
    if (n != 1 || method != "GET") return unknown();
    return Backstage(call);
  }
  if (rest[0] == "shared") {
    if (n < 2 || n > 3) return unknown();
    auto app = deps_.apps->GetAppByShareToken(rest[1]);
    if (!app.ok() && app.status().code() == StatusCode::kNotFound) {
      return SendError(call, SharedNotFound(), now);
    }
    if (!app.ok()) return SendError(call, app.status(), now);
    if (app->visibility != "public") return SendError(call, SharedNotFound(), now);
    const bool owner = AppOwnedBy(*app, call);
    if (n == 2 && method == "GET") return SendJson(call, 200, {{"app", AppJson(*app, call)}}, now);
    if (n == 3 && method == "POST" && rest[2] == "remix") return remix(*app);
    if (n == 3 && method == "POST" && rest[2] == "runs") return RunApp(call, *app, owner);
    if (n == 3 && method == "POST" && rest[2] == "chat") return ChatApp(call, *app, owner);
    return unknown();
  }
  if (rest[0] != "apps") return unknown();

  if (n == 1 && method == "GET") {
    auto mine = deps_.apps->ListApps(call.principal.account_id, call.principal.user_id);
    if (!mine.ok()) return SendError(call, mine.status(), now);
    Json list = Json::array();
    for (const auto& app : *mine) list.push_back(AppJson(app, call));
    return SendJson(call, 200, {{"apps", list}}, now);
  }
  if (n == 1 && method == "POST") {
    auto b = body();
    if (!b.ok()) return SendError(call, b.status(), now);
    Json definition = b->contains("definition") && !(*b)["definition"].is_null()
                          ? (*b)["definition"]
                          : BlankDefinition();
    auto def = CheckAppDefinition(definition, model_allowed);
    if (!def.ok()) return SendError(call, def.status(), now);
    return reply_app(201, deps_.apps->CreateApp(call.principal.account_id, call.principal.user_id,
                                                apps::ToJson(*def).dump(), "created"));
  }
  if (n == 2 && rest[1] == "generate") {
    if (method != "POST") return unknown();
    return GenerateApp(call);
  }
  if (n == 2 && rest[1] == "schema") {
    if (method != "GET") return unknown();
    auto headers = BaseHeaders(call.request_id, "application/schema+json", now);
    call.responded = true;
    call.writer->Respond(200, std::move(headers), apps::SchemaText());
    return;
  }
  if (n == 4 && rest[1] == "runs" && rest[3] == "stop") {
    if (method != "POST") return unknown();
    return StopAppRun(call, rest[2]);
  }
  if (n < 2 || n > 5) return unknown();

  const std::string& app_id = rest[1];
  auto app = deps_.apps->GetApp(app_id);
  if (!app.ok() && app.status().code() != StatusCode::kNotFound) {
    return SendError(call, app.status(), now);
  }
  if (!app.ok() || !AppOwnedBy(*app, call)) return SendError(call, AppNotFound(app_id), now);

  if (n == 2) {
    if (method == "GET") return SendJson(call, 200, {{"app", AppJson(*app, call)}}, now);
    if (method == "DELETE") {
      Status st = deps_.apps->DeleteApp(app_id);
      if (!st.ok()) return SendError(call, st, now);
      call.responded = true;
      call.writer->Respond(204, BaseHeaders(call.request_id, "application/json", now), "");
      return;
    }
    if (method == "PUT") {
      auto b = body();
      if (!b.ok()) return SendError(call, b.status(), now);
      if (!b->contains("definition")) {
        return SendError(call,
                         Status::InvalidArgument("1 validation error detected: Value null at "
                                                 "'definition' failed to satisfy constraint: "
                                                 "Member must not be null"),
                         now);
      }
      auto base = BaseVersion(*b);
      if (!base.ok()) return SendError(call, base.status(), now);
      auto def = CheckAppDefinition((*b)["definition"], model_allowed);
      if (!def.ok()) return SendError(call, def.status(), now);
      return reply_app(200,
                       SaveAppVersion(call, app_id, apps::ToJson(*def).dump(), "edited", *base));
    }
    return unknown();
  }
  const std::string& what = rest[2];
  if (n == 3 && what == "versions" && method == "GET") {
    auto versions = deps_.apps->ListVersions(app_id);
    if (!versions.ok()) return SendError(call, versions.status(), now);
    std::sort(versions->begin(), versions->end(),
              [](const auto& a, const auto& b) { return a.version > b.version; });
    Json list = Json::array();
    for (const auto& v : *versions) {
      list.push_back(
          {{"version", v.version}, {"note", v.note}, {"createdAt", AppsIsoTime(v.created_at)}});
    }
    return SendJson(call, 200, {{"versions", list}, {"current", app->version}}, now);
  }
  if ((n == 4 || n == 5) && what == "versions") {
    int64_t version = 0;
    if (!ParseVersion(rest[3], &version)) {
      return SendError(
          call,
          Status::InvalidArgument("The version must be a positive integer, not '" + rest[3] + "'."),
          now);
    }
    auto stored = deps_.apps->GetVersion(app_id, version);
    if (!stored.ok() && stored.status().code() == StatusCode::kNotFound) {
      return SendError(call,
                       Status::NotFound("The app '" + app_id + "' has no version " +
                                        std::to_string(version) + "."),
                       now);
    }
    if (!stored.ok()) return SendError(call, stored.status(), now);
    if (n == 4 && method == "GET") {
      Json definition = Json::parse(stored->definition_json, nullptr, false);
      return SendJson(call, 200,
                      {{"version", stored->version},
                       {"note", stored->note},
                       {"createdAt", AppsIsoTime(stored->created_at)},
                       {"definition", definition.is_discarded() ? Json(nullptr) : definition}},
                      now);
    }
    if (n == 5 && rest[4] == "restore" && method == "POST") {
      auto b = body();
      if (!b.ok()) return SendError(call, b.status(), now);
      auto base = BaseVersion(*b);
      if (!base.ok()) return SendError(call, base.status(), now);
      // The old version is checked again: a model it names may have gone since.
      auto def =
          CheckAppDefinition(Json::parse(stored->definition_json, nullptr, false), model_allowed);
      if (!def.ok()) return SendError(call, def.status(), now);
      return reply_app(200, SaveAppVersion(call, app_id, apps::ToJson(*def).dump(),
                                           "restored " + std::to_string(version), *base));
    }
    return unknown();
  }
  if (n != 3) return unknown();
  if (what == "share" && method == "PUT") {
    auto b = body();
    if (!b.ok()) return SendError(call, b.status(), now);
    bool listed = false;
    if (b->contains("listed") && !(*b)["listed"].is_null()) {
      if (!(*b)["listed"].is_boolean()) {
        return SendError(call, Status::InvalidArgument("listed must be true or false."), now);
      }
      listed = (*b)["listed"].get<bool>();
    }
    return reply_app(200, deps_.apps->SetVisibility(app_id, "public", listed));
  }
  if (what == "share" && method == "DELETE") {
    return reply_app(200, deps_.apps->SetVisibility(app_id, "private", false));
  }
  if (what == "remix" && method == "POST") return remix(*app);
  if (what == "runs" && method == "POST") return RunApp(call, *app, true);
  if (what == "chat" && method == "POST") return ChatApp(call, *app, true);
  if (what == "runs" && method == "GET") {
    auto runs = deps_.apps->ListRuns(app_id, "", 100);
    if (!runs.ok()) return SendError(call, runs.status(), now);
    std::map<std::string, std::string> names;  // user id -> name, looked up once
    Json list = Json::array();
    for (const auto& run : *runs) {
      auto [it, fresh] = names.try_emplace(run.user_id);
      if (fresh) {
        auto user = store_->GetUser(run.user_id);
        it->second = user.ok() ? user->name : "";
      }
      list.push_back(AppRunJson(run, it->second));
    }
    return SendJson(call, 200, {{"runs", list}}, now);
  }
  unknown();
}

// A new version; a stale base version is a 409 ConflictException (the editor reloads).
StatusOr<apps::StoredApp> BedrockApi::SaveAppVersion(const Call& call, const std::string& app_id,
                                                     const std::string& definition_json,
                                                     const std::string& note,
                                                     int64_t base_version) {
  auto saved =
      deps_.apps->SaveVersion(app_id, call.principal.user_id, definition_json, note, base_version);
  if (!saved.ok() && saved.status().code() == StatusCode::kFailedPrecondition) {
    return Status(StatusCode::kFailedPrecondition, saved.status().message(), "Conflict");
  }
  return saved;
}

}  // namespace basalt::api
