#include "metering/quota.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "metering/test_util.h"

namespace basalt::metering {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kJune1 = 1'717'200'000'000;  // 2024-06-01T00:00:00Z
constexpr char kTooManyRequests[] = "Too many requests, please wait before trying again.";
constexpr char kTooManyTokens[] = "Too many tokens, please wait before trying again.";

QuotaRequest Req(const std::string& account, const std::string& key, int64_t tokens = 0) {
  QuotaRequest r;
  r.account_id = account;
  r.key_id = key;
  r.user_id = "user1";
  r.estimated_tokens = tokens;
  return r;
}

void ExpectRefused(const Status& st, const std::string& message) {
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted) << st.ToString();
  EXPECT_EQ(st.message(), message);
  EXPECT_EQ(st.reason(), "");  // a throttle, not a service quota
}

class QuotaTest : public testing::TempDirTest {
 protected:
  std::function<int64_t()> Clock() {
    return [this] { return now_.load(); };
  }
  std::atomic<int64_t> now_{kJune1 + 10 * kDayMs};
};

TEST_F(QuotaTest, RequestsPerMinuteBoundary) {
  QuotaConfig config;
  config.account_default.requests_per_minute = 3;
  QuotaManager q(nullptr, config, Clock());
  EXPECT_TRUE(q.Admit(Req("a", "")).ok());
  EXPECT_TRUE(q.Admit(Req("a", "")).ok());
  EXPECT_TRUE(q.Admit(Req("a", "")).ok());
  ExpectRefused(q.Admit(Req("a", "")), kTooManyRequests);
  // Another account has its own window.
  EXPECT_TRUE(q.Admit(Req("b", "")).ok());
}

TEST_F(QuotaTest, ImagesPerMinute) {
  QuotaConfig config;
  config.account_default.images_per_minute = 5;
  config.key_default.images_per_minute = 3;
  QuotaManager q(nullptr, config, Clock());
  auto images = [](const std::string& key, int64_t n) {
    QuotaRequest r = Req("a", key);
    r.images = n;
    return r;
  };
  EXPECT_TRUE(q.Admit(images("k1", 3)).ok());
  ExpectRefused(q.Admit(images("k1", 1)), "Too many images, please wait before trying again.");
  EXPECT_TRUE(q.Admit(images("k2", 2)).ok());
  // The account's 5 are used; text calls (no images) still pass.
  ExpectRefused(q.Admit(images("k3", 1)), "Too many images, please wait before trying again.");
  EXPECT_TRUE(q.Admit(Req("a", "k3", 100)).ok());
  now_ += QuotaManager::kWindowMs;
  EXPECT_TRUE(q.Admit(images("k1", 3)).ok());
}

TEST_F(QuotaTest, WindowSlidesWithTheClock) {
  QuotaConfig config;
  config.account_default.requests_per_minute = 3;
  QuotaManager q(nullptr, config, Clock());
  const int64_t t = now_;
  for (int64_t offset : {0, 1000, 2000}) {
    now_ = t + offset;
    ASSERT_TRUE(q.Admit(Req("a", "")).ok());
  }
  now_ = t + 59'999;
  ExpectRefused(q.Admit(Req("a", "")), kTooManyRequests);
  now_ = t + 60'000;  // the first request leaves the window
  EXPECT_TRUE(q.Admit(Req("a", "")).ok());
  now_ = t + 60'001;
  ExpectRefused(q.Admit(Req("a", "")), kTooManyRequests);
  now_ = t + 61'000;
  EXPECT_TRUE(q.Admit(Req("a", "")).ok());
  // Refused requests did not count: after a quiet minute the full rate is back.
  now_ = t + 200'000;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(q.Admit(Req("a", "")).ok());
  ExpectRefused(q.Admit(Req("a", "")), kTooManyRequests);
}

