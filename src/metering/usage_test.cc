#include "metering/usage.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "metering/test_util.h"
#include "metering/time_util.h"

namespace basalt::metering {
namespace {

using testing::TempDirTest;

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kT0 = 1'717'200'000'000;  // 2024-06-01T00:00:00Z

UsageRecord MakeRecord(const std::string& id, int64_t ts, const std::string& model = "m1",
                       int64_t in = 1000, int64_t out = 500) {
  UsageRecord r;
  r.request_id = id;
  r.timestamp_ms = ts;
  r.account_id = "acct1";
  r.user_id = "user1";
  r.key_id = "key1";
  r.region = "us-east-1";
  r.model_id = model;
  r.operation = "InvokeModel";
  r.source = "api";
  r.input_tokens = in;
  r.output_tokens = out;
  r.outcome = "success";
  return r;
}

Price MakePrice(const std::string& model, const std::string& region, double in, double out,
                int64_t from) {
  Price p;
  p.model_id = model;
  p.region = region;
  p.input_per_1k_tokens = in;
  p.output_per_1k_tokens = out;
  p.effective_from_ms = from;
  return p;
}

// RFC 4180 reader for the round-trip checks.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, field_started = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"' && !field_started) {
      quoted = field_started = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
      field_started = false;
    } else if (c == '\n') {
      row.push_back(field);
      rows.push_back(row);
      row.clear();
      field.clear();
      field_started = false;
    } else {
      field += c;
      field_started = true;
    }
  }
  EXPECT_TRUE(row.empty() && field.empty()) << "CSV must end with a line break";
  return rows;
}

class UsageStoreTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    auto store = UsageStore::Open(Path("usage.db"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  UsageRecord Append(UsageRecord r) {
    auto appended = store_->Append(std::move(r));
    EXPECT_TRUE(appended.ok()) << appended.status().ToString();
    return appended.ok() ? *appended : UsageRecord{};
  }

  std::unique_ptr<UsageStore> store_;
};

void ExpectSameRecord(const UsageRecord& a, const UsageRecord& b) {
  EXPECT_EQ(a.request_id, b.request_id);
  EXPECT_EQ(a.timestamp_ms, b.timestamp_ms);
  EXPECT_EQ(a.account_id, b.account_id);
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.key_id, b.key_id);
  EXPECT_EQ(a.region, b.region);
  EXPECT_EQ(a.model_id, b.model_id);
  EXPECT_EQ(a.operation, b.operation);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.app_id, b.app_id);
  EXPECT_EQ(a.input_tokens, b.input_tokens);
  EXPECT_EQ(a.output_tokens, b.output_tokens);
  EXPECT_EQ(a.cached_input_tokens, b.cached_input_tokens);
  EXPECT_EQ(a.images, b.images);
  EXPECT_EQ(a.image_size, b.image_size);
  EXPECT_EQ(a.image_quality, b.image_quality);
  EXPECT_EQ(a.image_steps, b.image_steps);
  EXPECT_EQ(a.prompt_used, b.prompt_used);
  EXPECT_EQ(a.first_byte_ms, b.first_byte_ms);
  EXPECT_EQ(a.latency_ms, b.latency_ms);
  EXPECT_EQ(a.outcome, b.outcome);
  EXPECT_EQ(a.cost, b.cost);
  EXPECT_EQ(a.cost_nanos, b.cost_nanos);
  EXPECT_EQ(a.price_version, b.price_version);
}

