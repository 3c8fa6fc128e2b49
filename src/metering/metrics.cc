// Prometheus text exposition (version 0.0.4) of the CloudWatch AWS/Bedrock runtime metrics.
#include "metering/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

namespace basalt::metering {
namespace {

// Label values escape backslash, double quote and line feed.
std::string EscapeLabel(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

void Header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void Sample(std::string& out, const std::string& name, const std::string& labels,
            const std::string& value) {
  out += name;
  out += '{';
  out += labels;
  out += "} ";
  out += value;
  out += '\n';
}

}  // namespace

void Metrics::Record(const InvocationSample& sample) {
  std::lock_guard lock(mu_);
  // Callers name models freely (aliases, ARNs, profiles): past kMaxModelLabels distinct
  // ids, new ones share one label so the page and the memory behind it stay bounded.
  auto it = models_.find(sample.model_id);
  if (it == models_.end()) {
    const bool full = models_.size() >= kMaxModelLabels;
    it = models_.try_emplace(full ? std::string(kOverflowLabel) : sample.model_id).first;
  }
  ModelStats& m = it->second;
  m.input_tokens += std::max<int64_t>(sample.input_tokens, 0);
  m.output_tokens += std::max<int64_t>(sample.output_tokens, 0);
  m.images += std::max<int64_t>(sample.images, 0);
  // Like CloudWatch: a throttled request is not an invocation (nor an error), and has no
  // invocation latency.
  if (sample.outcome == "throttled") {
    ++m.throttles;
    return;
  }
  ++m.invocations;
  if (sample.outcome == "client_error") ++m.client_errors;
  if (sample.outcome == "server_error") ++m.server_errors;
  const int64_t latency = std::max<int64_t>(sample.latency_ms, 0);
  auto bucket = std::lower_bound(kLatencyBucketsMs.begin(), kLatencyBucketsMs.end(), latency);
  ++m.latency_buckets[static_cast<size_t>(bucket - kLatencyBucketsMs.begin())];
  m.latency_sum_ms += latency;
  ++m.latency_count;
}

void Metrics::SetGaugeSource(std::function<std::vector<EngineGauge>()> source) {
  std::lock_guard lock(mu_);
  gauge_source_ = std::move(source);
}

std::string Metrics::RenderPrometheus() const {
  std::map<std::string, ModelStats> models;
  std::function<std::vector<EngineGauge>()> source;
  {
    std::lock_guard lock(mu_);
    models = models_;
    source = gauge_source_;
  }
  std::string out;
  struct Counter {
    const char* name;
    const char* help;
    int64_t ModelStats::* field;
  };
  const Counter counters[] = {
      {"bedrock_invocations_total",
       "Invocations (CloudWatch AWS/Bedrock): requests accepted for processing, including "
       "those that later failed; throttled requests are not counted.",
       &ModelStats::invocations},
      {"bedrock_invocation_client_errors_total",
       "InvocationClientErrors (CloudWatch AWS/Bedrock): invocations that ended in a "
       "client-side error.",
       &ModelStats::client_errors},
      {"bedrock_invocation_server_errors_total",
       "InvocationServerErrors (CloudWatch AWS/Bedrock): invocations that ended in a "
       "server-side error.",
       &ModelStats::server_errors},
      {"bedrock_invocation_throttles_total",
       "InvocationThrottles (CloudWatch AWS/Bedrock): requests refused by throttling.",
       &ModelStats::throttles},
      {"bedrock_input_token_count_total",
       "InputTokenCount (CloudWatch AWS/Bedrock): tokens in the input.", &ModelStats::input_tokens},
      {"bedrock_output_token_count_total",
       "OutputTokenCount (CloudWatch AWS/Bedrock): tokens in the output.",
       &ModelStats::output_tokens},
      {"bedrock_output_image_count_total",
       "OutputImageCount (CloudWatch AWS/Bedrock): images in the output.", &ModelStats::images},
  };
  for (const Counter& c : counters) {
    Header(out, c.name, "counter", c.help);
    for (const auto& [model, stats] : models) {
      Sample(out, c.name, "model_id=\"" + EscapeLabel(model) + "\"",
             std::to_string(stats.*c.field));
    }
  }

  const char* latency = "bedrock_invocation_latency_ms";
  Header(out, latency, "histogram",
         "InvocationLatency (CloudWatch AWS/Bedrock): milliseconds from the request to the last "
         "byte of the response.");
  for (const auto& [model, stats] : models) {
    const std::string label = "model_id=\"" + EscapeLabel(model) + "\"";
    int64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBucketsMs.size(); ++i) {
      cumulative += stats.latency_buckets[i];
      Sample(out, std::string(latency) + "_bucket",
             label + ",le=\"" + std::to_string(kLatencyBucketsMs[i]) + "\"",
             std::to_string(cumulative));
    }
    cumulative += stats.latency_buckets.back();
    Sample(out, std::string(latency) + "_bucket", label + ",le=\"+Inf\"",
           std::to_string(cumulative));
    Sample(out, std::string(latency) + "_sum", label, std::to_string(stats.latency_sum_ms));
    Sample(out, std::string(latency) + "_count", label, std::to_string(stats.latency_count));
  }

  // Called without the lock held: the source reaches into the engine.
  if (source) {
    std::vector<EngineGauge> gauges = source();
    std::sort(gauges.begin(), gauges.end(),
              [](const EngineGauge& a, const EngineGauge& b) { return a.model < b.model; });
    struct Gauge {
      const char* name;
      const char* help;
      double (*value)(const EngineGauge&);
    };
    const Gauge families[] = {
        {"basalt_engine_queue_depth", "Requests waiting for a free engine slot.",
         [](const EngineGauge& g) { return static_cast<double>(g.queued); }},
        {"basalt_engine_busy_slots", "Engine slots generating right now.",
         [](const EngineGauge& g) { return static_cast<double>(g.busy_slots); }},
        {"basalt_engine_total_slots", "Engine slots (parallel sequences) of the model.",
         [](const EngineGauge& g) { return static_cast<double>(g.total_slots); }},
        {"basalt_engine_kv_cache_used_ratio", "Fraction of the KV cache in use (0 to 1).",
         [](const EngineGauge& g) { return g.kv_cache_used_ratio; }},
        {"basalt_engine_tokens_per_second", "Recent generation throughput in tokens per second.",
         [](const EngineGauge& g) { return g.tokens_per_second; }},
    };
    for (const Gauge& f : families) {
      Header(out, f.name, "gauge", f.help);
      for (const EngineGauge& g : gauges) {
        Sample(out, f.name, "model=\"" + EscapeLabel(g.model) + "\"", FormatDouble(f.value(g)));
      }
    }
  }
  return out;
}

}  // namespace basalt::metering
