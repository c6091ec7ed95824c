// Disk faults (issue 8) through webhookd.
//
// 1. Through the storage wrapper (hooklog::ForwardingStorage over the real
//    RocksDB store): write errors and sync errors (IOError, as RocksDB
//    reports them) on every kind of write — not only the Unavailable publish
//    and endpoint writes api_test's StorageFailingIs503AndChangesNothing
//    covers — answer 503 with the envelope, change nothing, and the daemon
//    serves again once the fault clears; faults that hit attempt results
//    and intermittent faults under concurrent publishes lose nothing that
//    was acknowledged, across a restart.
// 2. A real full disk: the webhookd binary on a small tmpfs, publishing
//    until ENOSPC; 503s, still serving reads, writable again once the tmpfs
//    grows (no restart), and after SIGTERM + restart every acknowledged
//    publish is there with its deliveries. Needs root (mount); skipped
//    otherwise.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/webhookd/daemon_fixture.h"

namespace webhookd_test {
namespace {

using hooklog::receiver::Reply;
using namespace std::chrono_literals;

enum class Fault { kNone, kWrite, kSync, kEveryOther };

// Fails Appends as a disk would. A write error never reaches the store; a
// sync error is reported the way RocksDB reports a failed WAL fsync (the
// write is not applied: RocksDB inserts into the memtable only after the
// WAL write and sync succeeded).
class FaultyStorage : public hooklog::ForwardingStorage {
 public:
  FaultyStorage(std::unique_ptr<hooklog::Storage> s, std::atomic<Fault>* fault,
                std::atomic<int>* failed)
      : ForwardingStorage(std::move(s)), fault_(fault), failed_(failed) {}
  hooklog::Result<uint64_t> Append(hooklog::WriteBatch* batch) override {
    switch (fault_->load()) {
      case Fault::kNone:
        break;
      case Fault::kWrite:
        ++*failed_;
        return hooklog::Status::IOError(
            "injected: While appending to file: 000012.log: No space left on "
            "device");
      case Fault::kSync:
        ++*failed_;
        return hooklog::Status::IOError(
            "injected: While fsync: a file descriptor: Input/output error");
      case Fault::kEveryOther:
        if (calls_.fetch_add(1) % 2 == 0) {
          ++*failed_;
          return hooklog::Status::IOError("injected: intermittent write error");
        }
        break;
    }
    return ForwardingStorage::Append(batch);
  }

 private:
  std::atomic<Fault>* fault_;
  std::atomic<int>* failed_;
  std::atomic<uint64_t> calls_{0};
};

class DiskFaultTest : public DaemonFixture {
 protected:
  // Each test gets its own fault switch (a daemon may outlive a test body
  // only until TearDown, which stops it first).
  webhookd::Config FaultyConfig() {
    auto c = BaseConfig();
    c.wrap_storage = [this](std::unique_ptr<hooklog::Storage> s) {
      return std::unique_ptr<hooklog::Storage>(
          std::make_unique<FaultyStorage>(std::move(s), &fault_, &failed_));
    };
    return c;
  }
  int64_t Count(const std::string& what) {
    return CallJson("GET", what, 200).Int("pagination/total_count");
  }
  std::string ErrorMessage(const HttpResult& r) {
    return Json(r.body).Str("error/message");
  }

