// /healthz's body. The process answering says it serves HTTP; the storage
// member says whether the engine's last store round trip (lease sync or
// append) got through, so that a load balancer stops sending writes to a
// node that can only answer 503 to them.
#include <string>

#include "tools/cli/json_writer.h"
#include "webhookd/api.h"

namespace webhookd {

std::string RenderHealth(const hooklog::EngineStats& stats,
                         std::string_view node_id, int* http_status) {
  *http_status = stats.storage_reachable ? 200 : 503;
  hooklog::cli::JsonWriter w;
  w.BeginObject();
  w.Key("status").String(stats.storage_reachable ? "ok" : "unavailable");
  w.Key("storage").String(stats.storage_reachable ? "reachable"
                                                  : "unreachable");
  if (!node_id.empty()) {
    w.Key("node_id").String(node_id);
    w.Key("partitions_owned").Uint(stats.partitions_owned);
  }
  w.EndObject();
  return std::move(w).Take();
}

}  // namespace webhookd
