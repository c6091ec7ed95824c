#include "webhookd/config.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdio>

namespace webhookd {
namespace {

constexpr size_t kMinApiKeyLength = 16;

std::vector<std::string_view> SplitCommas(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    std::string_view part = s.substr(start, comma - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    out.push_back(part);
    start = comma + 1;
  }
  return out;
}

bool ParseBool(std::string_view v, bool* out) {
  if (v == "1" || v == "true" || v == "yes" || v == "on") {
    *out = true;
  } else if (v == "0" || v == "false" || v == "no" || v == "off" || v.empty()) {
    *out = false;
  } else {
    return false;
  }
  return true;
}

// Why `key` cannot be used, or "" when it can. Never echoes the key.
std::string ApiKeyProblem(std::string_view key) {
  if (key.size() < kMinApiKeyLength) {
    return "an API key must be at least 16 characters (use `webhookd "
           "keygen`)";
  }
  for (char c : key) {
    if (c <= ' ' || c == ',' || c == 0x7F) {
      return "an API key must not contain spaces, commas or control "
             "characters";
    }
  }
  if (IsClosientKeyShape(key) && !ClosientKeyChecksumOk(key)) {
    return "an API key of the csb_ shape has a wrong checksum (mistyped?)";
  }
  return "";
}

// Why `url` cannot be a storage URL, or "" when it can.
std::string StorageProblem(std::string_view url) {
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    return "";
  }
  return "expected a PostgreSQL URI (postgresql://USER@HOST:PORT/DB or "
         "postgres://...); leave it unset for the embedded RocksDB store in "
         "--data-dir";
}

// Why `name` cannot be the PostgreSQL schema, or "" when it can: an
// identifier PostgreSQL keeps as written (no quoting surprises).
std::string SchemaProblem(std::string_view name) {
  if (name.empty() || name.size() > 63) {
    return "a schema name has 1 to 63 characters";
  }
  if (name.front() >= '0' && name.front() <= '9') {
    return "a schema name must not start with a digit";
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return "a schema name may hold only a-z, 0-9 and _";
    }
  }
  return "";
}

constexpr size_t kMaxNodeIdLength = 128;
constexpr uint32_t kMaxPartitions = 4096;

bool NodeIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// Why `id` cannot be a node id, or "" when it can. Node ids appear in
// lease rows, logs and metric labels: a small alphabet keeps them safe in
// all three without quoting.
std::string NodeIdProblem(std::string_view id) {
  if (id.empty() || id.size() > kMaxNodeIdLength) {
    return "a node id has 1 to 128 characters";
  }
  for (char c : id) {
    if (!NodeIdChar(c)) return "a node id may hold only A-Z, a-z, 0-9, . _ -";
  }
  return "";
}

// Why `url` cannot be the portal's public base URL, or "" when it can.
std::string PublicUrlProblem(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return "expected an http:// or https:// URL such as "
           "https://hooks.example.com";
  }
  if (rest.empty() || rest.front() == '/') return "the URL needs a host";
  for (char c : url) {
    if (c <= ' ' || c == 0x7F || c == '#' || c == '?' || c == '"' || c == '<' ||
        c == '>' || c == '\\') {
      return "the URL must not contain spaces, control characters, a query "
             "or a fragment";
    }
  }
  return "";
}

}  // namespace

