// Runtime operations: InvokeModel and Converse (each with its stream) and CountTokens, with
// the admission checks, metering and crash-billing checkpoints they share.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "api/api.h"
#include "api/authorize.h"
#include "api/call.h"
#include "api/chat.h"
#include "api/converse.h"
#include "api/embeddings.h"
#include "api/errors.h"
#include "api/event_stream.h"
#include "api/generation.h"
#include "api/invoke_body.h"
#include "api/json_body.h"
#include "auth/sigv4.h"

namespace basalt::api {

using http::Header;

namespace {

constexpr size_t kMaxInvokeBody = 25'000'000;

std::string ChunkEvent(const Json& chunk) {
  Json payload = {
      {"bytes", auth::Base64Encode(chunk.dump(-1, ' ', false, Json::error_handler_t::replace))}};
  return EncodeEvent("chunk", payload.dump());
}

}  // namespace

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
  // `prompt_tokens` receives the prompt's size as the engine counted it (tokenized once).
  // A client that goes away cancels the job (`writer`'s OnClose).
  static bool Submit(engine::Engine& engine, const catalog::ModelEntry& entry,
                     const PromptPlan& plan, http::ResponseWriter& writer,
                     std::shared_ptr<GenerationStream>* stream, Status* error, int* prompt_tokens) {
    auto req = BuildGenerateRequest(engine, entry.engine_model, plan);
    if (!req.ok()) {
      *error = req.status();
      return false;
    }
    // A prompt that already starts with the BOS text must not get a second BOS.
    req->add_special = !StartsWithAny(req->prompt, {"<s>", "<|begin_of_text|>", "<bos>"});
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
      *prompt_tokens = *count;
      (*stream)->OnDone(Status::Ok(), engine::FinishReason::kLength, "", usage, {});
      return true;
    }
    auto id = engine.Submit(std::move(*req), *stream, prompt_tokens);
    if (!id.ok()) {
      *error = id.status();
      return false;
    }
    engine::Engine* e = &engine;
    writer.OnClose([e, id = *id] { e->Cancel(id); });
    return true;
  }
};

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

Status BedrockApi::FinishInvocation(Call& call, const std::string& operation,
                                    const std::string& model_id, const GenerationResult* r,
                                    const Status& status, const std::string& outcome,
                                    const std::string& output_body) {
  Status recorded;
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
    rec.source = call.source;
    rec.app_id = call.app_id;
    rec.input_tokens = in;
    rec.output_tokens = out;
    rec.cached_input_tokens = r ? r->usage.cached_prompt_tokens : 0;
    rec.first_byte_ms = r ? r->first_byte_ms : 0;
    rec.latency_ms = latency;
    rec.outcome = outcome;
    rec.images = call.images;
    rec.image_size = call.image_size;
    rec.image_quality = call.image_quality;
    rec.image_steps = call.image_steps;
    rec.prompt_used = call.prompt_used;
    // Billing fails closed: a result whose usage record is not durable is not delivered. A
    // transient failure (a busy or briefly full disk) gets two more tries first.
    for (int attempt = 0;; ++attempt) {
      auto appended = deps_.usage->Append(rec);
      if (appended.ok() || appended.status().code() == StatusCode::kAlreadyExists) {
        if (appended.ok() && call.on_usage) call.on_usage(*appended);
        break;
      }
      spdlog::error("request {}: usage record not written (try {}): {}", call.request_id,
                    attempt + 1, appended.status().ToString());
      if (attempt == 2) {
        recorded = Status::Internal(
            "The usage of this request could not be recorded, so its result is withheld. Try "
            "your request again.");
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50 << (2 * attempt)));
    }
  }
  if (deps_.usage == nullptr && call.on_usage) {
    metering::UsageRecord rec;
    rec.input_tokens = in;
    rec.output_tokens = out;
    rec.images = call.images;
    rec.outcome = outcome;
    call.on_usage(rec);
  }
  if (deps_.metrics) {
    std::string m = outcome == "success" || outcome == "cancelled" || outcome == "client_gone"
                        ? "success"
                        : outcome;
    deps_.metrics->Record({model_id, latency, in, out, call.images, m});
  }
  if (deps_.quotas && call.quota_admitted) deps_.quotas->Settle(call.quota, in + out);
  if (deps_.invocation_log && deps_.invocation_log->Enabled(call.principal.account_id)) {
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
    e.output_has_images = !call.output_without_images.empty();
    e.output_body_without_images_json = call.output_without_images;
    e.input_tokens = in;
    e.output_tokens = out;
    if (!status.ok()) e.error_code = MapStatus(status).type;
    Status st = deps_.invocation_log->Write(e);
    if (!st.ok()) spdlog::warn("invocation log: {}", st.ToString());
  }
  return recorded;
}

