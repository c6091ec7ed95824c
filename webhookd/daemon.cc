#include "webhookd/daemon.h"

#include <algorithm>
#include <utility>

#include "hooklog/rocksdb_storage.h"
#ifdef WEBHOOKD_WITH_POSTGRES
#include "hooklog/postgres_storage.h"
#endif
#include "webhookd/api.h"
#include "webhookd/log.h"
#include "webhookd/operator_notifier.h"
#include "webhookd/portal_assets.h"
#include "webhookd/server.h"

namespace webhookd {
namespace {

hooklog::Result<std::unique_ptr<hooklog::Storage>> OpenStorage(
    const Config& c) {
  if (c.storage.empty()) {
    hooklog::RocksDbOptions ropts;
    ropts.sync = c.fsync;
    return hooklog::OpenRocksDbStorage(c.data_dir, ropts);
  }
#ifdef WEBHOOKD_WITH_POSTGRES
  hooklog::PostgresOptions popts;
  popts.schema = c.storage_schema;
  // Shared: every node on the schema is a member of one cluster, and the
  // partition leases decide who attempts what (docs/webhookd.md).
  popts.exclusive = false;
  // The same retention as the embedded store's defaults: terminal
  // deliveries go after 30 days, checked every minute, by every node (the
  // passes skip each other's rows: docs/postgres.md, "Retention").
  const hooklog::RocksDbOptions embedded;
  popts.retention = embedded.retention;
  popts.prune_interval = embedded.prune_interval;
  return hooklog::OpenPostgresStorage(c.storage, popts);
#else
  return hooklog::Status::FailedPrecondition(
      "--storage: this webhookd was built without PostgreSQL support "
      "(HOOKLOG_WITH_POSTGRES, libpq)");
#endif
}

}  // namespace

hooklog::Result<std::unique_ptr<Daemon>> Daemon::Start(Config config) {
  std::unique_ptr<Daemon> d(new Daemon());
  d->config_ = std::move(config);
  const Config& c = d->config_;

  auto storage = OpenStorage(c);
  if (!storage.ok()) return storage.status();
  std::unique_ptr<hooklog::Storage> store = std::move(*storage);
  if (c.wrap_storage) store = c.wrap_storage(std::move(store));

  hooklog::EngineOptions eopts;
  if (!c.retry_schedule.empty()) eopts.retry.schedule = c.retry_schedule;
  if (c.attempt_timeout) eopts.attempt_timeout = *c.attempt_timeout;
  eopts.transport.allow_private_targets = c.allow_private_targets;
  eopts.threads = c.engine_threads;
  if (c.auto_disable_after) eopts.auto_disable_after = *c.auto_disable_after;
  if (c.circuit_failures) {
    eopts.circuit_breaker.enabled = *c.circuit_failures != 0;
    if (*c.circuit_failures != 0) {
      eopts.circuit_breaker.consecutive_failures = *c.circuit_failures;
    }
  }
  if (!c.storage.empty()) {
    // Always a cluster on PostgreSQL, of one node or more: leases cost a
    // round trip every ttl / 3 and let another node join at any time.
    eopts.cluster.node_id = c.node_id;
    eopts.cluster.partitions = c.partitions;
    eopts.cluster.lease_ttl = c.lease_ttl;
  }
  if (c.circuit_open_for) {
    eopts.circuit_breaker.open_for = *c.circuit_open_for;
    eopts.circuit_breaker.max_open_for =
        std::max(eopts.circuit_breaker.max_open_for, *c.circuit_open_for);
  }
  if (!c.operator_url.empty() && !c.storage.empty()) {
    // ParseArgs refuses this; the notifier's outbox is RocksDB in data_dir.
    return hooklog::Status::InvalidArgument(
        "--operator-url is not supported with --storage yet");
  }
  if (!c.operator_url.empty()) {
    hooklog::EngineOptions nopts = eopts;
    nopts.threads = 1;
    auto notifier = OperatorNotifier::Start(c.data_dir, c.operator_url, nopts);
    if (!notifier.ok()) return notifier.status();
    d->notifier_ = std::move(*notifier);
  }
  // Every operational event is logged (a dead letter or an opened circuit
  // must be visible at the default level), and notified when configured.
  eopts.on_operational_event =
      [n = d->notifier_.get()](const hooklog::OperationalEvent& e) {
        LogOperationalEvent(e);
        if (n) n->Notify(e);
      };
  auto engine = hooklog::OpenEngine(std::move(store), eopts);
  if (!engine.ok()) return engine.status();
  d->engine_ = std::move(*engine);

  ApiOptions aopts;
  aopts.api_keys = c.api_keys;
  aopts.allow_private_targets = c.allow_private_targets;
  aopts.default_max_in_flight = eopts.default_max_in_flight;
  aopts.circuit_breaker = eopts.circuit_breaker;
  aopts.auto_disable_after = eopts.auto_disable_after;
  aopts.public_url = c.public_url;
  aopts.ui_enabled = c.ui_enabled;
  aopts.portal_assets = PortalAssets();
  aopts.node_id = eopts.cluster.node_id;
  d->api_ = std::make_unique<Api>(d->engine_.get(), std::move(aopts));

  ServerOptions sopts;
  sopts.host = c.listen_host;
  sopts.port = c.listen_port;
  // Room for the largest payload plus the event envelope around it.
  sopts.max_body_bytes = eopts.max_payload_bytes + 64 * 1024;
  sopts.read_timeout = c.read_timeout;
  // Send-test and replay wait for one attempt: never cut them short.
  sopts.request_deadline = std::max(
      c.request_deadline, eopts.attempt_timeout + eopts.connect_timeout +
                              std::chrono::milliseconds(15000));
  auto server =
      Server::Start(d->engine_->io_context(), d->api_.get(), std::move(sopts));
  if (!server.ok()) return server.status();
  d->server_ = std::move(*server);
  if (c.public_url.empty()) d->api_->SetPublicUrl(d->url());
  return d;
}

Daemon::~Daemon() { Stop(); }

std::string Daemon::host() const { return server_->host(); }
uint16_t Daemon::port() const { return server_->port(); }

std::string Daemon::url() const {
  std::string h = host();
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return "http://" + h + ":" + std::to_string(port());
}

void Daemon::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // Order matters: stop accepting first; the engine's Shutdown then drains
  // attempts (requests still being served get 503) and stops the io_context
  // the server runs on; only then may the server be destroyed.
  if (server_) server_->Stop();
  if (engine_) engine_->Shutdown(config_.drain);
  // The main engine may notify until its Shutdown returns.
  if (notifier_) notifier_->Stop(config_.drain);
  server_.reset();
  engine_.reset();
  api_.reset();
  notifier_.reset();
}

}  // namespace webhookd