TEST(TimeUtilTest, UtcCalendar) {
  EXPECT_EQ(internal::UtcDay(kT0), "2024-06-01");
  EXPECT_EQ(internal::UtcDay(kT0 - 1), "2024-05-31");
  EXPECT_EQ(internal::UtcDay(-1), "1969-12-31");
  EXPECT_EQ(internal::UtcDayStartMs(kT0 + 5 * 3600 * 1000), kT0);
  EXPECT_EQ(internal::UtcMonthStartMs(kT0 + 20 * kDayMs), kT0);
  EXPECT_EQ(internal::UtcMonthStartMs(kT0 - 1), kT0 - 31 * kDayMs);
  EXPECT_EQ(internal::Iso8601Seconds(kT0 + 3723'456), "2024-06-01T01:02:03Z");
}

TEST_F(UsageStoreTest, AppendListRoundTrip) {
  UsageRecord full = MakeRecord("req-1", kT0 + 10);
  full.app_id = "app-9";
  full.source = "app";
  full.cached_input_tokens = 7;
  full.images = 2;
  full.image_size = "512x512";
  full.image_quality = "standard";
  full.image_steps = 4;
  full.prompt_used = "a cat on a \"mat\", 고양이";
  full.first_byte_ms = 120;
  full.latency_ms = 900;
  full.outcome = "client_gone";
  UsageRecord a = Append(full);
  Append(MakeRecord("req-2", kT0 + 20, "m2"));
  UsageRecord c = MakeRecord("req-3", kT0 + 5);
  c.account_id = "acct2";
  c.key_id = "key2";
  Append(c);

  auto all = store_->List({}, 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  // Oldest first.
  EXPECT_EQ((*all)[0].request_id, "req-3");
  EXPECT_EQ((*all)[1].request_id, "req-1");
  EXPECT_EQ((*all)[2].request_id, "req-2");
  ExpectSameRecord((*all)[1], a);
  ExpectSameRecord((*all)[1], full);  // no price: cost 0, version 0 as in `full`

  EXPECT_EQ(store_->List({}, 2)->size(), 2u);
  UsageFilter f;
  f.account_id = "acct1";
  EXPECT_EQ(store_->List(f, 0)->size(), 2u);
  f.model_id = "m2";
  ASSERT_EQ(store_->List(f, 0)->size(), 1u);
  EXPECT_EQ(store_->List(f, 0)->front().request_id, "req-2");
  UsageFilter by_app;
  by_app.app_id = "app-9";
  by_app.source = "app";
  EXPECT_EQ(store_->List(by_app, 0)->size(), 1u);
  UsageFilter by_key;
  by_key.key_id = "key2";
  EXPECT_EQ(store_->List(by_key, 0)->size(), 1u);
  UsageFilter window;
  window.from_ms = kT0 + 10;
  window.to_ms = kT0 + 20;  // exclusive
  ASSERT_EQ(store_->List(window, 0)->size(), 1u);
  EXPECT_EQ(store_->List(window, 0)->front().request_id, "req-1");
}

TEST_F(UsageStoreTest, RejectsBadRecordsAndPrices) {
  EXPECT_EQ(store_->Append(MakeRecord("", kT0)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Append(MakeRecord("neg", kT0, "m", -1)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->AddPrice(MakePrice("", "*", 1, 1, 0)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->AddPrice(MakePrice("m", "*", -1, 1, 0)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->AddPrice(MakePrice("m", "*", NAN, 1, 0)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Report({}, {"week"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->ListPrices()->empty());
}

TEST_F(UsageStoreTest, DuplicateRequestIdIsRefused) {
  Append(MakeRecord("dup", kT0, "m1", 10, 10));
  auto again = store_->Append(MakeRecord("dup", kT0 + 1, "m2", 99, 99));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  auto all = store_->List({}, 0);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().model_id, "m1");
  EXPECT_EQ(all->front().input_tokens, 10);
  // The failed append left no transaction open.
  Append(MakeRecord("next", kT0 + 2));
  EXPECT_EQ(store_->List({}, 0)->size(), 2u);
}

TEST_F(UsageStoreTest, CheckpointsAreReplacedByTheFinalRecord) {
  UsageRecord running = MakeRecord("run", kT0, "m1", 10, 3);
  ASSERT_TRUE(store_->Checkpoint(running).ok());
  running.output_tokens = 7;
  ASSERT_TRUE(store_->Checkpoint(running).ok());  // a later checkpoint replaces the first
  auto all = store_->List({}, 0);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().outcome, "in_progress");
  EXPECT_EQ(all->front().output_tokens, 7);
  UsageRecord done = MakeRecord("run", kT0 + 5, "m1", 10, 9);
  Append(done);
  all = store_->List({}, 0);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().outcome, done.outcome);
  EXPECT_EQ(all->front().output_tokens, 9);
  // A finished invocation cannot be checkpointed again.
  EXPECT_EQ(store_->Checkpoint(running).code(), StatusCode::kAlreadyExists);
}

TEST_F(UsageStoreTest, MarkInterruptedAfterACrash) {
  ASSERT_TRUE(store_->Checkpoint(MakeRecord("a", kT0, "m1", 5, 2)).ok());
  ASSERT_TRUE(store_->Checkpoint(MakeRecord("b", kT0, "m1", 5, 4)).ok());
  Append(MakeRecord("c", kT0, "m1", 5, 1));
  auto n = store_->MarkInterrupted();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
  auto report = store_->Report({}, {"outcome"});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->total.output_tokens, 7);  // what was generated stays billed
  bool found = false;
  for (const auto& row : report->rows) {
    if (row.group.at("outcome") == "interrupted") {
      found = true;
      EXPECT_EQ(row.requests, 2);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(UsageStoreTest, PricesByEffectiveDate) {
  auto v1 = store_->AddPrice(MakePrice("m1", "*", 0.5, 1.5, kT0));
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->version, 1);

  UsageRecord before = Append(MakeRecord("before", kT0 - 1, "m1", 1000, 1000));
  EXPECT_EQ(before.cost, 0);
  EXPECT_EQ(before.price_version, 0);

  UsageRecord old_price = Append(MakeRecord("old", kT0 + kDayMs, "m1", 2000, 1000));
  EXPECT_EQ(old_price.price_version, 1);
  EXPECT_EQ(old_price.cost_nanos, 2'500'000'000);  // 2 * 0.5 + 1 * 1.5
  EXPECT_DOUBLE_EQ(old_price.cost, 2.5);

  auto v2 = store_->AddPrice(MakePrice("m1", "*", 1.0, 4.0, kT0 + 2 * kDayMs));
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->version, 2);
  // A record stamped before the new version keeps the old price, even if written later.
  UsageRecord late_write = Append(MakeRecord("late", kT0 + 2 * kDayMs - 1, "m1", 2000, 1000));
  EXPECT_EQ(late_write.price_version, 1);
  EXPECT_EQ(late_write.cost_nanos, 2'500'000'000);
  UsageRecord new_price = Append(MakeRecord("new", kT0 + 2 * kDayMs, "m1", 2000, 1000));
  EXPECT_EQ(new_price.price_version, 2);
  EXPECT_EQ(new_price.cost_nanos, 6'000'000'000);  // 2 * 1.0 + 1 * 4.0

  // Costs are fixed when written: the stored record still says what it said.
  UsageFilter f;
  f.to_ms = kT0 + 2 * kDayMs;
  auto listed = store_->List(f, 0);
  ASSERT_EQ(listed->size(), 3u);
  for (const UsageRecord& r : *listed) {
    if (r.request_id == "old") {
      EXPECT_EQ(r.cost_nanos, 2'500'000'000);
    }
  }

  // Same effective date again: the higher version corrects the earlier one.
  auto v3 = store_->AddPrice(MakePrice("m1", "*", 2.0, 4.0, kT0 + 2 * kDayMs));
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(Append(MakeRecord("fixed", kT0 + 3 * kDayMs, "m1", 1000, 0)).price_version, 3);

  auto prices = store_->ListPrices();
  ASSERT_EQ(prices->size(), 3u);
  EXPECT_EQ((*prices)[1].input_per_1k_tokens, 1.0);
  EXPECT_EQ((*prices)[1].effective_from_ms, kT0 + 2 * kDayMs);
}

TEST_F(UsageStoreTest, MostSpecificPriceWins) {
  // Added most specific first, so neither version order nor date order can explain the result.
  ASSERT_TRUE(store_->AddPrice(MakePrice("m1", "eu-west-1", 1, 0, kT0)).ok());     // v1
  ASSERT_TRUE(store_->AddPrice(MakePrice("m1", "*", 2, 0, kT0 + 1)).ok());         // v2
  ASSERT_TRUE(store_->AddPrice(MakePrice("*", "eu-west-1", 3, 0, kT0 + 2)).ok());  // v3
  ASSERT_TRUE(store_->AddPrice(MakePrice("*", "*", 4, 0, kT0 + 3)).ok());          // v4

  auto price_of = [&](const std::string& id, const std::string& model, const std::string& region) {
    UsageRecord r = MakeRecord(id, kT0 + 10, model, 1000, 0);
    r.region = region;
    return Append(r).price_version;
  };
  EXPECT_EQ(price_of("a", "m1", "eu-west-1"), 1);
  EXPECT_EQ(price_of("b", "m1", "us-east-1"), 2);
  EXPECT_EQ(price_of("c", "m2", "eu-west-1"), 3);
  EXPECT_EQ(price_of("d", "m2", "us-east-1"), 4);
  // Only prices already in effect at the record's time count.
  UsageRecord early = MakeRecord("e", kT0 + 1, "m2", 1000, 0);
  early.region = "us-east-1";
  EXPECT_EQ(Append(early).price_version, 0);
  UsageRecord mid = MakeRecord("f", kT0 + 1, "m1", 1000, 0);
  mid.region = "us-east-1";
  EXPECT_EQ(Append(mid).price_version, 2);
}

TEST_F(UsageStoreTest, PricesImagesBySizeAndQuality) {
  Price p = MakePrice("img", "*", 0, 0, kT0);
  p.per_image = {{"1024x1024/premium", 0.08}, {"*", 0.04}};
  ASSERT_TRUE(store_->AddPrice(p).ok());
  UsageRecord premium = MakeRecord("p", kT0, "img", 0, 0);
  premium.images = 2;
  premium.image_size = "1024x1024";
  premium.image_quality = "premium";
  EXPECT_EQ(Append(premium).cost_nanos, 160'000'000);
  UsageRecord standard = premium;
  standard.request_id = "s";
  standard.image_quality = "standard";
  EXPECT_EQ(Append(standard).cost_nanos, 80'000'000);
  auto prices = store_->ListPrices();
  ASSERT_EQ(prices->size(), 1u);
  EXPECT_EQ((*prices)[0].per_image, p.per_image);
}

TEST_F(UsageStoreTest, PricesImagesByQualityForAnySize) {
  // Titan-like: 512x512 has its own prices, every other size the "*/<quality>" ones.
  Price p = MakePrice("img", "*", 0.001, 0.002, kT0);
  p.per_image = {{"512x512/standard", 0.008},
                 {"512x512/premium", 0.01},
                 {"*/standard", 0.01},
                 {"*/premium", 0.012},
                 {"*", 0.5}};
  ASSERT_TRUE(store_->AddPrice(p).ok());
  auto cost = [&](const char* id, const char* size, const char* quality, int64_t images) {
    UsageRecord r = MakeRecord(id, kT0, "img", 1000, 0);
    r.images = images;
    r.image_size = size;
    r.image_quality = quality;
    return Append(r).cost_nanos;
  };
  // 1000 input tokens (translation) cost 0.001 on top of the images.
  EXPECT_EQ(cost("a", "512x512", "standard", 3), 1'000'000 + 3 * 8'000'000);
  EXPECT_EQ(cost("b", "512x512", "premium", 1), 1'000'000 + 10'000'000);
  EXPECT_EQ(cost("c", "1024x1024", "standard", 2), 1'000'000 + 2 * 10'000'000);
  EXPECT_EQ(cost("d", "768x1152", "premium", 5), 1'000'000 + 5 * 12'000'000);
  EXPECT_EQ(cost("e", "768x1152", "ultra", 1), 1'000'000 + 500'000'000);
  EXPECT_EQ(cost("f", "768x1152", "premium", 0), 1'000'000);  // cancelled before an image
}

TEST_F(UsageStoreTest, ReportAndCsvRoundTrip) {
  ASSERT_TRUE(store_->AddPrice(MakePrice("*", "*", 0.001, 0.002, 0)).ok());
  UsageRecord odd = MakeRecord("r1", kT0, "model, \"quoted\"\nline", 1000, 1000);
  odd.app_id = "a,b";
  Append(odd);
  Append(MakeRecord("r2", kT0 + kDayMs, "m1", 3000, 0));
  Append(MakeRecord("r3", kT0 + kDayMs + 5, "m1", 1, 1));

  auto report = store_->Report({}, {"model", "day"});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->rows.size(), 2u);
  // Sorted by group values: "m1" < "model, ...".
  EXPECT_EQ(report->rows[0].group.at("model"), "m1");
  EXPECT_EQ(report->rows[0].group.at("day"), "2024-06-02");
  EXPECT_EQ(report->rows[0].requests, 2);
  EXPECT_EQ(report->rows[0].input_tokens, 3001);
  EXPECT_EQ(report->rows[1].group.at("day"), "2024-06-01");
  EXPECT_EQ(report->total.requests, 3);
  EXPECT_EQ(report->total.cost_nanos, 3'000'000 + 3'000'000 + 3'000);

  auto ungrouped = store_->Report({}, {});
  ASSERT_EQ(ungrouped->rows.size(), 1u);
  EXPECT_TRUE(ungrouped->rows[0].group.empty());
  EXPECT_EQ(ungrouped->rows[0].requests, 3);
  UsageFilter none;
  none.account_id = "nobody";
  EXPECT_TRUE(store_->Report(none, {})->rows.empty());
  EXPECT_EQ(store_->Report(none, {})->total.requests, 0);

  // Records CSV: header + one line per record, fields round-trip through an RFC 4180 reader.
  auto csv = store_->ExportCsv({}, {});
  ASSERT_TRUE(csv.ok());
  auto rows = ParseCsv(*csv);
  ASSERT_EQ(rows.size(), 4u);
  const std::vector<std::string>& header = rows[0];
  EXPECT_EQ(header.front(), "request_id");
  auto col = [&](const std::string& name) {
    return static_cast<size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  ASSERT_LT(col("cost"), header.size());
  auto records = store_->List({}, 0);
  for (size_t i = 0; i < records->size(); ++i) {
    const UsageRecord& r = (*records)[i];
    const std::vector<std::string>& line = rows[i + 1];
    ASSERT_EQ(line.size(), header.size());
    EXPECT_EQ(line[col("request_id")], r.request_id);
    EXPECT_EQ(line[col("model_id")], r.model_id);
    EXPECT_EQ(line[col("app_id")], r.app_id);
    EXPECT_EQ(line[col("input_tokens")], std::to_string(r.input_tokens));
    EXPECT_EQ(line[col("timestamp_ms")], std::to_string(r.timestamp_ms));
    EXPECT_EQ(std::stod(line[col("cost")]), r.cost);
  }
  EXPECT_NE(csv->find("\"model, \"\"quoted\"\"\nline\""), std::string::npos);
  EXPECT_EQ(rows[1][col("cost")], "0.003000000");

  // Report CSV: the group columns in the order asked, then the sums.
  auto report_csv = store_->ExportCsv({}, {"day", "model"});
  ASSERT_TRUE(report_csv.ok());
  auto report_rows = ParseCsv(*report_csv);
  ASSERT_EQ(report_rows.size(), 3u);
  EXPECT_EQ(report_rows[0], (std::vector<std::string>{"day", "model", "requests", "input_tokens",
                                                      "output_tokens", "images", "cost"}));
  // Sorted by day first now.
  EXPECT_EQ(report_rows[1][0], "2024-06-01");
  EXPECT_EQ(report_rows[1][1], odd.model_id);
  EXPECT_EQ(report_rows[2],
            (std::vector<std::string>{"2024-06-02", "m1", "2", "3001", "1", "0", "0.003003000"}));
}

// Totals equal the sums of the rows and of the records, exactly, for any grouping and filter.
TEST_F(UsageStoreTest, TotalsEqualSumsAcrossGroupings) {
  ASSERT_TRUE(store_->AddPrice(MakePrice("*", "*", 0.0003, 0.0015, 0)).ok());
  ASSERT_TRUE(store_->AddPrice(MakePrice("m1", "*", 0.0001, 0.0007, 0)).ok());
  ASSERT_TRUE(store_->AddPrice(MakePrice("m2", "eu-west-1", 0.00013, 0.00031, kT0 + kDayMs)).ok());
  Price img = MakePrice("m3", "*", 0.0005, 0.0005, 0);
  img.per_image = {{"*", 0.04}, {"512x512/premium", 0.0333}};
  ASSERT_TRUE(store_->AddPrice(img).ok());

  std::mt19937_64 rng(42);
  auto pick = [&](std::initializer_list<const char*> xs) {
    return std::string(*(xs.begin() + rng() % xs.size()));
  };
  std::vector<UsageRecord> appended;
  for (int i = 0; i < 600; ++i) {
    UsageRecord r;
    r.request_id = "req-" + std::to_string(i);
    r.timestamp_ms = kT0 + static_cast<int64_t>(rng() % (4 * kDayMs));
    r.account_id = pick({"acct1", "acct2", "acct3"});
    r.user_id = pick({"u1", "u2", "u3", "u4"});
    r.key_id = pick({"k1", "k2", "k3", "k4", "k5"});
    r.region = pick({"us-east-1", "eu-west-1"});
    r.model_id = pick({"m1", "m2", "m3", "m4"});
    r.operation = pick({"InvokeModel", "Converse", "ConverseStream"});
    r.source = pick({"api", "console", "app"});
    r.app_id = r.source == "app" ? pick({"app1", "app2"}) : "";
    r.input_tokens = static_cast<int64_t>(rng() % 5000);
    r.output_tokens = static_cast<int64_t>(rng() % 3000);
    if (r.model_id == "m3") {
      r.images = static_cast<int64_t>(rng() % 4);
      r.image_size = pick({"512x512", "1024x1024"});
      r.image_quality = pick({"standard", "premium"});
    }
    r.outcome = pick({"success", "success", "client_error", "server_error", "throttled"});
    appended.push_back(Append(r));
  }

  auto value_of = [](const UsageRecord& r, const std::string& dim) -> std::string {
    if (dim == "day") return internal::UtcDay(r.timestamp_ms);
    if (dim == "model") return r.model_id;
    if (dim == "key") return r.key_id;
    if (dim == "user") return r.user_id;
    if (dim == "source") return r.source;
    if (dim == "app") return r.app_id;
    if (dim == "account") return r.account_id;
    if (dim == "region") return r.region;
    if (dim == "operation") return r.operation;
    return r.outcome;
  };
  auto matches = [](const UsageRecord& r, const UsageFilter& f) {
    return r.timestamp_ms >= f.from_ms && r.timestamp_ms < f.to_ms &&
           (f.account_id.empty() || r.account_id == f.account_id) &&
           (f.model_id.empty() || r.model_id == f.model_id) &&
           (f.key_id.empty() || r.key_id == f.key_id) &&
           (f.user_id.empty() || r.user_id == f.user_id) &&
           (f.source.empty() || r.source == f.source) && (f.app_id.empty() || r.app_id == f.app_id);
  };

  std::vector<UsageFilter> filters(4);
  filters[1].account_id = "acct2";
  filters[2].from_ms = kT0 + kDayMs / 2;
  filters[2].to_ms = kT0 + 3 * kDayMs;
  filters[3].source = "app";
  filters[3].model_id = "m3";
  const std::vector<std::vector<std::string>> groupings = {
      {},
      {"day"},
      {"model"},
      {"key", "user"},
      {"source", "app", "outcome"},
      {"account", "region", "operation"},
      {"day", "model", "key", "user", "source", "app", "account", "region", "operation", "outcome"},
  };
  for (const UsageFilter& f : filters) {
    // The test's own sums, from the records Append returned.
    UsageRow expected_total;
    int64_t matching = 0;
    for (const UsageRecord& r : appended) {
      if (!matches(r, f)) continue;
      ++matching;
      expected_total.requests += 1;
      expected_total.input_tokens += r.input_tokens;
      expected_total.output_tokens += r.output_tokens;
      expected_total.images += r.images;
      expected_total.cost_nanos += r.cost_nanos;
    }
    ASSERT_GT(matching, 0);
    for (const auto& group_by : groupings) {
      SCOPED_TRACE("filter account=" + f.account_id + " grouping size " +
                   std::to_string(group_by.size()));
      std::map<std::map<std::string, std::string>, UsageRow> expected;
      for (const UsageRecord& r : appended) {
        if (!matches(r, f)) continue;
        std::map<std::string, std::string> g;
        for (const std::string& d : group_by) g[d] = value_of(r, d);
        UsageRow& row = expected[g];
        row.requests += 1;
        row.input_tokens += r.input_tokens;
        row.output_tokens += r.output_tokens;
        row.images += r.images;
        row.cost_nanos += r.cost_nanos;
      }
      auto report = store_->Report(f, group_by);
      ASSERT_TRUE(report.ok()) << report.status().ToString();
      ASSERT_EQ(report->rows.size(), expected.size());
      UsageRow sum;
      std::vector<std::string> previous;
      for (const UsageRow& row : report->rows) {
        std::vector<std::string> key;
        for (const std::string& d : group_by) key.push_back(row.group.at(d));
        if (!previous.empty()) {
          EXPECT_LT(previous, key) << "rows must be sorted";
        }
        previous = key;
        auto it = expected.find(row.group);
        ASSERT_NE(it, expected.end());
        EXPECT_EQ(row.requests, it->second.requests);
        EXPECT_EQ(row.input_tokens, it->second.input_tokens);
        EXPECT_EQ(row.output_tokens, it->second.output_tokens);
        EXPECT_EQ(row.images, it->second.images);
        EXPECT_EQ(row.cost_nanos, it->second.cost_nanos);
        EXPECT_EQ(row.cost, static_cast<double>(row.cost_nanos) / 1e9);
        sum.requests += row.requests;
        sum.input_tokens += row.input_tokens;
        sum.output_tokens += row.output_tokens;
        sum.images += row.images;
        sum.cost_nanos += row.cost_nanos;
      }
      for (const UsageRow* t : {&sum, &expected_total}) {
        EXPECT_EQ(report->total.requests, t->requests);
        EXPECT_EQ(report->total.input_tokens, t->input_tokens);
        EXPECT_EQ(report->total.output_tokens, t->output_tokens);
        EXPECT_EQ(report->total.images, t->images);
        EXPECT_EQ(report->total.cost_nanos, t->cost_nanos);
      }
      EXPECT_EQ(report->total.cost, static_cast<double>(expected_total.cost_nanos) / 1e9);
    }
  }

  // TotalsSince agrees with the records too.
  int64_t tokens = 0, requests = 0, nanos = 0;
  for (const UsageRecord& r : appended) {
    if (r.account_id == "acct1" && r.user_id == "u2" && r.source == "app" &&
        r.timestamp_ms >= kT0 + kDayMs) {
      ++requests;
      tokens += r.input_tokens + r.output_tokens;
      nanos += r.cost_nanos;
    }
  }
  auto totals = store_->TotalsSince("acct1", "", "u2", "app", kT0 + kDayMs);
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->requests, requests);
  EXPECT_EQ(totals->tokens, tokens);
  EXPECT_EQ(totals->cost_nanos, nanos);
}

TEST_F(UsageStoreTest, ConcurrentAppends) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 50; ++i) {
        auto r = store_->Append(MakeRecord(std::to_string(t) + "-" + std::to_string(i), kT0 + i));
        EXPECT_TRUE(r.ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store_->Report({}, {})->total.requests, 200);
}

TEST_F(UsageStoreTest, GroupCommitKeepsEachRecordsOwnOutcome) {
  // Appends race so that they share transactions; a duplicate in the same batch is refused
  // alone and every other record lands.
  Append(MakeRecord("dup", kT0));
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([this, t, &refused] {
      for (int i = 0; i < 25; ++i) {
        std::string id =
            (i == 7 && t % 2 == 0) ? "dup" : std::to_string(t) + "/" + std::to_string(i);
        auto r = store_->Append(MakeRecord(id, kT0 + i, "m1", 10, 5));
        if (!r.ok()) {
          EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
          ++refused;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(refused.load(), 4);
  auto total = store_->Report({}, {})->total;
  EXPECT_EQ(total.requests, 1 + 8 * 25 - 4);
  EXPECT_EQ(total.output_tokens, 500 + (8 * 25 - 4) * 5);
}

TEST_F(UsageStoreTest, ReopenKeepsRecordsPricesAndSettings) {
  ASSERT_TRUE(store_->AddPrice(MakePrice("m1", "*", 1, 1, 0)).ok());
  Append(MakeRecord("a", kT0));
  store_.reset();
  auto reopened = UsageStore::Open(Path("usage.db"));
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->List({}, 0)->size(), 1u);
  EXPECT_EQ((*reopened)->ListPrices()->size(), 1u);
  EXPECT_TRUE((*reopened)->CheckIntegrity().ok());
  reopened->reset();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(Path("usage.db").c_str(), &db), SQLITE_OK);
  auto query = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK);
    std::string v;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      v = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return v;
  };
  EXPECT_EQ(query("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query("PRAGMA user_version"), "2");
  sqlite3_close(db);
}

TEST_F(UsageStoreTest, UpgradesAVersion1DatabaseKeepingItsRecords) {
  store_.reset();
  const std::string path = Path("v1.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  // The schema as version 1 shipped it (before image steps and the prompt used).
  const char* v1 = R"sql(
CREATE TABLE usage_records (request_id TEXT PRIMARY KEY, timestamp_ms INTEGER NOT NULL,
  day TEXT NOT NULL, account_id TEXT NOT NULL, user_id TEXT NOT NULL, key_id TEXT NOT NULL,
  region TEXT NOT NULL, model_id TEXT NOT NULL, operation TEXT NOT NULL, source TEXT NOT NULL,
  app_id TEXT NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL, images INTEGER NOT NULL, image_size TEXT NOT NULL,
  image_quality TEXT NOT NULL, first_byte_ms INTEGER NOT NULL, latency_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL, cost_nanos INTEGER NOT NULL, price_version INTEGER NOT NULL) STRICT;
CREATE TABLE prices (version INTEGER PRIMARY KEY, model_id TEXT NOT NULL, region TEXT NOT NULL,
  input_per_1k_tokens REAL NOT NULL, output_per_1k_tokens REAL NOT NULL,
  effective_from_ms INTEGER NOT NULL) STRICT;
CREATE TABLE price_images (version INTEGER NOT NULL REFERENCES prices(version),
  image_key TEXT NOT NULL, price REAL NOT NULL, PRIMARY KEY (version, image_key)) STRICT;
INSERT INTO usage_records VALUES ('old', 1717000000000, '2024-05-29', 'acct', 'u', 'k',
  'us-east-1', 'img', 'InvokeModel', 'api', '', 0, 0, 0, 2, '512x512', 'standard', 0, 10,
  'success', 16000000, 0);
PRAGMA user_version = 1;
)sql";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = UsageStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto records = (*store)->List(UsageFilter{}, 0);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].images, 2);
  EXPECT_EQ((*records)[0].image_steps, 0);
  EXPECT_EQ((*records)[0].prompt_used, "");
  UsageRecord next = MakeRecord("new", kT0, "img", 0, 0);
  next.images = 1;
  next.image_steps = 4;
  next.prompt_used = "a fox";
  ASSERT_TRUE((*store)->Append(next).ok());
  records = (*store)->List(UsageFilter{}, 0);
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[1].image_steps, 4);
  EXPECT_EQ((*records)[1].prompt_used, "a fox");
}

bool ReadInt(int fd, int32_t& v) {
  size_t got = 0;
  auto* p = reinterpret_cast<char*>(&v);
  while (got < sizeof(v)) {
    ssize_t n = ::read(fd, p + got, sizeof(v) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

// A child appends records and reports each Append that returned; the parent kills it (or it
// _exits without closing the store), then every reported record must be in the reopened file.
void RunCrashingWriter(const std::string& path, int total, int kill_after, bool sigkill) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::fflush(nullptr);  // or the child's copy of buffered output may be printed twice
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto store = UsageStore::Open(path);
    if (!store.ok()) ::_exit(2);
    for (int32_t i = 0; i < total; ++i) {
      if (!(*store)->Append(MakeRecord("crash-" + std::to_string(i), kT0 + i)).ok()) ::_exit(3);
      if (::write(fds[1], &i, sizeof(i)) != sizeof(i)) ::_exit(4);
    }
    ::_exit(0);  // no destructors: the connection is never closed
  }
  ::close(fds[1]);
  std::set<int32_t> acked;
  int32_t v = 0;
  while ((sigkill ? static_cast<int>(acked.size()) < kill_after : true) && ReadInt(fds[0], v)) {
    acked.insert(v);
  }
  if (sigkill) ::kill(pid, SIGKILL);
  while (ReadInt(fds[0], v)) acked.insert(v);  // acks written before the kill
  ::close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  if (sigkill) {
    ASSERT_TRUE(WIFSIGNALED(wstatus) || (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0));
  } else {
    ASSERT_TRUE(WIFEXITED(wstatus));
    ASSERT_EQ(WEXITSTATUS(wstatus), 0);
    ASSERT_EQ(static_cast<int>(acked.size()), total);
  }
  ASSERT_GE(static_cast<int>(acked.size()), std::min(kill_after, total));

  auto store = UsageStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE((*store)->CheckIntegrity().ok());
  auto records = (*store)->List({}, 0);
  ASSERT_TRUE(records.ok());
  std::set<std::string> present;
  for (const UsageRecord& r : *records) present.insert(r.request_id);
  for (int32_t i : acked) {
    EXPECT_TRUE(present.count("crash-" + std::to_string(i)))
        << "acknowledged record " << i << " was lost";
  }
  // At most the one in flight at the kill is there without an acknowledgement.
  EXPECT_LE(present.size(), acked.size() + 1);
}

TEST_F(UsageStoreTest, AcknowledgedAppendsSurviveSigkill) {
  store_.reset();
  RunCrashingWriter(Path("crash.db"), 100000, 150, /*sigkill=*/true);
}

TEST_F(UsageStoreTest, AppendsSurviveExitWithoutClose) {
  store_.reset();
  RunCrashingWriter(Path("exit.db"), 60, 60, /*sigkill=*/false);
}

// Issue 7: `basalt usage report` marked a live invocation's checkpoint interrupted, and its
// final record then failed to write (under-billing).
TEST_F(UsageStoreTest, ReadOnlyStoreNeverChangesRecords) {
  ASSERT_TRUE(store_->Checkpoint(MakeRecord("live", kT0, "m1", 10, 3)).ok());
  {
    auto ro = UsageStore::Open(Path("usage.db"), /*read_only=*/true);
    ASSERT_TRUE(ro.ok()) << ro.status().ToString();
    auto report = (*ro)->Report(UsageFilter{}, {"outcome"});
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->total.requests, 1);
    EXPECT_EQ((*ro)->Append(MakeRecord("x", kT0)).status().code(), StatusCode::kFailedPrecondition);
    EXPECT_FALSE((*ro)->MarkInterrupted().ok());
  }
  EXPECT_EQ(UsageStore::Open(Path("missing.db"), true).status().code(), StatusCode::kNotFound);
  auto rows = store_->List(UsageFilter{}, 0);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].outcome, "in_progress");
  Append(MakeRecord("live", kT0 + 1, "m1", 10, 7));
}

TEST_F(UsageStoreTest, FinalRecordReplacesAnInterruptedCheckpoint) {
  ASSERT_TRUE(store_->Checkpoint(MakeRecord("r", kT0, "m1", 10, 3)).ok());
  ASSERT_TRUE(store_->MarkInterrupted().ok());
  Append(MakeRecord("r", kT0 + 1, "m1", 10, 8));
  auto rows = store_->List(UsageFilter{}, 0);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].outcome, "success");
  EXPECT_EQ((*rows)[0].output_tokens, 8);
}

TEST_F(UsageStoreTest, CheckpointsAndAppendsShareGroupCommit) {
  constexpr int kThreads = 8, kPer = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        std::string id = "g" + std::to_string(t) + "-" + std::to_string(i);
        if (!store_->Checkpoint(MakeRecord(id, kT0, "m1", 10, 1)).ok()) ++failures;
        if (!store_->Checkpoint(MakeRecord(id, kT0, "m1", 10, 2)).ok()) ++failures;
        if (!store_->Append(MakeRecord(id, kT0 + 1, "m1", 10, 3)).ok()) ++failures;
        // A checkpoint that arrives after the final record is refused, never replaces it.
        if (store_->Checkpoint(MakeRecord(id, kT0, "m1", 10, 1)).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto report = store_->Report(UsageFilter{}, {"outcome"});
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->rows.size(), 1u);
  EXPECT_EQ(report->rows[0].group.at("outcome"), "success");
  EXPECT_EQ(report->total.requests, kThreads * kPer);
  EXPECT_EQ(report->total.output_tokens, kThreads * kPer * 3);
}

// Issue 7: what a full disk does in the middle of a batch: every record either is durable
// and reported written, or is reported failed; nothing half-written; writes resume after.
TEST_F(UsageStoreTest, FullDiskInTheMiddleOfABatch) {
  Append(MakeRecord("before", kT0));
  ASSERT_TRUE(store_->LimitSizeForTest(2).ok());
  constexpr int kThreads = 8, kPer = 20;
  std::mutex mu;
  std::set<std::string> written, refused;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        std::string id = "full" + std::to_string(t) + "-" + std::to_string(i);
        UsageRecord r = MakeRecord(id, kT0 + i, std::string(300, 'm'));
        auto st = store_->Append(r);
        std::lock_guard lock(mu);
        (st.ok() ? written : refused).insert(id);
        if (!st.ok()) {
          EXPECT_NE(st.status().code(), StatusCode::kAlreadyExists);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(refused.empty()) << "the cap should have been reached";
  ASSERT_TRUE(store_->CheckIntegrity().ok());
  auto rows = store_->List(UsageFilter{}, 0);
  ASSERT_TRUE(rows.ok());
  std::set<std::string> on_disk;
  for (const auto& r : *rows) on_disk.insert(r.request_id);
  for (const auto& id : written) EXPECT_TRUE(on_disk.count(id)) << id << " reported written";
  for (const auto& id : refused) EXPECT_FALSE(on_disk.count(id)) << id << " reported refused";
  ASSERT_TRUE(store_->LimitSizeForTest(0).ok());
  Append(MakeRecord("after", kT0));
}

}  // namespace
}  // namespace basalt::metering
