// Quotas, checked before any work is done: requests and tokens per minute per account and per
// key (sliding 60 s window, in memory), a monthly budget per account (cost from the usage
// store), and a daily credit allowance per user for app runs (PartyRock's free allowance).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "metering/usage.h"

namespace basalt::metering {

struct QuotaLimits {
  int64_t requests_per_minute = 0;  // 0 = unlimited
  int64_t tokens_per_minute = 0;
  int64_t images_per_minute = 0;  // images asked for by image model calls
  double monthly_budget = 0;      // cost units; 0 = unlimited
  double daily_app_credits = 0;   // per user, source "app"; 0 = unlimited
};

struct QuotaConfig {
  QuotaLimits account_default;
  QuotaLimits key_default;
  std::map<std::string, QuotaLimits> accounts;  // per account id overrides
  std::map<std::string, QuotaLimits> keys;      // per key id overrides
};

struct QuotaRequest {
  std::string account_id;
  std::string key_id;
  std::string user_id;
  std::string source = "api";
  int64_t estimated_tokens = 0;  // prompt tokens + max output tokens
  int64_t images = 0;            // images asked for (image models)
};

class QuotaManager {
 public:
  // `store` may be null (then budgets and app allowances are not enforced); `now_ms` returns
  // unix ms and defaults to the system clock.
  QuotaManager(UsageStore* store, QuotaConfig config, std::function<int64_t()> now_ms = nullptr);

  // Admits a request or returns kResourceExhausted with Bedrock's wording: "Too many requests,
  // please wait before trying again." (rate limits), "Too many tokens, please wait before
  // trying again." or "Too many images, please wait before trying again." (images per
  // minute: the images asked for count when admitted, also if fewer are made); over the monthly
  // budget or the daily app allowance: kResourceExhausted (reason "ServiceQuotaExceeded") naming
  // the limit. An admitted request counts against the per-minute windows at once.
  Status Admit(const QuotaRequest& request);
  // Corrects the token window with the real count once the invocation ended (call it with the
  // same request, also when the invocation failed: then with the tokens it really used).
  void Settle(const QuotaRequest& request, int64_t actual_tokens);

  void SetConfig(QuotaConfig config);
  // The budget checks of Admit() alone (monthly budgets; the daily app credits for source
  // "app"), counting nothing: refuses an app run before any of its widgets starts.
  Status CheckAllowances(const QuotaRequest& request);
  // The daily app-credit allowance in effect for the users of `account_id` (the account's
  // override, else the default); 0 = unlimited.
  double DailyAppCredits(const std::string& account_id);

  static constexpr int64_t kWindowMs = 60'000;

 private:
  // One admitted request (or a later correction) inside a sliding window.
  struct Entry {
    int64_t at_ms = 0;
    int64_t requests = 0;
    int64_t tokens = 0;    // the estimate until settled, then the real count
    int64_t estimate = 0;  // what Admit counted, to find the entry again in Settle
    bool settled = false;
    int64_t images = 0;
  };
  struct Window {
    std::deque<Entry> entries;  // oldest first
    int64_t requests = 0;       // sums over `entries`
    int64_t tokens = 0;
    int64_t images = 0;
    // How many entries at the front need no settling (settled, or overrun-only): Settle
    // searches from there, so it costs the requests in flight, not the whole minute's.
    size_t settled_prefix = 0;
  };

  Status CheckBudgets(const QuotaRequest& request, const QuotaLimits& account,
                      const QuotaLimits& key, int64_t now_ms) const;
  static void Prune(Window& window, int64_t now_ms);
  static void SettleIn(Window& window, int64_t estimate, int64_t actual, int64_t now_ms);
  void SweepLocked(int64_t now_ms);

  UsageStore* const store_;
  const std::function<int64_t()> now_ms_;
  std::mutex mu_;
  QuotaConfig config_;
  std::map<std::string, Window> account_windows_;
  std::map<std::string, Window> key_windows_;
  int64_t last_sweep_ms_ = 0;
};

}  // namespace basalt::metering
