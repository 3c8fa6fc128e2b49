// Embedding bodies (Titan Text Embeddings v1/v2, Cohere Embed v3) and the InvokeModel path
// that serves them from the engine's embedding runners.
#include "api/embeddings.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "api/call.h"
#include "api/errors.h"
#include "api/invoke_body.h"

namespace basalt::api {
namespace {

using catalog::EmbedFamily;

constexpr size_t kTitanMaxChars = 50'000;
constexpr size_t kCohereMaxTexts = 96;
constexpr size_t kCohereMaxChars = 2048;

StatusOr<std::string> TitanText(const JsonReader& r) {
  std::optional<std::string> text;
  BASALT_ASSIGN_OR_RETURN(text, r.String("inputText", true));
  if (text->empty()) return MalformedInput("#/inputText: expected minLength: 1, actual: 0");
  if (text->size() > kTitanMaxChars) {
    return MalformedInput("#/inputText: expected maxLength: " + std::to_string(kTitanMaxChars) +
                          ", actual: " + std::to_string(text->size()));
  }
  return std::move(*text);
}

// A list member whose items are strings from `allowed`; duplicates are kept once, in order.
StatusOr<std::optional<std::vector<std::string>>> EnumList(
    const JsonReader& r, const char* key, std::initializer_list<const char*> allowed,
    bool allow_empty) {
  const Json* list = nullptr;
  BASALT_ASSIGN_OR_RETURN(list, r.Array(key));
  if (list == nullptr) return std::optional<std::vector<std::string>>();
  if (list->empty() && !allow_empty) {
    return MalformedInput(r.PathOf(key) + ": expected minItems: 1, actual: 0");
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& v = (*list)[i];
    const std::string path = r.PathOf(key) + "/" + std::to_string(i);
    if (!v.is_string()) {
      return MalformedInput(path + ": expected type: String, found: " + JsonTypeName(v));
    }
    const std::string s = v.get<std::string>();
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return s == a; })) {
      return MalformedInput(path + ": " + s + " is not a valid enum value");
    }
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

StatusOr<std::string> EnumString(const JsonReader& r, const char* key,
                                 std::initializer_list<const char*> allowed, bool required,
                                 const char* fallback) {
  std::optional<std::string> v;
  BASALT_ASSIGN_OR_RETURN(v, r.String(key, required));
  if (!v) return std::string(fallback);
  if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return *v == a; })) {
    return MalformedInput(r.PathOf(key) + ": " + *v + " is not a valid enum value");
  }
  return std::move(*v);
}

StatusOr<EmbedPlan> ParseTitan(EmbedFamily family, const Json& body) {
  JsonReader r(body, "#");
  EmbedPlan plan;
  plan.family = family;
  if (family == EmbedFamily::kTitanV1) {
    BASALT_RETURN_IF_ERROR(r.OnlyKeys({"inputText"}));
  } else {
    BASALT_RETURN_IF_ERROR(r.OnlyKeys({"inputText", "dimensions", "normalize", "embeddingTypes"}));
  }
  std::string text;
  BASALT_ASSIGN_OR_RETURN(text, TitanText(r));
  plan.texts.push_back(std::move(text));
  if (family == EmbedFamily::kTitanV1) return plan;

  std::optional<int64_t> dims;
  BASALT_ASSIGN_OR_RETURN(dims, r.Integer("dimensions"));
  if (dims) {
    if (*dims != 1024 && *dims != 512 && *dims != 256) {
      return MalformedInput("#/dimensions: " + std::to_string(*dims) +
                            " is not a valid enum value");
    }
    plan.dimensions = static_cast<int>(*dims);
  }
  std::optional<bool> normalize;
  BASALT_ASSIGN_OR_RETURN(normalize, r.Bool("normalize"));
  if (normalize) plan.normalize = *normalize;
  std::optional<std::vector<std::string>> types;
  BASALT_ASSIGN_OR_RETURN(types, EnumList(r, "embeddingTypes", {"float", "binary"}, false));
  if (types) {
    plan.titan_float = std::find(types->begin(), types->end(), "float") != types->end();
    plan.titan_binary = std::find(types->begin(), types->end(), "binary") != types->end();
  }
  return plan;
}

