// OperatorNotifier: sends the engine's operational events (endpoint
// disabled, circuit opened/closed, delivery dead-lettered or recovered) to
// an operator URL as signed webhooks.
//
// It is a second, private hooklog engine with its own RocksDB store in
// <data-dir>/operator and a single endpoint, so operator notifications get
// the same durability, retries and signatures as customer webhooks without
// ever fanning out to customer endpoints. Event types are
// "hooklog.<kind>", e.g. "hooklog.endpoint.disabled". The endpoint's
// signing secret is written to <data-dir>/operator/SIGNING_SECRET (mode
// 0600) for the operator's receiver to verify with.
//
// Thread-safety: Notify() from any thread (it is the main engine's
// on_operational_event callback and never blocks).
#ifndef HOOKLOG_WEBHOOKD_OPERATOR_NOTIFIER_H_
#define HOOKLOG_WEBHOOKD_OPERATOR_NOTIFIER_H_

#include <memory>
#include <string>

#include "hooklog/engine.h"

namespace webhookd {

// Writes one log line for `event` (the event's kind as the message, then
// endpoint_id, delivery_id when there is one, and reason): at info for
// everything an operator must hear about (a dead letter, a circuit that
// opened or closed, an endpoint disabled), at debug for a delivery that
// recovered. webhookd calls it for every event, with or without an
// operator URL.
void LogOperationalEvent(const hooklog::OperationalEvent& event);

class OperatorNotifier {
 public:
  static hooklog::Result<std::unique_ptr<OperatorNotifier>> Start(
      const std::string& data_dir, const std::string& url,
      hooklog::EngineOptions options);

  void Notify(const hooklog::OperationalEvent& event);
  void Stop(std::chrono::milliseconds drain);

 private:
  std::unique_ptr<hooklog::Engine> engine_;
};

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_OPERATOR_NOTIFIER_H_
