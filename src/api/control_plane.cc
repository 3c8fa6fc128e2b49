// Control-plane operations: the catalog (ListFoundationModels, GetFoundationModel), model
// access (availability, agreement offers, agreements, the use-case form), inference profiles
// and the model invocation logging configuration.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "api/api.h"
#include "api/authorize.h"
#include "api/call.h"
#include "api/errors.h"
#include "auth/sigv4.h"

namespace basalt::api {

using http::Header;

namespace {

Json ModelSummary(const catalog::ModelEntry& e, const std::string& region) {
  return {{"modelArn", FoundationModelArn(region, e.model_id)},
          {"modelId", e.model_id},
          {"modelName", e.model_name.substr(0, 20)},
          {"providerName", e.provider_name.substr(0, 20)},
          {"inputModalities", e.input_modalities},
          {"outputModalities", e.output_modalities},
          {"responseStreamingSupported", e.streaming},
          {"customizationsSupported", Json::array()},
          {"inferenceTypesSupported", Json::array({"ON_DEMAND"})},
          {"modelLifecycle", {{"status", "ACTIVE"}}}};
}

std::string OfferToken(const std::string& model_id) { return "basalt-offer-" + model_id; }

// The per-image price the console's cards show: a 512x512 standard image's (the size the
// default SD-Turbo model makes), else the standard or catch-all price; null without one.
Json ConsoleImagePrice(const std::map<std::string, double>& per_image) {
  for (const char* key : {"512x512/standard", "*/standard", "*"}) {
    if (auto it = per_image.find(key); it != per_image.end()) return it->second;
  }
  if (per_image.empty()) return nullptr;
  double low = per_image.begin()->second;
  for (const auto& [key, price] : per_image) low = std::min(low, price);
  return low;
}

}  // namespace

void BedrockApi::ListFoundationModels(Call& call) {
  auto now = options_.clock();
  Status st = Authorize(call.identity, "bedrock:ListFoundationModels", "*");
  if (!st.ok()) return SendError(call, st, now);
  std::string by_provider = QueryParam(call.query, "byProvider");
  std::string by_output = QueryParam(call.query, "byOutputModality");
  std::string by_inference = QueryParam(call.query, "byInferenceType");
  std::string by_custom = QueryParam(call.query, "byCustomizationType");
  for (auto [name, value, allowed] :
       {std::tuple{"byOutputModality", by_output,
                   std::vector<std::string>{"TEXT", "IMAGE", "EMBEDDING"}},
        std::tuple{"byInferenceType", by_inference,
                   std::vector<std::string>{"ON_DEMAND", "PROVISIONED"}},
        std::tuple{
            "byCustomizationType", by_custom,
            std::vector<std::string>{"FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"}}}) {
    if (!value.empty() && std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return SendError(
          call,
          Status::InvalidArgument("1 validation error detected: Value '" + value + "' at '" + name +
                                  "' failed to satisfy constraint: Member must "
                                  "satisfy enum value set: [" +
                                  list + "]"),
          now);
    }
  }
  Json list = Json::array();
  for (const auto& e : catalog_->entries()) {
    if (!ModelInRegion(e, call.region, e.model_id)) continue;
    if (!by_provider.empty() && Lower(by_provider) != Lower(e.provider_name)) continue;
    if (!by_output.empty() && std::find(e.output_modalities.begin(), e.output_modalities.end(),
                                        by_output) == e.output_modalities.end()) {
      continue;
    }
    if (!by_inference.empty() && by_inference != "ON_DEMAND") continue;
    if (!by_custom.empty()) continue;  // no customization is offered
    list.push_back(ModelSummary(e, call.region));
  }
  SendJson(call, 200, {{"modelSummaries", list}}, now);
}

void BedrockApi::GetFoundationModel(Call& call, const std::string& model_id) {
  auto now = options_.clock();
  const catalog::ModelEntry* e = catalog_->Find(model_id);
  if (e == nullptr || !ModelInRegion(*e, call.region, model_id)) {
    return SendError(call, Status::NotFound("Could not find model " + model_id + "."), now);
  }
  Status st = Authorize(call.identity, "bedrock:GetFoundationModel",
                        FoundationModelArn(call.region, e->model_id));
  if (!st.ok()) return SendError(call, st, now);
  SendJson(call, 200, {{"modelDetails", ModelSummary(*e, call.region)}}, now);
}

void BedrockApi::GetFoundationModelAvailability(Call& call, const std::string& model_id) {
  auto now = options_.clock();
  const catalog::ModelEntry* e = catalog_->Find(model_id);
  if (e == nullptr) {
    return SendError(call, Status::NotFound("Could not find model " + model_id + "."), now);
  }
  std::string arn = FoundationModelArn(call.region, e->model_id);
  Status st = Authorize(call.identity, "bedrock:GetFoundationModelAvailability", arn);
  if (!st.ok()) return SendError(call, st, now);
  bool authorized = Authorize(call.identity, "bedrock:InvokeModel", arn).ok();
  bool entitled = CheckModelAccess(*store_, call.principal.account_id, e->model_id).ok();
  auto access = store_->GetModelAccess(call.principal.account_id, e->model_id);
  if (!access.ok()) return SendError(call, access.status(), now);
  auto agreement = store_->HasAgreement(call.principal.account_id, e->model_id);
  if (!agreement.ok()) return SendError(call, agreement.status(), now);
  std::string agreement_status = entitled || *agreement   ? "AVAILABLE"
                                 : *access == "REQUESTED" ? "PENDING"
                                                          : "NOT_AVAILABLE";
  SendJson(call, 200,
           {{"modelId", e->model_id},
            {"agreementAvailability", {{"status", agreement_status}}},
            {"authorizationStatus", authorized ? "AUTHORIZED" : "NOT_AUTHORIZED"},
            {"entitlementAvailability", entitled ? "AVAILABLE" : "NOT_AVAILABLE"},
            {"regionAvailability",
             ModelInRegion(*e, call.region, e->model_id) ? "AVAILABLE" : "NOT_AVAILABLE"}},
           now);
}

void BedrockApi::ListAgreementOffers(Call& call, const std::string& model_id) {
  auto now = options_.clock();
  const catalog::ModelEntry* e = catalog_->Find(model_id);
  if (e == nullptr) {
    return SendError(call, Status::NotFound("Could not find model " + model_id + "."), now);
  }
  Status st = Authorize(call.identity, "bedrock:ListFoundationModelAgreementOffers",
                        FoundationModelArn(call.region, e->model_id));
  if (!st.ok()) return SendError(call, st, now);
  std::string offer_type = QueryParam(call.query, "offerType");
  if (!offer_type.empty() && offer_type != "ALL" && offer_type != "PUBLIC") {
    return SendError(call,
                     Status::InvalidArgument("1 validation error detected: Value '" + offer_type +
                                             "' at 'offerType' failed to satisfy constraint: "
                                             "Member must satisfy enum value set: [ALL, PUBLIC]"),
                     now);
  }
  auto price = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6f", v);
    return std::string(buf);
  };
  Json rate_card = Json::array({{{"dimension", "input_tokens"},
                                 {"price", price(e->price.input_per_1k_tokens)},
                                 {"description", "Price per 1,000 input tokens"},
                                 {"unit", "1K tokens"}},
                                {{"dimension", "output_tokens"},
                                 {"price", price(e->price.output_per_1k_tokens)},
                                 {"description", "Price per 1,000 output tokens"},
                                 {"unit", "1K tokens"}}});
  Json offer = {{"offerId", "basalt-" + e->model_id},
                {"offerToken", OfferToken(e->model_id)},
                {"termDetails",
                 {{"usageBasedPricingTerm", {{"rateCard", rate_card}}},
                  {"legalTerm", Json::object()},
                  {"supportTerm",
                   {{"refundPolicyDescription",
                     "Self-hosted model: usage is metered by this deployment."}}}}}};
  SendJson(call, 200, {{"modelId", e->model_id}, {"offers", Json::array({offer})}}, now);
}

