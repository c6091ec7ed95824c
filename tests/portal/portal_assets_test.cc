// The embedded bundle (portal/embed.cmake → webhookd::PortalAssets()): the
// three files are there with their content types, each ETag is the quoted
// SHA-256 of its body, each gzip twin inflates to exactly the body, and
// index.html loads only files that are embedded (no inline script or style).
#include "webhookd/portal_assets.h"

#include <openssl/sha.h>
#include <zlib.h>

#include <regex>
#include <set>
#include <string>

#include "gtest/gtest.h"

namespace {

std::string Sha256Hex(std::string_view s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string Gunzip(std::string_view gz) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[16384];
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  } while (rc == Z_OK);
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&z);
  return out;
}

const webhookd::PortalAsset* Find(std::string_view path) {
  for (const auto& a : webhookd::PortalAssets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

TEST(PortalAssets, EveryFileWithTypeEtagAndGzipTwin) {
  std::set<std::string> paths;
  for (const auto& a : webhookd::PortalAssets()) {
    paths.insert(std::string(a.path));
    EXPECT_FALSE(a.body.empty()) << a.path;
    EXPECT_EQ(a.etag, "\"" + Sha256Hex(a.body) + "\"") << a.path;
    ASSERT_FALSE(a.gzip_body.empty()) << a.path;
    EXPECT_EQ(Gunzip(a.gzip_body), a.body) << a.path;
    // gzip -n: no name and a zero time stamp (bytes 4-7), so the bytes
    // depend on the content only.
    EXPECT_EQ(a.gzip_body.substr(4, 4), std::string(4, '\0')) << a.path;
  }
  EXPECT_EQ(paths, (std::set<std::string>{"index.html", "app.js", "app.css"}));
  EXPECT_EQ(Find("index.html")->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(Find("app.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Find("app.css")->content_type, "text/css; charset=utf-8");
}

TEST(PortalAssets, IndexLoadsOnlyEmbeddedFilesAndNothingInline) {
  const std::string html(Find("index.html")->body);
  std::regex ref(R"re((?:src|href)="([^"]*)")re");
  int refs = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref);
       it != std::sregex_iterator(); ++it) {
    const std::string target = (*it)[1];
    if (target == "data:,") continue;  // the empty favicon (img-src data:)
    EXPECT_NE(Find(target), nullptr) << target;
    ++refs;
  }
  EXPECT_EQ(refs, 2);
  EXPECT_EQ(html.find("style="), std::string::npos);
  EXPECT_EQ(html.find("<style"), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
}

}  // namespace
