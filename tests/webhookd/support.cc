#include "tests/webhookd/support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

extern char** environ;

namespace webhookd_test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// --- HttpClient
// ----------------------------------------------------------------

struct HttpClient::Impl {
  std::string host;
  uint16_t port;
  net::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  void Connect() {
    stream.emplace(io);
    stream->connect(tcp::endpoint(net::ip::make_address(host), port));
  }
};

HttpClient::HttpClient(std::string host, uint16_t port)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}

HttpClient::~HttpClient() = default;

HttpResult HttpClient::Request(
    std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(target.data(), target.size()));
  req.version(11);
  req.set(http::field::host, impl_->host);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST" || method == "PATCH") {
    req.body() = std::string(body);
    req.set(http::field::content_type, "application/json");
  }
  req.prepare_payload();
  for (int attempt = 0; attempt < 2; ++attempt) {
    beast::error_code ec;
    if (!impl_->stream || !impl_->stream->socket().is_open()) {
      if (impl_->stream) ++reconnects_;
      impl_->Connect();
      impl_->buffer.clear();
    }
    impl_->stream->expires_after(std::chrono::seconds(60));
    http::write(*impl_->stream, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    // A response to HEAD has the GET's Content-Length but no body.
    if (method == "HEAD") parser.skip(true);
    if (!ec) http::read(*impl_->stream, impl_->buffer, parser, ec);
    http::response<http::string_body> res = parser.release();
    if (ec) {
      // The server closed an idle keep-alive connection: retry once.
      impl_->stream->socket().close(ec);
      continue;
    }
    HttpResult out;
    out.status = res.result_int();
    out.body = res.body();
    for (const auto& f : res) {
      std::string name(f.name_string().data(), f.name_string().size());
      for (char& c : name) c = static_cast<char>(std::tolower(c));
      out.headers[name] = std::string(f.value().data(), f.value().size());
    }
    if (!res.keep_alive()) impl_->stream->socket().close(ec);
    return out;
  }
  ADD_FAILURE() << "request failed: " << method << " " << target;
  return {};
}