namespace {

// The common start of the agreement operations: the body's modelId, resolved in the catalog,
// and `action` allowed on it.
StatusOr<const catalog::ModelEntry*> AgreementModel(const catalog::Catalog& catalog,
                                                    const Identity& identity,
                                                    const std::string& region, const Json& body,
                                                    const char* action) {
  auto model_id = RequiredString(body, "modelId", 2048);
  if (!model_id.ok()) return model_id.status();
  const catalog::ModelEntry* e = catalog.Find(*model_id);
  if (e == nullptr) return Status::NotFound("Could not find model " + *model_id + ".");
  Status st = Authorize(identity, action, FoundationModelArn(region, e->model_id));
  if (!st.ok()) return st;
  return e;
}

}  // namespace

void BedrockApi::CreateAgreement(Call& call) {
  auto now = options_.clock();
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  auto offer = RequiredString(*body, "offerToken", 4096);
  if (!offer.ok()) return SendError(call, offer.status(), now);
  auto entry = AgreementModel(*catalog_, call.identity, call.region, *body,
                              "bedrock:CreateFoundationModelAgreement");
  if (!entry.ok()) return SendError(call, entry.status(), now);
  const catalog::ModelEntry* e = *entry;
  Status st;
  if (*offer != OfferToken(e->model_id)) {
    return SendError(
        call,
        Status::InvalidArgument("The offer token is not valid for model " + e->model_id +
                                ". Get one from "
                                "ListFoundationModelAgreementOffers."),
        now);
  }
  if (e->use_case_form_required) {
    auto form = store_->GetUseCaseForm(call.principal.account_id);
    if (!form.ok()) {
      if (form.status().code() == StatusCode::kNotFound) {
        return SendError(call,
                         Status::NotFound("Model use case details have not been submitted "
                                          "for this account. Fill out the Anthropic use "
                                          "case details form before using the model."),
                         now);
      }
      return SendError(call, form.status(), now);
    }
  }
  st = store_->CreateAgreement(call.principal.account_id, e->model_id, *offer);
  if (!st.ok() && st.code() != StatusCode::kAlreadyExists) return SendError(call, st, now);
  auto state = store_->GetModelAccess(call.principal.account_id, e->model_id);
  if (!state.ok()) return SendError(call, state.status(), now);
  if (*state != "GRANTED" && *state != "DENIED") {
    st = store_->SetModelAccess(call.principal.account_id, e->model_id,
                                options_.manual_model_access_approval ? "REQUESTED" : "GRANTED");
    if (!st.ok()) return SendError(call, st, now);
  }
  SendJson(call, 202, {{"modelId", e->model_id}}, now);
}

