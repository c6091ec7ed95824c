#include "tools/load/report.h"

#include <cmath>
#include <cstdio>
#include <string_view>

#include "tools/cli/json_writer.h"

namespace hooklog::load {
namespace {

Figure Ratio(const Figure& a, const std::optional<CeilingResult>& c) {
  if (!a || !c || !c->ran || c->per_s <= 0) return std::nullopt;
  return *a / c->per_s;
}

std::string F(const Figure& v, int prec = 1) {
  if (!v) return "-";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, *v);
  return b;
}

std::string U(const Count& v) { return v ? std::to_string(*v) : "-"; }

// "  <label padded to 34 columns> <value>"; the label may hold UTF-8
// ("→", "µ"), so columns are counted as code points, not bytes.
void Row(std::string_view k, const std::string& v) {
  size_t columns = 0;
  for (char c : k) columns += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  const std::string pad(columns < 34 ? 34 - columns : 0, ' ');
  std::printf("  %.*s%s %s\n", int(k.size()), k.data(), pad.c_str(), v.c_str());
}

std::string CeilingText(const std::optional<CeilingResult>& c,
                        const std::string& why_not, bool with_non_2xx) {
  if (!c) return "not measured: " + why_not;
  if (!c->ran) return "not run: " + c->note;
  std::string s = F(c->per_s, 0) + "  (p50 " + F(c->p50_ms, 2) + " ms, p99 " +
                  F(c->p99_ms, 2) + " ms, ";
  if (with_non_2xx) s += "non-2xx " + std::to_string(c->non_2xx) + ", ";
  return s + "errors " + std::to_string(c->errors) + ")";
}

void PrintRestart(const Report& r) {
  Row("log events", U(r.restart_events));
  Row("non-terminal deliveries", U(r.restart_active));
  Row("store size (MiB)", F(r.store_mb));
  Row("fill time (s, sync off)", F(r.fill_s, 2));
  Row("restart: open→publish acked (s)", F(r.restart_s, 3));
  Row("second restart (s)", F(r.restart_again_s, 3));
  Figure fill_rate;
  if (r.fill_s && *r.fill_s > 0 && r.restart_events) {
    fill_rate = double(*r.restart_events) / *r.fill_s;
  }
  Row("fill rate (events/s)", F(fill_rate, 0));
  Row("peak RSS (MiB, this process)", F(r.peak_rss_mb));
}

void PrintDelivery(const Report& r) {
  Row("storage / nodes", r.storage + " / " + U(r.nodes));
  Row("events published", U(r.events));
  Row("endpoints / concurrency", U(r.endpoints) + " / " + U(r.concurrency));
  Row("deliveries acknowledged", U(r.deliveries));
  Row("delivered / dead_letter / lost",
      U(r.delivered) + " / " + U(r.dead_letter) + " / " + U(r.lost));
  Row("publish errors", U(r.publish_errors));
  Row("attempts ok / failed / 429", U(r.attempts_ok) + " / " +
                                        U(r.attempts_failed) + " / " +
                                        U(r.attempts_rate_limited));
  Row("elapsed (s)", F(r.elapsed_s, 2));
  Row("publish acks/s", F(r.publish_per_s, 0));
  Row("END TO END deliveries/s", F(r.deliveries_per_s, 0));
  Row("ack→delivered p50/p99/p99.9 (ms)",
      F(r.p50_ms) + " / " + F(r.p99_ms) + " / " + F(r.p999_ms));
  Row("publish call→ack p50/p99 (ms)",
      F(r.publish_ack_p50_ms, 2) + " / " + F(r.publish_ack_p99_ms, 2));
  Row("max in flight seen (engine)", U(r.max_in_flight));
  Row("peak RSS (MiB, engine proc)", F(r.peak_rss_mb));
  Row("CPU seconds (engine proc)", F(r.cpu_s, 2));
  Row("CPU per delivery (µs, engine)", F(r.cpu_us_per_delivery, 1));
  Row("receiver RSS (MiB) / CPU s",
      F(r.receiver_rss_mb) + " / " + F(r.receiver_cpu_s, 2));
  Row("wrk req/s (same receiver)", CeilingText(r.wrk, r.ceilings_note, true));
  Row("bare curl-multi loop req/s (" + U(r.curl_handles) + " handles)",
      CeilingText(r.curl, r.ceilings_note, false));
  if (r.curl_one_handle) {
    Row("bare curl-multi loop req/s (1 handle)",
        CeilingText(r.curl_one_handle, r.ceilings_note, false));
  }
  Row("ratio engine / wrk", F(r.RatioWrk(), 2));
  Row("ratio engine / curl loop", F(r.RatioCurl(), 2));
  if (!r.receiver_counters.empty()) Row("receiver", r.receiver_counters);
}

// Figures are measured to far fewer digits than a double prints: three
// decimals keep every one of them (ms, s, ratios) and a line readable.
void Opt(cli::JsonWriter& w, const char* key, const Figure& v) {
  w.Key(key);
  if (v) {
    w.Double(std::round(*v * 1000) / 1000);
  } else {
    w.Null();
  }
}

void Opt(cli::JsonWriter& w, const char* key, const Count& v) {
  w.Key(key);
  if (v) {
    w.Uint(*v);
  } else {
    w.Null();
  }
}

Figure CeilingPerS(const std::optional<CeilingResult>& c) {
  if (!c || !c->ran) return std::nullopt;
  return c->per_s;
}

}  // namespace

