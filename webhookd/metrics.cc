// Prometheus text exposition of EngineStats. Names follow Prometheus
// conventions: base units (seconds), _total for counters, one HELP and TYPE
// line per family.
#include <cstdio>
#include <string>
#include <string_view>

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

// A label value per the exposition format: backslash, quote and newline
// escaped.
std::string LabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// The cluster families: present only in cluster mode, where the node id
// names the series (an info metric, so that the other families keep their
// labels and a join adds the id where wanted).
void RenderCluster(std::string* out, const hooklog::EngineStats& s,
                   std::string_view node_id) {
  Family(out, "hooklog_node_info", "gauge",
         "This node's id in the cluster (always 1).");
  Sample(out, "hooklog_node_info{node_id=\"" + LabelValue(node_id) + "\"}",
         uint64_t{1});
  struct Series {
    const char* name;
    const char* type;
    const char* help;
    uint64_t value;
  };
  const Series series[] = {
      {"hooklog_cluster_partitions_owned", "gauge",
       "Partitions this node holds a lease on.", s.partitions_owned},
      {"hooklog_cluster_partitions", "gauge",
       "Partitions the endpoints are spread over.", s.partitions_total},
      {"hooklog_cluster_nodes", "gauge",
       "Live nodes in this node's last lease view.", s.cluster_nodes},
      {"hooklog_lease_syncs_total", "counter",
       "Lease round trips to the store that got through.", s.lease_syncs},
      {"hooklog_lease_sync_failures_total", "counter",
       "Lease round trips to the store that failed.", s.lease_sync_failures},
      {"hooklog_leases_acquired_total", "counter",
       "Partition leases granted to this node.", s.leases_acquired},
      {"hooklog_leases_released_total", "counter",
       "Partition leases given up on purpose (rebalance, stop).",
       s.leases_released},
      {"hooklog_leases_lost_total", "counter",
       "Partition leases lost: lapsed, taken over or fenced.", s.leases_lost},
      {"hooklog_fenced_appends_total", "counter",
       "Writes the store refused because a lease had been lost.",
       s.fenced_appends},
      {"hooklog_log_followed_events_total", "counter",
       "Other nodes' events read from the log.", s.log_followed},
  };
  for (const Series& x : series) {
    Family(out, x.name, x.type, x.help);
    Sample(out, x.name, x.value);
  }
}

}  // namespace

std::string RenderMetrics(const hooklog::EngineStats& s,
                          std::string_view node_id) {
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
  Family(&out, "hooklog_storage_reachable", "gauge",
         "1 when the last round trip to the store got through, else 0.");
  Sample(&out, "hooklog_storage_reachable",
         uint64_t{s.storage_reachable ? 1u : 0u});
  if (!node_id.empty()) RenderCluster(&out, s, node_id);
  return out;
}

}  // namespace webhookd
