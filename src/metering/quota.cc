// Quotas: per-minute windows in memory, budgets from the usage store. Budgets are checked
// first and outside the lock (they read SQLite); a request refused anywhere leaves no trace in
// the windows.
#include "metering/quota.h"

#include <cstdio>
#include <utility>

#include "metering/time_util.h"

namespace basalt::metering {
namespace {

constexpr char kTooManyRequests[] = "Too many requests, please wait before trying again.";
constexpr char kTooManyTokens[] = "Too many tokens, please wait before trying again.";
constexpr char kTooManyImages[] = "Too many images, please wait before trying again.";
constexpr char kServiceQuotaExceeded[] = "ServiceQuotaExceeded";

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const QuotaLimits& LimitsFor(const std::map<std::string, QuotaLimits>& overrides,
                             const QuotaLimits& fallback, const std::string& id) {
  auto it = overrides.find(id);
  return it == overrides.end() ? fallback : it->second;
}

// An amount for messages: up to 6 decimals, trailing zeros dropped ("100", "12.5").
std::string FormatAmount(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6f", v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

}  // namespace

QuotaManager::QuotaManager(UsageStore* store, QuotaConfig config, std::function<int64_t()> now_ms)
    : store_(store),
      now_ms_(now_ms ? std::move(now_ms) : std::function<int64_t()>(SystemNowMs)),
      config_(std::move(config)) {}

void QuotaManager::SetConfig(QuotaConfig config) {
  std::lock_guard lock(mu_);
  config_ = std::move(config);
}

double QuotaManager::DailyAppCredits(const std::string& account_id) {
  std::lock_guard lock(mu_);
  return LimitsFor(config_.accounts, config_.account_default, account_id).daily_app_credits;
}

Status QuotaManager::CheckAllowances(const QuotaRequest& request) {
  QuotaLimits account, key;
  {
    std::lock_guard lock(mu_);
    account = LimitsFor(config_.accounts, config_.account_default, request.account_id);
    if (!request.key_id.empty()) key = LimitsFor(config_.keys, config_.key_default, request.key_id);
  }
  return CheckBudgets(request, account, key, now_ms_());
}

Status QuotaManager::Admit(const QuotaRequest& request) {
  const int64_t now = now_ms_();
  const int64_t estimate = request.estimated_tokens > 0 ? request.estimated_tokens : 0;
  const bool has_key = !request.key_id.empty();
  QuotaLimits account, key;
  {
    std::lock_guard lock(mu_);
    account = LimitsFor(config_.accounts, config_.account_default, request.account_id);
    if (has_key) key = LimitsFor(config_.keys, config_.key_default, request.key_id);
  }
  BASALT_RETURN_IF_ERROR(CheckBudgets(request, account, key, now));

  std::lock_guard lock(mu_);
  SweepLocked(now);
  Window& aw = account_windows_[request.account_id];
  Prune(aw, now);
  Window* kw = nullptr;
  if (has_key) {
    kw = &key_windows_[request.key_id];
    Prune(*kw, now);
  }
  // The request that would go past a limit is refused: with rpm=3 the 4th in a minute fails.
  auto over_requests = [](const Window& w, const QuotaLimits& l) {
    return l.requests_per_minute > 0 && w.requests + 1 > l.requests_per_minute;
  };
  auto over_tokens = [estimate](const Window& w, const QuotaLimits& l) {
    return l.tokens_per_minute > 0 && w.tokens + estimate > l.tokens_per_minute;
  };
  if (over_requests(aw, account) || (kw && over_requests(*kw, key))) {
    return Status::ResourceExhausted(kTooManyRequests);
  }
  if (over_tokens(aw, account) || (kw && over_tokens(*kw, key))) {
    return Status::ResourceExhausted(kTooManyTokens);
  }
  const int64_t images = request.images > 0 ? request.images : 0;
  auto over_images = [images](const Window& w, const QuotaLimits& l) {
    return images > 0 && l.images_per_minute > 0 && w.images + images > l.images_per_minute;
  };
  if (over_images(aw, account) || (kw && over_images(*kw, key))) {
    return Status::ResourceExhausted(kTooManyImages);
  }
  for (Window* w : {&aw, kw}) {
    if (w == nullptr) continue;
    w->entries.push_back({now, 1, estimate, estimate, false, images});
    w->requests += 1;
    w->tokens += estimate;
    w->images += images;
  }
  return Status::Ok();
}

void QuotaManager::Settle(const QuotaRequest& request, int64_t actual_tokens) {
  const int64_t now = now_ms_();
  const int64_t estimate = request.estimated_tokens > 0 ? request.estimated_tokens : 0;
  const int64_t actual = actual_tokens > 0 ? actual_tokens : 0;
  std::lock_guard lock(mu_);
  auto settle = [&](std::map<std::string, Window>& windows, const std::string& id) {
    auto it = windows.find(id);
    if (it != windows.end()) {
      SettleIn(it->second, estimate, actual, now);
    } else if (actual > estimate) {
      SettleIn(windows[id], estimate, actual, now);
    }
  };
  settle(account_windows_, request.account_id);
  if (!request.key_id.empty()) settle(key_windows_, request.key_id);
}

// Entries with the same estimate are interchangeable, so the oldest unsettled one takes the
// real count. If it already left the window, only an overrun still matters: it is counted now.
void QuotaManager::SettleIn(Window& window, int64_t estimate, int64_t actual, int64_t now_ms) {
  Prune(window, now_ms);
  auto done = [](const Entry& e) { return e.settled || e.requests == 0; };
  while (window.settled_prefix < window.entries.size() &&
         done(window.entries[window.settled_prefix])) {
    ++window.settled_prefix;
  }
  for (size_t i = window.settled_prefix; i < window.entries.size(); ++i) {
    Entry& e = window.entries[i];
    if (done(e) || e.estimate != estimate) continue;
    window.tokens += actual - e.tokens;
    e.tokens = actual;
    e.settled = true;
    return;
  }
  if (actual > estimate) {
    window.entries.push_back({now_ms, 0, actual - estimate, 0, true});
    window.tokens += actual - estimate;
  }
}

// The window is (now - 60 s, now]: an entry made at t stops counting at t + 60 s.
void QuotaManager::Prune(Window& window, int64_t now_ms) {
  while (!window.entries.empty() && window.entries.front().at_ms <= now_ms - kWindowMs) {
    window.requests -= window.entries.front().requests;
    window.tokens -= window.entries.front().tokens;
    window.images -= window.entries.front().images;
    window.entries.pop_front();
    if (window.settled_prefix > 0) --window.settled_prefix;
  }
}

// Drops idle windows now and then, so ids seen once do not stay in memory.
void QuotaManager::SweepLocked(int64_t now_ms) {
  if (now_ms - last_sweep_ms_ < kWindowMs && now_ms >= last_sweep_ms_) return;
  last_sweep_ms_ = now_ms;
  for (auto* windows : {&account_windows_, &key_windows_}) {
    for (auto it = windows->begin(); it != windows->end();) {
      Prune(it->second, now_ms);
      it = it->second.entries.empty() ? windows->erase(it) : std::next(it);
    }
  }
}

Status QuotaManager::CheckBudgets(const QuotaRequest& request, const QuotaLimits& account,
                                  const QuotaLimits& key, int64_t now_ms) const {
  if (store_ == nullptr || request.account_id.empty()) return Status::Ok();
  const int64_t month_start = internal::UtcMonthStartMs(now_ms);
  const std::string month = internal::UtcDay(month_start).substr(0, 7);

  // Budgets are spent, not estimated: the request that finds nothing left is refused.
  auto check_month = [&](const std::string& key_id, double budget,
                         const std::string& whose) -> Status {
    if (budget <= 0) return Status::Ok();
    StatusOr<UsageStore::Totals> spent =
        store_->TotalsSince(request.account_id, key_id, "", "", month_start);
    if (!spent.ok()) {
      return Status::Unavailable("cannot check the monthly budget: " + spent.status().message());
    }
    if (spent->cost < budget) return Status::Ok();
    return Status::ResourceExhausted("The monthly budget of " + FormatAmount(budget) + " for " +
                                         whose + " is used up (" + FormatAmount(spent->cost) +
                                         " spent in " + month +
                                         " UTC); it renews on the first day of next month.",
                                     kServiceQuotaExceeded);
  };
  BASALT_RETURN_IF_ERROR(check_month("", account.monthly_budget, "account " + request.account_id));
  if (!request.key_id.empty()) {
    BASALT_RETURN_IF_ERROR(
        check_month(request.key_id, key.monthly_budget, "key " + request.key_id));
  }

  if (request.source == "app" && account.daily_app_credits > 0 && !request.user_id.empty()) {
    const int64_t day_start = internal::UtcDayStartMs(now_ms);
    StatusOr<UsageStore::Totals> used =
        store_->TotalsSince(request.account_id, "", request.user_id, "app", day_start);
    if (!used.ok()) {
      return Status::Unavailable("cannot check the daily credit allowance: " +
                                 used.status().message());
    }
    if (used->cost >= account.daily_app_credits) {
      return Status::ResourceExhausted(
          "The daily credit allowance of " + FormatAmount(account.daily_app_credits) +
              " for app runs is used up for user " + request.user_id + " (" +
              FormatAmount(used->cost) + " used on " + internal::UtcDay(now_ms) +
              " UTC); it renews at 00:00 UTC.",
          kServiceQuotaExceeded);
    }
  }
  return Status::Ok();
}

}  // namespace basalt::metering