void BedrockApi::DeleteAgreement(Call& call) {
  auto now = options_.clock();
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  auto entry = AgreementModel(*catalog_, call.identity, call.region, *body,
                              "bedrock:DeleteFoundationModelAgreement");
  if (!entry.ok()) return SendError(call, entry.status(), now);
  const catalog::ModelEntry* e = *entry;
  Status st = store_->DeleteAgreement(call.principal.account_id, e->model_id);
  if (!st.ok()) {
    if (st.code() == StatusCode::kNotFound) {
      return SendError(call, Status::NotFound("No agreement exists for model " + e->model_id + "."),
                       now);
    }
    return SendError(call, st, now);
  }
  auto state = store_->GetModelAccess(call.principal.account_id, e->model_id);
  if (state.ok() && *state != "DENIED") {
    store_->SetModelAccess(call.principal.account_id, e->model_id, "NOT_REQUESTED");
  }
  SendJson(call, 202, Json::object(), now);
}

void BedrockApi::PutUseCase(Call& call) {
  auto now = options_.clock();
  Status st = Authorize(call.identity, "bedrock:PutUseCaseForModelAccess", "*");
  if (!st.ok()) return SendError(call, st, now);
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  auto encoded = RequiredString(*body, "formData", 1 << 20);
  if (!encoded.ok()) return SendError(call, encoded.status(), now);
  auto form = auth::Base64Decode(*encoded);
  if (!form.ok()) {
    return SendError(call, Status::InvalidArgument("formData is not valid base64"), now);
  }
  if (form->size() < 10 || form->size() > 16384) {
    return SendError(call,
                     Status::InvalidArgument("1 validation error detected: Value at 'formData' "
                                             "failed to satisfy constraint: Member must have "
                                             "length between 10 and 16384"),
                     now);
  }
  st = store_->PutUseCaseForm(call.principal.account_id, *form);
  if (!st.ok()) return SendError(call, st, now);
  SendJson(call, 201, Json::object(), now);
}

