// The portal's server side through webhookd's REST API: portal links and
// their tokens, session/, the tenant scope on every route (another
// tenant's endpoint, delivery, event or job is a 404; operator-only routes
// a 403; /metrics a 401), count=false, events/{id}, a delivery's request,
// and the stats and replay-job routes.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "tests/webhookd/daemon_fixture.h"
#include "webhookd/portal_assets.h"
#include "webhookd/portal_token.h"

namespace webhookd_test {
namespace {

using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> Ids(const Json& j, const std::string& list = "data",
                             const std::string& field = "id") {
  std::vector<std::string> out;
  simdjson::dom::array arr;
  if (j[list].get(arr)) return out;
  for (auto e : arr) out.emplace_back(e[field].get_string().value());
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class PortalTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    Start(BaseConfig());
  }

  // A portal link's token for `metadata` (a JSON object).
  std::string Token(const std::string& metadata, const std::string& ttl = "") {
    Json j = CallJson("POST", "portal-links/", 201,
                      "{\"metadata\":" + metadata +
                          (ttl.empty() ? "" : ",\"ttl\":" + Quote(ttl)) + "}");
    return j.Str("token");
  }
  static Headers Bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }
  HttpResult As(const std::string& token, const std::string& method,
                const std::string& path, const std::string& body = "") {
    return Call(method, path, body, Bearer(token));
  }
  Json AsJson(const std::string& token, const std::string& method,
              const std::string& path, int want, const std::string& body = "") {
    HttpResult r = As(token, method, path, body);
    EXPECT_EQ(r.status, want) << method << " " << path << ": " << r.body;
    return Json(r.body);
  }
  int64_t Count(const std::string& what) {
    return CallJson("GET", what, 200).Int("pagination/total_count");
  }

  // Two tenants' endpoints and one of nobody's; acme's token.
  void MakeTenants() {
    acme1_ = CreateEndpoint("/acme1", R"("metadata":{"customer":"acme"})");
    acme2_ = CreateEndpoint("/acme2",
                            R"("metadata":{"customer":"acme","region":"eu"})");
    globex_ = CreateEndpoint("/globex", R"("metadata":{"customer":"globex"})");
    loose_ = CreateEndpoint("/loose");
    acme_ = Token(R"({"customer":"acme"})");
  }

  std::string acme1_, acme2_, globex_, loose_, acme_;
};

TEST_F(PortalTest, PortalLinkAndSession) {
  const int64_t before = UnixNow();
  Json link = CallJson("POST", "portal-links/", 201,
                       R"({"metadata":{"customer":"acme"},"ttl":"2h"})");
  const std::string token = link.Str("token");
  EXPECT_EQ(link.Str("url"), daemon_->url() + "/ui/#token=" + token);
  EXPECT_EQ(link.Str("metadata/customer"), "acme");
  auto exp = hooklog::ParseIso8601(link.Str("expires_at"));
  ASSERT_TRUE(exp.ok());
  EXPECT_GE(*exp / hooklog::kSecond, before + 7200);
  EXPECT_LE(*exp / hooklog::kSecond, UnixNow() + 7200);

  Json s = AsJson(token, "GET", "session/", 200);
  EXPECT_EQ(s.Str("kind"), "tenant");
  EXPECT_EQ(s.Str("metadata/customer"), "acme");
  EXPECT_EQ(s.Str("expires_at"), link.Str("expires_at"));
  Json op = CallJson("GET", "session/", 200);
  EXPECT_EQ(op.Str("kind"), "operator");
  EXPECT_TRUE(op.IsNull("metadata"));
  EXPECT_TRUE(op.IsNull("expires_at"));
  // The default ttl is an hour.
  Json def = CallJson("POST", "portal-links/", 201,
                      R"({"metadata":{"customer":"acme"}})");
  auto def_exp = hooklog::ParseIso8601(def.Str("expires_at"));
  EXPECT_LE(*def_exp / hooklog::kSecond, UnixNow() + 3600);
  EXPECT_GE(*def_exp / hooklog::kSecond, before + 3600);
}

