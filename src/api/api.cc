#include "api/api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <map>
#include <random>
#include <tuple>

#include "api/authenticate.h"
#include "api/authorize.h"
#include "api/chat.h"
#include "api/converse.h"
#include "api/errors.h"
#include "api/event_stream.h"
#include "api/generation.h"
#include "api/invoke_body.h"
#include "api/json_body.h"
#include "auth/sigv4.h"

namespace basalt::api {

using http::Header;

struct BedrockApi::Call {
  http::Request request;
  std::shared_ptr<http::ResponseWriter> writer;
  std::string request_id;
  std::chrono::steady_clock::time_point start;
  Principal principal;
  Identity identity;
  std::string region;
  metering::QuotaRequest quota;
  bool quota_admitted = false;
  std::string path;  // raw path without the query
  std::string query;
  bool responded = false;
};

namespace {

constexpr const char* kInvalidModel = "The provided model identifier is invalid.";
constexpr size_t kMaxInvokeBody = 25'000'000;

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    if (next > pos) parts.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return parts;
}

std::string QueryParam(const std::string& query, const std::string& name) {
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string::npos) amp = query.size();
    std::string kv = query.substr(pos, amp - pos);
    size_t eq = kv.find('=');
    std::string k = kv.substr(0, eq);
    if (PercentDecode(k).value() == name) {
      auto v = PercentDecode(eq == std::string::npos ? "" : kv.substr(eq + 1));
      if (v.ok()) {
        std::string out = *v;
        for (char& c : out) c = c == '+' ? ' ' : c;
        return out;
      }
    }
    pos = amp + 1;
  }
  return "";
}

std::vector<Header> BaseHeaders(const std::string& request_id, const std::string& content_type,
                                std::chrono::system_clock::time_point now) {
  return {
      {"Content-Type", content_type}, {"x-amzn-RequestId", request_id}, {"Date", HttpDate(now)}};
}

bool StartsWithAny(const std::string& s, std::initializer_list<const char*> prefixes) {
  for (const char* p : prefixes) {
    if (s.rfind(p, 0) == 0) return true;
  }
  return false;
}

std::string ChunkEvent(const Json& chunk) {
  Json payload = {
      {"bytes", auth::Base64Encode(chunk.dump(-1, ' ', false, Json::error_handler_t::replace))}};
  return EncodeEvent("chunk", payload.dump());
}

}  // namespace

std::string HttpDate(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string NewRequestId() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", uint32_t(a >> 32),
                uint32_t((a >> 16) & 0xffff), uint32_t(a & 0xffff), uint32_t(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

StatusOr<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      return Status::InvalidArgument("malformed percent-encoding in the request path");
    }
    out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
    i += 2;
  }
  return out;
}

BedrockApi::BedrockApi(ApiDeps deps, ApiOptions options)
    : deps_(deps),
      store_(deps.store),
      engine_(deps.engine),
      catalog_(deps.catalog),
      options_(std::move(options)) {}

// Sends a Bedrock-shaped error reply.
static void SendError(BedrockApi::Call& call, const Status& status,
                      std::chrono::system_clock::time_point now);

void BedrockApi::Handle(http::Request request, std::shared_ptr<http::ResponseWriter> writer) {
  Call call;
  call.request = std::move(request);
  call.writer = std::move(writer);
  call.request_id = NewRequestId();
  call.start = std::chrono::steady_clock::now();
  const std::string& target = call.request.target;
  size_t q = target.find('?');
  call.path = target.substr(0, q);
  call.query = q == std::string::npos ? "" : target.substr(q + 1);
  try {
    Dispatch(call);
  } catch (const std::exception& e) {
    // A bug, not a client error: log it and answer 500 so the server keeps serving.
    spdlog::error("request {} {} {}: unhandled exception: {}", call.request_id, call.request.method,
                  call.path, e.what());
    if (!call.responded)
      SendError(call, Status::Internal("Internal server error"), options_.clock());
  }
}

static void SendError(BedrockApi::Call& call, const Status& status,
                      std::chrono::system_clock::time_point now) {
  ErrorReply reply = MapStatus(status);
  auto headers = BaseHeaders(call.request_id, "application/json", now);
  headers.push_back({"x-amzn-ErrorType", reply.type});
  call.responded = true;
  call.writer->Respond(reply.http_status, std::move(headers), ErrorBody(reply));
  spdlog::info("{} {} {} -> {} {} ({})", call.request_id, call.request.method, call.path,
               reply.http_status, reply.type, reply.message);
}