StatusOr<EmbedPlan> ParseCohere(const Json& body) {
  JsonReader r(body, "#");
  EmbedPlan plan;
  plan.family = EmbedFamily::kCohere;
  BASALT_RETURN_IF_ERROR(
      r.OnlyKeys({"texts", "input_type", "truncate", "embedding_types", "images"}));
  if (r.Has("images")) {
    return MalformedInput("#/images: image inputs are not supported by this model; send \"texts\"");
  }
  const Json* texts = nullptr;
  BASALT_ASSIGN_OR_RETURN(texts, r.Array("texts", true));
  if (texts->size() > kCohereMaxTexts) {
    return MalformedInput("#/texts: expected maxItems: " + std::to_string(kCohereMaxTexts) +
                          ", actual: " + std::to_string(texts->size()));
  }
  for (size_t i = 0; i < texts->size(); ++i) {
    const Json& t = (*texts)[i];
    const std::string path = "#/texts/" + std::to_string(i);
    if (!t.is_string()) {
      return MalformedInput(path + ": expected type: String, found: " + JsonTypeName(t));
    }
    std::string s = t.get<std::string>();
    if (s.size() > kCohereMaxChars) {
      return MalformedInput(path + ": expected maxLength: " + std::to_string(kCohereMaxChars) +
                            ", actual: " + std::to_string(s.size()));
    }
    plan.texts.push_back(std::move(s));
  }
  BASALT_ASSIGN_OR_RETURN(
      plan.input_type,
      EnumString(r, "input_type",
                 {"search_document", "search_query", "classification", "clustering"}, true, ""));
  std::string truncate;
  BASALT_ASSIGN_OR_RETURN(truncate,
                          EnumString(r, "truncate", {"NONE", "START", "END"}, false, "NONE"));
  plan.truncate = truncate == "START" ? engine::EmbedTruncate::kStart
                  : truncate == "END" ? engine::EmbedTruncate::kEnd
                                      : engine::EmbedTruncate::kNone;
  std::optional<std::vector<std::string>> types;
  BASALT_ASSIGN_OR_RETURN(types, EnumList(r, "embedding_types",
                                          {"float", "int8", "uint8", "binary", "ubinary"}, false));
  if (types) plan.embedding_types = std::move(*types);
  return plan;
}

Json FloatArray(const std::vector<float>& v) {
  Json out = Json::array();
  for (float x : v) out.push_back(x);
  return out;
}

std::string NewCohereId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const char* hex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) id += '-';
    id += hex[rng() & 15];
  }
  return id;
}

std::string OutcomeOfStatus(const Status& st) {
  const int http = MapStatus(st).http_status;
  if (http == 429) return "throttled";
  return http >= 500 ? "server_error" : "client_error";
}

}  // namespace

StatusOr<EmbedPlan> ParseEmbedBody(EmbedFamily family, const Json& body) {
  switch (family) {
    case EmbedFamily::kTitanV1:
    case EmbedFamily::kTitanV2:
      return ParseTitan(family, body);
    case EmbedFamily::kCohere:
      return ParseCohere(body);
    case EmbedFamily::kNone:
      break;
  }
  return Status::Internal("Not an embedding model.");
}

int64_t EstimateEmbedTokens(const EmbedPlan& plan) {
  int64_t n = 0;
  for (const auto& t : plan.texts) n += static_cast<int64_t>(t.size() / 4 + 2);
  return n;
}

std::vector<float> ShapeEmbedding(const std::vector<float>& v, size_t dims, bool normalize) {
  std::vector<float> out(v.begin(),
                         v.begin() + static_cast<std::ptrdiff_t>(std::min(dims, v.size())));
  if (normalize) {
    double sum = 0;
    for (float x : out) sum += static_cast<double>(x) * x;
    if (sum > 0) {
      const double inv = 1.0 / std::sqrt(sum);
      for (float& x : out) x = static_cast<float>(x * inv);
    }
  }
  return out;
}

std::vector<int> QuantizeInt8(const std::vector<float>& v, bool unsigned_form) {
  float max_abs = 0;
  for (float x : v) max_abs = std::max(max_abs, std::fabs(x));
  std::vector<int> out;
  out.reserve(v.size());
  for (float x : v) {
    int q = max_abs > 0 ? static_cast<int>(std::lround(x / max_abs * 127.0f)) : 0;
    q = std::clamp(q, -127, 127);
    out.push_back(unsigned_form ? q + 128 : q);
  }
  return out;
}

std::vector<int> PackBinary(const std::vector<float>& v, bool unsigned_form) {
  std::vector<int> out((v.size() + 7) / 8, 0);
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] > 0) out[i / 8] |= 0x80 >> (i % 8);
  }
  if (!unsigned_form) {
    for (int& b : out) b -= 128;
  }
  return out;
}