TEST_F(PortalTest, PortalLinkPublicUrl) {
  webhookd::Config c = BaseConfig();
  c.public_url = "https://hooks.example.com";
  Start(c);
  Json link = CallJson("POST", "portal-links/", 201,
                       R"({"metadata":{"customer":"acme"}})");
  EXPECT_EQ(link.Str("url"),
            "https://hooks.example.com/ui/#token=" + link.Str("token"));
}

TEST_F(PortalTest, PortalLinkBadInput) {
  for (const auto& [body, field] :
       std::vector<std::pair<std::string, std::string>>{
           {R"({})", "metadata"},
           {R"({"metadata":{}})", "metadata"},
           {R"({"metadata":null})", "metadata"},
           {R"({"metadata":{"customer":1}})", "metadata"},
           {R"({"metadata":{"customer":""}})", "metadata"},
           {R"({"metadata":"acme"})", "metadata"},
           {R"({"metadata":{"c":"a"},"ttl":"30s"})", "ttl"},
           {R"({"metadata":{"c":"a"},"ttl":"31d"})", "ttl"},
           {R"({"metadata":{"c":"a"},"ttl":"soon"})", "ttl"},
           {R"({"metadata":{"c":"a"},"ttl":3600})", "ttl"},
       }) {
    SCOPED_TRACE(body);
    ExpectError(Call("POST", "portal-links/", body), 422, "VALIDATION_ERROR",
                field);
  }
  ExpectError(Call("POST", "portal-links/", "{nope"), 400, "BAD_REQUEST");
  EXPECT_EQ(
      Call("POST", "portal-links/", R"({"metadata":{"c":"a"},"ttl":"30d"})")
          .status,
      201);
  EXPECT_EQ(
      Call("POST", "portal-links/", R"({"metadata":{"c":"a"},"ttl":"1m"})")
          .status,
      201);
}

TEST_F(PortalTest, TenantSeesOnlyItsEndpoints) {
  MakeTenants();
  Json list = AsJson(acme_, "GET", "endpoints/", 200);
  auto ids = Ids(list);
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_TRUE(Contains(ids, acme1_));
  EXPECT_TRUE(Contains(ids, acme2_));
  EXPECT_EQ(list.Int("pagination/total_count"), 2);
  EXPECT_EQ(Ids(AsJson(acme_, "GET", "endpoints/?metadata[region]=eu", 200)),
            std::vector<std::string>{acme2_});
  EXPECT_TRUE(
      Ids(AsJson(acme_, "GET", "endpoints/?metadata[customer]=globex", 200))
          .empty());
  EXPECT_EQ(AsJson(acme_, "GET", "endpoints/" + acme1_ + "/", 200).Str("id"),
            acme1_);

  // Another tenant's endpoint and an endpoint of nobody's: 404 on every
  // route, and nothing changes.
  const std::string globex_secret =
      CallJson("POST", "endpoints/" + globex_ + "/rotate-secret/", 200)
          .Str("signing_secret");
  for (const std::string& other : {globex_, loose_}) {
    SCOPED_TRACE(other);
    const std::string p = "endpoints/" + other + "/";
    ExpectError(As(acme_, "GET", p), 404, "NOT_FOUND");
    ExpectError(As(acme_, "PATCH", p, R"({"description":"mine"})"), 404,
                "NOT_FOUND");
    ExpectError(As(acme_, "DELETE", p), 404, "NOT_FOUND");
    ExpectError(As(acme_, "POST", p + "test/"), 404, "NOT_FOUND");
    ExpectError(As(acme_, "POST", p + "rotate-secret/"), 404, "NOT_FOUND");
    Json still = CallJson("GET", p, 200);
    EXPECT_EQ(still.Str("description"), "");
  }
  EXPECT_TRUE(CallJson("GET", "endpoints/" + globex_ + "/", 200)
                  .Str("signing_secret")
                  .ends_with(globex_secret.substr(globex_secret.size() - 4)));
  EXPECT_TRUE(rx_->RequestsFor("/globex").empty());
  EXPECT_EQ(Count("endpoints/"), 4);

  // A deleted endpoint of its own is gone for the tenant too.
  EXPECT_EQ(As(acme_, "DELETE", "endpoints/" + acme2_ + "/").status, 204);
  ExpectError(As(acme_, "GET", "endpoints/" + acme2_ + "/"), 404, "NOT_FOUND");
  EXPECT_EQ(Ids(AsJson(acme_, "GET", "endpoints/", 200)),
            std::vector<std::string>{acme1_});
}

