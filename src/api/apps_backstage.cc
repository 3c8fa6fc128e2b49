// Apps over HTTP (docs/apps.md): documents (uploads whose extracted text a Document widget
// stands for) and Backstage (the caller's app runs and credits, from the usage records).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "api/api.h"
#include "api/apps_internal.h"
#include "api/call.h"
#include "apps/documents.h"

namespace basalt::api {

namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int kBackstageDays = 30;
constexpr size_t kPreviewChars = 500;

// The first `max_chars` code points of UTF-8 text.
std::string Utf8Prefix(const std::string& text, size_t max_chars) {
  size_t chars = 0, i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (chars == max_chars) break;
      ++chars;
    }
  }
  return text.substr(0, i);
}

int64_t Utf8Length(const std::string& text) {
  int64_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

Json DocumentJson(const apps::Document& doc, bool with_text) {
  Json j = {{"documentId", doc.document_id},
            {"name", doc.name},
            {"mediaType", doc.media_type},
            {"bytes", doc.bytes},
            {"chars", Utf8Length(doc.text)},
            {"preview", Utf8Prefix(doc.text, kPreviewChars)},
            {"createdAt", AppsIsoTime(doc.created_at)}};
  if (with_text) j["text"] = doc.text;
  return j;
}

std::string UtcDay(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>((unix_ms >= 0 ? unix_ms : unix_ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

}  // namespace

// POST /documents?name=<file name> (raw body) and GET /documents/{id}.
void BedrockApi::AppDocuments(Call& call, const std::vector<std::string>& rest) {
  auto now = options_.clock();
  const std::string& method = call.request.method;
  if (rest.size() == 1 && method == "POST") {
    std::string name = QueryParam(call.query, "name");
    if (name.empty()) name = "document";
    if (name.size() > 255) {
      return SendError(call, Status::InvalidArgument("name must be at most 255 bytes."), now);
    }
    const std::string* content_type = call.request.FindHeader("content-type");
    std::string media_type = apps::CanonicalMediaType(content_type ? *content_type : "");
    apps::DocumentOptions options;
    options.pdftotext = options_.apps.pdftotext;
    options.max_input_bytes = options_.apps.max_document_bytes;
    auto extracted = apps::ExtractDocument(media_type, call.request.body, options);
    if (!extracted.ok()) return SendError(call, extracted.status(), now);
    apps::Document doc;
    doc.account_id = call.principal.account_id;
    doc.user_id = call.principal.user_id;
    doc.name = name;
    doc.media_type = media_type;
    doc.bytes = static_cast<int64_t>(call.request.body.size());
    doc.text = std::move(extracted->text);
    auto stored = deps_.apps->CreateDocument(doc);
    if (!stored.ok()) return SendError(call, stored.status(), now);
    Json j = DocumentJson(*stored, false);
    j["truncated"] = extracted->truncated;
    return SendJson(call, 201, {{"document", j}}, now);
  }
  if (rest.size() == 2 && method == "GET") {
    auto doc = deps_.apps->GetDocument(rest[1]);
    // Only the uploader may read a document; anyone else learns nothing, not even that it
    // exists.
    if ((!doc.ok() && doc.status().code() == StatusCode::kNotFound) ||
        (doc.ok() && (doc->account_id != call.principal.account_id ||
                      doc->user_id != call.principal.user_id))) {
      return SendError(call, Status::NotFound("The document '" + rest[1] + "' was not found."),
                       now);
    }
    if (!doc.ok()) return SendError(call, doc.status(), now);
    return SendJson(call, 200, {{"document", DocumentJson(*doc, true)}}, now);
  }
  SendError(call, Status::NotFound("Unknown operation " + method + " " + call.path), now);
}

// GET /backstage: the caller's app spending (usage records with source "app" and the caller's
// user id) per app and per day over the last 30 days, today's allowance, and recent runs.
void BedrockApi::Backstage(Call& call) {
  auto now = options_.clock();
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const int64_t today_start = now_ms - ((now_ms % kDayMs) + kDayMs) % kDayMs;
  const int64_t window_start = today_start - int64_t{kBackstageDays - 1} * kDayMs;

  metering::UsageFilter filter;
  filter.account_id = call.principal.account_id;
  filter.user_id = call.principal.user_id;
  filter.source = "app";
  std::map<std::string, metering::UsageRow> by_app;
  std::map<std::string, metering::UsageRow> by_day;
  double used_today = 0;
  if (deps_.usage != nullptr) {
    auto apps_report = deps_.usage->Report(filter, {"app"});
    if (!apps_report.ok()) return SendError(call, apps_report.status(), now);
    for (const auto& row : apps_report->rows) by_app[row.group.at("app")] = row;
    filter.from_ms = window_start;
    auto days_report = deps_.usage->Report(filter, {"day"});
    if (!days_report.ok()) return SendError(call, days_report.status(), now);
    for (const auto& row : days_report->rows) by_day[row.group.at("day")] = row;
    auto today = deps_.usage->TotalsSince(call.principal.account_id, "", call.principal.user_id,
                                          "app", today_start);
    if (!today.ok()) return SendError(call, today.status(), now);
    used_today = today->cost;
  }

  // The caller's runs (newest first): counts per app and per day, and the most recent.
  auto runs = deps_.apps->ListRuns("", call.principal.user_id, 0);
  if (!runs.ok()) return SendError(call, runs.status(), now);
  std::map<std::string, int64_t> runs_by_app, runs_by_day;
  for (const auto& run : *runs) {
    if (run.account_id != call.principal.account_id) continue;
    ++runs_by_app[run.app_id];
    if (run.started_at >= window_start) ++runs_by_day[UtcDay(run.started_at)];
  }

  // The caller's own apps first (even unused), then other apps the caller ran.
  auto mine = deps_.apps->ListApps(call.principal.account_id, call.principal.user_id);
  if (!mine.ok()) return SendError(call, mine.status(), now);
  std::map<std::string, std::string> titles;  // app id -> title for the runs
  Json app_rows = Json::array();
  std::set<std::string> listed;
  auto add_row = [&](const std::string& app_id, const std::string& title, bool own) {
    listed.insert(app_id);
    titles[app_id] = title;
    const auto usage = by_app.find(app_id);
    app_rows.push_back({{"appId", app_id},
                        {"title", title},
                        {"isOwner", own},
                        {"runs", runs_by_app.count(app_id) ? runs_by_app[app_id] : 0},
                        {"requests", usage == by_app.end() ? 0 : usage->second.requests},
                        {"credits", usage == by_app.end() ? 0.0 : usage->second.cost}});
  };
  for (const auto& app : *mine) add_row(app.app_id, app.title, true);
  std::set<std::string> others;
  for (const auto& [id, row] : by_app) others.insert(id);
  for (const auto& [id, count] : runs_by_app) others.insert(id);
  for (const std::string& id : others) {
    if (listed.count(id)) continue;
    // Another owner's app: its title while it is still shared, else a placeholder.
    auto app =
        id.empty() ? StatusOr<apps::StoredApp>(Status::NotFound("")) : deps_.apps->GetApp(id);
    std::string title = id.empty()                                ? "(Generate)"
                        : app.ok() && app->visibility == "public" ? app->title
                        : app.ok() && AppOwnedBy(*app, call)      ? app->title
                                                                  : "(no longer shared)";
    add_row(id, title, false);
  }

  Json days = Json::array();
  for (int i = 0; i < kBackstageDays; ++i) {
    std::string day = UtcDay(window_start + int64_t{i} * kDayMs);
    auto usage = by_day.find(day);
    days.push_back({{"day", day},
                    {"runs", runs_by_day.count(day) ? runs_by_day[day] : 0},
                    {"requests", usage == by_day.end() ? 0 : usage->second.requests},
                    {"credits", usage == by_day.end() ? 0.0 : usage->second.cost}});
  }

  const double allowance =
      deps_.quotas ? deps_.quotas->DailyAppCredits(call.principal.account_id) : 0;
  Json today = {
      {"day", UtcDay(now_ms)},
      {"allowance", allowance > 0 ? Json(allowance) : Json(nullptr)},
      {"used", used_today},
      {"remaining", allowance > 0 ? Json(std::max(0.0, allowance - used_today)) : Json(nullptr)}};

  Json recent = Json::array();
  for (const auto& run : *runs) {
    if (run.account_id != call.principal.account_id) continue;
    if (recent.size() == 20) break;
    Json j = AppRunJson(run, call.identity.user_name);
    auto t = titles.find(run.app_id);
    j["appTitle"] = t == titles.end() ? "" : t->second;
    recent.push_back(std::move(j));
  }
  SendJson(call, 200,
           {{"apps", app_rows}, {"days", days}, {"today", today}, {"recentRuns", recent}}, now);
}

}  // namespace basalt::api