void BedrockApi::GetUseCase(Call& call) {
  auto now = options_.clock();
  Status st = Authorize(call.identity, "bedrock:GetUseCaseForModelAccess", "*");
  if (!st.ok()) return SendError(call, st, now);
  auto form = store_->GetUseCaseForm(call.principal.account_id);
  if (!form.ok()) {
    if (form.status().code() == StatusCode::kNotFound) {
      return SendError(call,
                       Status::NotFound("Model use case details have not been submitted "
                                        "for this account."),
                       now);
    }
    return SendError(call, form.status(), now);
  }
  SendJson(call, 200, {{"formData", auth::Base64Encode(*form)}}, now);
}

namespace {

// System-defined cross-region profiles: one per model and geography served here.
std::vector<Json> InferenceProfiles(const catalog::Catalog& catalog,
                                    const std::vector<std::string>& regions,
                                    const std::string& region, const std::string& account) {
  std::vector<std::string> served = regions.empty() ? std::vector<std::string>{region} : regions;
  std::map<std::string, std::vector<std::string>> geos;  // "us" -> regions
  for (const auto& r : served) {
    std::string geo = r.substr(0, r.find('-'));
    if (geo == "ap") geo = "apac";
    geos[geo].push_back(r);
  }
  std::vector<Json> out;
  for (const auto& e : catalog.entries()) {
    for (const auto& [geo, rs] : geos) {
      Json models = Json::array();
      for (const auto& r : rs) {
        if (e.regions.empty() ||
            std::find(e.regions.begin(), e.regions.end(), r) != e.regions.end()) {
          models.push_back({{"modelArn", FoundationModelArn(r, e.model_id)}});
        }
      }
      if (models.empty()) continue;
      std::string id = geo + "." + e.model_id;
      out.push_back({{"inferenceProfileName", geo + " " + e.model_name},
                     {"description", "Routes requests to " + e.model_id + " in " + geo +
                                         " regions of this deployment."},
                     {"inferenceProfileArn",
                      "arn:aws:bedrock:" + region + ":" + account + ":inference-profile/" + id},
                     {"models", models},
                     {"inferenceProfileId", id},
                     {"status", "ACTIVE"},
                     {"type", "SYSTEM_DEFINED"}});
    }
  }
  return out;
}

}  // namespace

