// Command line, environment and API keys.
#include "webhookd/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <regex>
#include <string>
#include <vector>

namespace webhookd {
namespace {

constexpr char kKey[] = "test-key-0123456789abcdef";

ParsedArgs Parse(std::vector<std::string> args,
                 std::map<std::string, std::string> env = {}) {
  std::vector<const char*> argv = {"webhookd"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return ParseArgs(static_cast<int>(argv.size()), argv.data(),
                   [&](const char* name) -> const char* {
                     auto it = env.find(name);
                     return it == env.end() ? nullptr : it->second.c_str();
                   });
}

TEST(ConfigTest, Crc32MatchesTheIeeeCheckValue) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
}

TEST(ConfigTest, KeygenMakesClosientShapedKeysWithAValidChecksum) {
  std::regex shape("^csb_[A-Za-z0-9]{32}_[0-9a-f]{8}$");
  std::string a = NewApiKey(), b = NewApiKey();
  EXPECT_TRUE(std::regex_match(a, shape)) << a;
  EXPECT_NE(a, b);
  EXPECT_TRUE(ClosientKeyChecksumOk(a));
  std::string typo = a;
  typo[10] = typo[10] == 'a' ? 'b' : 'a';
  EXPECT_TRUE(IsClosientKeyShape(typo));
  EXPECT_FALSE(ClosientKeyChecksumOk(typo));
}

TEST(ConfigTest, PortalFlags) {
  auto p = Parse({"--api-key", kKey});
  ASSERT_EQ(p.error, "");
  EXPECT_TRUE(p.config.ui_enabled);
  EXPECT_EQ(p.config.public_url, "");
  p = Parse({"--api-key", kKey, "--no-ui", "--public-url",
             "https://hooks.example.com/"});
  ASSERT_EQ(p.error, "");
  EXPECT_FALSE(p.config.ui_enabled);
  EXPECT_EQ(p.config.public_url, "https://hooks.example.com");
  p = Parse({"--api-key", kKey, "--public-url=http://10.0.0.1:8080/base"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.public_url, "http://10.0.0.1:8080/base");
  // The environment, and a flag winning over it.
  p = Parse({"--api-key", kKey},
            {{"HOOKLOG_NO_UI", "1"}, {"HOOKLOG_PUBLIC_URL", "https://a.b"}});
  ASSERT_EQ(p.error, "");
  EXPECT_FALSE(p.config.ui_enabled);
  EXPECT_EQ(p.config.public_url, "https://a.b");
  p = Parse({"--api-key", kKey, "--public-url", "https://c.d"},
            {{"HOOKLOG_PUBLIC_URL", "https://a.b"}});
  EXPECT_EQ(p.config.public_url, "https://c.d");
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"--public-url", "ftp://x"},
           {"--public-url", "hooks.example.com"},
           {"--public-url", "https://"},
           {"--public-url", "https://a b"},
           {"--public-url", "https://a/#x"},
           {"--public-url"},
           {"--no-ui=1"}}) {
    std::vector<std::string> args = {"--api-key", kKey};
    args.insert(args.end(), bad.begin(), bad.end());
    EXPECT_NE(Parse(args).error, "") << bad[0];
  }
  EXPECT_NE(Parse({"--api-key", kKey}, {{"HOOKLOG_NO_UI", "maybe"}}).error, "");
  EXPECT_NE(UsageText().find("--no-ui"), std::string::npos);
  EXPECT_NE(UsageText().find("--public-url"), std::string::npos);
}