  std::atomic<Fault> fault_{Fault::kNone};
  std::atomic<int> failed_{0};
};

// Every write route under write errors and under sync errors: 503
// UNAVAILABLE naming the storage, nothing changed (reads show the state
// before), the idempotency key not burned; then the fault clears and the
// same requests succeed.
TEST_F(DiskFaultTest, WriteAndSyncErrorsAre503OnEveryWriteRoute) {
  Start(FaultyConfig());
  rx_->SetReply("/dead", Reply{.status = 500});
  const std::string ep = CreateEndpoint("/ok", R"("description":"before")");
  const std::string dead_ep = CreateEndpoint("/dead");
  const std::vector<std::string> first = Publish("disk.before");
  ASSERT_EQ(first.size(), 2u);
  std::string dead, ok;
  for (const auto& id : first) {
    Json row = WaitFor(id, [](const Json& j) {
      return j.Str("status") == "delivered" || j.Str("status") == "dead_letter";
    });
    (row.Str("status") == "dead_letter" ? dead : ok) = id;
  }
  ASSERT_FALSE(dead.empty());
  ASSERT_FALSE(ok.empty());
  const std::string masked =
      CallJson("GET", "endpoints/" + ep + "/", 200).Str("signing_secret");
  const std::string snapshot_endpoints = Call("GET", "endpoints/").body;
  const std::string snapshot_deliveries = Call("GET", "deliveries/").body;
  const uint64_t received = rx_->total();

  for (Fault f : {Fault::kWrite, Fault::kSync}) {
    SCOPED_TRACE(f == Fault::kWrite ? "write error" : "sync error");
    fault_ = f;
    const int failed_before = failed_;
    HttpResult r;
    r = Call("POST", "events/",
             R"({"type":"disk.during","data":{},"idempotency_key":"k1"})");
    ExpectError(r, 503, "UNAVAILABLE");
    EXPECT_NE(ErrorMessage(r).find("nothing was changed"), std::string::npos)
        << r.body;
    EXPECT_NE(ErrorMessage(r).find("injected"), std::string::npos) << r.body;
    ExpectError(
        Call("POST", "endpoints/", "{\"url\":" + Quote(rx_->Url("/new")) + "}"),
        503, "UNAVAILABLE");
    ExpectError(Call("PATCH", "endpoints/" + ep + "/",
                     R"({"description":"after","is_active":false})"),
                503, "UNAVAILABLE");
    ExpectError(Call("POST", "endpoints/" + ep + "/rotate-secret/"), 503,
                "UNAVAILABLE");
    ExpectError(Call("POST", "endpoints/" + ep + "/test/"), 503, "UNAVAILABLE");
    ExpectError(Call("POST", "deliveries/" + dead + "/replay/"), 503,
                "UNAVAILABLE");
    ExpectError(Call("DELETE", "endpoints/" + dead_ep + "/"), 503,
                "UNAVAILABLE");
    EXPECT_GT(failed_, failed_before);
    // Reads still work and show exactly the state before.
    EXPECT_EQ(Call("GET", "endpoints/").body, snapshot_endpoints);
    EXPECT_EQ(Call("GET", "deliveries/").body, snapshot_deliveries);
    EXPECT_EQ(
        CallJson("GET", "endpoints/" + ep + "/", 200).Str("signing_secret"),
        masked);
    EXPECT_EQ(CallJson("GET", "deliveries/" + dead + "/", 200).Str("status"),
              "dead_letter");
    EXPECT_EQ(Call("GET", "/healthz", "", {}).status, 200);
  }
  // Nothing was sent for the refused test ping, replay or publish.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(rx_->total(), received);

  fault_ = Fault::kNone;
  // The key was not burned by the refused publish: a new event now.
  Json pub =
      CallJson("POST", "events/", 202,
               R"({"type":"disk.during","data":{},"idempotency_key":"k1"})");
  simdjson::dom::array ids;
  ASSERT_FALSE(pub["deliveries"].get(ids));
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(CallJson("PATCH", "endpoints/" + ep + "/", 200,
                     R"({"description":"after"})")
                .Str("description"),
            "after");
  EXPECT_EQ(CallJson("POST", "endpoints/" + ep + "/test/", 200).Str("status"),
            "delivered");
  rx_->SetReply("/dead", Reply{.status = 200});
  EXPECT_EQ(
      CallJson("POST", "deliveries/" + dead + "/replay/", 200).Str("status"),
      "delivered");
  EXPECT_EQ(Call("DELETE", "endpoints/" + dead_ep + "/").status, 204);
}

// Faults while deliveries are in flight: attempt results that cannot be
// recorded are not lost — the attempt is made again once the store accepts
// writes (at-least-once), and every acknowledged delivery ends delivered,
// also after a restart on the same directory.
TEST_F(DiskFaultTest, AttemptResultsThatCannotBeRecordedAreRetried) {
  Start(FaultyConfig());
  // Every first attempt is held at the receiver until the store fails, so
  // that all five results arrive while writes are refused.
  rx_->SetReply("/slow", Reply{.status = 200, .hold = true});
  CreateEndpoint("/slow");
  std::vector<std::string> acked;
  for (int i = 0; i < 5; ++i) {
    auto ids = Publish("disk.inflight");
    acked.insert(acked.end(), ids.begin(), ids.end());
  }
  ASSERT_EQ(acked.size(), 5u);
  ASSERT_TRUE(rx_->WaitForRequests(5, 20s));
  fault_ = Fault::kWrite;
  rx_->ReleaseHeld();  // five 200s whose outcome cannot be recorded
  std::this_thread::sleep_for(1500ms);
  for (const auto& id : acked) {
    Json row = CallJson("GET", "deliveries/" + id + "/", 200);
    EXPECT_EQ(row.Str("status"), "pending") << "an unrecorded 2xx shows";
    EXPECT_EQ(row.Int("attempts"), 0);
  }
  fault_ = Fault::kNone;
  for (const auto& id : acked) WaitForStatus(id, "delivered");
  // Each was sent again after the store recovered: at-least-once, so the
  // receiver saw every event at least twice, and no delivery is missing.
  EXPECT_GE(rx_->total(), 2 * acked.size());
  std::set<std::string> seen;
  for (const auto& r : rx_->RequestsFor("/slow")) seen.insert(r.webhook_id);
  EXPECT_EQ(seen.size(), acked.size());
  Stop();
  Start(BaseConfig());
  EXPECT_EQ(Count("deliveries/"), static_cast<int64_t>(acked.size()));
  for (const auto& id : acked) {
    EXPECT_EQ(CallJson("GET", "deliveries/" + id + "/", 200).Str("status"),
              "delivered");
  }
}

// Every other write fails while four clients publish concurrently: each
// publish is either acknowledged (202) — and then exists, is delivered and
// survives a restart — or refused (503) and leaves no trace.
TEST_F(DiskFaultTest, IntermittentFailuresUnderConcurrentPublishes) {
  Start(FaultyConfig());
  CreateEndpoint("/ok");
  fault_ = Fault::kEveryOther;
  std::mutex mu;
  std::vector<std::string> acked;
  std::atomic<int> refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(daemon_->host(), daemon_->port());
      for (int i = 0; i < 25; ++i) {
        HttpResult r = client.Request(
            "POST", kApiBase + "events/",
            "{\"type\":\"disk.flaky\",\"data\":{\"t\":" + std::to_string(t) +
                ",\"i\":" + std::to_string(i) + "}}",
            {{"X-API-Key", kFixtureKey}});
        if (r.status == 202) {
          std::lock_guard<std::mutex> l(mu);
          acked.push_back(Json(r.body).Str("deliveries/0"));
        } else if (r.status == 503 &&
                   Json(r.body).Str("error/code") == "UNAVAILABLE") {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(other, 0);
  EXPECT_GT(refused, 0);
  EXPECT_GT(acked.size(), 0u);
  EXPECT_EQ(acked.size() + static_cast<size_t>(refused.load()), 100u);
  fault_ = Fault::kNone;
  for (const auto& id : acked) WaitForStatus(id, "delivered");
  EXPECT_EQ(Count("deliveries/"), static_cast<int64_t>(acked.size()));
  Stop();
  Start(BaseConfig());
  EXPECT_EQ(Count("deliveries/"), static_cast<int64_t>(acked.size()));
  std::set<std::string> listed;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    Json j = CallJson("GET",
                      "deliveries/?page_size=50" +
                          (cursor.empty() ? "" : "&cursor=" + cursor),
                      200);
    simdjson::dom::array data;
    ASSERT_FALSE(j["data"].get(data));
    for (auto d : data) {
      listed.insert(std::string(d["id"].get_string().value()));
      EXPECT_EQ(d["status"].get_string().value(), "delivered");
    }
    if (j.IsNull("next_cursor")) break;
    cursor = j.Str("next_cursor");
  }
  EXPECT_EQ(listed, std::set<std::string>(acked.begin(), acked.end()));
}

// --- a real full disk
// -----------------------------------------------------------

class TmpfsMount {
 public:
  // Mounts a tmpfs of `size` at a fresh directory; error() says why not.
  explicit TmpfsMount(const std::string& size) {
    if (geteuid() != 0) {
      error_ = "not root (mounting a tmpfs needs CAP_SYS_ADMIN)";
      return;
    }
    std::string opts = "size=" + size;
    if (mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      error_ = std::string("mount -t tmpfs failed: ") + strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~TmpfsMount() {
    if (mounted_ && umount2(dir_.path().c_str(), MNT_DETACH) != 0) {
      ADD_FAILURE() << "umount " << dir_.path() << ": " << strerror(errno);
    }
  }
  bool Resize(const std::string& size) {
    std::string opts = "size=" + size;
    return mount("tmpfs", dir_.path().c_str(), "tmpfs", MS_REMOUNT,
                 opts.c_str()) == 0;
  }
  const std::string& error() const { return error_; }
  std::string path() const { return dir_.path(); }

 private:
  TempDir dir_;  // destroyed after the unmount
  bool mounted_ = false;
  std::string error_;
};

TEST(FullDiskTest, Enospc503ThenResumesWithoutRestartAndLosesNothing) {
  TmpfsMount fs("8m");
  if (!fs.error().empty()) GTEST_SKIP() << fs.error();
  const std::string data = fs.path() + "/data";
  auto rx = hooklog::receiver::Receiver::Start();
  ASSERT_NE(rx, nullptr);
  rx->SetDefaultReply(Reply{.status = 200});
  const std::string key = "full-disk-key-0123456789abcdef";
  const std::vector<std::string> args = {
      "--api-key", key, "--allow-private-targets", "--log-level", "warn"};
  std::map<std::string, std::vector<std::string>> acked;  // event -> deliveries
  auto publish = [&](HttpClient& c, int i, HttpResult* out) {
    // ~200 KiB payloads fill 8 MiB quickly.
    *out = c.Request(
        "POST", kApiBase + "events/",
        "{\"type\":\"disk.full\",\"data\":{\"i\":" + std::to_string(i) +
            ",\"pad\":\"" + std::string(200 * 1024, 'p') + "\"}}",
        {{"X-API-Key", key}});
    if (out->status == 202) {
      Json j(out->body);
      std::vector<std::string> ids;
      simdjson::dom::array arr;
      if (!j["deliveries"].get(arr)) {
        for (auto e : arr) ids.emplace_back(e.get_string().value());
      }
      acked[j.Str("id")] = ids;
    }
  };
  {
    RunningWebhookd d = StartWebhookdBinary(data, args);
    ASSERT_NE(d.port, 0);
    HttpClient c("127.0.0.1", d.port);
    HttpResult r = c.Request("POST", kApiBase + "endpoints/",
                             "{\"url\":" + Quote(rx->Url("/full")) + "}",
                             {{"X-API-Key", key}});
    ASSERT_EQ(r.status, 201) << r.body;
    // Publish until the disk is full.
    int i = 0;
    HttpResult last;
    for (; i < 200; ++i) {
      publish(c, i, &last);
      if (last.status != 202) break;
    }
    ASSERT_LT(i, 200) << "the 8 MiB tmpfs never filled up";
    ASSERT_GT(acked.size(), 0u);
    EXPECT_EQ(last.status, 503) << last.body;
    Json err(last.body);
    ASSERT_TRUE(err.ok()) << last.body;
    EXPECT_EQ(err.Str("error/code"), "UNAVAILABLE");
    const std::string msg = err.Str("error/message");
    EXPECT_NE(msg.find("nothing was changed"), std::string::npos) << msg;
    EXPECT_TRUE(msg.find("space") != std::string::npos ||
                msg.find("ENOSPC") != std::string::npos)
        << "the message should say the disk is full: " << msg;
    // Still refusing, still up, still answering reads.
    for (int k = 0; k < 3; ++k) {
      HttpResult again;
      publish(c, 1000 + k, &again);
      ASSERT_EQ(again.status, 503) << again.body << "\n" << d.child->Stderr();
    }
    // /healthz tells a load balancer that writes fail here now.
    HttpResult health = c.Request("GET", "/healthz");
    EXPECT_EQ(health.status, 503) << health.body;
    EXPECT_EQ(health.body,
              R"({"status":"unavailable","storage":"unreachable"})");
    HttpResult list =
        c.Request("GET", kApiBase + "deliveries/", "", {{"X-API-Key", key}});
    EXPECT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(Json(list.body).Int("pagination/total_count"),
              static_cast<int64_t>(acked.size()));
    for (const auto& [event, ids] : acked) {
      ASSERT_EQ(ids.size(), 1u);
      HttpResult row = c.Request("GET", kApiBase + "deliveries/" + ids[0] + "/",
                                 "", {{"X-API-Key", key}});
      EXPECT_EQ(row.status, 200) << row.body;
    }
    EXPECT_FALSE(d.child->Wait(0ms).has_value()) << "webhookd died";

    // Space returns: publishes succeed again without a restart.
    ASSERT_TRUE(fs.Resize("64m")) << strerror(errno);
    HttpResult ok;
    for (int k = 0; k < 100; ++k) {
      publish(c, 2000 + k, &ok);
      if (ok.status == 202) break;
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(ok.status, 202)
        << "still refusing after space returned: " << ok.body << "\n"
        << d.child->Stderr();
    for (int k = 0; k < 5; ++k) {
      publish(c, 3000 + k, &ok);
      EXPECT_EQ(ok.status, 202) << ok.body;
    }
    EXPECT_EQ(c.Request("GET", "/healthz").status, 200);
    // Deliveries made while (and after) the disk was full complete.
    for (const auto& [event, ids] : acked) {
      std::string status;
      for (int k = 0; k < 1200 && status != "delivered"; ++k) {
        HttpResult row =
            c.Request("GET", kApiBase + "deliveries/" + ids[0] + "/", "",
                      {{"X-API-Key", key}});
        status = Json(row.body).Str("status");
        if (status != "delivered") std::this_thread::sleep_for(25ms);
      }
      EXPECT_EQ(status, "delivered") << ids[0];
    }
    d.child->Signal(SIGTERM);
    auto code = d.child->Wait(30s);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0) << d.child->Stderr();
  }
  {
    // Restart on the same directory: every acknowledged publish is there.
    RunningWebhookd d = StartWebhookdBinary(data, args);
    ASSERT_NE(d.port, 0);
    HttpClient c("127.0.0.1", d.port);
    HttpResult list =
        c.Request("GET", kApiBase + "deliveries/", "", {{"X-API-Key", key}});
    EXPECT_EQ(Json(list.body).Int("pagination/total_count"),
              static_cast<int64_t>(acked.size()));
    for (const auto& [event, ids] : acked) {
      HttpResult row = c.Request("GET", kApiBase + "deliveries/" + ids[0] + "/",
                                 "", {{"X-API-Key", key}});
      ASSERT_EQ(row.status, 200) << row.body;
      Json j(row.body);
      EXPECT_EQ(j.Str("event_id"), event);
      EXPECT_EQ(j.Str("status"), "delivered");
    }
    d.child->Signal(SIGTERM);
    EXPECT_EQ(d.child->Wait(30s).value_or(-1), 0) << d.child->Stderr();
  }
}

}  // namespace
}  // namespace webhookd_test