void BedrockApi::ListInferenceProfiles(Call& call) {
  auto now = options_.clock();
  Status st = Authorize(call.identity, "bedrock:ListInferenceProfiles", "*");
  if (!st.ok()) return SendError(call, st, now);
  std::string type = QueryParam(call.query, "type");
  if (!type.empty() && type != "SYSTEM_DEFINED" && type != "APPLICATION") {
    return SendError(call,
                     Status::InvalidArgument("1 validation error detected: Value '" + type +
                                             "' at 'typeEquals' failed to satisfy constraint: "
                                             "Member must satisfy enum value set: "
                                             "[SYSTEM_DEFINED, APPLICATION]"),
                     now);
  }
  std::vector<Json> all;
  if (type != "APPLICATION") {
    all = InferenceProfiles(*catalog_, options_.regions, call.region, call.principal.account_id);
  }
  size_t max_results = 1000;
  if (std::string m = QueryParam(call.query, "maxResults"); !m.empty()) {
    char* end = nullptr;
    long v = std::strtol(m.c_str(), &end, 10);
    if (*end != '\0' || v < 1 || v > 1000) {
      return SendError(call,
                       Status::InvalidArgument("1 validation error detected: Value '" + m +
                                               "' at 'maxResults' failed to satisfy constraint: "
                                               "Member must have value between 1 and 1000"),
                       now);
    }
    max_results = static_cast<size_t>(v);
  }
  size_t offset = 0;
  if (std::string t = QueryParam(call.query, "nextToken"); !t.empty()) {
    auto decoded = auth::Base64Decode(t);
    char* end = nullptr;
    long v = decoded.ok() ? std::strtol(decoded->c_str(), &end, 10) : -1;
    if (!decoded.ok() || *end != '\0' || v < 0) {
      return SendError(call, Status::InvalidArgument("The nextToken is not valid."), now);
    }
    offset = static_cast<size_t>(v);
  }
  Json page = Json::array();
  for (size_t i = offset; i < all.size() && page.size() < max_results; ++i) page.push_back(all[i]);
  Json out = {{"inferenceProfileSummaries", page}};
  if (offset + page.size() < all.size()) {
    out["nextToken"] = auth::Base64Encode(std::to_string(offset + page.size()));
  }
  SendJson(call, 200, out, now);
}

void BedrockApi::GetInferenceProfile(Call& call, const std::string& id) {
  auto now = options_.clock();
  std::string key = id;
  if (size_t slash = key.rfind('/'); key.rfind("arn:", 0) == 0 && slash != std::string::npos) {
    key = key.substr(slash + 1);
  }
  for (const Json& p :
       InferenceProfiles(*catalog_, options_.regions, call.region, call.principal.account_id)) {
    if (p["inferenceProfileId"] != key) continue;
    Status st = Authorize(call.identity, "bedrock:GetInferenceProfile",
                          p["inferenceProfileArn"].get<std::string>());
    if (!st.ok()) return SendError(call, st, now);
    return SendJson(call, 200, p, now);
  }
  SendError(call, Status::NotFound("Inference profile " + id + " not found."), now);
}

// Invocation logging is per account: the configuration is stored under the caller's account
// and governs only that account's invocations (metering::InvocationLogs).
void BedrockApi::LoggingConfiguration(Call& call) {
  auto now = options_.clock();
  const std::string& method = call.request.method;
  std::string action = method == "GET"      ? "bedrock:GetModelInvocationLoggingConfiguration"
                       : method == "PUT"    ? "bedrock:PutModelInvocationLoggingConfiguration"
                       : method == "DELETE" ? "bedrock:DeleteModelInvocationLoggingConfiguration"
                                            : "";
  if (action.empty()) {
    return SendError(call, Status::NotFound("Unsupported operation " + method), now);
  }
  Status st = Authorize(call.identity, action, "*");
  if (!st.ok()) return SendError(call, st, now);
  const std::string& account = call.principal.account_id;
  std::string key = LoggingSettingKey(account);
  if (method == "GET") {
    auto v = store_->GetSetting(key);
    if (!v.ok()) return SendError(call, v.status(), now);
    Json out = Json::object();
    if (v->has_value() && !(*v)->empty()) {
      Json cfg = Json::parse(**v, nullptr, false);
      if (cfg.is_object()) out["loggingConfig"] = cfg;
    }
    return SendJson(call, 200, out, now);
  }
  if (method == "DELETE") {
    st = store_->PutSetting(key, "");
    if (!st.ok()) return SendError(call, st, now);
    if (deps_.invocation_log) deps_.invocation_log->Remove(account);
    return SendJson(call, 200, Json::object(), now);
  }
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  if (!body->contains("loggingConfig") || (*body)["loggingConfig"].is_null()) {
    return SendError(call,
                     Status::InvalidArgument("1 validation error detected: Value null at "
                                             "'loggingConfig' failed to satisfy constraint: "
                                             "Member must not be null"),
                     now);
  }
  // Validate everything before storing anything, so a bad request changes nothing.
  const std::string text = (*body)["loggingConfig"].dump();
  auto logging = metering::ParseLoggingConfig(text);
  if (!logging.ok()) return SendError(call, logging.status(), now);
  st = store_->PutSetting(key, text);
  if (!st.ok()) return SendError(call, st, now);
  if (deps_.invocation_log) deps_.invocation_log->Configure(account, *logging);
  SendJson(call, 200, Json::object(), now);
}