TEST_F(QuotaTest, TokensPerMinuteWithSettle) {
  QuotaConfig config;
  config.account_default.tokens_per_minute = 1000;
  QuotaManager q(nullptr, config, Clock());
  QuotaRequest first = Req("a", "", 600);
  ASSERT_TRUE(q.Admit(first).ok());
  ExpectRefused(q.Admit(Req("a", "", 600)), kTooManyTokens);
  q.Settle(first, 100);  // the invocation used far less than its estimate
  QuotaRequest second = Req("a", "", 600);
  EXPECT_TRUE(q.Admit(second).ok());             // 100 + 600
  EXPECT_TRUE(q.Admit(Req("a", "", 300)).ok());  // exactly 1000 is allowed
  ExpectRefused(q.Admit(Req("a", "", 1)), kTooManyTokens);
  // Settling above the estimate counts the overrun.
  q.Settle(second, 900);  // window: 100 + 900 + 300
  now_ += 30'000;
  ExpectRefused(q.Admit(Req("a", "", 0)), kTooManyTokens);
  now_ += 30'000;  // everything above left the window
  EXPECT_TRUE(q.Admit(Req("a", "", 1000)).ok());
}

TEST_F(QuotaTest, SettleAfterTheWindowCountsOnlyTheOverrun) {
  QuotaConfig config;
  config.account_default.tokens_per_minute = 1000;
  QuotaManager q(nullptr, config, Clock());
  QuotaRequest slow = Req("a", "", 500);
  ASSERT_TRUE(q.Admit(slow).ok());
  now_ += 90'000;  // a long invocation: its entry has left the window
  q.Settle(slow, 800);
  EXPECT_TRUE(q.Admit(Req("a", "", 700)).ok());  // 300 overrun + 700
  ExpectRefused(q.Admit(Req("a", "", 1)), kTooManyTokens);
}

TEST_F(QuotaTest, PerKeyAndPerAccountLimits) {
  QuotaConfig config;
  config.account_default.requests_per_minute = 5;
  config.key_default.requests_per_minute = 2;
  config.keys["vip"].requests_per_minute = 10;
  config.accounts["big"].requests_per_minute = 100;
  QuotaManager q(nullptr, config, Clock());
  EXPECT_TRUE(q.Admit(Req("a", "k1")).ok());
  EXPECT_TRUE(q.Admit(Req("a", "k1")).ok());
  ExpectRefused(q.Admit(Req("a", "k1")), kTooManyRequests);  // the key's limit
  EXPECT_TRUE(q.Admit(Req("a", "k2")).ok());
  EXPECT_TRUE(q.Admit(Req("a", "k2")).ok());
  EXPECT_TRUE(q.Admit(Req("a", "k3")).ok());                 // 5th for the account
  ExpectRefused(q.Admit(Req("a", "k4")), kTooManyRequests);  // the account's limit
  ExpectRefused(q.Admit(Req("a", "vip")), kTooManyRequests);

  // Overrides: the vip key may go past the key default, the big account past its default.
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(q.Admit(Req("big", "vip")).ok()) << i;
  ExpectRefused(q.Admit(Req("big", "vip")), kTooManyRequests);
  EXPECT_TRUE(q.Admit(Req("big", "other")).ok());
}

TEST_F(QuotaTest, PerKeyTokenLimit) {
  QuotaConfig config;
  config.key_default.tokens_per_minute = 100;
  QuotaManager q(nullptr, config, Clock());
  EXPECT_TRUE(q.Admit(Req("a", "k1", 100)).ok());
  ExpectRefused(q.Admit(Req("a", "k1", 1)), kTooManyTokens);
  EXPECT_TRUE(q.Admit(Req("a", "k2", 100)).ok());
  EXPECT_TRUE(q.Admit(Req("a", "", 5000)).ok());  // no key, no account limit
}

TEST_F(QuotaTest, SetConfigChangesLimits) {
  QuotaConfig config;
  config.account_default.requests_per_minute = 1;
  QuotaManager q(nullptr, config, Clock());
  EXPECT_TRUE(q.Admit(Req("a", "")).ok());
  ExpectRefused(q.Admit(Req("a", "")), kTooManyRequests);
  config.account_default.requests_per_minute = 0;  // unlimited
  q.SetConfig(config);
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(q.Admit(Req("a", "")).ok());
}

TEST_F(QuotaTest, ConcurrentAdmitsNeverExceedTheLimit) {
  QuotaConfig config;
  config.account_default.requests_per_minute = 100;
  QuotaManager q(nullptr, config, Clock());
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (q.Admit(Req("a", "")).ok()) ++admitted;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 100);
}

