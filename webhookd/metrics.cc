// Prometheus text exposition of EngineStats. Names follow Prometheus
// conventions: base units (seconds), _total for counters, one HELP and TYPE
// line per family.
#include <cstdio>
#include <string>

#include "webhookd/api.h"

namespace webhookd {
namespace {

void Family(std::string* out, const char* name, const char* type,
            const char* help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

void Sample(std::string* out, const std::string& name_and_labels,
            double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", value);
  *out += name_and_labels;
  *out += ' ';
  *out += buf;
  *out += '\n';
}

void Sample(std::string* out, const std::string& name_and_labels,
            uint64_t value) {
  *out += name_and_labels;
  *out += ' ';
  *out += std::to_string(value);
  *out += '\n';
}

}  // namespace

std::string RenderMetrics(const hooklog::EngineStats& s) {
  std::string out;
  Family(&out, "hooklog_deliveries", "gauge", "Deliveries by current status.");
  for (int i = 0; i < hooklog::kDeliveryStatusCount; ++i) {
    Sample(&out,
           "hooklog_deliveries{status=\"" +
               std::string(hooklog::DeliveryStatusName(
                   static_cast<hooklog::DeliveryStatus>(i))) +
               "\"}",
           s.deliveries_by_status[i]);
  }
  Family(&out, "hooklog_attempts_total", "counter",
         "Delivery attempts by outcome since start.");
  Sample(&out, "hooklog_attempts_total{outcome=\"ok\"}", s.attempts_ok);
  Sample(&out, "hooklog_attempts_total{outcome=\"failed\"}", s.attempts_failed);
  Sample(&out, "hooklog_attempts_total{outcome=\"rate_limited\"}",
         s.attempts_rate_limited);

  Family(&out, "hooklog_attempt_latency_seconds", "histogram",
         "Latency of delivery attempts since start.");
  // EngineStats keeps one count per bucket; Prometheus buckets are
  // cumulative.
  uint64_t cumulative = 0;
  for (int i = 0; i < hooklog::EngineStats::kLatencyBuckets; ++i) {
    cumulative += s.latency_buckets[i];
    char le[32];
    std::snprintf(le, sizeof(le), "%g",
                  hooklog::EngineStats::kLatencyBoundsMs[i] / 1000.0);
    Sample(&out,
           std::string("hooklog_attempt_latency_seconds_bucket{le=\"") + le +
               "\"}",
           cumulative);
  }
  cumulative += s.latency_buckets[hooklog::EngineStats::kLatencyBuckets];
  Sample(&out, "hooklog_attempt_latency_seconds_bucket{le=\"+Inf\"}",
         cumulative);
  Sample(&out, "hooklog_attempt_latency_seconds_sum",
         s.latency_sum_ms / 1000.0);
  Sample(&out, "hooklog_attempt_latency_seconds_count", cumulative);

  Family(&out, "hooklog_in_flight", "gauge", "Attempts in flight now.");
  Sample(&out, "hooklog_in_flight", s.in_flight);
  Family(&out, "hooklog_due_queue_depth", "gauge",
         "Non-terminal deliveries scheduled for an attempt.");
  Sample(&out, "hooklog_due_queue_depth", s.due_queue_depth);
  Family(&out, "hooklog_endpoints", "gauge", "Endpoints (not deleted).");
  Sample(&out, "hooklog_endpoints", s.endpoints);
  Family(&out, "hooklog_log_last_sequence", "gauge",
         "Sequence number of the newest event in the log.");
  Sample(&out, "hooklog_log_last_sequence", s.last_sequence);
  Family(&out, "hooklog_storage_append_latency_seconds", "summary",
         "Durable storage appends (group commits) and their total latency.");
  Sample(&out, "hooklog_storage_append_latency_seconds_sum",
         static_cast<double>(s.append_latency_us_total) / 1e6);
  Sample(&out, "hooklog_storage_append_latency_seconds_count", s.appends);
  return out;
}

}  // namespace webhookd