static void SendJson(BedrockApi::Call& call, int status, const Json& body,
                     std::chrono::system_clock::time_point now, std::vector<Header> extra = {}) {
  auto headers = BaseHeaders(call.request_id, "application/json", now);
  headers.insert(headers.end(), extra.begin(), extra.end());
  call.responded = true;
  call.writer->Respond(status, std::move(headers),
                       body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

void BedrockApi::Dispatch(Call& call) {
  auto now = options_.clock();
  const std::string& method = call.request.method;
  std::vector<std::string> seg = SplitPath(call.path);
  size_t n = seg.size();

  if (method == "GET" && n >= 1 && seg[n - 1] == "health") {
    auto headers = BaseHeaders(call.request_id, "application/json", now);
    call.responded = true;
    call.writer->Respond(200, std::move(headers), R"({"status":"ok"})");
    return;
  }

  if (call.request.body_too_large) {
    return SendError(call,
                     Status::InvalidArgument(
                         "1 validation error detected: Value at 'body' failed to satisfy "
                         "constraint: Member must have length less than or equal to 25000000"),
                     now);
  }

  if (method == "GET" && n >= 1 && seg[n - 1] == "metrics" && n == 1) return Metrics(call);

  auto principal = Authenticate(*store_, call.request, now);
  if (!principal.ok()) return SendError(call, principal.status(), now);
  call.principal = *principal;
  call.region = call.principal.region.empty() ? options_.default_region : call.principal.region;
  if (!RegionServed(call.region)) {
    return SendError(call,
                     Status::Unauthenticated("Credential should be scoped to a valid region. The "
                                             "region '" +
                                                 call.region + "' is not served here.",
                                             "InvalidSignature"),
                     now);
  }
  auto identity = LoadIdentity(*store_, call.principal);
  if (!identity.ok()) return SendError(call, identity.status(), now);
  call.identity = std::move(*identity);
  call.quota.account_id = call.principal.account_id;
  call.quota.user_id = call.principal.user_id;
  call.quota.key_id = call.principal.access_key_id.empty() ? call.principal.api_key_id
                                                           : call.principal.access_key_id;

  // Runtime: .../model/{modelId}/{operation}; a path prefix before it is allowed.
  if (n >= 3 && seg[n - 3] == "model") {
    auto model_id = PercentDecode(seg[n - 2]);
    if (!model_id.ok()) return SendError(call, model_id.status(), now);
    const std::string& op = seg[n - 1];
    if (method != "POST") {
      return SendError(call, Status::NotFound("Unsupported operation: " + method + " " + op), now);
    }
    if (op == "invoke") return InvokeModel(call, *model_id, false);
    if (op == "invoke-with-response-stream") return InvokeModel(call, *model_id, true);
    if (op == "converse") return Converse(call, *model_id, false);
    if (op == "converse-stream") return Converse(call, *model_id, true);
    if (op == "count-tokens") return CountTokens(call, *model_id);
    if (op == "invoke-with-bidirectional-stream") {
      return SendError(call,
                       Status::InvalidArgument("The model is unsupported for bidirectional "
                                               "streaming."),
                       now);
    }
  }
  // Control plane.
  auto last_decoded = [&](size_t i) { return PercentDecode(seg[i]); };
  if (method == "GET" && n >= 1 && seg[n - 1] == "foundation-models") {
    return ListFoundationModels(call);
  }
  if (method == "GET" && n >= 2 && seg[n - 2] == "foundation-models") {
    auto id = last_decoded(n - 1);
    if (!id.ok()) return SendError(call, id.status(), now);
    return GetFoundationModel(call, *id);
  }
  if (method == "GET" && n >= 2 && seg[n - 2] == "foundation-model-availability") {
    auto id = last_decoded(n - 1);
    if (!id.ok()) return SendError(call, id.status(), now);
    return GetFoundationModelAvailability(call, *id);
  }
  if (method == "GET" && n >= 2 && seg[n - 2] == "list-foundation-model-agreement-offers") {
    auto id = last_decoded(n - 1);
    if (!id.ok()) return SendError(call, id.status(), now);
    return ListAgreementOffers(call, *id);
  }
  if (method == "POST" && n >= 1 && seg[n - 1] == "create-foundation-model-agreement") {
    return CreateAgreement(call);
  }
  if (method == "POST" && n >= 1 && seg[n - 1] == "delete-foundation-model-agreement") {
    return DeleteAgreement(call);
  }
  if (n >= 1 && seg[n - 1] == "use-case-for-model-access") {
    if (method == "POST") return PutUseCase(call);
    if (method == "GET") return GetUseCase(call);
  }
  if (method == "GET" && n >= 1 && seg[n - 1] == "inference-profiles") {
    return ListInferenceProfiles(call);
  }
  if (method == "GET" && n >= 2 && seg[n - 2] == "inference-profiles") {
    auto id = last_decoded(n - 1);
    if (!id.ok()) return SendError(call, id.status(), now);
    return GetInferenceProfile(call, *id);
  }
  if (n >= 2 && seg[n - 2] == "logging" && seg[n - 1] == "modelinvocations") {
    return LoggingConfiguration(call);
  }
  if (method == "GET" && n >= 2 && seg[n - 2] == "basalt" && seg[n - 1] == "usage") {
    return UsageReport(call);
  }
  for (size_t i = 0; i + 1 < n; ++i) {
    if (seg[i] == "basalt" && seg[i + 1] == "admin") {
      return Admin(call, std::vector<std::string>(seg.begin() + i + 2, seg.end()));
    }
  }
  SendError(call, Status::NotFound("Unknown operation " + method + " " + call.path), now);
}

namespace {

bool WantsToolParsing(const PromptPlan& plan) {
  return !plan.tools.empty() && plan.tool_choice != ToolChoice::kNone;
}

GenerationResult ResultOf(const GenerationStream& s, std::string text, const PromptPlan& plan,
                          std::chrono::steady_clock::time_point start) {
  GenerationResult r;
  r.reason = s.reason();
  r.stop = s.stop();
  r.usage = s.usage();
  r.first_byte_ms = s.timing().first_token_ms;
  r.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count();
  if (WantsToolParsing(plan)) {
    ParsedOutput parsed = ParseToolCalls(text, plan.tools);
    r.text = std::move(parsed.text);
    r.calls = std::move(parsed.calls);
  } else {
    r.text = std::move(text);
  }
  return r;
}

// The metering outcome of a finished generation.
std::string OutcomeOf(const GenerationStream& s, bool client_gone) {
  if (client_gone) return "client_gone";
  if (!s.status().ok()) {
    int http = MapStatus(s.status()).http_status;
    if (http == 429) return "throttled";
    return http >= 500 ? "server_error" : "client_error";
  }
  return s.reason() == engine::FinishReason::kCancelled ? "cancelled" : "success";
}

std::string OutcomeOfStatus(const Status& st) {
  int http = MapStatus(st).http_status;
  if (http == 429) return "throttled";
  return http >= 500 ? "server_error" : "client_error";
}

int64_t EstimateTokens(const PromptPlan& plan) {
  size_t bytes = plan.raw_prompt.size() + plan.system.size() + plan.prefill.size();
  for (const auto& m : plan.messages) bytes += m.content.size();
  return static_cast<int64_t>(bytes / 4 + 1) + std::max(0, plan.sampling.max_tokens);
}

}  // namespace

// Submits a plan to the engine. Shared by InvokeModel and Converse.
struct BedrockApiRunner {
  static bool Submit(engine::Engine& engine, const catalog::ModelEntry& entry,
                     const PromptPlan& plan, std::shared_ptr<GenerationStream>* stream,
                     engine::JobId* job, Status* error, std::string* prompt = nullptr,
                     bool* add_special = nullptr) {
    auto req = BuildGenerateRequest(engine, entry.engine_model, plan);
    if (!req.ok()) {
      *error = req.status();
      return false;
    }
    // A prompt that already starts with the BOS text must not get a second BOS.
    req->add_special = !StartsWithAny(req->prompt, {"<s>", "<|begin_of_text|>", "<bos>"});
    if (prompt) *prompt = req->prompt;
    if (add_special) *add_special = req->add_special;
    *stream = std::make_shared<GenerationStream>();
    if (req->sampling.max_tokens <= 0) {
      // Nothing to generate (max_tokens_to_sample 0): answer with the prompt's usage alone;
      // the engine reads a non-positive limit as "up to the context".
      auto count = engine.CountTokens(req->model, req->prompt, req->add_special);
      if (!count.ok()) {
        *error = count.status();
        return false;
      }
      engine::Usage usage;
      usage.prompt_tokens = *count;
      (*stream)->OnDone(Status::Ok(), engine::FinishReason::kLength, "", usage, {});
      *job = 0;
      return true;
    }
    auto id = engine.Submit(std::move(*req), *stream);
    if (!id.ok()) {
      *error = id.status();
      return false;
    }
    *job = *id;
    return true;
  }
};

bool BedrockApi::RegionServed(const std::string& region) const {
  if (options_.regions.empty()) return true;
  return std::find(options_.regions.begin(), options_.regions.end(), region) !=
         options_.regions.end();
}

bool BedrockApi::ModelInRegion(const catalog::ModelEntry& entry, const std::string& region,
                               const std::string& requested_id) const {
  auto offered = [&](const std::string& r) {
    return RegionServed(r) &&
           (entry.regions.empty() ||
            std::find(entry.regions.begin(), entry.regions.end(), r) != entry.regions.end());
  };
  // A cross-region inference profile ("us.", "eu.", "apac."...) routes to any served region
  // of its geography that offers the model.
  std::string id = requested_id;
  if (size_t slash = id.rfind('/'); id.rfind("arn:", 0) == 0 && slash != std::string::npos) {
    id = id.substr(slash + 1);
  }
  if (id != entry.model_id && id.size() > entry.model_id.size() &&
      id.compare(id.size() - entry.model_id.size(), entry.model_id.size(), entry.model_id) == 0) {
    std::string geo = id.substr(0, id.size() - entry.model_id.size() - 1);
    if (geo == "global") return offered(region) || entry.regions.empty();
    std::vector<std::string> candidates = options_.regions;
    for (const auto& r : entry.regions) candidates.push_back(r);
    if (candidates.empty()) return true;
    for (const auto& r : candidates) {
      if ((r.rfind(geo + "-", 0) == 0 || (geo == "apac" && r.rfind("ap-", 0) == 0)) && offered(r)) {
        return true;
      }
    }
    return false;
  }
  return offered(region);
}

const catalog::ModelEntry* BedrockApi::AdmitModelCall(Call& call, const std::string& model_id,
                                                      const std::string& action, bool stream) {
  auto now = options_.clock();
  const catalog::ModelEntry* entry =
      model_id.empty() || model_id.size() > 2048 ? nullptr : catalog_->Find(model_id);
  if (entry == nullptr || !ModelInRegion(*entry, call.region, model_id)) {
    SendError(call, Status::InvalidArgument(kInvalidModel), now);
    return nullptr;
  }
  Status st = Authorize(call.identity, action, FoundationModelArn(call.region, entry->model_id));
  if (st.ok()) st = CheckModelAccess(*store_, call.principal.account_id, entry->model_id);
  if (st.ok() && stream && !entry->streaming) {
    st = Status::InvalidArgument("The model is unsupported for streaming");
  }
  if (!st.ok()) {
    if (deps_.metrics) {
      deps_.metrics->Record({model_id, 0, 0, 0, 0, OutcomeOfStatus(st)});
    }
    SendError(call, st, now);
    return nullptr;
  }
  return entry;
}

void BedrockApi::FinishInvocation(Call& call, const std::string& operation,
                                  const std::string& model_id, const GenerationResult* r,
                                  const Status& status, const std::string& outcome,
                                  const std::string& output_body) {
  int64_t latency = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - call.start)
                        .count();
  int64_t in = r ? r->usage.prompt_tokens : 0;
  int64_t out = r ? r->usage.completion_tokens : 0;
  spdlog::info(
      "usage request_id={} account={} op={} model={} input_tokens={} output_tokens={} "
      "cached_tokens={} first_byte_ms={} latency_ms={} outcome={}",
      call.request_id, call.principal.account_id, operation, model_id, in, out,
      r ? r->usage.cached_prompt_tokens : 0, r ? r->first_byte_ms : 0, latency, outcome);
  if (deps_.usage) {
    metering::UsageRecord rec;
    rec.request_id = call.request_id;
    rec.timestamp_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.clock().time_since_epoch())
            .count();
    rec.account_id = call.principal.account_id;
    rec.user_id = call.principal.user_id;
    rec.key_id = call.quota.key_id;
    rec.region = call.region;
    rec.model_id = model_id;
    rec.operation = operation;
    rec.source = "api";
    rec.input_tokens = in;
    rec.output_tokens = out;
    rec.cached_input_tokens = r ? r->usage.cached_prompt_tokens : 0;
    rec.first_byte_ms = r ? r->first_byte_ms : 0;
    rec.latency_ms = latency;
    rec.outcome = outcome;
    auto appended = deps_.usage->Append(std::move(rec));
    if (!appended.ok()) {
      spdlog::error("request {}: usage record not written: {}", call.request_id,
                    appended.status().ToString());
    }
  }
  if (deps_.metrics) {
    std::string m = outcome == "success" || outcome == "cancelled" || outcome == "client_gone"
                        ? "success"
                        : outcome;
    deps_.metrics->Record({model_id, latency, in, out, 0, m});
  }
  if (deps_.quotas && call.quota_admitted) deps_.quotas->Settle(call.quota, in + out);
  if (deps_.invocation_log && deps_.invocation_log->config().enabled) {
    metering::InvocationLogEntry e;
    e.request_id = call.request_id;
    e.timestamp_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.clock().time_since_epoch())
            .count();
    e.account_id = call.principal.account_id;
    e.identity_arn = call.identity.arn;
    e.region = call.region;
    e.model_id = model_id;
    e.operation = operation;
    e.input_body_json = call.request.body;
    e.output_body_json = output_body;
    e.input_tokens = in;
    e.output_tokens = out;
    if (!status.ok()) e.error_code = MapStatus(status).type;
    Status st = deps_.invocation_log->Write(e);
    if (!st.ok()) spdlog::warn("invocation log: {}", st.ToString());
  }
}

