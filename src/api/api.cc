// The front of the API: one route table from raw paths to the operation groups (runtime.cc,
// control_plane.cc, reports.cc, admin_api.cc), authentication, and the helpers they share.
#include "api/api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>

#include "api/authenticate.h"
#include "api/authorize.h"
#include "api/call.h"
#include "api/errors.h"
#include "common/json_depth.h"

namespace basalt::api {

using http::Header;

namespace {

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

// One row of the route table: a method and the last segments of the path ("{}" captures a
// percent-decoded segment). A prefix before the matched segments is allowed, as Bedrock's
// endpoints may be reached under a path prefix.
struct Route {
  const char* method;
  std::vector<const char*> suffix;
  void (*handle)(BedrockApi& api, BedrockApi::Call& call, const std::vector<std::string>& args);
};

}  // namespace

// The route table: every operation Basalt serves, in one place.
struct BedrockApi::Routes {
  static const std::vector<Route>& Table() {
    static const std::vector<Route> table = {
        // Runtime.
        {"POST",
         {"model", "{}", "invoke"},
         [](BedrockApi& a, Call& c, const auto& v) { a.InvokeModel(c, v[0], false); }},
        {"POST",
         {"model", "{}", "invoke-with-response-stream"},
         [](BedrockApi& a, Call& c, const auto& v) { a.InvokeModel(c, v[0], true); }},
        {"POST",
         {"model", "{}", "converse"},
         [](BedrockApi& a, Call& c, const auto& v) { a.Converse(c, v[0], false); }},
        {"POST",
         {"model", "{}", "converse-stream"},
         [](BedrockApi& a, Call& c, const auto& v) { a.Converse(c, v[0], true); }},
        {"POST",
         {"model", "{}", "count-tokens"},
         [](BedrockApi& a, Call& c, const auto& v) { a.CountTokens(c, v[0]); }},
        {"POST",
         {"model", "{}", "invoke-with-bidirectional-stream"},
         [](BedrockApi& a, Call& c, const auto&) {
           SendError(c,
                     Status::InvalidArgument("The model is unsupported for bidirectional "
                                             "streaming."),
                     a.options_.clock());
         }},
        // Control plane: catalog, model access, profiles, logging.
        {"GET",
         {"foundation-models"},
         [](BedrockApi& a, Call& c, const auto&) { a.ListFoundationModels(c); }},
        {"GET",
         {"foundation-models", "{}"},
         [](BedrockApi& a, Call& c, const auto& v) { a.GetFoundationModel(c, v[0]); }},
        {"GET",
         {"foundation-model-availability", "{}"},
         [](BedrockApi& a, Call& c, const auto& v) { a.GetFoundationModelAvailability(c, v[0]); }},
        {"GET",
         {"list-foundation-model-agreement-offers", "{}"},
         [](BedrockApi& a, Call& c, const auto& v) { a.ListAgreementOffers(c, v[0]); }},
        {"POST",
         {"create-foundation-model-agreement"},
         [](BedrockApi& a, Call& c, const auto&) { a.CreateAgreement(c); }},
        {"POST",
         {"delete-foundation-model-agreement"},
         [](BedrockApi& a, Call& c, const auto&) { a.DeleteAgreement(c); }},
        {"POST",
         {"use-case-for-model-access"},
         [](BedrockApi& a, Call& c, const auto&) { a.PutUseCase(c); }},
        {"GET",
         {"use-case-for-model-access"},
         [](BedrockApi& a, Call& c, const auto&) { a.GetUseCase(c); }},
        {"GET",
         {"inference-profiles"},
         [](BedrockApi& a, Call& c, const auto&) { a.ListInferenceProfiles(c); }},
        {"GET",
         {"inference-profiles", "{}"},
         [](BedrockApi& a, Call& c, const auto& v) { a.GetInferenceProfile(c, v[0]); }},
        {"GET",
         {"logging", "modelinvocations"},
         [](BedrockApi& a, Call& c, const auto&) { a.LoggingConfiguration(c); }},
        {"PUT",
         {"logging", "modelinvocations"},
         [](BedrockApi& a, Call& c, const auto&) { a.LoggingConfiguration(c); }},
        {"DELETE",
         {"logging", "modelinvocations"},
         [](BedrockApi& a, Call& c, const auto&) { a.LoggingConfiguration(c); }},
        // Reports.
        {"GET", {"basalt", "usage"}, [](BedrockApi& a, Call& c, const auto&) { a.UsageReport(c); }},
        // The console's catalog cards (also for SigV4 callers).
        {"GET",
         {"basalt", "catalog"},
         [](BedrockApi& a, Call& c, const auto&) { a.ConsoleCatalog(c); }},
        // Served models and weight pulls (administrators).
        {"GET",
         {"basalt", "models"},
         [](BedrockApi& a, Call& c, const auto&) { a.ListServedModels(c); }},
        {"POST",
         {"basalt", "models", "pull"},
         [](BedrockApi& a, Call& c, const auto&) { a.PullWeights(c); }},
        {"POST",
         {"basalt", "models", "reload"},
         [](BedrockApi& a, Call& c, const auto&) { a.ReloadModels(c); }},
    };
    return table;
  }
};

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

std::vector<Header> BaseHeaders(const std::string& request_id, const std::string& content_type,
                                std::chrono::system_clock::time_point now) {
  return {
      {"Content-Type", content_type}, {"x-amzn-RequestId", request_id}, {"Date", HttpDate(now)}};
}

void SendError(BedrockApi::Call& call, const Status& status,
               std::chrono::system_clock::time_point now, std::vector<Header> extra) {
  ErrorReply reply = MapStatus(status);
  auto headers = BaseHeaders(call.request_id, "application/json", now);
  headers.push_back({"x-amzn-ErrorType", reply.type});
  headers.insert(headers.end(), extra.begin(), extra.end());
  call.responded = true;
  call.writer->Respond(reply.http_status, std::move(headers), ErrorBody(reply));
  spdlog::info("{} {} {} -> {} {} ({})", call.request_id, call.request.method, call.path,
               reply.http_status, reply.type, reply.message);
}

void SendJson(BedrockApi::Call& call, int status, const Json& body,
              std::chrono::system_clock::time_point now, std::vector<Header> extra) {
  auto headers = BaseHeaders(call.request_id, "application/json", now);
  headers.insert(headers.end(), extra.begin(), extra.end());
  call.responded = true;
  call.writer->Respond(status, std::move(headers),
                       body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

std::string QueryParam(const std::string& query, const std::string& name) {
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string::npos) amp = query.size();
    std::string kv = query.substr(pos, amp - pos);
    size_t eq = kv.find('=');
    auto key = PercentDecode(kv.substr(0, eq));
    if (key.ok() && *key == name) {
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

StatusOr<Json> ControlBody(const std::string& body) {
  if (body.empty()) return Json::object();
  if (!JsonDepthWithin(body)) {
    return Status::InvalidArgument("The request body nests deeper than " +
                                   std::to_string(kMaxJsonDepth) + " levels.");
  }
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("The request body is not valid JSON.");
  }
  return j;
}

StatusOr<std::string> RequiredString(const Json& body, const char* field, size_t max_len) {
  if (!body.contains(field) || body[field].is_null()) {
    return Status::InvalidArgument(std::string("1 validation error detected: Value null at '") +
                                   field +
                                   "' failed to satisfy constraint: Member must not be "
                                   "null");
  }
  return OptionalString(body, field, max_len);
}

StatusOr<std::string> OptionalString(const Json& body, const char* field, size_t max_len) {
  if (!body.contains(field) || body[field].is_null()) return std::string();
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

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

bool StartsWithAny(const std::string& s, std::initializer_list<const char*> prefixes) {
  for (const char* p : prefixes) {
    if (s.rfind(p, 0) == 0) return true;
  }
  return false;
}

BedrockApi::BedrockApi(ApiDeps deps, ApiOptions options)
    : deps_(deps),
      store_(deps.store),
      engine_(deps.engine),
      catalog_(deps.catalog),
      options_(std::move(options)),
      console_(MakeConsoleState(store_, options_)) {
  InitApps();
}

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

  if (method == "GET" && n == 1 && seg[0] == "metrics") return Metrics(call);

  // The web console: its JSON API authenticates by session cookie (console_api.cc), and its
  // static files by nothing at all (the app then asks /console/api/session who is there).
  if (Members(call)) return;
  if (call.path == "/console/api" || call.path.rfind("/console/api/", 0) == 0) {
    return Console(call);
  }
  if (method == "GET" && ServeStatic(call)) return;

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
  RouteCall(call);
}

// The authenticated part of dispatch, shared by SigV4/bearer calls and console calls.
void BedrockApi::RouteCall(Call& call) {
  auto now = options_.clock();
  const std::string& method = call.request.method;
  std::vector<std::string> seg = SplitPath(call.path);
  size_t n = seg.size();
  auto identity = LoadIdentity(*store_, call.principal);
  if (!identity.ok()) return SendError(call, identity.status(), now);
  call.identity = std::move(*identity);
  call.quota.account_id = call.principal.account_id;
  call.quota.user_id = call.principal.user_id;
  call.quota.key_id = call.principal.access_key_id.empty() ? call.principal.api_key_id
                                                           : call.principal.access_key_id;

  for (const Route& route : Routes::Table()) {
    const size_t k = route.suffix.size();
    if (method != route.method || n < k) continue;
    std::vector<std::string> args;
    bool match = true;
    Status bad;
    for (size_t i = 0; i < k && match; ++i) {
      const std::string& s = seg[n - k + i];
      if (std::string_view(route.suffix[i]) == "{}") {
        auto decoded = PercentDecode(s);
        if (!decoded.ok()) {
          bad = decoded.status();
          break;
        }
        args.push_back(std::move(*decoded));
      } else {
        match = s == route.suffix[i];
      }
    }
    if (!match) continue;
    if (!bad.ok()) return SendError(call, bad, now);
    return route.handle(*this, call, args);
  }
  if (n >= 3 && seg[n - 3] == "model") {
    return SendError(call, Status::NotFound("Unsupported operation: " + method + " " + seg[n - 1]),
                     now);
  }
  for (size_t i = 0; i + 1 < n; ++i) {
    if (seg[i] == "basalt" &&
        (seg[i + 1] == "apps" || seg[i + 1] == "shared" || seg[i + 1] == "discover" ||
         seg[i + 1] == "documents" || seg[i + 1] == "backstage")) {
      return Apps(call, std::vector<std::string>(seg.begin() + i + 1, seg.end()));
    }
    if (seg[i] == "basalt" && seg[i + 1] == "admin") {
      return Admin(call, std::vector<std::string>(seg.begin() + i + 2, seg.end()));
    }
  }
  SendError(call, Status::NotFound("Unknown operation " + method + " " + call.path), now);
}

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

}  // namespace basalt::api