TEST_F(PortalTest, TenantCreateAndPatchKeepTheScope) {
  MakeTenants();
  Json created = AsJson(acme_, "POST", "endpoints/", 201,
                        "{\"url\":" + Quote(rx_->Url("/new")) + "}");
  EXPECT_EQ(created.Str("metadata/customer"), "acme");
  Json extra = AsJson(acme_, "POST", "endpoints/", 201,
                      "{\"url\":" + Quote(rx_->Url("/new2")) +
                          R"(,"metadata":{"customer":"acme","team":"x"}})");
  EXPECT_EQ(extra.Str("metadata/team"), "x");
  const int64_t endpoints = Count("endpoints/");
  ExpectError(As(acme_, "POST", "endpoints/",
                 "{\"url\":" + Quote(rx_->Url("/evil")) +
                     R"(,"metadata":{"customer":"globex"}})"),
              422, "VALIDATION_ERROR", "metadata");
  EXPECT_EQ(Count("endpoints/"), endpoints);

  const std::string p = "endpoints/" + extra.Str("id") + "/";
  ExpectError(As(acme_, "PATCH", p, R"({"metadata":{"customer":"globex"}})"),
              422, "VALIDATION_ERROR", "metadata");
  ExpectError(As(acme_, "PATCH", p, R"({"metadata":{"customer":""}})"), 422,
              "VALIDATION_ERROR", "metadata");
  Json same = CallJson("GET", p, 200);
  EXPECT_EQ(same.Str("metadata/customer"), "acme");
  EXPECT_EQ(same.Str("metadata/team"), "x");
  // Clearing keeps the scope's key; other keys are the tenant's to change.
  Json cleared = AsJson(acme_, "PATCH", p, 200, R"({"metadata":null})");
  EXPECT_EQ(cleared.Str("metadata/customer"), "acme");
  simdjson::dom::object md;
  ASSERT_FALSE(cleared["metadata"].get(md));
  EXPECT_EQ(md.size(), 1u);
  Json patched = AsJson(acme_, "PATCH", p, 200,
                        R"({"metadata":{"team":"y","customer":"acme"}})");
  EXPECT_EQ(patched.Str("metadata/team"), "y");
  // The operator is not bound by any scope.
  EXPECT_EQ(CallJson("PATCH", p, 200, R"({"metadata":{"customer":"globex"}})")
                .Str("metadata/customer"),
            "globex");
  ExpectError(As(acme_, "GET", p), 404, "NOT_FOUND");
}