void BedrockApi::CheckpointInvocation(Call& call, const std::string& operation,
                                      const std::string& model_id, int64_t input_tokens,
                                      int64_t output_tokens) {
  if (deps_.usage == nullptr) return;
  metering::UsageRecord rec;
  rec.request_id = call.request_id;
  rec.timestamp_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.clock().time_since_epoch())
          .count();
  rec.account_id = call.principal.account_id;
  rec.user_id = call.principal.user_id;
  rec.key_id = call.quota.key_id;
  rec.region = call.region;
  rec.model_id = model_id;
  rec.operation = operation;
  rec.input_tokens = input_tokens;
  rec.output_tokens = output_tokens;
  rec.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - call.start)
                       .count();
  Status st = deps_.usage->Checkpoint(std::move(rec));
  if (!st.ok()) spdlog::warn("request {}: checkpoint: {}", call.request_id, st.ToString());
}

namespace {

// Waits for a non-streamed generation, checkpointing its usage while it runs.
std::string WaitWithCheckpoints(GenerationStream& gen, std::chrono::milliseconds every,
                                const std::function<void(int)>& checkpoint) {
  while (!gen.WaitDone(every)) checkpoint(gen.total_pieces());
  return gen.WaitAll();
}

// Admits the call against the quotas; replies and returns false when refused.
bool AdmitQuota(BedrockApi::Call& call, metering::QuotaManager* quotas, const PromptPlan& plan,
                metering::Metrics* metrics, const std::string& model_id,
                std::chrono::system_clock::time_point now) {
  if (quotas == nullptr) return true;
  call.quota.estimated_tokens = EstimateTokens(plan);
  Status st = quotas->Admit(call.quota);
  if (!st.ok()) {
    if (metrics) metrics->Record({model_id, 0, 0, 0, 0, OutcomeOfStatus(st)});
    SendError(call, st, now);
    return false;
  }
  call.quota_admitted = true;
  return true;
}

}  // namespace