std::string RawExchange(const std::string& host, uint16_t port,
                        const std::string& bytes,
                        std::chrono::milliseconds timeout) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(net::ip::make_address(host), port));
  stream.expires_after(timeout);
  beast::error_code ec;
  net::write(stream, net::buffer(bytes), ec);
  std::string out;
  char buf[4096];
  for (;;) {
    size_t n = stream.read_some(net::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

// --- Json
// -----------------------------------------------------------------------

Json::Json(const std::string& text)
    : parser_(std::make_unique<simdjson::dom::parser>()), text_(text) {
  auto ec = parser_->parse(text_).get(root_);
  if (ec) error_ = simdjson::error_message(ec);
}

simdjson::dom::element Json::operator[](std::string_view key) const {
  simdjson::dom::element e;
  auto ec = root_.at_pointer("/" + std::string(key)).get(e);
  if (ec) {
    // Dotted paths for readability: "error.code" -> /error/code.
    std::string ptr = "/" + std::string(key);
    std::replace(ptr.begin(), ptr.end(), '.', '/');
    ec = root_.at_pointer(ptr).get(e);
  }
  if (ec) ADD_FAILURE() << "missing member " << key << " in " << text_;
  return e;
}

std::string Json::Str(std::string_view key) const {
  std::string_view s;
  if ((*this)[key].get_string().get(s)) {
    ADD_FAILURE() << key << " is not a string";
    return "";
  }
  return std::string(s);
}

int64_t Json::Int(std::string_view key) const {
  int64_t v = 0;
  if ((*this)[key].get_int64().get(v)) ADD_FAILURE() << key << " is not an int";
  return v;
}

bool Json::Bool(std::string_view key) const {
  bool v = false;
  if ((*this)[key].get_bool().get(v)) ADD_FAILURE() << key << " is not a bool";
  return v;
}

bool Json::IsNull(std::string_view key) const { return (*this)[key].is_null(); }

// --- OpenApi
// --------------------------------------------------------------------

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string TypeOf(simdjson::dom::element v) {
  switch (v.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "array";
    case simdjson::dom::element_type::OBJECT:
      return "object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
      return "integer";
    case simdjson::dom::element_type::DOUBLE:
      return "number";
    case simdjson::dom::element_type::STRING:
      return "string";
    case simdjson::dom::element_type::BOOL:
      return "boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
  }
  return "?";
}

bool TypeMatches(const std::string& want, const std::string& have) {
  return want == have || (want == "number" && have == "integer");
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

OpenApi::OpenApi() : doc_(ReadFile(WEBHOOKD_OPENAPI)) {}

const OpenApi& OpenApi::Get() {
  static const OpenApi* api = new OpenApi();
  return *api;
}

size_t OpenApi::OperationCount() const {
  size_t n = 0;
  simdjson::dom::object paths;
  if (doc_.root()["paths"].get(paths)) return 0;
  for (auto [path, item] : paths) {
    simdjson::dom::object ops;
    if (item.get(ops)) continue;
    for (auto [m, op] : ops) {
      (void)op;
      if (m == "get" || m == "post" || m == "patch" || m == "delete") ++n;
    }
  }
  return n;
}

std::vector<OpenApi::Operation> OpenApi::Operations() const {
  std::vector<Operation> out;
  simdjson::dom::object paths;
  if (doc_.root()["paths"].get(paths)) return out;
  for (auto [path, item] : paths) {
    simdjson::dom::object ops;
    if (item.get(ops)) continue;
    for (auto [m, op] : ops) {
      if (m != "get" && m != "post" && m != "patch" && m != "delete") continue;
      Operation o;
      o.method = std::string(m);
      for (char& c : o.method) c = static_cast<char>(std::toupper(c));
      o.path = std::string(path);
      simdjson::dom::array security;
      o.public_route = !op["security"].get(security) && security.size() == 0;
      out.push_back(std::move(o));
    }
  }
  return out;
}

simdjson::dom::element OpenApi::Resolve(simdjson::dom::element e) const {
  for (int i = 0; i < 8; ++i) {
    std::string_view ref;
    if (e["$ref"].get(ref)) return e;
    // "#/components/schemas/X" is a JSON pointer into the document.
    simdjson::dom::element target;
    if (doc_.root().at_pointer(std::string(ref.substr(1))).get(target)) {
      ADD_FAILURE() << "unresolvable $ref " << ref;
      return e;
    }
    e = target;
  }
  return e;
}

std::string OpenApi::CheckSchema(simdjson::dom::element schema,
                                 simdjson::dom::element v,
                                 const std::string& where) const {
  schema = Resolve(schema);
  simdjson::dom::array all_of;
  if (!schema["allOf"].get(all_of)) {
    for (auto sub : all_of) {
      std::string err = CheckSchema(sub, v, where);
      if (!err.empty()) return err;
    }
  }
  const std::string have = TypeOf(v);
  simdjson::dom::element type;
  if (!schema["type"].get(type)) {
    bool ok = false;
    std::string wanted;
    if (type.is_string()) {
      wanted = std::string(type.get_string().value());
      ok = TypeMatches(wanted, have);
    } else {
      for (auto t : type.get_array()) {
        std::string w(t.get_string().value());
        wanted += w + "|";
        ok = ok || TypeMatches(w, have);
      }
    }
    if (!ok) return where + ": expected " + wanted + ", got " + have;
  }
  simdjson::dom::array enums;
  if (!schema["enum"].get(enums)) {
    bool found = false;
    for (auto e : enums) {
      if (simdjson::minify(e) == simdjson::minify(v)) found = true;
    }
    if (!found) return where + ": " + simdjson::minify(v) + " not in enum";
  }
  if (have == "string") {
    std::string_view s = v.get_string().value();
    std::string_view pattern;
    if (!schema["pattern"].get(pattern) &&
        !std::regex_search(std::string(s), std::regex(std::string(pattern)))) {
      return where + ": '" + std::string(s) + "' does not match " +
             std::string(pattern);
    }
    uint64_t len;
    if (!schema["maxLength"].get(len) && Utf8Length(s) > len) {
      return where + ": longer than " + std::to_string(len);
    }
    if (!schema["minLength"].get(len) && Utf8Length(s) < len) {
      return where + ": shorter than " + std::to_string(len);
    }
  }
  if (have == "integer" || have == "number") {
    double d = v.get_double().value();
    double bound;
    if (!schema["minimum"].get(bound) && d < bound) {
      return where + ": below minimum";
    }
    if (!schema["maximum"].get(bound) && d > bound) {
      return where + ": above maximum";
    }
  }
  if (have == "array") {
    simdjson::dom::element items;
    if (!schema["items"].get(items)) {
      size_t i = 0;
      for (auto item : v.get_array()) {
        std::string err =
            CheckSchema(items, item, where + "[" + std::to_string(i++) + "]");
        if (!err.empty()) return err;
      }
    }
  }
  if (have == "object") {
    simdjson::dom::object obj = v.get_object().value();
    simdjson::dom::array required;
    if (!schema["required"].get(required)) {
      for (auto r : required) {
        std::string_view name = r.get_string().value();
        simdjson::dom::element ignored;
        if (obj[name].get(ignored)) {
          return where + ": missing required '" + std::string(name) + "'";
        }
      }
    }
    simdjson::dom::object props;
    bool has_props = !schema["properties"].get(props);
    simdjson::dom::element additional;
    bool has_additional = !schema["additionalProperties"].get(additional);
    for (auto [k, val] : obj) {
      simdjson::dom::element sub;
      if (has_props && !props[k].get(sub)) {
        std::string err = CheckSchema(sub, val, where + "." + std::string(k));
        if (!err.empty()) return err;
      } else if (has_additional) {
        if (additional.is_bool()) {
          if (!additional.get_bool().value()) {
            return where + ": unexpected member '" + std::string(k) + "'";
          }
        } else {
          std::string err =
              CheckSchema(additional, val, where + "." + std::string(k));
          if (!err.empty()) return err;
        }
      }
    }
  }
  return "";
}

std::string OpenApi::Check(std::string_view method, std::string_view target,
                           const HttpResult& result) const {
  if (!doc_.ok()) return "docs/openapi.yaml does not parse: " + doc_.error();
  std::string path(target.substr(0, target.find('?')));
  if (!path.ends_with("/")) path += "/";
  simdjson::dom::object paths = doc_.root()["paths"].get_object().value();
  simdjson::dom::element item;
  bool found = false;
  for (auto [tmpl, it] : paths) {
    std::string t(tmpl);
    if (!t.ends_with("/")) t += "/";
    std::string re = std::regex_replace(t, std::regex(R"(\{[^}]+\})"), "[^/]+");
    if (std::regex_match(path, std::regex(re))) {
      item = it;
      found = true;
      break;
    }
  }
  if (!found) {
    return result.status == 404 ? "" : "no path in openapi.yaml for " + path;
  }
  std::string m(method);
  for (char& c : m) c = static_cast<char>(std::tolower(c));
  simdjson::dom::element op;
  simdjson::dom::element response;
  const std::string status = std::to_string(result.status);
  if (item[m].get(op)) {
    if (result.status != 405) {
      return "no operation " + m + " " + path + " in openapi.yaml";
    }
    // A method the path does not have: the generic 405 response.
    response = Resolve(doc_.root()
                           .at_pointer("/components/responses/MethodNotAllowed")
                           .value());
  } else if (op["responses"][status].get(response)) {
    return "status " + status + " is not documented for " + m + " " + path;
  }
  response = Resolve(response);
  simdjson::dom::object content;
  if (response["content"].get(content)) {
    return result.body.empty()
               ? ""
               : "documented without a body, got " + result.body;
  }
  for (auto [type, media] : content) {
    if (result.Header("content-type").rfind(std::string(type), 0) != 0) {
      return "content-type " + result.Header("content-type") + ", documented " +
             std::string(type);
    }
    if (type != "application/json") return "";
    Json body(result.body);
    if (!body.ok()) return "body is not JSON: " + result.body;
    simdjson::dom::element schema;
    if (media["schema"].get(schema)) return "";
    return CheckSchema(schema, body.root(), m + " " + path + " " + status);
  }
  return "";
}

// --- TempDir
// ---------------------------------------------------------------------

TempDir::TempDir() {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "webhookd_test_XXXXXX")
          .string();
  char* p = mkdtemp(tmpl.data());
  if (p == nullptr) ADD_FAILURE() << "mkdtemp failed";
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

// --- Child
// -----------------------------------------------------------------------

Child::Child(const std::vector<std::string>& argv,
             const std::vector<std::string>& extra_env) {
  int fds[2];
  if (pipe(fds) != 0) {
    ADD_FAILURE() << "pipe failed";
    return;
  }
  char tmpl[] = "/tmp/webhookd_child_stderr_XXXXXX";
  int err_fd = mkstemp(tmpl);
  err_path_ = tmpl;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  // The child must see the stop signals even though the test may block them.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view kv = *e;
    if (kv.starts_with("HOOKLOG_")) continue;  // only what the test passes
    env.emplace_back(kv);
  }
  for (const auto& e : extra_env) env.push_back(e);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  if (posix_spawn(&pid_, cargv[0], &actions, &attr, cargv.data(),
                  cenv.data()) != 0) {
    ADD_FAILURE() << "cannot spawn " << argv[0];
    pid_ = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  close(err_fd);
  out_fd_ = fds[0];
}

Child::~Child() {
  if (pid_ > 0 && !exit_code_) {
    kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
  unlink(err_path_.c_str());
}

std::optional<std::string> Child::ReadLine(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = read(out_fd_, buf, sizeof(buf));
    if (n <= 0) return std::nullopt;
    pending_.append(buf, static_cast<size_t>(n));
  }
}

std::string Child::ReadRest(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out = std::move(pending_);
  pending_.clear();
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    ssize_t n = read(out_fd_, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

void Child::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

std::optional<int> Child::Wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return exit_code_;
    }
    usleep(10000);
  }
  return std::nullopt;
}

std::string Child::Stderr() const { return ReadFile(err_path_); }

}  // namespace webhookd_test
