// Served models and weight pulls (/basalt/models): which catalog entries are served and
// which wait for weights, and downloads of missing weights from a Hugging Face-style hub
// that make a model available without a restart. Administrators only (basalt:ListModels,
// basalt:PullModel, basalt:ReloadModels; only the administrator policies grant them).
#include <spdlog/spdlog.h>

#include <set>

#include "api/api.h"
#include "api/authorize.h"
#include "api/call.h"

namespace basalt::api {

namespace {

Json PullJson(const std::optional<models::PullState>& p) {
  if (!p) return nullptr;
  return {{"state", p->state},
          {"bytes", p->bytes},
          {"totalBytes", p->total_bytes},
          {"error", p->error.empty() ? Json(nullptr) : Json(p->error)},
          {"sha256", p->sha256.empty() ? Json(nullptr) : Json(p->sha256)}};
}

Json ReloadJson(const models::ModelReloadReport& r) {
  Json errors = Json::array();
  for (const auto& e : r.errors) errors.push_back({{"modelId", e.model}, {"message", e.message}});
  return {{"added", r.added},         {"replaced", r.replaced}, {"removed", r.removed},
          {"unchanged", r.unchanged}, {"errors", errors},       {"reload", r.sequence}};
}

}  // namespace

void BedrockApi::ListServedModels(Call& call) {
  auto now = options_.clock();
  Status st = Authorize(call.identity, "basalt:ListModels", "*");
  if (!st.ok()) return SendError(call, st, now);
  Json list = Json::array();
  std::set<std::string> seen;
  const catalog::Catalog& cat = *catalog_;
  for (const auto& e : cat.entries()) {
    if (e.is_alias || !seen.insert(e.model_id).second) continue;
    list.push_back({{"modelId", e.model_id},
                    {"modelName", e.model_name},
                    {"providerName", e.provider_name},
                    {"weights", e.weights_path},
                    {"served", true},
                    {"sourceRepo", e.source_repo},
                    {"sourceFile", e.source_file},
                    {"pull", PullJson(pulls_.Get(e.model_id))}});
  }
  for (const auto& m : cat.missing()) {
    if (!seen.insert(m.model_id).second) continue;
    list.push_back({{"modelId", m.model_id},
                    {"modelName", m.model_name},
                    {"providerName", m.provider_name},
                    {"weights", m.weights},
                    {"served", false},
                    {"sourceRepo", m.source_repo},
                    {"sourceFile", m.source_file},
                    {"pull", PullJson(pulls_.Get(m.model_id))}});
  }
  SendJson(call, 200,
           {{"models", list},
            {"modelsDir", deps_.model_admin.models_dir},
            {"hub", deps_.model_admin.hub_base_url}},
           now);
}

void BedrockApi::PullWeights(Call& call) {
  auto now = options_.clock();
  Status st = Authorize(call.identity, "basalt:PullModel", "*");
  if (!st.ok()) return SendError(call, st, now);
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  auto model_id = RequiredString(*body, "modelId", 2048);
  if (!model_id.ok()) return SendError(call, model_id.status(), now);
  if (!deps_.model_admin.reload || deps_.model_admin.models_dir.empty()) {
    return SendError(call, Status::FailedPrecondition("Model downloads are not enabled here."),
                     now);
  }
  const catalog::Catalog& cat = *catalog_;
  const catalog::MissingModel* missing = nullptr;
  for (const auto& m : cat.missing()) {
    if (m.model_id == *model_id) missing = &m;
  }
  if (missing == nullptr) {
    const catalog::ModelEntry* e = cat.Find(*model_id);
    if (e != nullptr && !e->is_alias) {
      return SendError(call,
                       Status::FailedPrecondition("Model " + *model_id +
                                                  " is already served; its weights are present."),
                       now);
    }
    return SendError(call, Status::NotFound("Could not find model " + *model_id + "."), now);
  }
  if (missing->source_repo.empty() || missing->source_file.empty()) {
    return SendError(call,
                     Status::FailedPrecondition("The catalog names no download source for " +
                                                *model_id + "; copy " + missing->weights +
                                                " into " + deps_.model_admin.models_dir + "."),
                     now);
  }
  models::PullOptions po;
  po.base_url = deps_.model_admin.hub_base_url;
  po.token = deps_.model_admin.hub_token;
  po.repo = missing->source_repo;
  po.file = missing->source_file;
  po.expected_sha256 = missing->source_sha256;
  po.dest_dir = deps_.model_admin.models_dir;
  std::string id = *model_id;
  std::string user = call.identity.arn;
  st = pulls_.Start(id, po, [this, id, user](const models::PullResult& r) -> Status {
    spdlog::info("model {}: {} downloaded ({} bytes, sha256 {}) by {}", id, r.path, r.bytes,
                 r.sha256, user);
    auto report = deps_.model_admin.reload();
    if (!report.ok()) return report.status();
    for (const auto& e : report->errors) {
      if (e.model == id) return Status::FailedPrecondition(e.message);
    }
    if (catalog_->Find(id) == nullptr) {
      return Status::FailedPrecondition("Downloaded " + r.path +
                                        ", but the catalog still finds no weights for " + id +
                                        " (its \"weights\" names another file).");
    }
    return Status::Ok();
  });
  if (!st.ok()) return SendError(call, st, now);
  SendJson(call, 202, {{"modelId", id}, {"pull", PullJson(pulls_.Get(id))}}, now);
}

// POST /basalt/models/reload: re-reads the catalog file and the models folders and applies
// the difference (added, replaced, removed models); the reply lists it, with the models whose
// new files could not be used.
void BedrockApi::ReloadModels(Call& call) {
  auto now = options_.clock();
  Status st = Authorize(call.identity, "basalt:ReloadModels", "*");
  if (!st.ok()) return SendError(call, st, now);
  if (!deps_.model_admin.reload) {
    return SendError(call, Status::FailedPrecondition("Model reloads are not enabled here."), now);
  }
  auto report = deps_.model_admin.reload();
  if (!report.ok()) return SendError(call, report.status(), now);
  spdlog::info("model reload {} by {}", report->sequence, call.identity.arn);
  SendJson(call, 200, ReloadJson(*report), now);
}

}  // namespace basalt::api
