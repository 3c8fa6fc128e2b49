#include "metering/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <thread>

#include "metering/test_util.h"

namespace basalt::metering {
namespace {

// "name{labels}" -> value, and the # lines, from a rendering.
struct Parsed {
  std::map<std::string, std::string> samples;
  std::vector<std::string> comments;
};

Parsed Parse(const std::string& text) {
  Parsed p;
  for (const std::string& line : testing::Lines(text)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      p.comments.push_back(line);
      continue;
    }
    size_t space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    EXPECT_FALSE(p.samples.count(line.substr(0, space))) << "duplicate series " << line;
    p.samples[line.substr(0, space)] = line.substr(space + 1);
  }
  return p;
}

InvocationSample Sample(const std::string& model, int64_t latency, const std::string& outcome,
                        int64_t in = 0, int64_t out = 0, int64_t images = 0) {
  InvocationSample s;
  s.model_id = model;
  s.latency_ms = latency;
  s.outcome = outcome;
  s.input_tokens = in;
  s.output_tokens = out;
  s.images = images;
  return s;
}

TEST(MetricsTest, NamesHelpAndTypes) {
  Metrics m;
  m.Record(Sample("m1", 100, "success", 10, 20, 1));
  Parsed p = Parse(m.RenderPrometheus());
  const std::vector<std::pair<std::string, std::string>> families = {
      {"bedrock_invocations_total", "Invocations"},
      {"bedrock_invocation_latency_ms", "InvocationLatency"},
      {"bedrock_invocation_client_errors_total", "InvocationClientErrors"},
      {"bedrock_invocation_server_errors_total", "InvocationServerErrors"},
      {"bedrock_invocation_throttles_total", "InvocationThrottles"},
      {"bedrock_input_token_count_total", "InputTokenCount"},
      {"bedrock_output_token_count_total", "OutputTokenCount"},
      {"bedrock_output_image_count_total", "OutputImageCount"},
  };
  for (const auto& [name, cloudwatch] : families) {
    bool help = false, type = false;
    for (const std::string& c : p.comments) {
      if (c.rfind("# HELP " + name + " " + cloudwatch + " ", 0) == 0) help = true;
      if (c == "# TYPE " + name +
                   (name == "bedrock_invocation_latency_ms" ? " histogram" : " counter")) {
        type = true;
      }
    }
    EXPECT_TRUE(help) << name;
    EXPECT_TRUE(type) << name;
  }
  EXPECT_EQ(p.samples["bedrock_invocations_total{model_id=\"m1\"}"], "1");
  EXPECT_EQ(p.samples["bedrock_input_token_count_total{model_id=\"m1\"}"], "10");
  EXPECT_EQ(p.samples["bedrock_output_token_count_total{model_id=\"m1\"}"], "20");
  EXPECT_EQ(p.samples["bedrock_output_image_count_total{model_id=\"m1\"}"], "1");
  // No gauge source, no engine gauges.
  EXPECT_EQ(m.RenderPrometheus().find("basalt_engine"), std::string::npos);
}

TEST(MetricsTest, OutcomesFollowCloudWatch) {
  Metrics m;
  m.Record(Sample("m", 50, "success"));
  m.Record(Sample("m", 60, "client_error"));
  m.Record(Sample("m", 70, "server_error"));
  m.Record(Sample("m", 70, "server_error"));
  m.Record(Sample("m", 0, "throttled", 5));
  Parsed p = Parse(m.RenderPrometheus());
  // Throttled requests are neither invocations nor errors, and have no latency.
  EXPECT_EQ(p.samples["bedrock_invocations_total{model_id=\"m\"}"], "4");
  EXPECT_EQ(p.samples["bedrock_invocation_client_errors_total{model_id=\"m\"}"], "1");
  EXPECT_EQ(p.samples["bedrock_invocation_server_errors_total{model_id=\"m\"}"], "2");
  EXPECT_EQ(p.samples["bedrock_invocation_throttles_total{model_id=\"m\"}"], "1");
  EXPECT_EQ(p.samples["bedrock_invocation_latency_ms_count{model_id=\"m\"}"], "4");
  EXPECT_EQ(p.samples["bedrock_input_token_count_total{model_id=\"m\"}"], "5");
}

TEST(MetricsTest, HistogramIsConsistent) {
  Metrics m;
  const std::vector<int64_t> latencies = {0,    10,      11,      99,      100,      101,
                                          2500, 299'999, 300'000, 300'001, 1'000'000};
  int64_t sum = 0;
  for (int64_t l : latencies) {
    m.Record(Sample("m", l, "success"));
    sum += l;
  }
  Parsed p = Parse(m.RenderPrometheus());
  const std::string label = "model_id=\"m\"";
  int64_t previous = 0;
  for (int64_t bound : Metrics::kLatencyBucketsMs) {
    std::string key =
        "bedrock_invocation_latency_ms_bucket{" + label + ",le=\"" + std::to_string(bound) + "\"}";
    ASSERT_TRUE(p.samples.count(key)) << key;
    int64_t count = std::stoll(p.samples[key]);
    int64_t expected = 0;
    for (int64_t l : latencies) expected += l <= bound ? 1 : 0;  // le is inclusive
    EXPECT_EQ(count, expected) << key;
    EXPECT_GE(count, previous);
    previous = count;
  }
  const std::string inf = "bedrock_invocation_latency_ms_bucket{" + label + ",le=\"+Inf\"}";
  EXPECT_EQ(p.samples[inf], std::to_string(latencies.size()));
  EXPECT_EQ(p.samples["bedrock_invocation_latency_ms_count{" + label + "}"],
            std::to_string(latencies.size()));
  EXPECT_EQ(p.samples["bedrock_invocation_latency_ms_sum{" + label + "}"], std::to_string(sum));
}

TEST(MetricsTest, EscapesLabelValues) {
  Metrics m;
  m.Record(Sample("a\"b\\c\nd", 1, "success"));
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("bedrock_invocations_total{model_id=\"a\\\"b\\\\c\\nd\"} 1\n"),
            std::string::npos)
      << text;
  // No raw line break inside a sample line.
  for (const std::string& line : testing::Lines(text)) {
    EXPECT_FALSE(line.empty() || line == "d\"} 1") << "a label value broke a line";
  }
}

TEST(MetricsTest, EngineGaugesFromSource) {
  Metrics m;
  m.SetGaugeSource([] {
    EngineGauge a{"qwen", 3, 2, 4, 0.25, 41.5};
    EngineGauge b{"llama", 0, 0, 1, 0, 0};
    return std::vector<EngineGauge>{a, b};
  });
  Parsed p = Parse(m.RenderPrometheus());
  EXPECT_EQ(p.samples["basalt_engine_queue_depth{model=\"qwen\"}"], "3");
  EXPECT_EQ(p.samples["basalt_engine_busy_slots{model=\"qwen\"}"], "2");
  EXPECT_EQ(p.samples["basalt_engine_total_slots{model=\"qwen\"}"], "4");
  EXPECT_EQ(p.samples["basalt_engine_kv_cache_used_ratio{model=\"qwen\"}"], "0.25");
  EXPECT_EQ(p.samples["basalt_engine_tokens_per_second{model=\"qwen\"}"], "41.5");
  EXPECT_EQ(p.samples["basalt_engine_total_slots{model=\"llama\"}"], "1");
  for (const char* name :
       {"basalt_engine_queue_depth", "basalt_engine_busy_slots", "basalt_engine_total_slots",
        "basalt_engine_kv_cache_used_ratio", "basalt_engine_tokens_per_second"}) {
    bool type = false;
    for (const std::string& c : p.comments) type |= c == std::string("# TYPE ") + name + " gauge";
    EXPECT_TRUE(type) << name;
  }
}

TEST(MetricsTest, ConcurrentRecordsAllCount) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < 1000; ++i) {
        m.Record(Sample("m", i, "success", 1, 2));
        if (i % 100 == 0) m.RenderPrometheus();
      }
    });
  }
  for (auto& th : threads) th.join();
  Parsed p = Parse(m.RenderPrometheus());
  EXPECT_EQ(p.samples["bedrock_invocations_total{model_id=\"m\"}"], "4000");
  EXPECT_EQ(p.samples["bedrock_output_token_count_total{model_id=\"m\"}"], "8000");
}

// Issue 7: every distinct model id a caller sent (random ARNs) grew a label set.
TEST(MetricsTest, ModelLabelsAreBounded) {
  Metrics m;
  for (int i = 0; i < 5000; ++i) {
    m.Record({"arn:aws:bedrock:us-east-1::foundation-model/x" + std::to_string(i), 1, 1, 1, 0,
              "success"});
  }
  const std::string text = m.RenderPrometheus();
  size_t labels = 0;
  for (size_t pos = 0; (pos = text.find("bedrock_invocations_total{", pos)) != std::string::npos;
       ++pos) {
    ++labels;
  }
  EXPECT_LE(labels, Metrics::kMaxModelLabels + 1);
  EXPECT_NE(text.find("model_id=\"other\""), std::string::npos);
}

}  // namespace
}  // namespace basalt::metering
