// Usage reports (GET /basalt/usage) and the Prometheus metrics page.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "api/api.h"
#include "api/authorize.h"
#include "api/call.h"
#include "api/errors.h"
#include "auth/sigv4.h"

namespace basalt::api {

using http::Header;

void BedrockApi::UsageReport(Call& call) {
  auto now = options_.clock();
  if (deps_.usage == nullptr) {
    return SendError(call, Status::Unavailable("Metering is not enabled."), now);
  }
  metering::UsageFilter f;
  f.account_id = call.principal.account_id;  // an account only ever sees its own usage
  // basalt:GetUsageReport on the account's users ("user/*") shows the whole account; on the
  // caller's own ARN (every built-in policy allows that), the caller's own calls.
  const bool whole_account =
      Authorize(call.identity, "basalt:GetUsageReport", UserArn(call.principal.account_id, "*"))
          .ok();
  if (!whole_account) {
    Status st = Authorize(call.identity, "basalt:GetUsageReport", call.identity.arn);
    if (!st.ok()) return SendError(call, st, now);
    f.user_id = call.principal.user_id;
  }
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
  if (std::string u = QueryParam(call.query, "user"); !u.empty() && whole_account) {
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
                      {"imageSize", r.image_size},
                      {"imageQuality", r.image_quality},
                      {"imageSteps", r.image_steps},
                      {"promptUsed", r.prompt_used},
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

}  // namespace basalt::api
