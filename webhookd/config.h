// webhookd's configuration: command-line flags and HOOKLOG_* environment
// variables (docs/api.md "webhookd command line"), and `webhookd keygen`.
//
// A flag wins over its environment variable. Every value is validated here so
// that a bad flag fails with a clear message (exit 2) before anything opens.
//
// Thread-safety: pure functions over values.
#ifndef HOOKLOG_WEBHOOKD_CONFIG_H_
#define HOOKLOG_WEBHOOKD_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hooklog/clock.h"
#include "hooklog/storage.h"
#include "webhookd/log.h"

namespace webhookd {

struct Config {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  std::string data_dir = "./data";
  // "": the embedded RocksDB store in data_dir. Otherwise a postgresql:// or
  // postgres:// URI (a libpq conninfo): the PostgreSQL store, in the schema
  // storage_schema, shared by every node of the cluster.
  std::string storage;
  std::string storage_schema = "hooklog";
  // Cluster mode (hooklog::ClusterOptions): on whenever `storage` is set (a
  // single node is a cluster of one), never with RocksDB. ParseArgs fills
  // node_id with DefaultNodeId() when none is given.
  std::string node_id;
  hooklog::Duration lease_ttl = std::chrono::seconds(10);
  uint32_t partitions = 64;
  std::vector<std::string> api_keys;
  bool allow_private_targets = false;
  // Empty: the engine's default schedule.
  std::vector<hooklog::Duration> retry_schedule;
  std::optional<std::chrono::milliseconds> attempt_timeout;
  LogLevel log_level = LogLevel::kInfo;
  // Operational events (endpoint disabled, circuit opened/closed, delivery
  // dead-lettered or recovered) are POSTed here as signed webhooks; "" none.
  std::string operator_url;
  // Endpoint protection defaults (EngineOptions) for endpoints that set
  // none of their own; nullopt: the engine's.
  std::optional<hooklog::Duration> auto_disable_after;  // 0: never
  std::optional<uint32_t> circuit_failures;             // 0: breaker off
  std::optional<hooklog::Duration> circuit_open_for;
  // --no-ui: /ui/ answers 404 "the portal is turned off".
  bool ui_enabled = true;
  // The base of portal-link URLs (http:// or https://, no trailing slash);
  // "": http://<the bound listen address>.
  std::string public_url;

  // Not flags: knobs for in-process tests.
  bool fsync = true;  // RocksDbOptions::sync
  int engine_threads = 2;
  // Longest a request may take from its last body byte to its response
  // (send-test and replay wait for an attempt).
  std::chrono::milliseconds request_deadline{60000};
  // Idle keep-alive connections and slow senders are closed after this.
  std::chrono::milliseconds read_timeout{30000};
  // How long SIGTERM waits for in-flight attempts.
  std::chrono::milliseconds drain{10000};
  // Wraps the opened storage (fault injection in tests); null: none.
  std::function<std::unique_ptr<hooklog::Storage>(
      std::unique_ptr<hooklog::Storage>)>
      wrap_storage;
};

enum class Command { kServe, kKeygen, kHelp, kVersion };

struct ParsedArgs {
  Command command = Command::kServe;
  Config config;
  std::string error;  // non-empty: print it and exit 2
};

// Reads `getenv` for HOOKLOG_LISTEN, HOOKLOG_DATA_DIR, HOOKLOG_STORAGE,
// HOOKLOG_STORAGE_SCHEMA, HOOKLOG_API_KEYS
// (comma-separated), HOOKLOG_ALLOW_PRIVATE_TARGETS (1/true/yes/on or
// 0/false/no/off), HOOKLOG_RETRY_SCHEDULE, HOOKLOG_ATTEMPT_TIMEOUT,
// HOOKLOG_LOG_LEVEL, HOOKLOG_OPERATOR_URL, HOOKLOG_AUTO_DISABLE_AFTER,
// HOOKLOG_CIRCUIT_FAILURES, HOOKLOG_CIRCUIT_OPEN_FOR, HOOKLOG_NO_UI,
// HOOKLOG_PUBLIC_URL, HOOKLOG_NODE_ID, HOOKLOG_LEASE_TTL,
// HOOKLOG_PARTITIONS, then the flags. Requires at least one API key for
// kServe. A storage URL excludes a data directory (flag or variable) and
// --operator-url (whose outbox is a RocksDB store in the data directory);
// the cluster settings (node id, lease TTL, partitions) need one.
using GetEnv = std::function<const char*(const char*)>;
ParsedArgs ParseArgs(int argc, const char* const* argv, const GetEnv& getenv);

std::string UsageText();

// "<hostname>-<pid>", reduced to the characters a node id may hold
// (A-Z a-z 0-9 . _ -) and to at most 128 of them.
std::string DefaultNodeId();

// The shortest lease TTL accepted (--lease-ttl): renewals every ttl / 3
// must fit several PostgreSQL round trips.
inline constexpr hooklog::Duration kMinLeaseTtl =
    std::chrono::milliseconds(300);

// "HOST:PORT" or "[v6]:PORT". False on a malformed value.
bool ParseListen(std::string_view text, std::string* host, uint16_t* port);

// Closient's key shape: "csb_" + 32 alphanumerics + "_" + 8 lowercase hex
// digits of the CRC-32 (IEEE, as zlib's crc32) of the body, where the body is
// the first 36 characters ("csb_" + the 32 alphanumerics).
std::string NewApiKey();
bool IsClosientKeyShape(std::string_view key);     // shape only
bool ClosientKeyChecksumOk(std::string_view key);  // shape and CRC
uint32_t Crc32(std::string_view data);

}  // namespace webhookd

#endif  // HOOKLOG_WEBHOOKD_CONFIG_H_
