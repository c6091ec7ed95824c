#include "webhookd/ui.h"

#include <string>

#include "webhookd/errors.h"

namespace webhookd {
namespace {

namespace http = boost::beast::http;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The q value of one Accept-Encoding element ("gzip;q=0.5"); 1 without one,
// 0 when malformed (a coding we cannot read the weight of is not accepted).
double Weight(std::string_view params) {
  while (!params.empty()) {
    size_t semi = params.find(';');
    std::string_view p = Trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view()
                                            : params.substr(semi + 1);
    if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      std::string_view v = p.substr(2);
      if (v.empty() || v.size() > 5 || (v[0] != '0' && v[0] != '1')) return 0;
      if (v.size() > 1 && v[1] != '.') return 0;
      double q = v[0] - '0';
      double scale = 0.1;
      for (size_t i = 2; i < v.size(); ++i) {
        if (v[i] < '0' || v[i] > '9') return 0;
        q += (v[i] - '0') * scale;
        scale /= 10;
      }
      return q > 1 ? 0 : q;
    }
  }
  return 1;
}

// Security headers on every /ui answer, errors included.
void Harden(HttpResponse& res) {
  res.set("Content-Security-Policy", std::string(kPortalCsp));
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
}

HttpResponse UiError(int status, std::string_view message) {
  HttpResponse res = ErrorResponse(status, message);
  Harden(res);
  return res;
}

// True when If-None-Match lists `etag` (weak comparison, RFC 9110 §13.1.2)
// or is "*".
bool NoneMatch(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view tag = Trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view()
                                             : header.substr(comma + 1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

}  // namespace

bool IsUiPath(std::string_view path) {
  return path == "/ui" || path.starts_with("/ui/");
}

bool AcceptsGzip(std::string_view value) {
  double gzip = -1;
  double star = -1;
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view element = Trim(value.substr(0, comma));
    value = comma == std::string_view::npos ? std::string_view()
                                            : value.substr(comma + 1);
    size_t semi = element.find(';');
    std::string coding = Lower(Trim(element.substr(0, semi)));
    double q =
        semi == std::string_view::npos ? 1 : Weight(element.substr(semi + 1));
    if (coding == "gzip" || coding == "x-gzip") {
      gzip = q;
    } else if (coding == "*") {
      star = q;
    }
  }
  if (gzip >= 0) return gzip > 0;
  return star > 0;
}

HttpResponse ServeUi(const HttpRequest& req, std::string_view path,
                     bool enabled, std::span<const PortalAsset> assets) {
  if (req.method() != http::verb::get) {
    HttpResponse res = MethodNotAllowedResponse("GET, HEAD");
    Harden(res);
    return res;
  }
  if (!enabled) return UiError(404, "the portal is turned off (--no-ui)");
  if (assets.empty()) {
    return UiError(404, "this webhookd was built without the portal");
  }
  if (path == "/ui") {
    HttpResponse res{http::status::permanent_redirect, req.version()};
    res.set(http::field::location, "/ui/");
    Harden(res);
    res.prepare_payload();
    return res;
  }
  std::string_view file = path.substr(4);  // after "/ui/"
  if (file.empty()) file = "index.html";
  const PortalAsset* asset = nullptr;
  for (const PortalAsset& a : assets) {
    if (a.path == file) asset = &a;
  }
  if (asset == nullptr) {
    return UiError(404, "no such file in the portal: " + std::string(file));
  }
  auto header = [&](http::field f) {
    auto it = req.find(f);
    return it == req.end()
               ? std::string_view()
               : std::string_view(it->value().data(), it->value().size());
  };
  const bool gzip = !asset->gzip_body.empty() &&
                    AcceptsGzip(header(http::field::accept_encoding));
  // A strong ETag names one representation: the gzipped bytes get their own.
  std::string etag(asset->etag);
  if (gzip && etag.size() >= 2 && etag.back() == '"') {
    etag.insert(etag.size() - 1, "-gz");
  }
  HttpResponse res{http::status::ok, req.version()};
  Harden(res);
  res.set(http::field::etag, etag);
  res.set(http::field::vary, "Accept-Encoding");
  // Revalidate every time (cheap with the ETag): a new webhookd build must
  // never run against files cached from the previous one.
  res.set(http::field::cache_control, "no-cache");
  if (auto inm = header(http::field::if_none_match);
      !inm.empty() && NoneMatch(inm, etag)) {
    res.result(http::status::not_modified);
    return res;
  }
  res.set(http::field::content_type, std::string(asset->content_type));
  if (gzip) {
    res.set(http::field::content_encoding, "gzip");
    res.body() = std::string(asset->gzip_body);
  } else {
    res.body() = std::string(asset->body);
  }
  res.prepare_payload();
  return res;
}

}  // namespace webhookd
