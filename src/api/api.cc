#include "api/api.h"

#include <ctime>
#include <random>

#include <spdlog/spdlog.h>

#include "api/authenticate.h"
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
  std::string path;   // raw path without the query
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
  return {{"Content-Type", content_type}, {"x-amzn-RequestId", request_id},
          {"Date", HttpDate(now)}};
}

bool StartsWithAny(const std::string& s, std::initializer_list<const char*> prefixes) {
  for (const char* p : prefixes) {
    if (s.rfind(p, 0) == 0) return true;
  }
  return false;
}

std::string ChunkEvent(const Json& chunk) {
  Json payload = {{"bytes", auth::Base64Encode(chunk.dump(-1, ' ', false,
                                                          Json::error_handler_t::replace))}};
  return EncodeEvent("chunk", payload.dump());
}

const char* OutcomeName(const GenerationStream& s) {
  if (!s.status().ok()) return "error";
  return s.reason() == engine::FinishReason::kCancelled ? "cancelled" : "success";
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

BedrockApi::BedrockApi(store::Store* store, engine::Engine* engine,
                       std::shared_ptr<const catalog::Catalog> catalog, ApiOptions options)
    : store_(store), engine_(engine), catalog_(std::move(catalog)), options_(std::move(options)) {}

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
    spdlog::error("request {} {} {}: unhandled exception: {}", call.request_id,
                  call.request.method, call.path, e.what());
    if (!call.responded) SendError(call, Status::Internal("Internal server error"), options_.clock());
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

  auto principal = Authenticate(*store_, call.request, now);
  if (!principal.ok()) return SendError(call, principal.status(), now);
  call.principal = *principal;

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
  // Control plane (catalog part).
  if (method == "GET" && n >= 1 && seg[n - 1] == "foundation-models") {
    return ListFoundationModels(call);
  }
  if (method == "GET" && n >= 2 && seg[n - 2] == "foundation-models") {
    auto id = PercentDecode(seg[n - 1]);
    if (!id.ok()) return SendError(call, id.status(), now);
    return GetFoundationModel(call, *id);
  }
  SendError(call, Status::NotFound("Unknown operation " + method + " " + call.path), now);
}

namespace {

// Validates the model id, checks streaming support.
StatusOr<const catalog::ModelEntry*> FindModel(const catalog::Catalog& catalog,
                                               const std::string& model_id, bool stream) {
  if (model_id.empty() || model_id.size() > 2048) return Status::InvalidArgument(kInvalidModel);
  const catalog::ModelEntry* entry = catalog.Find(model_id);
  if (entry == nullptr) return Status::InvalidArgument(kInvalidModel);
  if (stream && !entry->streaming) {
    return Status::InvalidArgument("The model is unsupported for streaming");
  }
  return entry;
}

bool WantsToolParsing(const PromptPlan& plan) {
  return !plan.tools.empty() && plan.tool_choice != ToolChoice::kNone;
}

GenerationResult ResultOf(const GenerationStream& s, std::string text,
                          const PromptPlan& plan, std::chrono::steady_clock::time_point start) {
  GenerationResult r;
  r.reason = s.reason();
  r.stop = s.stop();
  r.usage = s.usage();
  r.first_byte_ms = s.timing().first_token_ms;
  r.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start).count();
  if (WantsToolParsing(plan)) {
    ParsedOutput parsed = ParseToolCalls(text, plan.tools);
    r.text = std::move(parsed.text);
    r.calls = std::move(parsed.calls);
  } else {
    r.text = std::move(text);
  }
  return r;
}

void LogUsage(const BedrockApi::Call& call, const std::string& op, const std::string& model_id,
              const GenerationResult& r, const char* outcome) {
  spdlog::info(
      "usage request_id={} account={} op={} model={} input_tokens={} output_tokens={} "
      "cached_tokens={} first_byte_ms={} latency_ms={} outcome={}",
      call.request_id, call.principal.account_id, op, model_id, r.usage.prompt_tokens,
      r.usage.completion_tokens, r.usage.cached_prompt_tokens, r.first_byte_ms, r.latency_ms,
      outcome);
}

}  // namespace

// Runs a generation for a plan; streams through `emit_delta`, or collects. Shared by
// InvokeModel and Converse. Returns false if it already replied with an error.
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

