// App runs over HTTP (docs/apps.md): run an app (streamed as server-sent events, or one JSON
// reply), chat with a chatbot widget, stop a run. Every widget's model call is the runner's
// own metered invocation (app_invoke.h); waves, stop and supersede are apps::Runner's.
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "api/api.h"
#include "api/app_invoke.h"
#include "api/apps_state.h"
#include "api/call.h"
#include "apps/definition.h"
#include "apps/runner.h"

namespace basalt::api {

namespace {

int64_t NowMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool IsGeneration(const apps::Widget& w) {
  return w.type == apps::kTextGeneration || w.type == apps::kImageGeneration;
}

const apps::Widget* FindWidget(const apps::AppDefinition& def, const std::string& key) {
  for (const auto& w : def.widgets) {
    if (w.id == key) return &w;
  }
  for (const auto& w : def.widgets) {
    if (Lower(w.title) == Lower(key)) return &w;
  }
  return nullptr;
}

Json UsageJson(int64_t in, int64_t out, int64_t images, int64_t cost_nanos) {
  return {{"inputTokens", in},
          {"outputTokens", out},
          {"images", images},
          {"cost", static_cast<double>(cost_nanos) / 1e9}};
}

Json UsageOf(const apps::WidgetOutput& o) {
  return UsageJson(o.input_tokens, o.output_tokens, o.images_count, o.cost_nanos);
}

Json ErrorOf(const apps::WidgetOutput& o) {
  return {{"type", o.error_type}, {"message", o.error_message}};
}

Json UsageSum(const std::map<std::string, apps::WidgetOutput>& outputs) {
  int64_t in = 0, out = 0, images = 0, nanos = 0;
  for (const auto& [id, o] : outputs) {
    in += o.input_tokens;
    out += o.output_tokens;
    images += o.images_count;
    nanos += o.cost_nanos;
  }
  return UsageJson(in, out, images, nanos);
}

std::string SseEvent(const char* name, const Json& data) {
  return std::string("event: ") + name +
         "\ndata: " + data.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
}

// What RunApp and ChatApp share: the parsed definition and the values of the widgets that are
// not run (inputs, defaults, static texts, documents).
struct Prepared {
  apps::AppDefinition def;
  std::map<std::string, std::string> values;
  bool stream = false;
};

apps::WidgetOutput OutputOf(AppCallResult r) {
  apps::WidgetOutput o;
  o.text = std::move(r.text);
  o.images = std::move(r.images);
  if (!r.status.ok() && !r.cancelled) {
    o.error_type = r.error_type;
    o.error_message = r.error_message;
  }
  o.input_tokens = r.input_tokens;
  o.output_tokens = r.output_tokens;
  o.images_count = r.image_count;
  o.cost_nanos = r.cost_nanos;
  o.cost = r.cost;
  return o;
}

// The model call of widget `w` for app `app_id`, stopped when its run is stopped.
AppCallRequest WidgetRequest(const std::string& app_id, const apps::Widget& w,
                             apps::WidgetContext& ctx) {
  AppCallRequest r;
  r.app_id = app_id;
  r.model_id = w.model;
  r.cancel = std::make_shared<AppCallCancel>();
  ctx.OnStop([c = r.cancel] { c->Cancel(); });
  return r;
}

// A text call's sampling settings from the widget; the reply streams into the run's events.
void SetTextSampling(AppCallRequest& r, const apps::Widget& w, apps::WidgetContext& ctx) {
  r.temperature = w.temperature;
  r.top_p = w.top_p;
  r.max_tokens = w.max_tokens;
  r.on_delta = [&ctx](const std::string& d) { ctx.Delta(d); };
}

}  // namespace

// Shared by RunApp and ChatApp: parses the body's inputs against the app, resolving
// {"documentId"} to the caller's own documents. Replies and returns false on a bad request.
static bool PrepareRun(BedrockApi::Call& call, const apps::StoredApp& app, const Json& body,
                       apps::AppStore* store, std::chrono::system_clock::time_point now,
                       Prepared* p) {
  Json dj = Json::parse(app.definition_json, nullptr, false);
  auto def = apps::FromJson(dj);
  if (dj.is_discarded() || !def.ok()) {
    SendError(call, Status::Internal("The app's definition cannot be read."), now);
    return false;
  }
  p->def = std::move(*def);
  for (const auto& w : p->def.widgets) {
    if (w.type == apps::kUserInput) p->values[w.id] = w.default_value;
    if (w.type == apps::kStaticText) p->values[w.id] = w.content;
  }
  if (body.contains("inputs") && !body["inputs"].is_null()) {
    const Json& inputs = body["inputs"];
    if (!inputs.is_object()) {
      SendError(call,
                Status::InvalidArgument("inputs must be an object of widget id or title to "
                                        "a text or {\"documentId\": ...}."),
                now);
      return false;
    }
    for (const auto& [key, value] : inputs.items()) {
      const apps::Widget* w = FindWidget(p->def, key);
      if (w == nullptr) {
        SendError(call, Status::InvalidArgument("The app has no widget '" + key + "'."), now);
        return false;
      }
      if (value.is_string()) {
        p->values[w->id] = value.get<std::string>();
      } else if (value.is_object() && value.size() == 1 && value.contains("documentId") &&
                 value["documentId"].is_string()) {
        const std::string id = value["documentId"].get<std::string>();
        auto doc = store->GetDocument(id);
        // Only the uploader's own documents: anyone else's is as unknown as a missing one.
        if (!doc.ok() || doc->account_id != call.principal.account_id ||
            doc->user_id != call.principal.user_id) {
          if (!doc.ok() && doc.status().code() != StatusCode::kNotFound) {
            SendError(call, doc.status(), now);
          } else {
            SendError(call, Status::NotFound("The document " + id + " was not found."), now);
          }
          return false;
        }
        p->values[w->id] = std::move(doc->text);
      } else {
        SendError(call,
                  Status::InvalidArgument("The input for '" + key +
                                          "' must be a text or {\"documentId\": \"doc-...\"}."),
                  now);
        return false;
      }
    }
  }
  if (body.contains("stream") && !body["stream"].is_null()) {
    if (!body["stream"].is_boolean()) {
      SendError(call, Status::InvalidArgument("stream must be true or false."), now);
      return false;
    }
    p->stream = body["stream"].get<bool>();
  }
  const std::string* accept = call.request.FindHeader("accept");
  if (accept && accept->find("text/event-stream") != std::string::npos) p->stream = true;
  return true;
}

// Runs `plan` on the apps runner as `call`'s caller, streamed or not, recording the run.
// Shared by RunApp and ChatApp: nothing runs once today's app credits are used up (a widget's
// own call would refuse too); otherwise the plan gets its run id, runner and inputs. Replies and
// returns false when refused.
static bool StartPlan(BedrockApi::Call& call, const apps::StoredApp& app, const Prepared& p,
                      metering::QuotaManager* quotas, std::chrono::system_clock::time_point now,
                      apps::RunPlan* plan) {
  if (quotas) {
    metering::QuotaRequest q = call.quota;
    q.source = "app";
    Status allowed = quotas->CheckAllowances(q);
    if (!allowed.ok()) {
      if (allowed.code() == StatusCode::kResourceExhausted) {
        allowed = Status::ResourceExhausted(allowed.message());  // 429 ThrottlingException
      }
      SendError(call, allowed, now);
      return false;
    }
  }
  auto run_id = apps::NewRunId();
  if (!run_id.ok()) {
    SendError(call, run_id.status(), now);
    return false;
  }
  plan->run_id = *run_id;
  plan->app_id = app.app_id;
  plan->runner_key = call.principal.account_id + "/" + call.principal.user_id;
  plan->values = p.values;
  plan->definition = p.def;
  return true;
}

static void ExecuteRun(BedrockApi::Call& call, apps::Runner& runner, apps::AppStore* store,
                       const apps::StoredApp& app, const apps::AppDefinition& def,
                       apps::RunPlan plan, apps::Executor executor, bool stream,
                       const std::function<std::chrono::system_clock::time_point()>& clock) {
  std::vector<std::string> ids;
  Json waves = Json::array();
  for (const auto& wave : plan.waves) {
    waves.push_back(wave);
    ids.insert(ids.end(), wave.begin(), wave.end());
  }
  apps::AppRun record;
  record.run_id = plan.run_id;
  record.app_id = app.app_id;
  record.account_id = call.principal.account_id;
  record.user_id = call.principal.user_id;
  record.app_version = app.version;
  record.status = "running";
  for (const auto& id : ids) record.widgets += (record.widgets.empty() ? "" : ",") + id;
  record.started_at = NowMs(clock());
  Status created = store->CreateRun(record);
  if (!created.ok()) return SendError(call, created, clock());

  const std::string run_id = plan.run_id;
  std::mutex write_mu;
  bool alive = true;
  auto emit = [&](const char* name, const Json& data) {
    if (!stream) return;
    std::lock_guard lock(write_mu);
    if (alive) alive = call.writer->Write(SseEvent(name, data));
  };
  if (stream) {
    auto headers = BaseHeaders(call.request_id, "text/event-stream; charset=utf-8", clock());
    headers.push_back({"Cache-Control", "no-cache"});
    call.responded = true;
    call.writer->StartStream(200, std::move(headers));
    emit("run", {{"runId", run_id}, {"waves", waves}});
  }
  auto on_event = [&](const apps::RunEvent& e) {
    switch (e.kind) {
      case apps::RunEvent::Kind::kWidgetStart:
        emit("widget-start", {{"widgetId", e.widget_id}});
        break;
      case apps::RunEvent::Kind::kDelta:
        emit("delta", {{"widgetId", e.widget_id}, {"text", e.text}});
        break;
      case apps::RunEvent::Kind::kImage:
        emit("image", {{"widgetId", e.widget_id}, {"images", e.output->images}});
        break;
      case apps::RunEvent::Kind::kWidgetEnd: {
        Json end = {
            {"widgetId", e.widget_id}, {"status", e.output->status}, {"usage", UsageOf(*e.output)}};
        if (!e.output->error_type.empty()) end["error"] = ErrorOf(*e.output);
        emit("widget-end", end);
        break;
      }
    }
  };
  auto run = runner.Start(std::move(plan), std::move(executor), on_event);
  // A client that goes away stops its run; what was generated is billed.
  std::weak_ptr<apps::Run> weak = run;
  call.writer->OnClose([weak] {
    if (auto r = weak.lock()) r->Stop();
  });
  run->Execute();
  const std::string status = run->status();
  Status finished = store->FinishRun(run_id, status, run->first_error(), NowMs(clock()));
  if (!finished.ok()) spdlog::warn("run {}: {}", run_id, finished.ToString());
  Json usage = UsageSum(run->outputs());
  if (stream) {
    emit("done", {{"runId", run_id}, {"status", status}, {"usage", usage}});
    call.writer->Finish();
    return;
  }
  if (call.writer->Closed()) return;
  Json outputs = Json::object();
  for (const auto& [id, o] : run->outputs()) {
    const apps::Widget* w = FindWidget(def, id);
    Json j = {{"title", w ? w->title : id}, {"type", w ? w->type : ""},
              {"status", o.status},         {"text", o.text},
              {"images", o.images},         {"usage", UsageOf(o)}};
    if (!o.error_type.empty()) j["error"] = ErrorOf(o);
    outputs[id] = std::move(j);
  }
  SendJson(call, 200, {{"runId", run_id}, {"outputs", outputs}, {"usage", usage}}, clock());
}

void BedrockApi::RunApp(Call& call, const apps::StoredApp& app, bool) {
  auto now = options_.clock();
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  Prepared p;
  if (!PrepareRun(call, app, *body, deps_.apps, now, &p)) return;

  // The widgets to run: the ones named (only those), or every generation widget.
  std::set<std::string> wanted;
  if (body->contains("widgets") && !(*body)["widgets"].is_null()) {
    const Json& list = (*body)["widgets"];
    if (!list.is_array() || list.empty()) {
      return SendError(
          call, Status::InvalidArgument("widgets must be a non-empty list of widget ids."), now);
    }
    for (const auto& item : list) {
      const apps::Widget* w =
          item.is_string() ? FindWidget(p.def, item.get<std::string>()) : nullptr;
      if (w == nullptr) {
        return SendError(
            call, Status::InvalidArgument("The app has no widget " + item.dump() + "."), now);
      }
      if (!IsGeneration(*w)) {
        return SendError(
            call,
            Status::InvalidArgument("The widget '" + w->title + "' is a " + w->type +
                                    " widget: only text-generation and image-generation "
                                    "widgets run (a chatbot answers through /chat)."),
            now);
      }
      wanted.insert(w->id);
    }
  } else {
    for (const auto& w : p.def.widgets) {
      if (IsGeneration(w)) wanted.insert(w.id);
    }
  }
  apps::RunPlan plan;
  for (const auto& wave : apps::RunWaves(p.def)) {
    std::vector<std::string> kept;
    for (const auto& id : wave) {
      if (wanted.count(id)) kept.push_back(id);
    }
    if (!kept.empty()) plan.waves.push_back(std::move(kept));
  }
  if (!StartPlan(call, app, p, deps_.quotas, now, &plan)) return;

  const std::string app_id = app.app_id;
  apps::Executor executor = [this, &call, app_id](const apps::Widget& w, const std::string& prompt,
                                                  apps::WidgetContext& ctx) {
    AppCallRequest r = WidgetRequest(app_id, w, ctx);
    r.image = w.type == apps::kImageGeneration;
    if (r.image) {
      r.prompt = prompt;
      r.negative_prompt = w.negative_prompt;
      r.width = w.width;
      r.height = w.height;
      r.image_seed = w.seed;
    } else {
      r.messages = {{"user", prompt}};
      SetTextSampling(r, w, ctx);
    }
    return OutputOf(InvokeForApp(call, r));
  };
  ExecuteRun(call, apps_state_->runner, deps_.apps, app, p.def, std::move(plan),
             std::move(executor), p.stream, options_.clock);
}

void BedrockApi::ChatApp(Call& call, const apps::StoredApp& app, bool) {
  auto now = options_.clock();
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  Prepared p;
  if (!PrepareRun(call, app, *body, deps_.apps, now, &p)) return;
  // A chat turn streams unless the caller asks for one JSON reply.
  if (!body->contains("stream") || (*body)["stream"].is_null()) p.stream = true;
  auto widget_id = RequiredString(*body, "widgetId", 64);
  if (!widget_id.ok()) return SendError(call, widget_id.status(), now);
  const apps::Widget* w = FindWidget(p.def, *widget_id);
  if (w == nullptr) {
    return SendError(call, Status::InvalidArgument("The app has no widget '" + *widget_id + "'."),
                     now);
  }
  if (w->type != apps::kChatbot) {
    return SendError(call,
                     Status::InvalidArgument("The widget '" + w->title +
                                             "' is not a chatbot; run it through /runs."),
                     now);
  }
  if (!body->contains("messages") || !(*body)["messages"].is_array() ||
      (*body)["messages"].empty()) {
    return SendError(call,
                     Status::InvalidArgument("messages must be a non-empty list of "
                                             "{\"role\": \"user\"|\"assistant\", \"content\": "
                                             "\"text\"}."),
                     now);
  }
  std::vector<std::pair<std::string, std::string>> messages;
  for (const auto& m : (*body)["messages"]) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string() || (m["role"] != "user" && m["role"] != "assistant")) {
      return SendError(call,
                       Status::InvalidArgument("Each message must be {\"role\": "
                                               "\"user\"|\"assistant\", \"content\": \"text\"}."),
                       now);
    }
    messages.emplace_back(m["role"].get<std::string>(), m["content"].get<std::string>());
  }
  apps::RunPlan plan;
  if (!StartPlan(call, app, p, deps_.quotas, now, &plan)) return;
  plan.waves = {{w->id}};
  const std::string app_id = app.app_id;
  apps::Executor executor = [this, &call, app_id, messages](const apps::Widget& widget,
                                                            const std::string& prompt,
                                                            apps::WidgetContext& ctx) {
    AppCallRequest r = WidgetRequest(app_id, widget, ctx);
    r.system = prompt;  // the initial prompt, references substituted
    r.messages = messages;
    SetTextSampling(r, widget, ctx);
    return OutputOf(InvokeForApp(call, r));
  };
  ExecuteRun(call, apps_state_->runner, deps_.apps, app, p.def, std::move(plan),
             std::move(executor), p.stream, options_.clock);
}

void BedrockApi::StopAppRun(Call& call, const std::string& run_id) {
  auto now = options_.clock();
  Status st =
      apps_state_->runner.Stop(run_id, call.principal.account_id + "/" + call.principal.user_id);
  if (!st.ok()) return SendError(call, st, now);
  SendJson(call, 200, {{"runId", run_id}, {"status", "stopping"}}, now);
}

}  // namespace basalt::api
