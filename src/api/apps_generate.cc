// Apps over HTTP (docs/apps.md): which models an app's widgets may name, and Generate (an app
// written by a text model under structured output, as the caller, metered with source "app").
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <set>

#include "api/api.h"
#include "api/app_invoke.h"
#include "api/apps_internal.h"
#include "api/authorize.h"
#include "api/call.h"
#include "apps/definition.h"

namespace basalt::api {

namespace {

bool Has(const std::vector<std::string>& list, const char* value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// The modality a widget type needs: text ("TEXT") or images ("IMAGE").
bool MakesWhatWidgetNeeds(const catalog::ModelEntry& e, const std::string& type) {
  if (type == apps::kImageGeneration) return Has(e.output_modalities, "IMAGE");
  return Has(e.output_modalities, "TEXT") && !e.embedding();
}

// Hangul in the description: the app's static texts are written in Korean.
std::string LanguageOf(const std::string& text) {
  for (size_t i = 0; i + 2 < text.size(); ++i) {
    // U+AC00..U+D7A3 (syllables) and U+3131..U+318E (jamo) in UTF-8.
    unsigned char a = static_cast<unsigned char>(text[i]);
    unsigned char b = static_cast<unsigned char>(text[i + 1]);
    if ((a >= 0xEA && a <= 0xED) && !(a == 0xEA && b < 0xB0) && !(a == 0xED && b > 0x9E)) {
      return "ko";
    }
    if (a == 0xE3 && (b == 0x84 || b == 0x85 || b == 0x86)) return "ko";
  }
  return "en";
}

}  // namespace

Status BedrockApi::AppModelAllowed(const Call& call, const std::string& type,
                                   const std::string& model) {
  if (model.empty()) return Status::Ok();
  const catalog::ModelEntry* entry = model.size() > 2048 ? nullptr : catalog_->Find(model);
  if (entry == nullptr || !ModelInRegion(*entry, call.region, model)) {
    return Status::InvalidArgument("no such model is served here.");
  }
  if (!MakesWhatWidgetNeeds(*entry, type)) {
    return Status::InvalidArgument(type == apps::kImageGeneration ? "it does not generate images."
                                                                  : "it does not generate text.");
  }
  if (!Authorize(call.identity, "bedrock:InvokeModel",
                 FoundationModelArn(call.region, entry->model_id))
           .ok()) {
    return Status::InvalidArgument("your policies do not allow invoking it.");
  }
  Status access = CheckModelAccess(*store_, call.principal.account_id, entry->model_id);
  if (access.code() == StatusCode::kPermissionDenied) {
    return Status::InvalidArgument("your account has no access to it.");
  }
  return access;
}

std::vector<std::string> BedrockApi::AppModels(const Call& call, const std::string& type) {
  std::vector<std::string> out;
  std::set<std::string> engines;  // one id per local model
  for (bool aliases : {false, true}) {
    for (const catalog::ModelEntry& e : catalog_->entries()) {
      if (e.is_alias != aliases || engines.count(e.engine_model)) continue;
      if (!AppModelAllowed(call, type, e.model_id).ok()) continue;
      engines.insert(e.engine_model);
      out.push_back(e.model_id);
    }
  }
  return out;
}

// POST /apps/generate {"description", "seed"?, "appId"?, "modelId"?, "language"?}.
void BedrockApi::GenerateApp(Call& call) {
  auto now = options_.clock();
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  auto description = RequiredString(*body, "description", 2000);
  if (!description.ok()) return SendError(call, description.status(), now);
  auto app_id = OptionalString(*body, "appId", 64);
  if (!app_id.ok()) return SendError(call, app_id.status(), now);
  auto model_id = OptionalString(*body, "modelId", 2048);
  if (!model_id.ok()) return SendError(call, model_id.status(), now);
  auto language = OptionalString(*body, "language", 8);
  if (!language.ok()) return SendError(call, language.status(), now);
  if (!language->empty() && *language != "en" && *language != "ko") {
    return SendError(call, Status::InvalidArgument("language must be \"en\" or \"ko\"."), now);
  }
  int64_t seed = 0;
  if (body->contains("seed") && !(*body)["seed"].is_null()) {
    const Json& s = (*body)["seed"];
    if (!s.is_number_integer() || s.get<int64_t>() < 0 || s.get<int64_t>() > 2147483647) {
      return SendError(call, Status::InvalidArgument("seed must be an integer 0..2147483647."),
                       now);
    }
    seed = s.get<int64_t>();
  }
  if (seed == 0) {
    // Regenerate without a seed gives another take.
    static thread_local std::mt19937_64 rng(std::random_device{}());
    seed = static_cast<int64_t>(rng() % 2147483646) + 1;
  }
  int64_t base_version = 0;
  if (!app_id->empty()) {
    auto app = deps_.apps->GetApp(*app_id);
    if (!app.ok() || !AppOwnedBy(*app, call)) {
      if (!app.ok() && app.status().code() != StatusCode::kNotFound) {
        return SendError(call, app.status(), now);
      }
      return SendError(
          call, Status::NotFound("The app '" + *app_id + "' was not found (or it is not yours)."),
          now);
    }
    if (body->contains("baseVersion") && !(*body)["baseVersion"].is_null()) {
      const Json& v = (*body)["baseVersion"];
      if (!v.is_number_integer() || v.get<int64_t>() < 1) {
        return SendError(call, Status::InvalidArgument("baseVersion must be a positive integer."),
                         now);
      }
      base_version = v.get<int64_t>();
      // Stale already: refuse before spending credits on the model call.
      if (base_version != app->version) {
        return SendError(
            call,
            Status(StatusCode::kFailedPrecondition,
                   "The app changed since you opened it (version " + std::to_string(app->version) +
                       ", not " + std::to_string(base_version) + "): reload it.",
                   "Conflict"),
            now);
      }
    }
  }

  apps::GenerateRequest request;
  request.description = *description;
  request.seed = seed;
  request.language = language->empty() ? LanguageOf(*description) : *language;
  request.text_models = AppModels(call, apps::kTextGeneration);
  request.image_models = AppModels(call, apps::kImageGeneration);
  if (!model_id->empty()) {
    Status st = AppModelAllowed(call, apps::kTextGeneration, *model_id);
    if (!st.ok()) {
      return SendError(
          call,
          Status(st.code(), "The model '" + *model_id + "' cannot write the app: " + st.message()),
          now);
    }
    request.text_models.erase(
        std::remove(request.text_models.begin(), request.text_models.end(), *model_id),
        request.text_models.end());
    request.text_models.insert(request.text_models.begin(), *model_id);
  }
  if (request.text_models.empty()) {
    return SendError(call,
                     Status::PermissionDenied("There is no text model you may use, so no app can "
                                              "be generated. Ask an administrator for model "
                                              "access."),
                     now);
  }
  const std::string writer_model = request.text_models.front();
  auto call_model = [&](const apps::ModelCall& mc) -> StatusOr<std::string> {
    AppCallRequest r;
    r.app_id = *app_id;  // "" for a brand-new app: it has no id yet
    r.model_id = writer_model;
    r.system = mc.system;
    r.messages = {{"user", mc.user}};
    r.max_tokens = mc.max_tokens;
    r.seed = mc.seed;
    r.output_config = {{"textFormat",
                        {{"type", "json_schema"},
                         {"structure",
                          {{"jsonSchema",
                            {{"schema", mc.json_schema.dump()},
                             {"name", "app_definition"},
                             {"description", "A Basalt app definition"}}}}}}}};
    AppCallResult result = InvokeForApp(call, r);
    if (!result.status.ok()) return result.status;
    return result.text;
  };
  auto def = apps::Generate(request, call_model);
  if (!def.ok()) return SendError(call, def.status(), now);
  // Generate validates with the lists; the save checks the caller's models once more.
  Status valid = apps::Validate(*def, [&](const std::string& type, const std::string& model) {
    return AppModelAllowed(call, type, model);
  });
  if (!valid.ok()) return SendError(call, valid, now);
  const std::string json = apps::ToJson(*def).dump();
  StatusOr<apps::StoredApp> saved =
      app_id->empty() ? deps_.apps->CreateApp(call.principal.account_id, call.principal.user_id,
                                              json, "generated")
                      : SaveAppVersion(call, *app_id, json, "generated", base_version);
  if (!saved.ok()) return SendError(call, saved.status(), now);
  spdlog::info("{} apps: generated {} ({} widgets) with {} seed {}", call.request_id, saved->app_id,
               def->widgets.size(), writer_model, seed);
  SendJson(call, 201, {{"app", AppJson(*saved, call)}}, now);
}

}  // namespace basalt::api