void BedrockApi::InvokeModel(Call& call, const std::string& model_id, bool stream) {
  auto now = options_.clock();
  const std::string op = stream ? "InvokeModelWithResponseStream" : "InvokeModel";
  const catalog::ModelEntry* entry_ptr = AdmitModelCall(
      call, model_id, stream ? "bedrock:InvokeModelWithResponseStream" : "bedrock:InvokeModel",
      stream);
  if (entry_ptr == nullptr) return;
  const catalog::ModelEntry& entry = *entry_ptr;
  auto fail = [&](const Status& st) {
    FinishInvocation(call, op, entry.model_id, nullptr, st, OutcomeOfStatus(st), "");
    SendError(call, st, options_.clock());
  };
  if (call.request.body.size() > kMaxInvokeBody) {
    return fail(Status::InvalidArgument(
        "1 validation error detected: Value at 'body' failed to satisfy constraint: Member must "
        "have length less than or equal to 25000000"));
  }
  const std::string* accept = call.request.FindHeader(stream ? "x-amzn-bedrock-accept" : "accept");
  if (accept && !accept->empty() && accept->find("json") == std::string::npos &&
      accept->find("*/*") == std::string::npos) {
    return fail(Status::InvalidArgument(
        "The provided Accept Type is invalid or not supported for this model. Use "
        "application/json."));
  }
  const std::string* ctype = call.request.FindHeader("content-type");
  if (ctype && !ctype->empty() && ctype->find("json") == std::string::npos &&
      ctype->find("application/octet-stream") == std::string::npos &&
      ctype->find("*/*") == std::string::npos) {
    return fail(Status::InvalidArgument(
        "The provided Content Type is invalid or not supported for this model. Use "
        "application/json."));
  }
  auto body = ParseJsonBody(call.request.body);
  if (!body.ok()) return fail(body.status());
  auto plan = ParseInvokeBody(entry.family, *body);
  if (!plan.ok()) return fail(plan.status());
  if (!AdmitQuota(call, deps_.quotas, *plan, deps_.metrics, entry.model_id, now)) return;

  std::vector<Header> echo;
  for (auto [h, out] : {std::pair{"x-amzn-bedrock-performanceconfig-latency",
                                  "X-Amzn-Bedrock-PerformanceConfig-Latency"},
                        std::pair{"x-amzn-bedrock-service-tier", "X-Amzn-Bedrock-Service-Tier"}}) {
    if (const std::string* v = call.request.FindHeader(h)) echo.push_back({out, *v});
  }

  std::shared_ptr<GenerationStream> gen;
  engine::JobId job = 0;
  Status error;
  std::string gen_prompt;
  bool gen_add_special = true;
  if (!BedrockApiRunner::Submit(*engine_, entry, *plan, &gen, &job, &error, &gen_prompt,
                                &gen_add_special)) {
    return fail(error);
  }
  engine::Engine* engine = engine_;
  call.writer->OnClose([engine, job] { engine->Cancel(job); });

  int checkpoint_prompt_tokens = -1;
  auto checkpoint = [&](int output_tokens) {
    if (checkpoint_prompt_tokens < 0) {
      auto count = engine_->CountTokens(entry.engine_model, gen_prompt, gen_add_special);
      checkpoint_prompt_tokens = count.ok() ? *count : 0;
    }
    CheckpointInvocation(call, op, entry.model_id, checkpoint_prompt_tokens, output_tokens);
  };
  if (!stream) {
    std::string text = WaitWithCheckpoints(*gen, options_.usage_checkpoint_interval, checkpoint);
    GenerationResult r = ResultOf(*gen, std::move(text), *plan, call.start);
    std::string out_body;
    if (gen->status().ok()) {
      out_body = RenderInvokeResponse(entry.family, model_id, r)
                     .dump(-1, ' ', false, Json::error_handler_t::replace);
    }
    FinishInvocation(call, op, entry.model_id, &r, gen->status(),
                     OutcomeOf(*gen, call.writer->Closed()), out_body);
    if (!gen->status().ok()) return SendError(call, gen->status(), options_.clock());
    if (call.writer->Closed()) return;
    echo.push_back({"X-Amzn-Bedrock-Input-Token-Count", std::to_string(r.usage.prompt_tokens)});
    echo.push_back(
        {"X-Amzn-Bedrock-Output-Token-Count", std::to_string(r.usage.completion_tokens)});
    echo.push_back({"X-Amzn-Bedrock-Invocation-Latency", std::to_string(r.latency_ms)});
    auto headers = BaseHeaders(call.request_id, "application/json", options_.clock());
    headers.insert(headers.end(), echo.begin(), echo.end());
    call.responded = true;
    call.writer->Respond(200, std::move(headers), std::move(out_body));
    return;
  }

  // Chunks before the end report the prompt size (message_start, prompt_token_count).
  int prompt_tokens = 0;
  if (auto count = engine_->CountTokens(entry.engine_model, gen_prompt, gen_add_special);
      count.ok()) {
    prompt_tokens = *count;
  }
  InvokeStreamRenderer renderer(entry.family, model_id, prompt_tokens);
  bool started = false;
  bool alive = true;
  bool tools = WantsToolParsing(*plan);
  std::string held;
  std::string full_text;
  auto start_stream = [&] {
    if (started) return;
    started = true;
    auto headers =
        BaseHeaders(call.request_id, "application/vnd.amazon.eventstream", options_.clock());
    headers.push_back({"X-Amzn-Bedrock-Content-Type", "application/json"});
    headers.insert(headers.end(), echo.begin(), echo.end());
    call.responded = true;
    call.writer->StartStream(200, std::move(headers));
    std::string frames;
    for (const Json& chunk : renderer.Start()) frames += ChunkEvent(chunk);
    if (!frames.empty()) alive = call.writer->Write(std::move(frames));
  };
  checkpoint_prompt_tokens = prompt_tokens;
  const auto every = options_.usage_checkpoint_interval;
  auto next_checkpoint = std::chrono::steady_clock::now() + every;
  std::string piece;
  int pieces = 0;
  while (gen->NextFor(&piece, &pieces, every)) {
    if (std::chrono::steady_clock::now() >= next_checkpoint) {
      checkpoint(gen->total_pieces());
      next_checkpoint = std::chrono::steady_clock::now() + every;
    }
    held += piece;
    size_t safe = tools ? SafeTextPrefix(held) : held.size();
    if (safe == 0 || !alive) continue;
    start_stream();
    std::string frames;
    for (const Json& chunk : renderer.Delta(held.substr(0, safe), pieces)) {
      frames += ChunkEvent(chunk);
    }
    full_text += held.substr(0, safe);
    held.erase(0, safe);
    if (!frames.empty() && alive) alive = call.writer->Write(std::move(frames));
  }
  GenerationResult r = ResultOf(*gen, std::move(held), *plan, call.start);
  bool gone = call.writer->Closed();
  FinishInvocation(
      call, op, entry.model_id, &r, gen->status(), OutcomeOf(*gen, gone),
      Json{{"text", full_text + r.text}}.dump(-1, ' ', false, Json::error_handler_t::replace));
  if (!gen->status().ok()) {
    if (!started) return SendError(call, gen->status(), options_.clock());
    call.writer->Write(EncodeStreamError(gen->status(), StreamKind::kInvokeModel));
    call.writer->Finish();
    return;
  }
  if (gone) return;
  start_stream();
  std::string frames;
  for (const Json& chunk : renderer.Finish(r)) frames += ChunkEvent(chunk);
  call.writer->Write(std::move(frames));
  call.writer->Finish();
}

