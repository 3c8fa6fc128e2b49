// Prometheus metrics with the CloudWatch AWS/Bedrock names, labelled by model, plus engine
// gauges. Rendered in the text exposition format for GET /metrics.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace basalt::metering {

struct InvocationSample {
  std::string model_id;
  int64_t latency_ms = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t images = 0;
  // One of: success, client_error (4xx except throttling), server_error (5xx), throttled.
  std::string outcome;
};

struct EngineGauge {
  std::string model;
  int queued = 0;
  int busy_slots = 0;
  int total_slots = 0;
  double kv_cache_used_ratio = 0;
  double tokens_per_second = 0;
};

class Metrics {
 public:
  // Counts Invocations, InvocationLatency (histogram, ms), InvocationClientErrors,
  // InvocationServerErrors, InvocationThrottles, InputTokenCount, OutputTokenCount,
  // OutputImageCount (names prefixed "bedrock_", label model_id).
  void Record(const InvocationSample& sample);
  // Called at render time for the engine gauges (queue depth, busy slots, KV use, tokens/s).
  void SetGaugeSource(std::function<std::vector<EngineGauge>()> source);
  std::string RenderPrometheus() const;

  // Distinct model_id labels kept; later ones are counted under kOverflowLabel.
  static constexpr size_t kMaxModelLabels = 256;
  static constexpr const char* kOverflowLabel = "other";

  // Upper bounds (ms, inclusive) of the latency histogram buckets; +Inf follows.
  static constexpr std::array<int64_t, 14> kLatencyBucketsMs = {
      10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000};

 private:
  struct ModelStats {
    int64_t invocations = 0;
    int64_t client_errors = 0;
    int64_t server_errors = 0;
    int64_t throttles = 0;
    int64_t input_tokens = 0;
    int64_t output_tokens = 0;
    int64_t images = 0;
    int64_t latency_sum_ms = 0;
    int64_t latency_count = 0;
    std::array<int64_t, kLatencyBucketsMs.size() + 1> latency_buckets{};  // not cumulative
  };

  mutable std::mutex mu_;
  std::map<std::string, ModelStats> models_;
  std::function<std::vector<EngineGauge>()> gauge_source_;
};

}  // namespace basalt::metering
