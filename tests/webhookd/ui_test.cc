// /ui/ serving (webhookd/ui.h) through the real HTTP server, with a small
// asset table of this test's own: PortalAssets() is a link-time seam, so
// this file defines it and is its own test binary (webhookd_ui_test).
#include "webhookd/ui.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/webhookd/daemon_fixture.h"
#include "webhookd/portal_assets.h"

namespace webhookd {

std::span<const PortalAsset> PortalAssets() {
  static const PortalAsset kAssets[] = {
      {"index.html", "text/html; charset=utf-8", "<!doctype html><p>portal",
       "GZIP-OF-INDEX", "\"idx1\""},
      {"app.js", "text/javascript; charset=utf-8", "console.log(1)", "",
       "\"app1\""},
      {"style.css", "text/css; charset=utf-8", "p{}", "GZIP-OF-CSS",
       "\"css1\""},
  };
  return kAssets;
}

}  // namespace webhookd

namespace webhookd_test {
namespace {

class UiTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    Start(BaseConfig());
  }
  HttpResult Get(const std::string& path,
                 std::vector<std::pair<std::string, std::string>> h = {}) {
    return client_->Request("GET", path, "", h);
  }
  static void ExpectHardened(const HttpResult& r) {
    EXPECT_EQ(r.Header("content-security-policy"),
              std::string(webhookd::kPortalCsp));
    EXPECT_EQ(r.Header("x-content-type-options"), "nosniff");
    EXPECT_EQ(r.Header("referrer-policy"), "no-referrer");
  }
};

TEST_F(UiTest, IndexAndFilesWithoutCredentials) {
  HttpResult r = Get("/ui/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<!doctype html><p>portal");
  EXPECT_EQ(r.Header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(r.Header("cache-control"), "no-cache");
  EXPECT_EQ(r.Header("etag"), "\"idx1\"");
  EXPECT_TRUE(r.Header("content-encoding").empty());
  ExpectHardened(r);
  EXPECT_EQ(Get("/ui/index.html").body, r.body);
  EXPECT_EQ(Get("/ui/?x=1").body, r.body);
  HttpResult js = Get("/ui/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(js.Header("content-type"), "text/javascript; charset=utf-8");
  ExpectHardened(js);
  EXPECT_EQ(Get("/ui/style.css").Header("content-type"),
            "text/css; charset=utf-8");
}

TEST_F(UiTest, RedirectUnknownAndMethods) {
  HttpResult r = Get("/ui");
  EXPECT_EQ(r.status, 308);
  EXPECT_EQ(r.Header("location"), "/ui/");
  for (const char* p : {"/ui/nope.js", "/ui/app.js/", "/ui/../api",
                        "/ui/index.html%00", "/uix"}) {
    SCOPED_TRACE(p);
    HttpResult n = Get(p);
    // "/uix" is not the portal: an ordinary unauthenticated request.
    if (std::string(p) == "/uix") {
      ExpectError(n, 401, "UNAUTHORIZED");
      continue;
    }
    ExpectError(n, 404, "NOT_FOUND");
    ExpectHardened(n);
  }
  HttpResult post = client_->Request("POST", "/ui/", "{}");
  ExpectError(post, 405, "METHOD_NOT_ALLOWED");
  EXPECT_EQ(post.Header("allow"), "GET, HEAD");
  HttpResult head = client_->Request("HEAD", "/ui/");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.Header("etag"), "\"idx1\"");
}

TEST_F(UiTest, ETagAndNotModified) {
  for (const char* inm : {"\"idx1\"", "W/\"idx1\"", "\"zzz\", \"idx1\"", "*"}) {
    SCOPED_TRACE(inm);
    HttpResult r = Get("/ui/", {{"If-None-Match", inm}});
    EXPECT_EQ(r.status, 304);
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.Header("etag"), "\"idx1\"");
    ExpectHardened(r);
  }
  EXPECT_EQ(Get("/ui/", {{"If-None-Match", "\"old\""}}).status, 200);
  // The gzipped representation has its own tag.
  HttpResult gz = Get("/ui/", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(gz.Header("etag"), "\"idx1-gz\"");
  EXPECT_EQ(Get("/ui/",
                {{"Accept-Encoding", "gzip"}, {"If-None-Match", "\"idx1-gz\""}})
                .status,
            304);
  EXPECT_EQ(Get("/ui/", {{"If-None-Match", "\"idx1-gz\""}}).status, 200);
}

TEST_F(UiTest, GzipWhenAccepted) {
  for (const char* ae : {"gzip", "br, gzip;q=0.5", "GZIP", "*", "deflate, *"}) {
    SCOPED_TRACE(ae);
    HttpResult r = Get("/ui/", {{"Accept-Encoding", ae}});
    EXPECT_EQ(r.body, "GZIP-OF-INDEX");
    EXPECT_EQ(r.Header("content-encoding"), "gzip");
    EXPECT_EQ(r.Header("vary"), "Accept-Encoding");
  }
  for (const char* ae :
       {"br", "gzip;q=0", "identity", "*;q=0", "gzip;q=x", "*, gzip;q=0"}) {
    SCOPED_TRACE(ae);
    HttpResult r = Get("/ui/", {{"Accept-Encoding", ae}});
    EXPECT_EQ(r.body, "<!doctype html><p>portal");
    EXPECT_TRUE(r.Header("content-encoding").empty());
  }
  // No gzipped copy: always identity.
  EXPECT_EQ(Get("/ui/app.js", {{"Accept-Encoding", "gzip"}}).body,
            "console.log(1)");
}

TEST_F(UiTest, NoUi) {
  webhookd::Config c = BaseConfig();
  c.ui_enabled = false;
  Start(c);
  for (const char* p : {"/ui/", "/ui", "/ui/app.js"}) {
    HttpResult r = Get(p);
    ExpectError(r, 404, "NOT_FOUND");
    EXPECT_NE(r.body.find("the portal is turned off (--no-ui)"),
              std::string::npos);
  }
  // The API is unaffected.
  EXPECT_EQ(Call("GET", "endpoints/").status, 200);
}

TEST(AcceptsGzipTest, Parsing) {
  EXPECT_TRUE(webhookd::AcceptsGzip("gzip"));
  EXPECT_TRUE(webhookd::AcceptsGzip(" x-gzip ;q=1.0"));
  EXPECT_TRUE(webhookd::AcceptsGzip("gzip;q=0.001"));
  EXPECT_FALSE(webhookd::AcceptsGzip(""));
  EXPECT_FALSE(webhookd::AcceptsGzip("gzip;q=0.000"));
  EXPECT_FALSE(webhookd::AcceptsGzip("gzip;q=1.5"));
  EXPECT_FALSE(webhookd::AcceptsGzip("gzip;q=2"));
  EXPECT_FALSE(webhookd::AcceptsGzip("gzipx"));
}

}  // namespace
}  // namespace webhookd_test