std::string LoggingSettingKey(const std::string& account_id) {
  return "invocation_logging:" + account_id;
}

}  // namespace basalt::api

namespace basalt::api {

// GET /basalt/catalog: every catalog entry offered in the caller's region with its price and
// the account's access state, plus entries whose weights are missing (served: false), for
// the console's catalog cards. Access states: GRANTED (callable), IN_PROGRESS (requested,
// waiting for an administrator), DENIED, AVAILABLE (may be requested), NOT_AVAILABLE (not
// served here).
void BedrockApi::ConsoleCatalog(Call& call) {
  auto now = options_.clock();
  Status st = Authorize(call.identity, "bedrock:ListFoundationModels", "*");
  if (!st.ok()) return SendError(call, st, now);
  const std::string& account = call.principal.account_id;
  auto rows = store_->ListModelAccess(account);
  if (!rows.ok()) return SendError(call, rows.status(), now);
  std::map<std::string, std::string> states(rows->begin(), rows->end());
  auto state_of = [&](const std::string& id) {
    auto it = states.find(id);
    return it == states.end() ? std::string("NOT_REQUESTED") : it->second;
  };
  const bool all_granted = state_of("*") == "GRANTED";
  Json models = Json::array();
  for (const auto& e : catalog_->entries()) {
    if (!ModelInRegion(e, call.region, e.model_id)) continue;
    // As CheckModelAccess decides: the model's own DENIED wins over a "*" grant.
    std::string own = state_of(e.model_id);
    std::string access = own == "GRANTED" || (all_granted && own != "DENIED") ? "GRANTED"
                         : own == "DENIED"                                    ? "DENIED"
                         : own == "REQUESTED"                                 ? "IN_PROGRESS"
                                                                              : "AVAILABLE";
    std::vector<std::string> regions = e.regions;
    if (regions.empty()) regions = options_.regions;
    if (regions.empty()) regions = {call.region};
    models.push_back({{"modelId", e.model_id},
                      {"modelArn", FoundationModelArn(call.region, e.model_id)},
                      {"modelName", e.model_name},
                      {"providerName", e.provider_name},
                      {"inputModalities", e.input_modalities},
                      {"outputModalities", e.output_modalities},
                      {"contextLength", e.context_length > 0 ? Json(e.context_length) : Json()},
                      {"responseStreamingSupported", e.streaming},
                      {"price",
                       {{"inputPer1kTokens", e.price.input_per_1k_tokens},
                        {"outputPer1kTokens", e.price.output_per_1k_tokens},
                        {"perImage", ConsoleImagePrice(e.price.per_image)}}},
                      {"regions", regions},
                      {"served", true},
                      {"access", access},
                      {"useCaseRequired", e.use_case_form_required},
                      // Access is requested with CreateFoundationModelAgreement, for every model.
                      {"agreementRequired", access != "GRANTED"}});
  }
  for (const auto& m : catalog_->missing()) {
    models.push_back(
        {{"modelId", m.model_id},
         {"modelArn", FoundationModelArn(call.region, m.model_id)},
         {"modelName", m.model_name},
         {"providerName", m.provider_name},
         {"inputModalities", Json::array({"TEXT"})},
         {"outputModalities", m.output_modalities},
         {"contextLength", nullptr},
         {"responseStreamingSupported", m.output_modalities == std::vector<std::string>{"TEXT"}},
         {"price", nullptr},
         {"regions", Json::array()},
         {"served", false},
         {"access", "NOT_AVAILABLE"},
         {"useCaseRequired", false},
         {"agreementRequired", false}});
  }
  SendJson(call, 200, {{"models", models}}, now);
}

}  // namespace basalt::api