TEST_F(PortalTest, TenantDeliveriesAndEvents) {
  MakeTenants();
  const auto ds = Publish("order.paid", R"({"n":1})");
  ASSERT_EQ(ds.size(), 4u);
  std::string mine, theirs;
  for (const auto& d : ds) {
    Json row = WaitForStatus(d, "delivered");
    if (row.Str("endpoint_id") == acme1_) mine = d;
    if (row.Str("endpoint_id") == globex_) theirs = d;
  }
  ASSERT_FALSE(mine.empty());
  ASSERT_FALSE(theirs.empty());
  Json list = AsJson(acme_, "GET", "deliveries/", 200);
  auto ids = Ids(list);
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_TRUE(Contains(ids, mine));
  EXPECT_FALSE(Contains(ids, theirs));
  EXPECT_EQ(Ids(AsJson(acme_, "GET", "deliveries/?endpoint_id=" + acme1_, 200)),
            std::vector<std::string>{mine});
  ExpectError(As(acme_, "GET", "deliveries/?endpoint_id=" + globex_), 404,
              "NOT_FOUND");
  EXPECT_EQ(AsJson(acme_, "GET", "deliveries/" + mine + "/", 200).Str("id"),
            mine);
  ExpectError(As(acme_, "GET", "deliveries/" + theirs + "/"), 404, "NOT_FOUND");
  ExpectError(As(acme_, "POST", "deliveries/" + theirs + "/replay/"), 404,
              "NOT_FOUND");
  // Its own delivery is not a dead letter: the engine's 422, not a 404.
  ExpectError(As(acme_, "POST", "deliveries/" + mine + "/replay/"), 422,
              "VALIDATION_ERROR", "delivery_id");

  // The event: the operator sees all four deliveries, the tenant its two.
  const std::string event =
      CallJson("GET", "deliveries/" + mine + "/", 200).Str("event_id");
  Json ev = CallJson("GET", "events/" + event + "/", 200);
  EXPECT_EQ(ev.Str("id"), event);
  EXPECT_EQ(ev.Str("type"), "order.paid");
  EXPECT_EQ(ev.Int("data/n"), 1);
  EXPECT_EQ(Ids(ev, "deliveries").size(), 4u);
  Json bare = CallJson("GET", "events/" + event.substr(4) + "/", 200);
  EXPECT_EQ(bare.Str("id"), event);
  auto tenant_ids =
      Ids(AsJson(acme_, "GET", "events/" + event + "/", 200), "deliveries");
  EXPECT_EQ(tenant_ids.size(), 2u);
  EXPECT_TRUE(Contains(tenant_ids, mine));
  EXPECT_FALSE(Contains(tenant_ids, theirs));
  ExpectError(Call("GET", "events/evt_nope/"), 422, "VALIDATION_ERROR",
              "event_id");
  ExpectError(Call("GET", "events/evt_" + std::string(22, '2') + "/"), 404,
              "NOT_FOUND");
  // An event with none of its deliveries is a 404 for the tenant, even
  // one with endpoints (created after the event).
  const auto before = Publish("x.before");
  ASSERT_FALSE(before.empty());
  const std::string before_event =
      CallJson("GET", "deliveries/" + before[0] + "/", 200).Str("event_id");
  CreateEndpoint("/initech", R"("metadata":{"customer":"initech"})");
  const std::string initech = Token(R"({"customer":"initech"})");
  ExpectError(As(initech, "GET", "events/" + before_event + "/"), 404,
              "NOT_FOUND");
  EXPECT_EQ(Ids(AsJson(acme_, "GET", "events/" + before_event + "/", 200),
                "deliveries")
                .size(),
            2u);
}

TEST_F(PortalTest, TenantWithoutEndpointsSeesNothing) {
  MakeTenants();
  Publish("order.paid");
  const std::string nobody = Token(R"({"customer":"nobody"})");
  Json eps = AsJson(nobody, "GET", "endpoints/", 200);
  EXPECT_TRUE(Ids(eps).empty());
  Json ds = AsJson(nobody, "GET", "deliveries/", 200);
  EXPECT_TRUE(Ids(ds).empty());
  EXPECT_EQ(ds.Int("pagination/total_count"), 0);
  Json stats = AsJson(nobody, "GET", "stats/?bucket=5m", 200);
  EXPECT_EQ(stats.Int("total/attempts"), 0);
  EXPECT_EQ(stats.Int("counts/delivered"), 0);
  simdjson::dom::array points;
  ASSERT_FALSE(stats["points"].get(points));
  EXPECT_GE(points.size(), 12u);
  EXPECT_LE(points.size(), 13u);
  EXPECT_TRUE(Ids(AsJson(nobody, "GET", "stats/endpoints/", 200)).empty());
  ExpectError(As(nobody, "POST", "deliveries/replay/", "{}"), 422,
              "VALIDATION_ERROR", "endpoint_id");
}