TEST(ConfigTest, ProtectionDefaultsFromFlagsAndEnvironment) {
  auto p = Parse({"--api-key", kKey});
  ASSERT_EQ(p.error, "");
  EXPECT_FALSE(p.config.auto_disable_after.has_value());
  EXPECT_FALSE(p.config.circuit_failures.has_value());
  EXPECT_FALSE(p.config.circuit_open_for.has_value());

  p = Parse({"--api-key", kKey, "--auto-disable-after", "2d",
             "--circuit-failures=0", "--circuit-open-for", "90s"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.auto_disable_after, std::chrono::hours(48));
  EXPECT_EQ(p.config.circuit_failures, 0u);
  EXPECT_EQ(p.config.circuit_open_for, std::chrono::seconds(90));

  // The environment, and a flag winning over it.
  p = Parse({"--api-key", kKey, "--circuit-failures", "5"},
            {{"HOOKLOG_AUTO_DISABLE_AFTER", "0s"},
             {"HOOKLOG_CIRCUIT_FAILURES", "3"},
             {"HOOKLOG_CIRCUIT_OPEN_FOR", "1m"}});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.auto_disable_after, hooklog::Duration(0));
  EXPECT_EQ(p.config.circuit_failures, 5u);
  EXPECT_EQ(p.config.circuit_open_for, std::chrono::minutes(1));

  for (const auto& bad :
       std::vector<std::vector<std::string>>{{"--auto-disable-after", "soon"},
                                             {"--auto-disable-after", "-1s"},
                                             {"--circuit-failures", "-1"},
                                             {"--circuit-failures", "ten"},
                                             {"--circuit-failures", "2000000"},
                                             {"--circuit-open-for", "0s"},
                                             {"--circuit-open-for"}}) {
    std::vector<std::string> args = {"--api-key", kKey};
    args.insert(args.end(), bad.begin(), bad.end());
    p = Parse(args);
    EXPECT_NE(p.error.find(bad[0]), std::string::npos)
        << bad[0] << ": " << p.error;
  }
  EXPECT_NE(Parse({"--api-key", kKey}, {{"HOOKLOG_CIRCUIT_OPEN_FOR", "x"}})
                .error.find("HOOKLOG_CIRCUIT_OPEN_FOR"),
            std::string::npos);
}

TEST(ConfigTest, DefaultsAndFlags) {
  auto p = Parse({"--api-key", kKey});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.listen_host, "127.0.0.1");
  EXPECT_EQ(p.config.listen_port, 8080);
  EXPECT_EQ(p.config.data_dir, "./data");
  EXPECT_FALSE(p.config.allow_private_targets);
  EXPECT_TRUE(p.config.retry_schedule.empty());

  p = Parse({"--listen", "0.0.0.0:0", "--data-dir", "/x", "--api-key", kKey,
             "--api-key=second-key-0123456789", "--allow-private-targets",
             "--retry-schedule", "0s,250ms,2m", "--attempt-timeout", "3s",
             "--log-level", "debug"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.listen_host, "0.0.0.0");
  EXPECT_EQ(p.config.listen_port, 0);
  EXPECT_EQ(p.config.data_dir, "/x");
  EXPECT_EQ(p.config.api_keys.size(), 2u);
  EXPECT_TRUE(p.config.allow_private_targets);
  ASSERT_EQ(p.config.retry_schedule.size(), 3u);
  EXPECT_EQ(p.config.retry_schedule[1], std::chrono::milliseconds(250));
  EXPECT_EQ(p.config.attempt_timeout, std::chrono::milliseconds(3000));
  EXPECT_EQ(p.config.log_level, LogLevel::kDebug);
}

TEST(ConfigTest, EnvironmentAndFlagPrecedence) {
  auto p = Parse(
      {}, {{"HOOKLOG_API_KEYS", std::string(kKey) + ",other-key-0123456789"},
           {"HOOKLOG_LISTEN", "[::1]:9000"},
           {"HOOKLOG_DATA_DIR", "/env"},
           {"HOOKLOG_ALLOW_PRIVATE_TARGETS", "true"},
           {"HOOKLOG_RETRY_SCHEDULE", "1s"},
           {"HOOKLOG_ATTEMPT_TIMEOUT", "500ms"},
           {"HOOKLOG_LOG_LEVEL", "warn"}});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.api_keys.size(), 2u);
  EXPECT_EQ(p.config.listen_host, "::1");
  EXPECT_EQ(p.config.listen_port, 9000);
  EXPECT_EQ(p.config.data_dir, "/env");
  EXPECT_TRUE(p.config.allow_private_targets);
  EXPECT_EQ(p.config.retry_schedule.size(), 1u);
  EXPECT_EQ(p.config.log_level, LogLevel::kWarn);
  // A flag wins over its variable.
  p = Parse({"--data-dir", "/flag", "--api-key", kKey},
            {{"HOOKLOG_DATA_DIR", "/env"},
             {"HOOKLOG_API_KEYS", "env-key-0123456789abc"}});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.data_dir, "/flag");
  EXPECT_EQ(p.config.api_keys, std::vector<std::string>{kKey});
}

