// hooklog-load's report: the figures of one run, as a text table and as one
// JSON line (cli::JsonWriter). A figure that was not measured in this run
// (the receiver's RSS in-process, restart figures of a delivery scenario,
// ceilings skipped by --smoke or --no-ceilings, a ratio without its
// ceiling) is nullopt, printed "-" and written as JSON null, never 0.
//
// Thread-safety: a value.
#ifndef HOOKLOG_TOOLS_LOAD_REPORT_H_
#define HOOKLOG_TOOLS_LOAD_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "tools/load/ceilings.h"

namespace hooklog::load {

using Figure = std::optional<double>;
using Count = std::optional<uint64_t>;

struct Report {
  std::string scenario;
  std::string receiver;  // "child process" | "in-process" | "none (port 9)"
  std::optional<std::string> receiver_binary;
  std::string machine;
  std::string allocator;            // AllocatorName()
  std::string storage = "rocksdb";  // rocksdb | postgresql (--storage)
  Count nodes;                      // engines (cluster nodes) in the run
  // Delivery scenarios (throughput, slow, faulty).
  Count events, endpoints, concurrency;
  Count deliveries;  // acknowledged deliveries
  Count delivered, dead_letter, lost, publish_errors;
  Count attempts_ok, attempts_failed, attempts_rate_limited;
  Count max_in_flight;
  Figure elapsed_s, deliveries_per_s, publish_per_s;
  Figure p50_ms, p99_ms, p999_ms;
  Figure publish_ack_p50_ms, publish_ack_p99_ms;
  // The engine process (hooklog-load itself, without the receiver).
  Figure peak_rss_mb;
  Figure cpu_s;                // over the engine phase
  Figure cpu_us_per_delivery;  // cpu_s ÷ delivered, in µs
  Figure receiver_rss_mb, receiver_cpu_s;
  // Ceilings (when measured).
  // curl: the bare loop over as many multi handles as the transport uses
  // at this concurrency (curl_handles); curl_one_handle: the same loop on a
  // single handle, measured too when curl_handles > 1.
  std::optional<CeilingResult> wrk, curl, curl_one_handle;
  Count curl_handles;
  std::string ceilings_note;  // why they were not measured
  std::string receiver_counters;
  // Restart.
  Count restart_events, restart_active;
  Figure fill_s, restart_s, restart_again_s, store_mb;
  std::string note;

  // The engine's deliveries/s over a ceiling's req/s: nullopt unless both
  // were measured.
  Figure RatioWrk() const;
  Figure RatioCurl() const;
};

// The table, then (with `json`) one JSON line, on stdout.
void PrintReport(const Report& r, bool json);
std::string ReportJson(const Report& r);

}  // namespace hooklog::load

#endif  // HOOKLOG_TOOLS_LOAD_REPORT_H_