void BedrockApi::CheckpointInvocation(Call& call, const std::string& operation,
                                      const std::string& model_id, int64_t input_tokens,
                                      int64_t output_tokens) {
  // Nothing is billed before the first token: a request still queued for a slot when the
  // process dies has cost nothing.
  if (deps_.usage == nullptr || output_tokens == 0) return;
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
  rec.source = call.source;
  rec.app_id = call.app_id;
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
  if (entry.embedding()) return InvokeEmbedding(call, entry);
  if (entry.image_model()) return InvokeImage(call, entry);
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
  Status error;
  int prompt_tokens = 0;
  if (!BedrockApiRunner::Submit(*engine_, entry, *plan, *call.writer, &gen, &error,
                                &prompt_tokens)) {
    return fail(error);
  }

  auto checkpoint = [&](int output_tokens) {
    CheckpointInvocation(call, op, entry.model_id, prompt_tokens, output_tokens);
  };
  if (!stream) {
    std::string text = WaitWithCheckpoints(*gen, options_.usage_checkpoint_interval, checkpoint);
    GenerationResult r = ResultOf(*gen, std::move(text), *plan, call.start);
    std::string out_body;
    if (gen->status().ok()) {
      out_body = RenderInvokeResponse(entry.family, model_id, r)
                     .dump(-1, ' ', false, Json::error_handler_t::replace);
    }
    Status recorded = FinishInvocation(call, op, entry.model_id, &r, gen->status(),
                                       OutcomeOf(*gen, call.writer->Closed()), out_body);
    if (!gen->status().ok()) return SendError(call, gen->status(), options_.clock());
    if (call.writer->Closed()) return;
    if (!recorded.ok()) return SendError(call, recorded, options_.clock());
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
  Status recorded = FinishInvocation(
      call, op, entry.model_id, &r, gen->status(), OutcomeOf(*gen, gone),
      Json{{"text", full_text + r.text}}.dump(-1, ' ', false, Json::error_handler_t::replace));
  Status ending = gen->status().ok() ? recorded : gen->status();
  if (!ending.ok()) {
    // The final chunk (stop reason, usage) is withheld when the usage is not on record.
    if (!started) return SendError(call, ending, options_.clock());
    call.writer->Write(EncodeStreamError(ending, StreamKind::kInvokeModel));
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
  if (entry.embedding() || entry.image_model()) {
    return fail(Status::InvalidArgument(kConverseUnsupportedModel));
  }
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return fail(body.status());
  auto plan = ParseConverseBody(*body, options_.default_max_tokens);
  if (!plan.ok()) return fail(plan.status());
  if (!AdmitQuota(call, deps_.quotas, *plan, deps_.metrics, entry.model_id, now)) return;

  std::shared_ptr<GenerationStream> gen;
  Status error;
  int prompt_tokens = 0;
  if (!BedrockApiRunner::Submit(*engine_, entry, *plan, *call.writer, &gen, &error,
                                &prompt_tokens)) {
    return fail(error);
  }
  auto checkpoint = [&](int output_tokens) {
    CheckpointInvocation(call, op, entry.model_id, prompt_tokens, output_tokens);
  };

  if (!stream) {
    std::string text = WaitWithCheckpoints(*gen, options_.usage_checkpoint_interval, checkpoint);
    GenerationResult r = ResultOf(*gen, std::move(text), *plan, call.start);
    CheckStructuredOutput(*plan, r.text, &r);
    std::string out_body;
    if (gen->status().ok()) {
      out_body = RenderConverseResponse(r).dump(-1, ' ', false, Json::error_handler_t::replace);
    }
    Status recorded = FinishInvocation(call, op, entry.model_id, &r, gen->status(),
                                       OutcomeOf(*gen, call.writer->Closed()), out_body);
    if (!gen->status().ok()) return SendError(call, gen->status(), options_.clock());
    if (call.writer->Closed()) return;
    if (!recorded.ok()) return SendError(call, recorded, options_.clock());
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
  CheckStructuredOutput(*plan, full_text + r.text, &r);
  bool gone = call.writer->Closed();
  Status recorded = FinishInvocation(
      call, op, entry.model_id, &r, gen->status(), OutcomeOf(*gen, gone),
      Json{{"text", full_text + r.text}}.dump(-1, ' ', false, Json::error_handler_t::replace));
  Status ending = gen->status().ok() ? recorded : gen->status();
  if (!ending.ok()) {
    // The final chunk (stop reason, usage) is withheld when the usage is not on record.
    if (!started) return SendError(call, ending, options_.clock());
    call.writer->Write(EncodeStreamError(ending, StreamKind::kConverse));
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
  if (entry.embedding() || entry.image_model()) {
    return SendError(call, Status::InvalidArgument(kCountTokensUnsupportedModel), now);
  }
  auto parsed = ControlBody(call.request.body);
  if (!parsed.ok()) return SendError(call, parsed.status(), now);
  const Json& body = *parsed;
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

}  // namespace basalt::api