class BudgetTest : public QuotaTest {
 protected:
  void SetUp() override {
    QuotaTest::SetUp();
    auto store = UsageStore::Open(Path("usage.db"));
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    Price p;
    p.model_id = "*";
    p.region = "*";
    p.input_per_1k_tokens = 0.1;  // 1000 input tokens cost 0.1
    ASSERT_TRUE(store_->AddPrice(p).ok());
  }

  void Spend(const std::string& id, int64_t ts, int64_t input_tokens,
             const std::string& source = "api", const std::string& user = "user1",
             const std::string& key = "k1") {
    UsageRecord r;
    r.request_id = id;
    r.timestamp_ms = ts;
    r.account_id = "a";
    r.user_id = user;
    r.key_id = key;
    r.source = source;
    r.model_id = "m";
    r.input_tokens = input_tokens;
    ASSERT_TRUE(store_->Append(r).ok());
  }

  std::unique_ptr<UsageStore> store_;
};

TEST_F(BudgetTest, MonthlyBudgetRefusesBeforeWork) {
  QuotaConfig config;
  config.account_default.monthly_budget = 1.0;
  config.account_default.requests_per_minute = 1000;
  QuotaManager q(store_.get(), config, Clock());
  Spend("last-month", kJune1 - 1, 50'000);  // 5.0, but in May
  Spend("r1", kJune1 + kDayMs, 6000);       // 0.6
  EXPECT_TRUE(q.Admit(Req("a", "k1")).ok());
  Spend("r2", kJune1 + 2 * kDayMs, 3999);  // 0.9999
  EXPECT_TRUE(q.Admit(Req("a", "k1")).ok());
  Spend("r3", kJune1 + 3 * kDayMs, 1);  // exactly 1.0 spent: nothing left
  Status st = q.Admit(Req("a", "k1"));
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(st.reason(), "ServiceQuotaExceeded");
  EXPECT_NE(st.message().find("monthly budget"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("2024-06"), std::string::npos) << st.message();
  // Other accounts are not affected; the next month starts afresh.
  EXPECT_TRUE(q.Admit(Req("other", "k9")).ok());
  now_ = kJune1 + 30 * kDayMs;  // 2024-07-01
  EXPECT_TRUE(q.Admit(Req("a", "k1")).ok());
}

TEST_F(BudgetTest, KeyBudgetAndRefusedRequestsUseNoRate) {
  QuotaConfig config;
  config.key_default.monthly_budget = 0.5;
  config.account_default.requests_per_minute = 1;
  QuotaManager q(store_.get(), config, Clock());
  Spend("r1", kJune1 + kDayMs, 5000, "api", "user1", "k1");  // 0.5 on k1
  Status st = q.Admit(Req("a", "k1"));
  EXPECT_EQ(st.reason(), "ServiceQuotaExceeded");
  EXPECT_NE(st.message().find("key k1"), std::string::npos) << st.message();
  // The refused request took nothing from the per-minute window.
  EXPECT_TRUE(q.Admit(Req("a", "k2")).ok());
}

TEST_F(BudgetTest, DailyAppCreditsPerUser) {
  QuotaConfig config;
  config.account_default.daily_app_credits = 0.5;
  QuotaManager q(store_.get(), config, Clock());
  const int64_t today = kJune1 + 10 * kDayMs;
  now_ = today + 12 * 3600 * 1000;
  Spend("yesterday", today - 1, 100'000, "app", "u1");  // 10.0, but yesterday
  Spend("api-use", today + 1, 100'000, "api", "u1");    // not an app run
  Spend("app-1", today + 2, 4000, "app", "u1");         // 0.4
  QuotaRequest app = Req("a", "k1");
  app.source = "app";
  app.user_id = "u1";
  EXPECT_TRUE(q.Admit(app).ok());
  Spend("app-2", today + 3, 1000, "app", "u1");  // 0.5 used today
  Status st = q.Admit(app);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(st.reason(), "ServiceQuotaExceeded");
  EXPECT_NE(st.message().find("daily credit allowance"), std::string::npos) << st.message();

  QuotaRequest api = app;
  api.source = "api";
  EXPECT_TRUE(q.Admit(api).ok());  // the allowance is for app runs only
  QuotaRequest other_user = app;
  other_user.user_id = "u2";
  EXPECT_TRUE(q.Admit(other_user).ok());
  now_ = today + kDayMs;  // the next UTC day
  EXPECT_TRUE(q.Admit(app).ok());
}

}  // namespace
}  // namespace basalt::metering