TEST(ConfigTest, OperatorUrlFromFlagOrEnvironment) {
  EXPECT_EQ(Parse({"--api-key", kKey}).config.operator_url, "");
  EXPECT_EQ(Parse({"--api-key", kKey, "--operator-url", "https://ops/x"})
                .config.operator_url,
            "https://ops/x");
  EXPECT_EQ(Parse({"--api-key", kKey}, {{"HOOKLOG_OPERATOR_URL", "https://e/"}})
                .config.operator_url,
            "https://e/");
  EXPECT_NE(Parse({"--api-key", kKey, "--operator-url"}).error, "");
}

TEST(ConfigTest, BadValuesAreClearErrors) {
  EXPECT_NE(
      Parse({"--api-key", kKey, "--bogus"}).error.find("unknown argument"),
      std::string::npos);
  EXPECT_NE(Parse({}).error.find("no API key"), std::string::npos);
  EXPECT_NE(Parse({"--api-key", "short"}).error.find("16 characters"),
            std::string::npos);
  EXPECT_NE(Parse({"--api-key", kKey, "--listen", "nope"}).error, "");
  EXPECT_NE(Parse({"--api-key", kKey, "--listen", "h:70000"}).error, "");
  EXPECT_NE(Parse({"--api-key", kKey, "--retry-schedule", "1s,x"}).error, "");
  EXPECT_NE(Parse({"--api-key", kKey, "--retry-schedule", ""}).error, "");
  EXPECT_NE(Parse({"--api-key", kKey, "--attempt-timeout", "0"}).error, "");
  EXPECT_NE(Parse({"--api-key", kKey, "--log-level", "loud"}).error, "");
  EXPECT_NE(Parse({"--api-key"}).error.find("needs a value"),
            std::string::npos);
  EXPECT_NE(
      Parse({"--api-key", kKey}, {{"HOOKLOG_ALLOW_PRIVATE_TARGETS", "maybe"}})
          .error,
      "");
  std::string bad = NewApiKey();
  bad.back() = bad.back() == '0' ? '1' : '0';
  EXPECT_NE(Parse({"--api-key", bad}).error.find("checksum"),
            std::string::npos);
  // Errors never echo a key.
  EXPECT_EQ(Parse({"--api-key", bad}).error.find(bad), std::string::npos);
}

TEST(ConfigTest, StorageUrlSelectsPostgres) {
  auto p = Parse({"--api-key", kKey});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.storage, "");  // RocksDB in --data-dir
  EXPECT_EQ(p.config.data_dir, "./data");
  EXPECT_EQ(p.config.storage_schema, "hooklog");

  p = Parse({"--api-key", kKey, "--storage",
             "postgresql://hooklog@db.example:5432/hooklog"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.storage, "postgresql://hooklog@db.example:5432/hooklog");
  EXPECT_EQ(p.config.storage_schema, "hooklog");

  p = Parse({"--api-key", kKey, "--storage=postgres://db/x", "--storage-schema",
             "tenant_7"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.storage, "postgres://db/x");
  EXPECT_EQ(p.config.storage_schema, "tenant_7");

  // The environment, and the flag winning over it.
  p = Parse({"--api-key", kKey}, {{"HOOKLOG_STORAGE", "postgres://env/db"},
                                  {"HOOKLOG_STORAGE_SCHEMA", "from_env"}});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.storage, "postgres://env/db");
  EXPECT_EQ(p.config.storage_schema, "from_env");
  p = Parse({"--api-key", kKey, "--storage", "postgresql://flag/db"},
            {{"HOOKLOG_STORAGE", "postgres://env/db"}});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.storage, "postgresql://flag/db");
}