TEST_F(PortalTest, OperatorOnlyRoutesAndBadTokens) {
  MakeTenants();
  const int64_t deliveries = Count("deliveries/");
  ExpectError(As(acme_, "POST", "events/", R"({"type":"a.b","data":{}})"), 403,
              "FORBIDDEN");
  EXPECT_EQ(Count("deliveries/"), deliveries);
  ExpectError(As(acme_, "POST", "portal-links/",
                 R"({"metadata":{"customer":"globex"}})"),
              403, "FORBIDDEN");
  ExpectError(As(acme_, "GET", "/metrics"), 401, "UNAUTHORIZED");

  const webhookd::PortalKey key = webhookd::DerivePortalKey(kFixtureKey);
  webhookd::PortalClaims claims;
  claims.metadata = {{"customer", "acme"}};
  claims.issued_at = UnixNow() - 7200;
  claims.expires_at = UnixNow() - 1;
  HttpResult expired =
      As(webhookd::SignPortalToken(key, claims), "GET", "endpoints/");
  ExpectError(expired, 401, "UNAUTHORIZED");
  EXPECT_NE(expired.body.find("expired"), std::string::npos) << expired.body;

  // Another tenant's claims under acme's signature.
  claims.metadata = {{"customer", "globex"}};
  claims.expires_at = UnixNow() + 3600;
  std::string forged = webhookd::SignPortalToken(key, claims);
  forged = forged.substr(0, forged.find('.')) + acme_.substr(acme_.find('.'));
  HttpResult tampered = As(forged, "GET", "endpoints/");
  ExpectError(tampered, 401, "UNAUTHORIZED");
  EXPECT_NE(tampered.body.find("signature"), std::string::npos);
  ExpectError(As("not-a-token", "GET", "endpoints/"), 401, "UNAUTHORIZED");
  ExpectError(Call("GET", "endpoints/", "", {{"Authorization", "Basic abc"}}),
              401, "UNAUTHORIZED");
  // A wrong X-API-Key is refused even beside a valid token.
  ExpectError(Call("GET", "endpoints/", "",
                   {{"X-API-Key", "wrong-key-0123456789abcdef"},
                    {"Authorization", "Bearer " + acme_}}),
              401, "UNAUTHORIZED");
  // A valid key wins over the token: the operator's view.
  HttpResult both =
      Call("GET", "endpoints/", "",
           {{"X-API-Key", kFixtureKey}, {"Authorization", "Bearer " + acme_}});
  EXPECT_EQ(Ids(Json(both.body)).size(), 4u);
}

// Links are signed with the first key and accepted under any configured
// one; removing the key they were signed with revokes them.
TEST_F(PortalTest, RemovingTheKeyRevokesItsLinks) {
  const std::string second = "second-key-0123456789abcdef";
  webhookd::Config c = BaseConfig();
  c.api_keys = {kFixtureKey, second};
  Start(c);
  const std::string token = Token(R"({"customer":"acme"})");
  c.api_keys = {second, kFixtureKey};  // a new first key: old links still work
  Start(c);
  EXPECT_EQ(As(token, "GET", "session/").status, 200);
  c.api_keys = {second};
  Start(c);
  HttpResult r = As(token, "GET", "session/");
  ExpectError(r, 401, "UNAUTHORIZED");
  EXPECT_NE(r.body.find("signature"), std::string::npos);
}