void BedrockApi::Converse(Call& call, const std::string& model_id, bool stream) {
  auto now = options_.clock();
  const std::string op = stream ? "ConverseStream" : "Converse";
  // Converse is authorized as the InvokeModel actions, as on Bedrock.
  const catalog::ModelEntry* entry_ptr = AdmitModelCall(
      call, model_id, stream ? "bedrock:InvokeModelWithResponseStream" : "bedrock:InvokeModel",
      stream);
  if (entry_ptr == nullptr) return;
  const catalog::ModelEntry& entry = *entry_ptr;
  auto fail = [&](const Status& st) {
    FinishInvocation(call, op, entry.model_id, nullptr, st, OutcomeOfStatus(st), "");
    SendError(call, st, options_.clock());
  };
  Json body = Json::parse(
      call.request.body.empty() ? std::string_view("{}") : std::string_view(call.request.body),
      nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return fail(Status::InvalidArgument("The request body is not valid JSON."));
  }
  auto plan = ParseConverseBody(body, options_.default_max_tokens);
  if (!plan.ok()) return fail(plan.status());
  if (!AdmitQuota(call, deps_.quotas, *plan, deps_.metrics, entry.model_id, now)) return;

  std::shared_ptr<GenerationStream> gen;
  engine::JobId job = 0;
  Status error;
  std::string gen_prompt;
  bool gen_add_special = true;
  if (!BedrockApiRunner::Submit(*engine_, entry, *plan, &gen, &job, &error, &gen_prompt,
                                &gen_add_special)) {
    return fail(error);
  }
  engine::Engine* engine = engine_;
  call.writer->OnClose([engine, job] { engine->Cancel(job); });
  int checkpoint_prompt_tokens = -1;
  auto checkpoint = [&](int output_tokens) {
    if (checkpoint_prompt_tokens < 0) {
      auto count = engine_->CountTokens(entry.engine_model, gen_prompt, gen_add_special);
      checkpoint_prompt_tokens = count.ok() ? *count : 0;
    }
    CheckpointInvocation(call, op, entry.model_id, checkpoint_prompt_tokens, output_tokens);
  };

  if (!stream) {
    std::string text = WaitWithCheckpoints(*gen, options_.usage_checkpoint_interval, checkpoint);
    GenerationResult r = ResultOf(*gen, std::move(text), *plan, call.start);
    std::string out_body;
    if (gen->status().ok()) {
      out_body = RenderConverseResponse(r).dump(-1, ' ', false, Json::error_handler_t::replace);
    }
    FinishInvocation(call, op, entry.model_id, &r, gen->status(),
                     OutcomeOf(*gen, call.writer->Closed()), out_body);
    if (!gen->status().ok()) return SendError(call, gen->status(), options_.clock());
    if (call.writer->Closed()) return;
    auto headers = BaseHeaders(call.request_id, "application/json", options_.clock());
    call.responded = true;
    call.writer->Respond(200, std::move(headers), std::move(out_body));
    return;
  }

  ConverseStreamRenderer renderer;
  bool started = false;
  bool alive = true;
  bool tools = WantsToolParsing(*plan);
  auto encode = [](const std::vector<StreamEvent>& events) {
    std::string frames;
    for (const auto& [type, payload] : events) {
      frames += EncodeEvent(type, payload.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
    return frames;
  };
  auto start_stream = [&] {
    if (started) return;
    started = true;
    auto headers =
        BaseHeaders(call.request_id, "application/vnd.amazon.eventstream", options_.clock());
    call.responded = true;
    call.writer->StartStream(200, std::move(headers));
    alive = call.writer->Write(encode(renderer.Start()));
  };
  std::string held, piece, full_text;
  const auto every = options_.usage_checkpoint_interval;
  auto next_checkpoint = std::chrono::steady_clock::now() + every;
  while (gen->NextFor(&piece, nullptr, every)) {
    if (std::chrono::steady_clock::now() >= next_checkpoint) {
      checkpoint(gen->total_pieces());
      next_checkpoint = std::chrono::steady_clock::now() + every;
    }
    held += piece;
    size_t safe = tools ? SafeTextPrefix(held) : held.size();
    if (safe == 0 || !alive) continue;
    start_stream();
    std::string frames = encode(renderer.Delta(held.substr(0, safe)));
    full_text += held.substr(0, safe);
    held.erase(0, safe);
    if (alive) alive = call.writer->Write(std::move(frames));
  }
  GenerationResult r = ResultOf(*gen, std::move(held), *plan, call.start);
  bool gone = call.writer->Closed();
  FinishInvocation(
      call, op, entry.model_id, &r, gen->status(), OutcomeOf(*gen, gone),
      Json{{"text", full_text + r.text}}.dump(-1, ' ', false, Json::error_handler_t::replace));
  if (!gen->status().ok()) {
    if (!started) return SendError(call, gen->status(), options_.clock());
    call.writer->Write(EncodeStreamError(gen->status(), StreamKind::kConverse));
    call.writer->Finish();
    return;
  }
  if (gone) return;
  start_stream();
  call.writer->Write(encode(renderer.Finish(r)));
  call.writer->Finish();
}

void BedrockApi::CountTokens(Call& call, const std::string& model_id) {
  auto now = options_.clock();
  const catalog::ModelEntry* entry_ptr =
      AdmitModelCall(call, model_id, "bedrock:CountTokens", false);
  if (entry_ptr == nullptr) return;
  const catalog::ModelEntry& entry = *entry_ptr;
  Json body = Json::parse(call.request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return SendError(call, Status::InvalidArgument("The request body is not valid JSON."), now);
  }
  if (!body.contains("input") || !body["input"].is_object() || body["input"].size() != 1) {
    return SendError(
        call,
        Status::InvalidArgument("1 validation error detected: Value at 'input' failed to satisfy "
                                "constraint: Member must be a union with exactly one member set "
                                "(invokeModel or converse)"),
        now);
  }
  const Json& input = body["input"];
  StatusOr<PromptPlan> plan = Status::Internal("unset");
  if (input.contains("invokeModel")) {
    const Json& im = input["invokeModel"];
    if (!im.is_object() || !im.contains("body") || !im["body"].is_string()) {
      return SendError(call,
                       Status::InvalidArgument(
                           "1 validation error detected: Value null at 'input.invokeModel.body' "
                           "failed to satisfy constraint: Member must not be null"),
                       now);
    }
    auto raw = auth::Base64Decode(im["body"].get<std::string>());
    if (!raw.ok()) {
      return SendError(call, Status::InvalidArgument("input.invokeModel.body is not valid base64"),
                       now);
    }
    auto native = ParseJsonBody(*raw);
    if (!native.ok()) return SendError(call, native.status(), now);
    plan = ParseInvokeBody(entry.family, *native);
  } else if (input.contains("converse")) {
    if (!input["converse"].is_object()) {
      return SendError(call, Status::InvalidArgument("input.converse must be an object"), now);
    }
    plan = ParseConverseBody(input["converse"], options_.default_max_tokens);
  } else {
    return SendError(call, Status::InvalidArgument("Unknown input type " + input.begin().key()),
                     now);
  }
  if (!plan.ok()) return SendError(call, plan.status(), now);
  auto req = BuildGenerateRequest(*engine_, entry.engine_model, *plan);
  if (!req.ok()) return SendError(call, req.status(), now);
  bool add_special = !StartsWithAny(req->prompt, {"<s>", "<|begin_of_text|>", "<bos>"});
  auto count = engine_->CountTokens(entry.engine_model, req->prompt, add_special);
  if (!count.ok()) return SendError(call, count.status(), now);
  SendJson(call, 200, {{"inputTokens", *count}}, now);
}

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

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

// Parses a JSON request body of the control plane; an empty body is {}.
StatusOr<Json> ControlBody(const std::string& body) {
  if (body.empty()) return Json::object();
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("The request body is not valid JSON.");
  }
  return j;
}

StatusOr<std::string> RequiredString(const Json& body, const char* field, size_t max_len = 2048) {
  if (!body.contains(field) || body[field].is_null()) {
    return Status::InvalidArgument(std::string("1 validation error detected: Value null at '") +
                                   field +
                                   "' failed to satisfy constraint: Member must not be "
                                   "null");
  }
  if (!body[field].is_string()) {
    return Status::InvalidArgument(std::string("1 validation error detected: Value at '") + field +
                                   "' failed to satisfy constraint: Member must be a string");
  }
  std::string v = body[field].get<std::string>();
  if (v.empty() || v.size() > max_len) {
    return Status::InvalidArgument(std::string("1 validation error detected: Value at '") + field +
                                   "' failed to satisfy constraint: Member must have length "
                                   "between 1 and " +
                                   std::to_string(max_len));
  }
  return v;
}

std::string OfferToken(const std::string& model_id) { return "basalt-offer-" + model_id; }

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
  // Stored per account; the deployment's logger writes while any account has it on.
  std::string key = "invocation_logging:" + call.principal.account_id;
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
    if (deps_.invocation_log) {
      metering::LoggingConfig cfg = deps_.invocation_log->config();
      cfg.enabled = false;
      deps_.invocation_log->SetConfig(cfg);
    }
    return SendJson(call, 200, Json::object(), now);
  }
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  if (!body->contains("loggingConfig") || !(*body)["loggingConfig"].is_object()) {
    return SendError(call,
                     Status::InvalidArgument("1 validation error detected: Value null at "
                                             "'loggingConfig' failed to satisfy constraint: "
                                             "Member must not be null"),
                     now);
  }
  const Json& cfg = (*body)["loggingConfig"];
  if (!cfg.contains("s3Config") && !cfg.contains("cloudWatchConfig")) {
    return SendError(call,
                     Status::InvalidArgument("At least one of s3Config or cloudWatchConfig must "
                                             "be set: logs are written to this deployment's "
                                             "invocation-logs folder either way."),
                     now);
  }
  st = store_->PutSetting(key, cfg.dump());
  if (!st.ok()) return SendError(call, st, now);
  if (deps_.invocation_log) {
    metering::LoggingConfig lc = deps_.invocation_log->config();
    lc.enabled = true;
    lc.text_data_delivery = cfg.value("textDataDeliveryEnabled", true);
    lc.image_data_delivery = cfg.value("imageDataDeliveryEnabled", false);
    lc.embedding_data_delivery = cfg.value("embeddingDataDeliveryEnabled", false);
    deps_.invocation_log->SetConfig(lc);
  }
  SendJson(call, 200, Json::object(), now);
}