Figure Report::RatioWrk() const { return Ratio(deliveries_per_s, wrk); }
Figure Report::RatioCurl() const { return Ratio(deliveries_per_s, curl); }

std::string ReportJson(const Report& r) {
  cli::JsonWriter w;
  w.BeginObject();
  w.Key("scenario").String(r.scenario);
  w.Key("storage").String(r.storage);
  Opt(w, "nodes", r.nodes);
  w.Key("receiver").String(r.receiver);
  w.Key("receiver_binary").OptString(r.receiver_binary);
  w.Key("machine").String(r.machine);
  w.Key("allocator").String(r.allocator);
  Opt(w, "events", r.events);
  Opt(w, "endpoints", r.endpoints);
  Opt(w, "concurrency", r.concurrency);
  Opt(w, "deliveries", r.deliveries);
  Opt(w, "delivered", r.delivered);
  Opt(w, "dead_letter", r.dead_letter);
  Opt(w, "lost", r.lost);
  Opt(w, "publish_errors", r.publish_errors);
  Opt(w, "elapsed_s", r.elapsed_s);
  Opt(w, "deliveries_per_s", r.deliveries_per_s);
  Opt(w, "publish_per_s", r.publish_per_s);
  Opt(w, "wrk_per_s", CeilingPerS(r.wrk));
  Opt(w, "curl_loop_per_s", CeilingPerS(r.curl));
  Opt(w, "curl_loop_handles", r.curl_handles);
  Opt(w, "curl_loop_one_handle_per_s", CeilingPerS(r.curl_one_handle));
  Opt(w, "ratio_wrk", r.RatioWrk());
  Opt(w, "ratio_curl", r.RatioCurl());
  Opt(w, "p50_ms", r.p50_ms);
  Opt(w, "p99_ms", r.p99_ms);
  Opt(w, "p999_ms", r.p999_ms);
  Opt(w, "peak_rss_mb", r.peak_rss_mb);
  Opt(w, "cpu_s", r.cpu_s);
  Opt(w, "cpu_us_per_delivery", r.cpu_us_per_delivery);
  Opt(w, "receiver_rss_mb", r.receiver_rss_mb);
  Opt(w, "receiver_cpu_s", r.receiver_cpu_s);
  Opt(w, "max_in_flight", r.max_in_flight);
  Opt(w, "restart_events", r.restart_events);
  Opt(w, "restart_active", r.restart_active);
  Opt(w, "store_mb", r.store_mb);
  Opt(w, "fill_s", r.fill_s);
  Opt(w, "restart_s", r.restart_s);
  Opt(w, "restart_again_s", r.restart_again_s);
  w.EndObject();
  return std::move(w).Take();
}

void PrintReport(const Report& r, bool json) {
  std::printf("hooklog-load  scenario=%s  %s  receiver=%s  allocator=%s\n",
              r.scenario.c_str(), r.machine.c_str(), r.receiver.c_str(),
              r.allocator.c_str());
  if (r.scenario == "restart") {
    PrintRestart(r);
  } else {
    PrintDelivery(r);
  }
  if (!r.note.empty()) Row("note", r.note);
  if (json) std::printf("%s\n", ReportJson(r).c_str());
  std::fflush(stdout);
}

}  // namespace hooklog::load