void BedrockApi::InvokeModel(Call& call, const std::string& model_id, bool stream) {
  auto now = options_.clock();
  auto entry_or = FindModel(*catalog_, model_id, stream);
  if (!entry_or.ok()) return SendError(call, entry_or.status(), now);
  const catalog::ModelEntry& entry = **entry_or;
  if (call.request.body.size() > kMaxInvokeBody) {
    return SendError(call, Status::InvalidArgument(
                               "1 validation error detected: Value at 'body' failed to satisfy "
                               "constraint: Member must have length less than or equal to "
                               "25000000"),
                     now);
  }
  const std::string* accept = call.request.FindHeader(stream ? "x-amzn-bedrock-accept" : "accept");
  if (accept && !accept->empty() && accept->find("json") == std::string::npos &&
      accept->find("*/*") == std::string::npos) {
    return SendError(call, Status::InvalidArgument(
                               "The provided Accept Type is invalid or not supported for this "
                               "model. Use application/json."),
                     now);
  }
  const std::string* ctype = call.request.FindHeader("content-type");
  if (ctype && !ctype->empty() && ctype->find("json") == std::string::npos &&
      ctype->find("application/octet-stream") == std::string::npos &&
      ctype->find("*/*") == std::string::npos) {
    return SendError(call, Status::InvalidArgument(
                               "The provided Content Type is invalid or not supported for this "
                               "model. Use application/json."),
                     now);
  }
  auto body = ParseJsonBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  auto plan = ParseInvokeBody(entry.family, *body);
  if (!plan.ok()) return SendError(call, plan.status(), now);

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
  if (!BedrockApiRunner::Submit(*engine_, entry, *plan, &gen, &job, &error,
                                stream ? &gen_prompt : nullptr, &gen_add_special)) {
    return SendError(call, error, now);
  }
  engine::Engine* engine = engine_;
  call.writer->OnClose([engine, job] { engine->Cancel(job); });
  const std::string op = stream ? "InvokeModelWithResponseStream" : "InvokeModel";

  if (!stream) {
    std::string text = gen->WaitAll();
    now = options_.clock();
    GenerationResult r = ResultOf(*gen, std::move(text), *plan, call.start);
    LogUsage(call, op, model_id, r, OutcomeName(*gen));
    if (!gen->status().ok()) return SendError(call, gen->status(), now);
    if (call.writer->Closed()) return;
    Json out = RenderInvokeResponse(entry.family, model_id, r);
    echo.push_back({"X-Amzn-Bedrock-Input-Token-Count", std::to_string(r.usage.prompt_tokens)});
    echo.push_back({"X-Amzn-Bedrock-Output-Token-Count",
                    std::to_string(r.usage.completion_tokens)});
    echo.push_back({"X-Amzn-Bedrock-Invocation-Latency", std::to_string(r.latency_ms)});
    return SendJson(call, 200, out, now, std::move(echo));
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
  auto start_stream = [&](int /*input_tokens*/) {
    if (started) return;
    started = true;
    auto headers = BaseHeaders(call.request_id, "application/vnd.amazon.eventstream",
                               options_.clock());
    headers.push_back({"X-Amzn-Bedrock-Content-Type", "application/json"});
    headers.insert(headers.end(), echo.begin(), echo.end());
    call.responded = true;
    call.writer->StartStream(200, std::move(headers));
    std::string frames;
    for (const Json& chunk : renderer.Start()) frames += ChunkEvent(chunk);
    if (!frames.empty()) alive = call.writer->Write(std::move(frames));
  };
  std::string piece;
  int pieces = 0;
  while (gen->Next(&piece, &pieces)) {
    held += piece;
    size_t safe = tools ? SafeTextPrefix(held) : held.size();
    if (safe == 0 || !alive) continue;
    // The prompt size is known once generation produced anything.
    start_stream(prompt_tokens);
    std::string frames;
    for (const Json& chunk : renderer.Delta(held.substr(0, safe), pieces)) {
      frames += ChunkEvent(chunk);
    }
    held.erase(0, safe);
    if (!frames.empty()) alive = call.writer->Write(std::move(frames));
  }
  GenerationResult r = ResultOf(*gen, std::move(held), *plan, call.start);
  LogUsage(call, op, model_id, r, call.writer->Closed() ? "client_gone" : OutcomeName(*gen));
  if (!gen->status().ok()) {
    if (!started) return SendError(call, gen->status(), options_.clock());
    call.writer->Write(EncodeStreamError(gen->status(), StreamKind::kInvokeModel));
    call.writer->Finish();
    return;
  }
  if (call.writer->Closed()) return;
  start_stream(r.usage.prompt_tokens);
  std::string frames;
  for (const Json& chunk : renderer.Finish(r)) frames += ChunkEvent(chunk);
  call.writer->Write(std::move(frames));
  call.writer->Finish();
}

void BedrockApi::Converse(Call& call, const std::string& model_id, bool stream) {
  auto now = options_.clock();
  auto entry_or = FindModel(*catalog_, model_id, stream);
  if (!entry_or.ok()) return SendError(call, entry_or.status(), now);
  const catalog::ModelEntry& entry = **entry_or;
  Json body = Json::parse(call.request.body.empty() ? std::string_view("{}")
                                                    : std::string_view(call.request.body),
                          nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return SendError(call, Status::InvalidArgument("The request body is not valid JSON."), now);
  }
  auto plan = ParseConverseBody(body, options_.default_max_tokens);
  if (!plan.ok()) return SendError(call, plan.status(), now);

  std::shared_ptr<GenerationStream> gen;
  engine::JobId job = 0;
  Status error;
  if (!BedrockApiRunner::Submit(*engine_, entry, *plan, &gen, &job, &error)) {
    return SendError(call, error, now);
  }
  engine::Engine* engine = engine_;
  call.writer->OnClose([engine, job] { engine->Cancel(job); });
  const std::string op = stream ? "ConverseStream" : "Converse";

  if (!stream) {
    std::string text = gen->WaitAll();
    GenerationResult r = ResultOf(*gen, std::move(text), *plan, call.start);
    LogUsage(call, op, model_id, r, OutcomeName(*gen));
    if (!gen->status().ok()) return SendError(call, gen->status(), options_.clock());
    if (call.writer->Closed()) return;
    return SendJson(call, 200, RenderConverseResponse(r), options_.clock());
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
    auto headers = BaseHeaders(call.request_id, "application/vnd.amazon.eventstream",
                               options_.clock());
    call.responded = true;
    call.writer->StartStream(200, std::move(headers));
    alive = call.writer->Write(encode(renderer.Start()));
  };
  std::string held, piece;
  while (gen->Next(&piece)) {
    held += piece;
    size_t safe = tools ? SafeTextPrefix(held) : held.size();
    if (safe == 0 || !alive) continue;
    start_stream();
    std::string frames = encode(renderer.Delta(held.substr(0, safe)));
    held.erase(0, safe);
    if (alive) alive = call.writer->Write(std::move(frames));
  }
  GenerationResult r = ResultOf(*gen, std::move(held), *plan, call.start);
  LogUsage(call, op, model_id, r, call.writer->Closed() ? "client_gone" : OutcomeName(*gen));
  if (!gen->status().ok()) {
    if (!started) return SendError(call, gen->status(), options_.clock());
    call.writer->Write(EncodeStreamError(gen->status(), StreamKind::kConverse));
    call.writer->Finish();
    return;
  }
  if (call.writer->Closed()) return;
  start_stream();
  call.writer->Write(encode(renderer.Finish(r)));
  call.writer->Finish();
}

void BedrockApi::CountTokens(Call& call, const std::string& model_id) {
  auto now = options_.clock();
  auto entry_or = FindModel(*catalog_, model_id, false);
  if (!entry_or.ok()) return SendError(call, entry_or.status(), now);
  const catalog::ModelEntry& entry = **entry_or;
  Json body = Json::parse(call.request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return SendError(call, Status::InvalidArgument("The request body is not valid JSON."), now);
  }
  if (!body.contains("input") || !body["input"].is_object() || body["input"].size() != 1) {
    return SendError(call,
                     Status::InvalidArgument(
                         "1 validation error detected: Value at 'input' failed to satisfy "
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
  return {{"modelArn", "arn:aws:bedrock:" + region + "::foundation-model/" + e.model_id},
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

}  // namespace

void BedrockApi::ListFoundationModels(Call& call) {
  auto now = options_.clock();
  std::string region =
      call.principal.region.empty() ? options_.default_region : call.principal.region;
  std::string by_provider = QueryParam(call.query, "byProvider");
  std::string by_output = QueryParam(call.query, "byOutputModality");
  std::string by_inference = QueryParam(call.query, "byInferenceType");
  std::string by_custom = QueryParam(call.query, "byCustomizationType");
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    return s;
  };
  Json list = Json::array();
  for (const auto& e : catalog_->entries()) {
    if (!by_provider.empty() && lower(by_provider) != lower(e.provider_name)) continue;
    if (!by_output.empty() &&
        std::find(e.output_modalities.begin(), e.output_modalities.end(), by_output) ==
            e.output_modalities.end()) {
      continue;
    }
    if (!by_inference.empty() && by_inference != "ON_DEMAND") continue;
    if (!by_custom.empty()) continue;  // no customization is offered
    list.push_back(ModelSummary(e, region));
  }
  SendJson(call, 200, {{"modelSummaries", list}}, now);
}

void BedrockApi::GetFoundationModel(Call& call, const std::string& model_id) {
  auto now = options_.clock();
  const catalog::ModelEntry* e = catalog_->Find(model_id);
  if (e == nullptr) {
    return SendError(call, Status::NotFound("Could not find model " + model_id + "."), now);
  }
  std::string region =
      call.principal.region.empty() ? options_.default_region : call.principal.region;
  SendJson(call, 200, {{"modelDetails", ModelSummary(*e, region)}}, now);
}

}  // namespace basalt::api