TEST(ConfigTest, BadStorageValuesAreClearErrors) {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string error_part;
  };
  const std::vector<Case> cases = {
      {{"--storage", "mysql://u:secret@db/x"}, {}, "expected a PostgreSQL URI"},
      {{"--storage", "host=db dbname=x"}, {}, "expected a PostgreSQL URI"},
      {{"--storage", "rocksdb:///var/lib/hooklog"}, {}, "--storage:"},
      {{}, {{"HOOKLOG_STORAGE", "./data"}}, "HOOKLOG_STORAGE: expected"},
      {{"--storage", ""}, {}, "expected a PostgreSQL URI"},
      {{"--storage"}, {}, "--storage needs a value"},
      {{"--storage", "postgres://db/x", "--data-dir", "/var/lib/hooklog"},
       {},
       "--storage (or HOOKLOG_STORAGE) and --data-dir are exclusive"},
      {{"--data-dir", "/d", "--storage", "postgresql://db/x"},
       {},
       "are exclusive"},
      {{"--storage", "postgres://db/x"},
       {{"HOOKLOG_DATA_DIR", "/d"}},
       "and HOOKLOG_DATA_DIR are exclusive"},
      {{"--storage-schema", "s"}, {}, "--storage-schema (or "},
      {{"--storage", "postgres://db/x", "--storage-schema", "Bad-Name"},
       {},
       "--storage-schema: a schema name may hold only a-z, 0-9 and _"},
      {{"--storage", "postgres://db/x", "--storage-schema", "7up"},
       {},
       "must not start with a digit"},
      {{"--storage", "postgres://db/x", "--storage-schema", ""},
       {},
       "1 to 63 characters"},
      {{"--storage", "postgres://db/x", "--storage-schema",
        std::string(64, 'a')},
       {},
       "1 to 63 characters"},
      {{"--storage", "postgres://db/x", "--operator-url", "https://ops/x"},
       {},
       "--operator-url is not supported with --storage yet"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), {"--api-key", kKey});
    auto p = Parse(args, c.env);
    EXPECT_NE(p.error.find(c.error_part), std::string::npos)
        << ::testing::PrintToString(c.args) << " -> '" << p.error << "'";
    // A URI's password never reaches the message.
    EXPECT_EQ(p.error.find("secret"), std::string::npos) << p.error;
  }
}

TEST(ConfigTest, ClusterDefaultsWithStorage) {
  // RocksDB: no cluster settings at all.
  auto p = Parse({"--api-key", kKey});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.node_id, "");
  // PostgreSQL: always a cluster, of one node by default.
  p = Parse({"--api-key", kKey, "--storage", "postgresql://db/x"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.node_id, DefaultNodeId());
  EXPECT_EQ(p.config.lease_ttl, std::chrono::seconds(10));
  EXPECT_EQ(p.config.partitions, 64u);
  // <hostname>-<pid>, in the node id alphabet.
  const std::string id = DefaultNodeId();
  EXPECT_TRUE(std::regex_match(id, std::regex("^[A-Za-z0-9._-]{1,128}$")))
      << id;
  EXPECT_TRUE(id.ends_with("-" + std::to_string(getpid()))) << id;
  EXPECT_NE(UsageText().find("--node-id NAME"), std::string::npos);
  EXPECT_NE(UsageText().find("--lease-ttl DUR"), std::string::npos);
  EXPECT_NE(UsageText().find("--partitions N"), std::string::npos);
}

TEST(ConfigTest, ClusterFlagsAndEnvironment) {
  auto p =
      Parse({"--api-key", kKey, "--storage", "postgresql://db/x", "--node-id",
             "node-a.1_x", "--lease-ttl", "1500ms", "--partitions", "16"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.node_id, "node-a.1_x");
  EXPECT_EQ(p.config.lease_ttl, std::chrono::milliseconds(1500));
  EXPECT_EQ(p.config.partitions, 16u);
  p = Parse({"--api-key", kKey, "--storage=postgresql://db/x", "--node-id=b",
             "--lease-ttl=300ms", "--partitions=4096"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.node_id, "b");
  EXPECT_EQ(p.config.lease_ttl, std::chrono::milliseconds(300));
  EXPECT_EQ(p.config.partitions, 4096u);
  const std::map<std::string, std::string> env = {
      {"HOOKLOG_STORAGE", "postgresql://db/x"},
      {"HOOKLOG_NODE_ID", "env-node"},
      {"HOOKLOG_LEASE_TTL", "2s"},
      {"HOOKLOG_PARTITIONS", "1"}};
  p = Parse({"--api-key", kKey}, env);
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.node_id, "env-node");
  EXPECT_EQ(p.config.lease_ttl, std::chrono::seconds(2));
  EXPECT_EQ(p.config.partitions, 1u);
  // A flag wins over its variable.
  p = Parse({"--api-key", kKey, "--node-id", "flag-node", "--lease-ttl", "5s",
             "--partitions", "8"},
            env);
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.node_id, "flag-node");
  EXPECT_EQ(p.config.lease_ttl, std::chrono::seconds(5));
  EXPECT_EQ(p.config.partitions, 8u);
}