void BedrockApi::UsageReport(Call& call) {
  auto now = options_.clock();
  if (deps_.usage == nullptr) {
    return SendError(call, Status::Unavailable("Metering is not enabled."), now);
  }
  metering::UsageFilter f;
  f.account_id = call.principal.account_id;  // an account only ever sees its own usage
  // Administrators see their whole account; other users their own calls.
  if (call.identity.role != "admin") f.user_id = call.principal.user_id;
  auto parse_time = [](const std::string& v, int64_t* out) {
    if (v.empty()) return true;
    // YYYY-MM-DD or unix milliseconds.
    if (v.size() == 10 && v[4] == '-' && v[7] == '-') {
      std::tm tm{};
      if (strptime(v.c_str(), "%Y-%m-%d", &tm) == nullptr) return false;
      *out = static_cast<int64_t>(timegm(&tm)) * 1000;
      return true;
    }
    char* end = nullptr;
    long long ms = std::strtoll(v.c_str(), &end, 10);
    if (*end != '\0') return false;
    *out = ms;
    return true;
  };
  if (!parse_time(QueryParam(call.query, "from"), &f.from_ms) ||
      !parse_time(QueryParam(call.query, "to"), &f.to_ms)) {
    return SendError(call,
                     Status::InvalidArgument("from and to must be YYYY-MM-DD or unix "
                                             "milliseconds"),
                     now);
  }
  f.model_id = QueryParam(call.query, "model");
  f.key_id = QueryParam(call.query, "key");
  f.source = QueryParam(call.query, "source");
  f.app_id = QueryParam(call.query, "app");
  if (std::string u = QueryParam(call.query, "user"); !u.empty() && call.identity.role == "admin") {
    f.user_id = u;
  }
  std::vector<std::string> group_by;
  std::string g = QueryParam(call.query, "groupBy");
  for (size_t pos = 0; !g.empty() && pos <= g.size();) {
    size_t comma = g.find(',', pos);
    if (comma == std::string::npos) comma = g.size();
    if (comma > pos) group_by.push_back(g.substr(pos, comma - pos));
    pos = comma + 1;
  }
  if (QueryParam(call.query, "records") == "true") {
    auto records = deps_.usage->List(f, 10000);
    if (!records.ok()) return SendError(call, records.status(), now);
    Json list = Json::array();
    for (const auto& r : *records) {
      list.push_back({{"requestId", r.request_id},
                      {"timestampMs", r.timestamp_ms},
                      {"userId", r.user_id},
                      {"keyId", r.key_id},
                      {"region", r.region},
                      {"modelId", r.model_id},
                      {"operation", r.operation},
                      {"source", r.source},
                      {"appId", r.app_id},
                      {"inputTokens", r.input_tokens},
                      {"outputTokens", r.output_tokens},
                      {"images", r.images},
                      {"firstByteMs", r.first_byte_ms},
                      {"latencyMs", r.latency_ms},
                      {"outcome", r.outcome},
                      {"cost", r.cost}});
    }
    return SendJson(call, 200, {{"records", list}}, now);
  }
  if (QueryParam(call.query, "format") == "csv") {
    auto csv = deps_.usage->ExportCsv(f, group_by);
    if (!csv.ok()) return SendError(call, csv.status(), now);
    auto headers = BaseHeaders(call.request_id, "text/csv", now);
    call.responded = true;
    call.writer->Respond(200, std::move(headers), std::move(*csv));
    return;
  }
  auto report = deps_.usage->Report(f, group_by);
  if (!report.ok()) return SendError(call, report.status(), now);
  auto row_json = [](const metering::UsageRow& r) {
    return Json{{"group", r.group},
                {"requests", r.requests},
                {"inputTokens", r.input_tokens},
                {"outputTokens", r.output_tokens},
                {"images", r.images},
                {"cost", r.cost}};
  };
  Json rows = Json::array();
  for (const auto& r : report->rows) rows.push_back(row_json(r));
  SendJson(call, 200, {{"rows", rows}, {"total", row_json(report->total)}}, now);
}