TEST_F(PortalTest, CountFalse) {
  const std::string ep = CreateEndpoint("/c");
  for (int i = 0; i < 3; ++i) Publish("c.x");
  Json page = CallJson("GET", "deliveries/?count=false&page_size=2", 200);
  EXPECT_TRUE(page.IsNull("pagination/total_count"));
  EXPECT_TRUE(page.IsNull("pagination/total_pages"));
  EXPECT_TRUE(page.Bool("pagination/has_next"));
  EXPECT_EQ(Ids(page).size(), 2u);
  Json next = CallJson(
      "GET",
      "deliveries/?count=false&page_size=2&cursor=" + page.Str("next_cursor"),
      200);
  EXPECT_EQ(Ids(next).size(), 1u);
  EXPECT_FALSE(next.Bool("pagination/has_next"));
  EXPECT_TRUE(next.IsNull("next_cursor"));
  EXPECT_EQ(CallJson("GET", "deliveries/?count=true", 200)
                .Int("pagination/total_count"),
            3);
  ExpectError(Call("GET", "deliveries/?count=no"), 422, "VALIDATION_ERROR",
              "count");
  (void)ep;
}

TEST_F(PortalTest, DeliveryShowsItsRequest) {
  const std::string std_ep =
      CreateEndpoint("/std", R"("headers":{"X-Custom":"secret-value"})");
  const std::string cl_ep =
      CreateEndpoint("/cl", R"("signature_scheme":"closient")");
  const auto ds = Publish("req.shown", R"({"a":[1,2],"b":"é"})");
  ASSERT_EQ(ds.size(), 2u);
  ASSERT_TRUE(rx_->WaitForRequests(2, 30s));
  for (const auto& d : ds) {
    Json row = WaitForStatus(d, "delivered");
    const bool closient = row.Str("endpoint_id") == cl_ep;
    const std::string path = closient ? "/cl" : "/std";
    auto got = rx_->RequestsFor(path);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(row.Str("request/method"), "POST");
    EXPECT_EQ(row.Str("request/url"), rx_->Url(path));
    EXPECT_EQ(row.Str("request/body"), got[0].body);
    std::vector<std::string> names;
    simdjson::dom::array arr;
    ASSERT_FALSE(row["request/header_names"].get(arr));
    for (auto n : arr) names.emplace_back(n.get_string().value());
    std::vector<std::string> want =
        closient ? std::vector<std::string>{"X-Closient-Signature",
                                            "X-Closient-Event-Type",
                                            "X-Closient-Delivery-ID",
                                            "Content-Type", "User-Agent"}
                 : std::vector<std::string>{
                       "webhook-id",   "webhook-timestamp", "webhook-signature",
                       "Content-Type", "User-Agent",        "X-Custom"};
    EXPECT_EQ(names, want);
    for (const auto& n : names) EXPECT_NE(got[0].Header(n), "") << n;
    EXPECT_EQ(Call("GET", "deliveries/" + d + "/").body.find("secret-value"),
              std::string::npos);
  }
  (void)std_ep;
}

