#include "webhookd/operator_notifier.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "hooklog/rocksdb_storage.h"
#include "tools/cli/json_writer.h"
#include "webhookd/log.h"

namespace webhookd {

using hooklog::cli::JsonWriter;

hooklog::Result<std::unique_ptr<OperatorNotifier>> OperatorNotifier::Start(
    const std::string& data_dir, const std::string& url,
    hooklog::EngineOptions options) {
  const std::string dir = data_dir + "/operator";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return hooklog::Status::IOError("cannot create " + dir + ": " +
                                    ec.message());
  }
  auto storage = hooklog::OpenRocksDbStorage(dir);
  if (!storage.ok()) return storage.status();
  options.on_operational_event = nullptr;  // no notifications about itself
  auto engine = hooklog::OpenEngine(std::move(*storage), options);
  if (!engine.ok()) return engine.status();
  auto n = std::make_unique<OperatorNotifier>();
  n->engine_ = std::move(*engine);

  // One endpoint, kept across restarts; its URL follows the flag.
  auto list = n->engine_->ListEndpoints(hooklog::EndpointQuery{}).get();
  if (!list.ok()) return list.status();
  hooklog::Endpoint ep;
  if (list->items.empty()) {
    auto created = n->engine_->CreateEndpoint({.url = url}).get();
    if (!created.ok()) return created.status();
    ep = *created;
  } else {
    ep = list->items.front();
    if (ep.url != url) {
      hooklog::EndpointUpdate u;
      u.url = url;
      auto updated = n->engine_->UpdateEndpoint(ep.id, u).get();
      if (!updated.ok()) return updated.status();
      ep = *updated;
    }
  }
  const std::string secret_path = dir + "/SIGNING_SECRET";
  {
    std::ofstream f(secret_path, std::ios::trunc);
    f << ep.secrets.front().secret << "\n";
    if (!f) return hooklog::Status::IOError("cannot write " + secret_path);
  }
  ::chmod(secret_path.c_str(), 0600);
  Log(LogLevel::kInfo, "operator notifications enabled",
      {{"url", url}, {"secret_file", secret_path}});
  return n;
}

void LogOperationalEvent(const hooklog::OperationalEvent& event) {
  // A delivery that succeeded after failures is routine under a flaky
  // receiver; the others are rare and each needs an operator's attention.
  const LogLevel level =
      event.kind == hooklog::OperationalEvent::Kind::kDeliveryRecovered
          ? LogLevel::kDebug
          : LogLevel::kInfo;
  if (!LogEnabled(level)) return;
  const std::string_view msg = hooklog::OperationalEventKindName(event.kind);
  const std::string reason = event.reason.empty() ? "-" : event.reason;
  if (event.delivery_id) {
    Log(level, msg,
        {{"endpoint_id", event.endpoint_id.ToString()},
         {"delivery_id", event.delivery_id->ToString()},
         {"reason", reason}});
  } else {
    Log(level, msg,
        {{"endpoint_id", event.endpoint_id.ToString()}, {"reason", reason}});
  }
}

void OperatorNotifier::Notify(const hooklog::OperationalEvent& event) {
  JsonWriter w;
  w.BeginObject();
  w.Key("kind").String(hooklog::OperationalEventKindName(event.kind));
  w.Key("endpoint_id").String(event.endpoint_id.ToString());
  w.Key("delivery_id");
  if (event.delivery_id) {
    w.String(event.delivery_id->ToString());
  } else {
    w.Null();
  }
  w.Key("reason").String(event.reason);
  w.Key("at").String(hooklog::FormatIso8601(event.at));
  w.EndObject();
  std::string type =
      "hooklog." + std::string(hooklog::OperationalEventKindName(event.kind));
  engine_->Publish({type, std::move(w).Take(), ""},
                   [type](hooklog::Result<hooklog::PublishResult> r) {
                     if (!r.ok()) {
                       Log(LogLevel::kWarn, "operator notification lost",
                           {{"type", type}, {"error", r.status().ToString()}});
                     }
                   });
}

void OperatorNotifier::Stop(std::chrono::milliseconds drain) {
  if (engine_) engine_->Shutdown(drain);
}

}  // namespace webhookd