void BedrockApi::Metrics(Call& call) {
  auto now = options_.clock();
  std::string body = deps_.metrics ? deps_.metrics->RenderPrometheus() : "";
  auto headers = BaseHeaders(call.request_id, "text/plain; version=0.0.4", now);
  call.responded = true;
  call.writer->Respond(200, std::move(headers), std::move(body));
}

namespace {

std::string UserArn(const std::string& account, const std::string& name) {
  return "arn:aws:iam::" + account + ":user/" + name;
}

Json AccessKeyJson(const store::AccessKey& k) {
  return {{"AccessKeyId", k.access_key_id},
          {"UserId", k.user_id},
          {"AccountId", k.account_id},
          {"Status", k.status},
          {"CreateDate", k.created_at}};
}

Json ApiKeyJson(const store::ApiKey& k) {
  return {{"ApiKeyId", k.id},   {"UserId", k.user_id},       {"AccountId", k.account_id},
          {"Status", k.status}, {"ExpiresAt", k.expires_at}, {"CreateDate", k.created_at}};
}

}  // namespace

// Administration over HTTP (the same operations as `basalt admin`), authorized with IAM-style
// actions ("iam:CreateAccessKey" on the user's ARN...). Callers act within their own account;
// administrators of the operator account (created on first start) act on every account.
void BedrockApi::Admin(Call& call, const std::vector<std::string>& rest) {
  auto now = options_.clock();
  const std::string& method = call.request.method;
  auto operator_account = store_->GetSetting("operator_account");
  if (!operator_account.ok()) return SendError(call, operator_account.status(), now);
  bool is_operator = operator_account->has_value() &&
                     **operator_account == call.principal.account_id &&
                     call.identity.role == "admin";
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  auto opt_string = [&](const char* key) -> std::string {
    return body->contains(key) && (*body)[key].is_string() ? (*body)[key].get<std::string>() : "";
  };
  auto account_scope = [&](const std::string& wanted) -> StatusOr<std::string> {
    std::string acct = wanted.empty() ? call.principal.account_id : wanted;
    if (acct != call.principal.account_id && !is_operator) {
      return Status::PermissionDenied(call.identity.arn + " may only manage its own account");
    }
    auto a = store_->GetAccount(acct);
    if (!a.ok()) return a.status();
    return acct;
  };
  // The user an operation targets (default: the caller), with the account check.
  auto target_user = [&](const std::string& wanted) -> StatusOr<store::User> {
    auto u = store_->GetUser(wanted.empty() ? call.principal.user_id : wanted);
    if (!u.ok()) return u.status();
    if (u->account_id != call.principal.account_id && !is_operator) {
      return Status::NotFound("User " + wanted + " not found.");
    }
    return *u;
  };
  auto check = [&](const std::string& action, const std::string& resource) {
    return Authorize(call.identity, action, resource);
  };
  std::string what = rest.empty() ? "" : rest[0];
  std::string id;
  if (rest.size() >= 2) {
    auto d = PercentDecode(rest[1]);
    if (!d.ok()) return SendError(call, d.status(), now);
    id = *d;
  }

  if (what == "accounts" && rest.size() == 1) {
    if (!is_operator) {
      return SendError(call,
                       Status::PermissionDenied(call.identity.arn + " is not an operator "
                                                                    "administrator"),
                       now);
    }
    if (method == "GET") {
      Status st = check("iam:ListAccounts", "*");
      if (!st.ok()) return SendError(call, st, now);
      auto list = store_->ListAccounts();
      if (!list.ok()) return SendError(call, list.status(), now);
      Json out = Json::array();
      for (const auto& a : *list) out.push_back({{"AccountId", a.id}, {"Name", a.name}});
      return SendJson(call, 200, {{"Accounts", out}}, now);
    }
    if (method == "POST") {
      Status st = check("iam:CreateAccount", "*");
      if (!st.ok()) return SendError(call, st, now);
      auto name = RequiredString(*body, "name", 64);
      if (!name.ok()) return SendError(call, name.status(), now);
      auto a = store_->CreateAccount(*name);
      if (!a.ok()) return SendError(call, a.status(), now);
      return SendJson(call, 200, {{"Account", {{"AccountId", a->id}, {"Name", a->name}}}}, now);
    }
  }
  if (what == "users" && rest.size() == 1) {
    if (method == "GET") {
      auto acct = account_scope(QueryParam(call.query, "accountId"));
      if (!acct.ok()) return SendError(call, acct.status(), now);
      Status st = check("iam:ListUsers", "arn:aws:iam::" + *acct + ":user/*");
      if (!st.ok()) return SendError(call, st, now);
      auto users = store_->ListUsers(*acct);
      if (!users.ok()) return SendError(call, users.status(), now);
      Json out = Json::array();
      for (const auto& u : *users) {
        out.push_back({{"UserId", u.id},
                       {"UserName", u.name},
                       {"AccountId", u.account_id},
                       {"Role", u.role},
                       {"Arn", UserArn(u.account_id, u.name)}});
      }
      return SendJson(call, 200, {{"Users", out}}, now);
    }
    if (method == "POST") {
      auto acct = account_scope(opt_string("accountId"));
      if (!acct.ok()) return SendError(call, acct.status(), now);
      auto name = RequiredString(*body, "name", 64);
      if (!name.ok()) return SendError(call, name.status(), now);
      std::string role = opt_string("role").empty() ? "user" : opt_string("role");
      if (role != "user" && role != "admin") {
        return SendError(call, Status::InvalidArgument("role must be user or admin"), now);
      }
      Status st = check("iam:CreateUser", UserArn(*acct, *name));
      if (!st.ok()) return SendError(call, st, now);
      std::vector<std::string> policies;
      if (body->contains("policies")) {
        if (!(*body)["policies"].is_array()) {
          return SendError(call, Status::InvalidArgument("policies must be a list of names"), now);
        }
        for (const auto& p : (*body)["policies"]) {
          if (!p.is_string()) {
            return SendError(call, Status::InvalidArgument("policies must be a list of names"),
                             now);
          }
          policies.push_back(p.get<std::string>());
        }
      } else {
        policies.push_back(role == "admin" ? "BasaltAdministrator" : "AmazonBedrockFullAccess");
      }
      for (const auto& p : policies) {
        if (!iam::BuiltinPolicy(p).ok() && !store_->GetPolicy(*acct, p).ok()) {
          return SendError(call, Status::NotFound("Policy " + p + " not found."), now);
        }
      }
      auto u = store_->CreateUser(*acct, *name, role);
      if (!u.ok()) return SendError(call, u.status(), now);
      for (const auto& p : policies) {
        st = store_->AttachUserPolicy(u->id, p);
        if (!st.ok()) return SendError(call, st, now);
      }
      return SendJson(call, 200,
                      {{"User",
                        {{"UserId", u->id},
                         {"UserName", u->name},
                         {"AccountId", u->account_id},
                         {"Role", u->role},
                         {"Arn", UserArn(u->account_id, u->name)},
                         {"Policies", policies}}}},
                      now);
    }
  }
  if (what == "access-keys") {
    if (rest.size() == 1 && (method == "GET" || method == "POST")) {
      std::string wanted =
          method == "GET" ? QueryParam(call.query, "userId") : opt_string("userId");
      auto u = target_user(wanted);
      if (!u.ok()) return SendError(call, u.status(), now);
      Status st = check(method == "GET" ? "iam:ListAccessKeys" : "iam:CreateAccessKey",
                        UserArn(u->account_id, u->name));
      if (!st.ok()) return SendError(call, st, now);
      if (method == "GET") {
        auto keys = store_->ListAccessKeys(u->id);
        if (!keys.ok()) return SendError(call, keys.status(), now);
        Json out = Json::array();
        for (const auto& k : *keys) out.push_back(AccessKeyJson(k));
        return SendJson(call, 200, {{"AccessKeyMetadata", out}}, now);
      }
      auto k = store_->CreateAccessKey(u->id);
      if (!k.ok()) return SendError(call, k.status(), now);
      Json out = AccessKeyJson(*k);
      out["SecretAccessKey"] = k->secret_access_key;  // shown once
      return SendJson(call, 200, {{"AccessKey", out}}, now);
    }
    if (rest.size() == 2 && (method == "PUT" || method == "DELETE")) {
      auto k = store_->GetAccessKey(id);
      if (!k.ok())
        return SendError(call, Status::NotFound("Access key " + id + " not found."), now);
      auto u = target_user(k->user_id);
      if (!u.ok())
        return SendError(call, Status::NotFound("Access key " + id + " not found."), now);
      Status st = check(method == "PUT" ? "iam:UpdateAccessKey" : "iam:DeleteAccessKey",
                        UserArn(u->account_id, u->name));
      if (!st.ok()) return SendError(call, st, now);
      if (method == "DELETE") {
        st = store_->DeleteAccessKey(id);
      } else {
        std::string status = opt_string("status");
        if (status != "Active" && status != "Inactive") {
          return SendError(call, Status::InvalidArgument("status must be Active or Inactive"), now);
        }
        st = store_->SetAccessKeyStatus(id, status);
      }
      if (!st.ok()) return SendError(call, st, now);
      return SendJson(call, 200, Json::object(), now);
    }
  }
  if (what == "api-keys") {
    if (rest.size() == 1 && (method == "GET" || method == "POST")) {
      std::string wanted =
          method == "GET" ? QueryParam(call.query, "userId") : opt_string("userId");
      auto u = target_user(wanted);
      if (!u.ok()) return SendError(call, u.status(), now);
      Status st = check(method == "GET" ? "iam:ListServiceSpecificCredentials"
                                        : "iam:CreateServiceSpecificCredential",
                        UserArn(u->account_id, u->name));
      if (!st.ok()) return SendError(call, st, now);
      if (method == "GET") {
        auto keys = store_->ListApiKeys(u->id);
        if (!keys.ok()) return SendError(call, keys.status(), now);
        Json out = Json::array();
        for (const auto& k : *keys) out.push_back(ApiKeyJson(k));
        return SendJson(call, 200, {{"ApiKeys", out}}, now);
      }
      int64_t expires_at = 0;
      if (body->contains("expiresInSeconds")) {
        const Json& v = (*body)["expiresInSeconds"];
        if (!v.is_number_integer() || v.get<int64_t>() < 1) {
          return SendError(call,
                           Status::InvalidArgument("expiresInSeconds must be a positive "
                                                   "integer"),
                           now);
        }
        expires_at =
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() +
            v.get<int64_t>();
      }
      auto k = store_->CreateApiKey(u->id, expires_at);
      if (!k.ok()) return SendError(call, k.status(), now);
      Json out = ApiKeyJson(k->key);
      out["Token"] = k->token;  // shown once
      return SendJson(call, 200, {{"ApiKey", out}}, now);
    }
    if (rest.size() == 2 && (method == "PUT" || method == "DELETE")) {
      // API keys are found through their owner's list.
      auto u =
          target_user(QueryParam(call.query, "userId").empty() ? opt_string("userId")
                                                               : QueryParam(call.query, "userId"));
      if (!u.ok()) return SendError(call, u.status(), now);
      auto keys = store_->ListApiKeys(u->id);
      if (!keys.ok()) return SendError(call, keys.status(), now);
      bool found = false;
      for (const auto& k : *keys) found = found || k.id == id;
      if (!found) return SendError(call, Status::NotFound("API key " + id + " not found."), now);
      Status st = check(method == "PUT" ? "iam:UpdateServiceSpecificCredential"
                                        : "iam:DeleteServiceSpecificCredential",
                        UserArn(u->account_id, u->name));
      if (!st.ok()) return SendError(call, st, now);
      if (method == "DELETE") {
        st = store_->DeleteApiKey(id);
      } else {
        std::string status = opt_string("status");
        if (status != "Active" && status != "Inactive") {
          return SendError(call, Status::InvalidArgument("status must be Active or Inactive"), now);
        }
        st = store_->SetApiKeyStatus(id, status);
      }
      if (!st.ok()) return SendError(call, st, now);
      return SendJson(call, 200, Json::object(), now);
    }
  }
  if (what == "model-access" && rest.size() == 1) {
    if (method == "GET") {
      auto acct = account_scope(QueryParam(call.query, "accountId"));
      if (!acct.ok()) return SendError(call, acct.status(), now);
      auto list = store_->ListModelAccess(*acct);
      if (!list.ok()) return SendError(call, list.status(), now);
      Json out = Json::array();
      for (const auto& [model, state] : *list) {
        out.push_back({{"modelId", model}, {"state", state}});
      }
      return SendJson(call, 200, {{"AccountId", *acct}, {"ModelAccess", out}}, now);
    }
    if (method == "PUT") {
      // Approving or denying access is the operator's decision.
      if (!is_operator) {
        return SendError(call,
                         Status::PermissionDenied(call.identity.arn + " is not an "
                                                                      "operator administrator"),
                         now);
      }
      auto acct = account_scope(opt_string("accountId"));
      if (!acct.ok()) return SendError(call, acct.status(), now);
      auto model = RequiredString(*body, "modelId");
      if (!model.ok()) return SendError(call, model.status(), now);
      auto state = RequiredString(*body, "state", 32);
      if (!state.ok()) return SendError(call, state.status(), now);
      if (!iam::ParseAccessState(*state).ok()) {
        return SendError(call,
                         Status::InvalidArgument("state must be NOT_REQUESTED, "
                                                 "REQUESTED, GRANTED or DENIED"),
                         now);
      }
      Status st = store_->SetModelAccess(*acct, *model, *state);
      if (!st.ok()) return SendError(call, st, now);
      return SendJson(call, 200, Json::object(), now);
    }
  }
  SendError(call, Status::NotFound("Unknown administration operation " + method + " " + call.path),
            now);
}

}  // namespace basalt::api