TEST_F(PortalTest, StatsValidation) {
  const std::string ep = CreateEndpoint("/s");
  for (const auto& [q, field] :
       std::vector<std::pair<std::string, std::string>>{
           {"bucket=2m", "bucket"},
           {"from=yesterday", "from"},
           {"to=2026-13-01", "to"},
           {"from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "from"},
           {"from=2026-11-01T00:00:00Z&to=2026-11-09T00:00:00Z", "bucket"},
           {"endpoint_id=nope", "endpoint_id"},
       }) {
    SCOPED_TRACE(q);
    ExpectError(Call("GET", "stats/?" + q), 422, "VALIDATION_ERROR", field);
  }
  ExpectError(Call("GET", "stats/endpoints/?limit=0"), 422, "VALIDATION_ERROR",
              "limit");
  ExpectError(Call("GET", "stats/endpoints/?from=x"), 422, "VALIDATION_ERROR",
              "from");
  MakeTenants();
  ExpectError(As(acme_, "GET", "stats/?endpoint_id=" + globex_), 404,
              "NOT_FOUND");
  (void)ep;
}

TEST_F(PortalTest, StatsOverTheScope) {
  MakeTenants();
  for (const auto& d : Publish("s.x")) WaitForStatus(d, "delivered");
  HttpResult r = Call("GET", "stats/");
  ASSERT_EQ(r.status, 200) << r.body;
  Json all(r.body);
  EXPECT_EQ(all.Str("bucket"), "1m");
  EXPECT_EQ(all.Int("total/delivered"), 4);
  EXPECT_EQ(all.Int("counts/delivered"), 4);
  Json mine = AsJson(acme_, "GET", "stats/", 200);
  EXPECT_EQ(mine.Int("total/delivered"), 2);
  EXPECT_EQ(mine.Int("counts/delivered"), 2);
  Json one = AsJson(acme_, "GET", "stats/?endpoint_id=" + acme1_, 200);
  EXPECT_EQ(one.Int("total/delivered"), 1);
  Json table = AsJson(acme_, "GET", "stats/endpoints/", 200);
  auto ids = Ids(table, "data", "endpoint_id");
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_TRUE(Contains(ids, acme1_));
  Json optable = CallJson("GET", "stats/endpoints/?limit=3", 200);
  EXPECT_EQ(Ids(optable, "data", "endpoint_id").size(), 3u);
}

TEST_F(PortalTest, ReplayJobs) {
  MakeTenants();
  ExpectError(Call("POST", "deliveries/replay/", R"({"endpoint_id":"x"})"), 422,
              "VALIDATION_ERROR", "endpoint_id");
  ExpectError(Call("POST", "deliveries/replay/", R"({"event_type":"a b"})"),
              422, "VALIDATION_ERROR", "event_type");
  ExpectError(Call("POST", "deliveries/replay/", R"({"created_after":"x"})"),
              422, "VALIDATION_ERROR", "created_after");
  ExpectError(Call("POST", "deliveries/replay/", "[1]"), 400, "BAD_REQUEST");
  ExpectError(As(acme_, "POST", "deliveries/replay/",
                 "{\"endpoint_id\":" + Quote(globex_) + "}"),
              404, "NOT_FOUND");
  ExpectError(Call("GET", "replay-jobs/nope/"), 422, "VALIDATION_ERROR",
              "replay_job_id");
  // One dead letter on acme1 and one on globex's endpoint.
  rx_->SetReply("/acme1", hooklog::receiver::Reply{.status = 500});
  rx_->SetReply("/globex", hooklog::receiver::Reply{.status = 500});
  std::string acme_dead, globex_dead;
  for (const auto& d : Publish("r.x")) {
    Json row = WaitFor(d, [](const Json& j) {
      return j.Str("status") == "dead_letter" || j.Str("status") == "delivered";
    });
    if (row.Str("endpoint_id") == acme1_) acme_dead = d;
    if (row.Str("endpoint_id") == globex_) globex_dead = d;
  }
  ASSERT_FALSE(acme_dead.empty());
  rx_->SetReply("/acme1", hooklog::receiver::Reply{.status = 200});
  HttpResult r = As(acme_, "POST", "deliveries/replay/", "{}");
  ASSERT_EQ(r.status, 202) << r.body;
  Json job(r.body);
  EXPECT_FALSE(job.Bool("existing"));
  const std::string id = job.Str("id");
  // Exactly the tenant's endpoints, and only its dead letter.
  simdjson::dom::array eps;
  ASSERT_FALSE(job["filter/endpoint_ids"].get(eps));
  std::vector<std::string> covered;
  for (auto e : eps) covered.emplace_back(e.get_string().value());
  std::sort(covered.begin(), covered.end());
  std::vector<std::string> want = {acme1_, acme2_};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(covered, want);
  EXPECT_EQ(job.Int("total"), 1);
  bool finished = false;
  for (int i = 0; i < 1200 && !finished; ++i) {
    Json now = AsJson(acme_, "GET", "replay-jobs/" + id + "/", 200);
    if (now.Str("status") != "running") {
      finished = true;
      EXPECT_EQ(now.Str("status"), "done");
      EXPECT_EQ(now.Int("replayed"), 1);
    } else {
      std::this_thread::sleep_for(25ms);
    }
  }
  EXPECT_TRUE(finished) << "the replay job did not finish";
  EXPECT_EQ(
      CallJson("GET", "deliveries/" + globex_dead + "/", 200).Str("status"),
      "dead_letter");
  Json got = AsJson(acme_, "GET", "replay-jobs/" + id + "/", 200);
  EXPECT_EQ(got.Str("id"), id);
  EXPECT_TRUE(Contains(Ids(AsJson(acme_, "GET", "replay-jobs/", 200)), id));
  const std::string globex = Token(R"({"customer":"globex"})");
  ExpectError(As(globex, "GET", "replay-jobs/" + id + "/"), 404, "NOT_FOUND");
  EXPECT_FALSE(Contains(Ids(AsJson(globex, "GET", "replay-jobs/", 200)), id));
  // An operator's job over every endpoint is not a tenant's.
  Json all(Call("POST", "deliveries/replay/", "{}").body);
  ExpectError(As(acme_, "GET", "replay-jobs/" + all.Str("id") + "/"), 404,
              "NOT_FOUND");
  EXPECT_EQ(
      CallJson("GET", "replay-jobs/" + all.Str("id") + "/", 200).Str("id"),
      all.Str("id"));
}

}  // namespace
}  // namespace webhookd_test