StatusOr<Json> RenderEmbedResponse(const EmbedPlan& plan, const engine::EmbedResult& result,
                                   const std::string& response_id) {
  if (plan.family == EmbedFamily::kCohere) {
    Json texts = Json::array();
    for (const auto& t : plan.texts) texts.push_back(t);
    std::vector<std::vector<float>> unit;
    for (const auto& v : result.vectors) unit.push_back(ShapeEmbedding(v, v.size(), true));
    Json out = {{"id", response_id}, {"texts", texts}};
    if (plan.embedding_types.empty()) {
      Json list = Json::array();
      for (const auto& v : unit) list.push_back(FloatArray(v));
      out["embeddings"] = std::move(list);
      out["response_type"] = "embeddings_floats";
      return out;
    }
    Json by_type = Json::object();
    for (const std::string& type : plan.embedding_types) {
      Json list = Json::array();
      for (const auto& v : unit) {
        if (type == "float") {
          list.push_back(FloatArray(v));
        } else if (type == "int8" || type == "uint8") {
          list.push_back(QuantizeInt8(v, type == "uint8"));
        } else {
          list.push_back(PackBinary(v, type == "ubinary"));
        }
      }
      by_type[type] = std::move(list);
    }
    out["embeddings"] = std::move(by_type);
    out["response_type"] = "embeddings_by_type";
    return out;
  }

  if (result.vectors.size() != 1 || result.token_counts.size() != 1) {
    return Status::Internal("The model returned no embedding.");
  }
  const std::vector<float>& raw = result.vectors[0];
  const int tokens = result.token_counts[0];
  if (plan.family == EmbedFamily::kTitanV1) {
    return Json{{"embedding", FloatArray(raw)}, {"inputTextTokenCount", tokens}};
  }
  size_t dims = std::min<size_t>(1024, raw.size());
  if (plan.dimensions) {
    if (static_cast<size_t>(*plan.dimensions) > raw.size()) {
      return MalformedInput("#/dimensions: " + std::to_string(*plan.dimensions) +
                            " is more than this model's " + std::to_string(raw.size()) +
                            " dimensions");
    }
    dims = static_cast<size_t>(*plan.dimensions);
  }
  std::vector<float> v = ShapeEmbedding(raw, dims, plan.normalize);
  Json floats = FloatArray(v);
  Json by_type = Json::object();
  if (plan.titan_binary) {
    Json bits = Json::array();
    for (float x : v) bits.push_back(x > 0 ? 1 : 0);
    by_type["binary"] = std::move(bits);
  }
  if (plan.titan_float) by_type["float"] = floats;
  return Json{{"embedding", std::move(floats)},
              {"inputTextTokenCount", tokens},
              {"embeddingsByType", std::move(by_type)}};
}

void BedrockApi::InvokeEmbedding(Call& call, const catalog::ModelEntry& entry) {
  const std::string op = "InvokeModel";
  auto fail = [&](const Status& st) {
    FinishInvocation(call, op, entry.model_id, nullptr, st, OutcomeOfStatus(st), "");
    SendError(call, st, options_.clock());
  };
  StatusOr<Json> body = ParseJsonBody(call.request.body);
  if (!body.ok()) return fail(body.status());
  StatusOr<EmbedPlan> plan = ParseEmbedBody(entry.embed_family, *body);
  if (!plan.ok()) return fail(plan.status());
  if (deps_.quotas != nullptr) {
    call.quota.estimated_tokens = EstimateEmbedTokens(*plan);
    Status st = deps_.quotas->Admit(call.quota);
    if (!st.ok()) {
      if (deps_.metrics) deps_.metrics->Record({entry.model_id, 0, 0, 0, 0, OutcomeOfStatus(st)});
      return SendError(call, st, options_.clock());
    }
    call.quota_admitted = true;
  }

  engine::EmbedResult result;
  if (!plan->texts.empty()) {
    engine::EmbedRequest request;
    request.model = entry.engine_model;
    request.texts = plan->texts;
    request.truncate = plan->truncate;
    request.pooling = entry.pooling;
    StatusOr<engine::EmbedResult> embedded = engine_->Embed(request);
    if (!embedded.ok()) return fail(embedded.status());
    result = std::move(*embedded);
  }
  StatusOr<Json> rendered = RenderEmbedResponse(*plan, result, NewCohereId());
  if (!rendered.ok()) return fail(rendered.status());

  GenerationResult r;
  for (int n : result.token_counts) r.usage.prompt_tokens += n;
  r.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - call.start)
                     .count();
  std::string out_body = rendered->dump(-1, ' ', false, Json::error_handler_t::replace);
  Status recorded = FinishInvocation(call, op, entry.model_id, &r, Status::Ok(),
                                     call.writer->Closed() ? "client_gone" : "success", out_body);
  if (call.writer->Closed()) return;
  if (!recorded.ok()) return SendError(call, recorded, options_.clock());
  auto headers = BaseHeaders(call.request_id, "application/json", options_.clock());
  for (auto [h, out] : {std::pair{"x-amzn-bedrock-performanceconfig-latency",
                                  "X-Amzn-Bedrock-PerformanceConfig-Latency"},
                        std::pair{"x-amzn-bedrock-service-tier", "X-Amzn-Bedrock-Service-Tier"}}) {
    if (const std::string* v = call.request.FindHeader(h)) headers.push_back({out, *v});
  }
  // Embeddings carry the input count and latency only: no output token header.
  headers.push_back({"X-Amzn-Bedrock-Input-Token-Count", std::to_string(r.usage.prompt_tokens)});
  headers.push_back({"X-Amzn-Bedrock-Invocation-Latency", std::to_string(r.latency_ms)});
  call.responded = true;
  call.writer->Respond(200, std::move(headers), std::move(out_body));
}

}  // namespace basalt::api