uint32_t Crc32(std::string_view data) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) crc = kTable[(crc ^ c) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

bool IsClosientKeyShape(std::string_view key) {
  if (key.size() != 4 + 32 + 1 + 8 || !key.starts_with("csb_") ||
      key[36] != '_') {
    return false;
  }
  for (size_t i = 4; i < 36; ++i) {
    char c = key[i];
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                 (c >= 'A' && c <= 'Z');
    if (!alnum) return false;
  }
  for (size_t i = 37; i < key.size(); ++i) {
    char c = key[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool ClosientKeyChecksumOk(std::string_view key) {
  if (!IsClosientKeyShape(key)) return false;
  char hex[9];
  std::snprintf(hex, sizeof(hex), "%08x", Crc32(key.substr(0, 36)));
  return key.substr(37) == std::string_view(hex, 8);
}

std::string NewApiKey() {
  static constexpr std::string_view kAlphabet =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string key = "csb_";
  while (key.size() < 36) {
    unsigned char buf[64];
    if (RAND_bytes(buf, sizeof(buf)) != 1) std::abort();  // no entropy: fatal
    for (unsigned char b : buf) {
      // Rejection sampling keeps every character equally likely: 248 is the
      // largest multiple of 62 not above 256.
      if (b < 248 && key.size() < 36) key += kAlphabet[b % 62];
    }
  }
  char hex[10];
  std::snprintf(hex, sizeof(hex), "_%08x", Crc32(key));
  key += hex;
  return key;
}

std::string DefaultNodeId() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::string id;
  for (const char* p = host; *p != '\0'; ++p) {
    id += NodeIdChar(*p) ? *p : '_';
  }
  if (id.empty()) id = "node";
  const std::string pid = "-" + std::to_string(getpid());
  if (id.size() + pid.size() > kMaxNodeIdLength) {
    id.resize(kMaxNodeIdLength - pid.size());
  }
  return id + pid;
}

bool ParseListen(std::string_view text, std::string* host, uint16_t* port) {
  size_t colon;
  std::string_view h;
  if (text.starts_with("[")) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      return false;
    }
    h = text.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    h = text.substr(0, colon);
    if (h.find(':') != std::string_view::npos) return false;
  }
  std::string_view p = text.substr(colon + 1);
  if (h.empty() || p.empty()) return false;
  unsigned value = 0;
  auto r = std::from_chars(p.data(), p.data() + p.size(), value);
  if (r.ec != std::errc() || r.ptr != p.data() + p.size() || value > 65535) {
    return false;
  }
  *host = std::string(h);
  *port = static_cast<uint16_t>(value);
  return true;
}

std::string UsageText() {
  return "usage: webhookd [--listen HOST:PORT] [--data-dir DIR | --storage URL "
         "[--storage-schema NAME]]\n"
         "                [--api-key KEY]...\n"
         "                [--allow-private-targets] [--retry-schedule LIST]\n"
         "                [--attempt-timeout DUR] [--log-level LEVEL]\n"
         "                [--operator-url URL] [--auto-disable-after DUR]\n"
         "                [--circuit-failures N] [--circuit-open-for DUR]\n"
         "                [--no-ui] [--public-url URL]\n"
         "                [--node-id NAME] [--lease-ttl DUR] [--partitions N]"
         "   (with --storage)\n"
         "       webhookd keygen\n"
         "\n"
         "  --listen HOST:PORT       address to serve on (default "
         "127.0.0.1:8080; port 0 picks a free one)   [HOOKLOG_LISTEN]\n"
         "  --data-dir DIR           RocksDB data directory (default ./data)"
         "   [HOOKLOG_DATA_DIR]\n"
         "  --storage URL            postgresql://... (or postgres://): "
         "store in PostgreSQL instead of RocksDB; the nodes sharing a schema "
         "form a cluster   [HOOKLOG_STORAGE]\n"
         "  --storage-schema NAME    PostgreSQL schema (default hooklog)   "
         "[HOOKLOG_STORAGE_SCHEMA]\n"
         "  --api-key KEY            accepted X-API-Key value; repeatable; at "
         "least one is required   [HOOKLOG_API_KEYS, comma-separated]\n"
         "  --allow-private-targets  allow loopback/private endpoint URLs "
         "(local development, tests)   [HOOKLOG_ALLOW_PRIVATE_TARGETS=1]\n"
         "  --retry-schedule LIST    delays before attempt 1, 2, ... e.g. "
         "0s,1s,2s   [HOOKLOG_RETRY_SCHEDULE]\n"
         "  --attempt-timeout DUR    per-attempt timeout, e.g. 15s   "
         "[HOOKLOG_ATTEMPT_TIMEOUT]\n"
         "  --log-level LEVEL        debug|info|warn|error (default info)   "
         "[HOOKLOG_LOG_LEVEL]\n"
         "  --operator-url URL       POST operational events (endpoint "
         "disabled, circuit opened/closed, dead letters) there as signed "
         "webhooks   [HOOKLOG_OPERATOR_URL]\n"
         "  --auto-disable-after DUR disable an endpoint failing continuously "
         "this long (default 5d; 0s never)   [HOOKLOG_AUTO_DISABLE_AFTER]\n"
         "  --circuit-failures N     open an endpoint's circuit after N "
         "failures in a row (default 10; 0 switches the breaker off)   "
         "[HOOKLOG_CIRCUIT_FAILURES]\n"
         "  --circuit-open-for DUR   first open period of a circuit (default "
         "30s)   [HOOKLOG_CIRCUIT_OPEN_FOR]\n"
         "  --no-ui                  do not serve the operator portal at /ui/"
         "   [HOOKLOG_NO_UI=1]\n"
         "  --public-url URL         base of portal-link URLs (default "
         "http://<listen address>)   [HOOKLOG_PUBLIC_URL]\n"
         "  --node-id NAME           this node's name in the cluster, unique "
         "(A-Z a-z 0-9 . _ -, up to 128; default <hostname>-<pid>); needs "
         "--storage   [HOOKLOG_NODE_ID]\n"
         "  --lease-ttl DUR          how long a partition lease lasts without "
         "renewal (default 10s, at least 300ms); needs --storage   "
         "[HOOKLOG_LEASE_TTL]\n"
         "  --partitions N           partitions the endpoints are spread over "
         "(1..4096, default 64; the first node fixes it); needs --storage   "
         "[HOOKLOG_PARTITIONS]\n"
         "  (endpoints may set their own protection settings through the "
         "API)\n"
         "  keygen                   print a new API key "
         "(csb_<32 alphanumerics>_<crc32 hex>)\n";
}

ParsedArgs ParseArgs(int argc, const char* const* argv, const GetEnv& getenv) {
  ParsedArgs out;
  Config& c = out.config;
  auto fail = [&](std::string msg) {
    out.error = std::move(msg);
    return out;
  };

  // One setter per option, shared by the flag and its variable, so that both
  // spellings are validated identically. `source` names where the value came
  // from in error messages.
  auto set_listen = [&](std::string_view v, std::string_view source) {
    if (!ParseListen(v, &c.listen_host, &c.listen_port)) {
      return std::string(source) + ": expected HOST:PORT, got '" +
             std::string(v) + "'";
    }
    return std::string();
  };
  auto set_schedule = [&](std::string_view v, std::string_view source) {
    c.retry_schedule.clear();
    for (std::string_view part : SplitCommas(v)) {
      auto d = hooklog::ParseDuration(part);
      if (!d.ok() || d->count() < 0) {
        return std::string(source) +
               ": expected a comma-separated list of durations like "
               "0s,1s,2s, got '" +
               std::string(v) + "'";
      }
      c.retry_schedule.push_back(*d);
    }
    if (c.retry_schedule.empty()) {
      return std::string(source) + ": the schedule needs at least one entry";
    }
    return std::string();
  };
  auto set_timeout = [&](std::string_view v, std::string_view source) {
    auto d = hooklog::ParseDuration(v);
    if (!d.ok() || d->count() <= 0) {
      return std::string(source) +
             ": expected a positive duration like 15s or 500ms, got '" +
             std::string(v) + "'";
    }
    c.attempt_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    if (c.attempt_timeout->count() == 0) {
      return std::string(source) + ": the timeout must be at least 1ms";
    }
    return std::string();
  };
  auto set_level = [&](std::string_view v, std::string_view source) {
    if (!ParseLogLevel(v, &c.log_level)) {
      return std::string(source) +
             ": expected debug, info, warn or error, got '" + std::string(v) +
             "'";
    }
    return std::string();
  };
  auto set_duration = [&](std::string_view v, std::string_view source,
                          bool zero_ok, std::optional<hooklog::Duration>* out) {
    auto d = hooklog::ParseDuration(v);
    if (!d.ok() || d->count() < 0 || (!zero_ok && d->count() == 0)) {
      return std::string(source) + ": expected a " +
             (zero_ok ? "duration like 5d or 0s"
                      : "positive duration like 30s") +
             ", got '" + std::string(v) + "'";
    }
    *out = *d;
    return std::string();
  };
  auto set_auto_disable = [&](std::string_view v, std::string_view source) {
    return set_duration(v, source, true, &c.auto_disable_after);
  };
  auto set_open_for = [&](std::string_view v, std::string_view source) {
    return set_duration(v, source, false, &c.circuit_open_for);
  };
  auto set_failures = [&](std::string_view v, std::string_view source) {
    uint32_t n = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), n);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size() || n > 1000000) {
      return std::string(source) +
             ": expected a number of failures from 0 (breaker off) to "
             "1000000, got '" +
             std::string(v) + "'";
    }
    c.circuit_failures = n;
    return std::string();
  };
  bool data_dir_set = false;
  std::string data_dir_source;
  bool schema_set = false;
  auto set_storage = [&](std::string_view v, std::string_view source) {
    std::string problem = StorageProblem(v);
    if (!problem.empty()) {
      // A URI may carry a password: name the scheme only.
      size_t colon = v.find(':');
      return std::string(source) + ": " + problem + ", got '" +
             std::string(colon == std::string_view::npos
                             ? std::string_view("...")
                             : v.substr(0, colon)) +
             (colon == std::string_view::npos ? "'" : ":...'");
    }
    c.storage = v;
    return std::string();
  };
  auto set_schema = [&](std::string_view v, std::string_view source) {
    std::string problem = SchemaProblem(v);
    if (!problem.empty()) {
      return std::string(source) + ": " + problem + ", got '" + std::string(v) +
             "'";
    }
    c.storage_schema = v;
    schema_set = true;
    return std::string();
  };
  auto set_public_url = [&](std::string_view v, std::string_view source) {
    std::string problem = PublicUrlProblem(v);
    if (!problem.empty()) {
      return std::string(source) + ": " + problem + ", got '" + std::string(v) +
             "'";
    }
    while (v.ends_with("/")) v.remove_suffix(1);
    c.public_url = v;
    return std::string();
  };
  // The cluster settings need --storage; the first source that set one is
  // named when it is missing.
  std::string cluster_source;
  auto set_node_id = [&](std::string_view v, std::string_view source) {
    std::string problem = NodeIdProblem(v);
    if (!problem.empty()) {
      return std::string(source) + ": " + problem + ", got '" + std::string(v) +
             "'";
    }
    c.node_id = v;
    if (cluster_source.empty()) cluster_source = source;
    return std::string();
  };
  auto set_lease_ttl = [&](std::string_view v, std::string_view source) {
    auto d = hooklog::ParseDuration(v);
    if (!d.ok() || *d < kMinLeaseTtl) {
      return std::string(source) +
             ": expected a duration of at least 300ms like 10s, got '" +
             std::string(v) + "'";
    }
    c.lease_ttl = *d;
    if (cluster_source.empty()) cluster_source = source;
    return std::string();
  };
  auto set_partitions = [&](std::string_view v, std::string_view source) {
    uint32_t n = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), n);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size() || n < 1 ||
        n > kMaxPartitions) {
      return std::string(source) +
             ": expected a number of partitions from 1 to 4096, got '" +
             std::string(v) + "'";
    }
    c.partitions = n;
    if (cluster_source.empty()) cluster_source = source;
    return std::string();
  };
  auto add_key = [&](std::string_view v, std::string_view source) {
    std::string problem = ApiKeyProblem(v);
    if (!problem.empty()) return std::string(source) + ": " + problem;
    c.api_keys.emplace_back(v);
    return std::string();
  };

  // The environment first; flags then override.
  std::string err;
  if (const char* v = getenv("HOOKLOG_LISTEN"); v && *v) {
    err = set_listen(v, "HOOKLOG_LISTEN");
  }
  if (const char* v = getenv("HOOKLOG_DATA_DIR"); err.empty() && v && *v) {
    c.data_dir = v;
    data_dir_set = true;
    data_dir_source = "HOOKLOG_DATA_DIR";
  }
  if (const char* v = getenv("HOOKLOG_STORAGE"); err.empty() && v && *v) {
    err = set_storage(v, "HOOKLOG_STORAGE");
  }
  if (const char* v = getenv("HOOKLOG_STORAGE_SCHEMA");
      err.empty() && v && *v) {
    err = set_schema(v, "HOOKLOG_STORAGE_SCHEMA");
  }
  if (const char* v = getenv("HOOKLOG_API_KEYS"); err.empty() && v && *v) {
    for (std::string_view k : SplitCommas(v)) {
      if (k.empty()) continue;
      err = add_key(k, "HOOKLOG_API_KEYS");
      if (!err.empty()) break;
    }
  }
  if (const char* v = getenv("HOOKLOG_ALLOW_PRIVATE_TARGETS");
      err.empty() && v) {
    if (!ParseBool(v, &c.allow_private_targets)) {
      err =
          "HOOKLOG_ALLOW_PRIVATE_TARGETS: expected 1/true/yes/on or "
          "0/false/no/off";
    }
  }
  if (const char* v = getenv("HOOKLOG_RETRY_SCHEDULE");
      err.empty() && v && *v) {
    err = set_schedule(v, "HOOKLOG_RETRY_SCHEDULE");
  }
  if (const char* v = getenv("HOOKLOG_ATTEMPT_TIMEOUT");
      err.empty() && v && *v) {
    err = set_timeout(v, "HOOKLOG_ATTEMPT_TIMEOUT");
  }
  if (const char* v = getenv("HOOKLOG_LOG_LEVEL"); err.empty() && v && *v) {
    err = set_level(v, "HOOKLOG_LOG_LEVEL");
  }
  if (const char* v = getenv("HOOKLOG_OPERATOR_URL"); v && *v) {
    c.operator_url = v;
  }
  if (const char* v = getenv("HOOKLOG_AUTO_DISABLE_AFTER");
      err.empty() && v && *v) {
    err = set_auto_disable(v, "HOOKLOG_AUTO_DISABLE_AFTER");
  }
  if (const char* v = getenv("HOOKLOG_CIRCUIT_FAILURES");
      err.empty() && v && *v) {
    err = set_failures(v, "HOOKLOG_CIRCUIT_FAILURES");
  }
  if (const char* v = getenv("HOOKLOG_CIRCUIT_OPEN_FOR");
      err.empty() && v && *v) {
    err = set_open_for(v, "HOOKLOG_CIRCUIT_OPEN_FOR");
  }
  if (const char* v = getenv("HOOKLOG_NO_UI"); err.empty() && v) {
    bool no_ui = false;
    if (!ParseBool(v, &no_ui)) {
      err = "HOOKLOG_NO_UI: expected 1/true/yes/on or 0/false/no/off";
    }
    c.ui_enabled = !no_ui;
  }
  if (const char* v = getenv("HOOKLOG_PUBLIC_URL"); err.empty() && v && *v) {
    err = set_public_url(v, "HOOKLOG_PUBLIC_URL");
  }
  if (const char* v = getenv("HOOKLOG_NODE_ID"); err.empty() && v && *v) {
    err = set_node_id(v, "HOOKLOG_NODE_ID");
  }
  if (const char* v = getenv("HOOKLOG_LEASE_TTL"); err.empty() && v && *v) {
    err = set_lease_ttl(v, "HOOKLOG_LEASE_TTL");
  }
  if (const char* v = getenv("HOOKLOG_PARTITIONS"); err.empty() && v && *v) {
    err = set_partitions(v, "HOOKLOG_PARTITIONS");
  }
  if (!err.empty()) return fail(err);

  bool keys_from_flags = false;
  int i = 1;
  if (argc > 1) {
    std::string_view first = argv[1];
    if (first == "keygen") {
      if (argc > 2) return fail("keygen takes no arguments");
      out.command = Command::kKeygen;
      return out;
    }
  }
  for (; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_inline = false;
    if (arg.starts_with("--")) {
      size_t eq = arg.find('=');
      if (eq != std::string_view::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline = true;
      }
    }
    auto take = [&](std::string_view* v) -> bool {
      if (has_inline) {
        *v = value;
        return true;
      }
      if (i + 1 >= argc) return false;
      *v = argv[++i];
      return true;
    };
    std::string_view v;
    if (arg == "-h" || arg == "--help") {
      out.command = Command::kHelp;
      return out;
    } else if (arg == "--version") {
      out.command = Command::kVersion;
      return out;
    } else if (arg == "--allow-private-targets") {
      if (has_inline) {
        if (!ParseBool(value, &c.allow_private_targets)) {
          return fail("--allow-private-targets takes no value or a boolean");
        }
      } else {
        c.allow_private_targets = true;
      }
      continue;
    } else if (arg == "--no-ui") {
      if (has_inline) return fail("--no-ui takes no value");
      c.ui_enabled = false;
      continue;
    } else if (arg == "--listen" || arg == "--data-dir" || arg == "--api-key" ||
               arg == "--retry-schedule" || arg == "--attempt-timeout" ||
               arg == "--log-level" || arg == "--operator-url" ||
               arg == "--auto-disable-after" || arg == "--circuit-failures" ||
               arg == "--circuit-open-for" || arg == "--storage" ||
               arg == "--storage-schema" || arg == "--public-url" ||
               arg == "--node-id" || arg == "--lease-ttl" ||
               arg == "--partitions") {
      if (!take(&v)) return fail(std::string(arg) + " needs a value");
    } else {
      return fail("unknown argument '" + std::string(arg) + "'");
    }
    if (arg == "--listen") {
      err = set_listen(v, "--listen");
    } else if (arg == "--data-dir") {
      if (v.empty()) err = "--data-dir: must not be empty";
      c.data_dir = v;
      data_dir_set = true;
      data_dir_source = "--data-dir";
    } else if (arg == "--storage") {
      err = set_storage(v, "--storage");
    } else if (arg == "--storage-schema") {
      err = set_schema(v, "--storage-schema");
    } else if (arg == "--api-key") {
      // Flags replace the environment's keys rather than adding to them.
      if (!keys_from_flags) c.api_keys.clear();
      keys_from_flags = true;
      err = add_key(v, "--api-key");
    } else if (arg == "--retry-schedule") {
      err = set_schedule(v, "--retry-schedule");
    } else if (arg == "--attempt-timeout") {
      err = set_timeout(v, "--attempt-timeout");
    } else if (arg == "--log-level") {
      err = set_level(v, "--log-level");
    } else if (arg == "--operator-url") {
      c.operator_url = v;
    } else if (arg == "--auto-disable-after") {
      err = set_auto_disable(v, "--auto-disable-after");
    } else if (arg == "--circuit-failures") {
      err = set_failures(v, "--circuit-failures");
    } else if (arg == "--circuit-open-for") {
      err = set_open_for(v, "--circuit-open-for");
    } else if (arg == "--public-url") {
      err = set_public_url(v, "--public-url");
    } else if (arg == "--node-id") {
      err = set_node_id(v, "--node-id");
    } else if (arg == "--lease-ttl") {
      err = set_lease_ttl(v, "--lease-ttl");
    } else if (arg == "--partitions") {
      err = set_partitions(v, "--partitions");
    }
    if (!err.empty()) return fail(err);
  }
  if (!c.storage.empty() && data_dir_set) {
    return fail("--storage (or HOOKLOG_STORAGE) and " + data_dir_source +
                " are exclusive: with a storage URL there is no data "
                "directory; drop one of them");
  }
  if (c.storage.empty() && schema_set) {
    return fail(
        "--storage-schema (or HOOKLOG_STORAGE_SCHEMA) needs --storage: the "
        "RocksDB store has no schema");
  }
  if (c.storage.empty() && !cluster_source.empty()) {
    return fail(cluster_source +
                " needs --storage (or HOOKLOG_STORAGE): the embedded RocksDB "
                "store is one node; a cluster shares a PostgreSQL schema");
  }
  if (!c.storage.empty() && c.node_id.empty()) c.node_id = DefaultNodeId();
  if (!c.storage.empty() && !c.operator_url.empty()) {
    return fail(
        "--operator-url is not supported with --storage yet: its outbox is a "
        "RocksDB store in --data-dir");
  }
  if (c.api_keys.empty()) {
    return fail(
        "no API key configured: pass --api-key KEY (repeatable) or set "
        "HOOKLOG_API_KEYS; `webhookd keygen` prints a new key");
  }
  return out;
}

}  // namespace webhookd
