#include "engine/scheduler.h"

#include <algorithm>

namespace hooklog {
namespace {

// Most deliveries handed out per timer tick before yielding the strand, so
// that host calls are not starved by a large backlog.
constexpr size_t kMaxDispatchPerTick = 4096;

}  // namespace

Scheduler::Scheduler(EngineContext* ctx, Metrics* metrics, Handler* handler)
    : ctx_(ctx), metrics_(metrics), handler_(handler), timer_(ctx->strand) {}

void Scheduler::Schedule(const DeliveryId& id, Timestamp* slot, Timestamp at) {
  Unschedule(id, slot);
  if (at == 0) at = ctx_->Now();
  *slot = at;
  due_.insert({at, id});
  metrics_->SetDueDepth(due_.size());
  ArmNoLaterThan(at);
}

void Scheduler::Unschedule(const DeliveryId& id, Timestamp* slot) {
  if (*slot == 0) return;
  due_.erase({*slot, id});
  *slot = 0;
  metrics_->SetDueDepth(due_.size());
}

void Scheduler::WakeAt(const EndpointId& eid, Timestamp* slot, Timestamp at) {
  if (*slot != 0 && *slot <= at) return;
  if (*slot != 0) wakeups_.erase({*slot, eid});
  *slot = at;
  wakeups_.insert({at, eid});
  ArmNoLaterThan(at);
}

void Scheduler::ArmTimer(Timestamp at) {
  timer_at_ = at;
  const Timestamp now = ctx_->Now();
  timer_.expires_after(
      std::chrono::microseconds(std::max<Timestamp>(0, at - now)));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    OnTimer();
  });
}

void Scheduler::OnTimer() {
  if (ctx_->aborting) return;
  timer_at_ = 0;
  const Timestamp now = ctx_->Now();
  // Endpoints first: a woken endpoint's ready deliveries were due earlier
  // than the ones falling due now.
  while (!wakeups_.empty() && wakeups_.begin()->first <= now) {
    const EndpointId eid = wakeups_.begin()->second;
    wakeups_.erase(wakeups_.begin());
    handler_->OnEndpointWake(eid);
  }
  size_t n = 0;
  while (!due_.empty() && due_.begin()->first <= now) {
    if (++n > kMaxDispatchPerTick) {
      boost::asio::post(ctx_->strand, [this] { OnTimer(); });
      return;
    }
    const DeliveryId id = due_.begin()->second;
    due_.erase(due_.begin());
    metrics_->SetDueDepth(due_.size());
    handler_->OnDeliveryDue(id);
  }
  Timestamp next = 0;
  if (!due_.empty()) next = due_.begin()->first;
  if (!wakeups_.empty() && (next == 0 || wakeups_.begin()->first < next)) {
    next = wakeups_.begin()->first;
  }
  if (next != 0) ArmTimer(next);
}

}  // namespace hooklog