namespace webhookd_test {
namespace {

// The real fallback: this test binary links whatever PortalAssets() the
// build has (none without the portal). ui_test.cc covers the serving with
// a table of its own.
TEST_F(PortalTest, UiFallbacks) {
  HttpResult r = client_->Request("GET", "/ui/");
  if (webhookd::PortalAssets().empty()) {
    ExpectError(r, 404, "NOT_FOUND");
    EXPECT_NE(r.body.find("built without the portal"), std::string::npos);
  } else {
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_FALSE(r.Header("content-security-policy").empty());
  webhookd::Config c = BaseConfig();
  c.ui_enabled = false;
  Start(c);
  r = client_->Request("GET", "/ui/");
  ExpectError(r, 404, "NOT_FOUND");
  EXPECT_NE(r.body.find("turned off (--no-ui)"), std::string::npos);
}

}  // namespace
}  // namespace webhookd_test

namespace webhookd_test {
namespace {

// More than 1000 endpoints in one scope: the routes that resolve it say
// it is too broad instead of answering partially.
TEST_F(PortalTest, ScopeOverAThousandEndpointsIsRefused) {
  std::vector<std::future<hooklog::Result<hooklog::Endpoint>>> created;
  for (int i = 0; i < 1001; ++i) {
    hooklog::EndpointSpec spec;
    spec.url = rx_->Url("/big");
    spec.metadata = {{"big", "yes"}};
    created.push_back(daemon_->engine()->CreateEndpoint(std::move(spec)));
  }
  for (auto& f : created) ASSERT_TRUE(f.get().ok());
  const std::string big = Token(R"({"big":"yes"})");
  ExpectError(As(big, "GET", "deliveries/"), 422, "VALIDATION_ERROR", "scope");
  ExpectError(As(big, "GET", "stats/"), 422, "VALIDATION_ERROR", "scope");
  ExpectError(Call("GET", "stats/endpoints/"), 422, "VALIDATION_ERROR",
              "scope");
  // Listing endpoints pages through them without resolving the scope.
  Json page = AsJson(big, "GET", "endpoints/?page_size=5", 200);
  EXPECT_EQ(page.Int("pagination/total_count"), 1001);
}

}  // namespace
}  // namespace webhookd_test