TEST(ConfigTest, BadClusterValuesAreClearErrors) {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string error_part;
  };
  const std::string pg = "postgresql://db/x";
  const std::vector<Case> cases = {
      // Without --storage: the embedded RocksDB is one node.
      {{"--node-id", "a"}, {}, "--node-id needs --storage"},
      {{"--lease-ttl", "1s"}, {}, "--lease-ttl needs --storage"},
      {{"--partitions", "8"}, {}, "--partitions needs --storage"},
      {{}, {{"HOOKLOG_NODE_ID", "a"}}, "HOOKLOG_NODE_ID needs --storage"},
      {{}, {{"HOOKLOG_LEASE_TTL", "1s"}}, "HOOKLOG_LEASE_TTL needs --storage"},
      {{}, {{"HOOKLOG_PARTITIONS", "8"}}, "HOOKLOG_PARTITIONS needs --storage"},
      {{"--storage", pg, "--node-id", ""}, {}, "--node-id: a node id has 1 to"},
      {{"--storage", pg, "--node-id", std::string(129, 'n')},
       {},
       "--node-id: a node id has 1 to 128 characters"},
      {{"--storage", pg, "--node-id", "a b"},
       {},
       "--node-id: a node id may hold only"},
      {{"--storage", pg, "--node-id", "a\"b"}, {}, "may hold only"},
      {{"--storage", pg}, {{"HOOKLOG_NODE_ID", "x/y"}}, "HOOKLOG_NODE_ID: a"},
      {{"--storage", pg, "--node-id"}, {}, "--node-id needs a value"},
      {{"--storage", pg, "--lease-ttl", "299ms"},
       {},
       "--lease-ttl: expected a duration of at least 300ms"},
      {{"--storage", pg, "--lease-ttl", "0s"}, {}, "--lease-ttl: expected"},
      {{"--storage", pg, "--lease-ttl", "-1s"}, {}, "--lease-ttl: expected"},
      {{"--storage", pg, "--lease-ttl", "ten"}, {}, "--lease-ttl: expected"},
      {{"--storage", pg}, {{"HOOKLOG_LEASE_TTL", "1"}}, "HOOKLOG_LEASE_TTL:"},
      {{"--storage", pg, "--partitions", "0"},
       {},
       "--partitions: expected a number of partitions from 1 to 4096"},
      {{"--storage", pg, "--partitions", "4097"}, {}, "--partitions: expected"},
      {{"--storage", pg, "--partitions", "-1"}, {}, "--partitions: expected"},
      {{"--storage", pg, "--partitions", "8x"}, {}, "--partitions: expected"},
      {{"--storage", pg, "--partitions", ""}, {}, "--partitions: expected"},
      {{"--storage", pg}, {{"HOOKLOG_PARTITIONS", "0"}}, "HOOKLOG_PARTITIONS:"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), {"--api-key", kKey});
    auto p = Parse(args, c.env);
    EXPECT_NE(p.error.find(c.error_part), std::string::npos)
        << ::testing::PrintToString(c.args) << " -> '" << p.error << "'";
  }
}

TEST(ConfigTest, Keygen) {
  EXPECT_EQ(Parse({"keygen"}).command, Command::kKeygen);
  EXPECT_NE(Parse({"keygen", "x"}).error, "");
}

}  // namespace
}  // namespace webhookd
