// Helpers for the webhookd end-to-end tests: a keep-alive HTTP client over a
// real socket, JSON parsing of responses, the OpenAPI conformance checker,
// temporary directories and child processes.
#ifndef HOOKLOG_TESTS_WEBHOOKD_SUPPORT_H_
#define HOOKLOG_TESTS_WEBHOOKD_SUPPORT_H_

#include <simdjson.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace webhookd_test {

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// One keep-alive connection to host:port, reopened when the server closes
// it. reconnects() counts the reopenings after the first connect.
class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port);
  ~HttpClient();
  HttpResult Request(
      std::string_view method, std::string_view target,
      std::string_view body = {},
      const std::vector<std::pair<std::string, std::string>>& headers = {});
  int reconnects() const { return reconnects_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int reconnects_ = 0;
};

// Sends raw bytes on a fresh connection and returns everything the server
// answers before closing (or until the timeout).
std::string RawExchange(
    const std::string& host, uint16_t port, const std::string& bytes,
    std::chrono::milliseconds timeout = std::chrono::seconds(5));

// A parsed JSON document; the parser lives as long as the document.
class Json {
 public:
  explicit Json(const std::string& text);
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  simdjson::dom::element root() const { return root_; }
  // Convenience accessors on the root object (or "a.b" paths); they fail the
  // current test when the member is missing or of another type.
  simdjson::dom::element operator[](std::string_view key) const;
  std::string Str(std::string_view key) const;
  int64_t Int(std::string_view key) const;
  bool Bool(std::string_view key) const;
  bool IsNull(std::string_view key) const;

 private:
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::padded_string text_;
  simdjson::dom::element root_;
  std::string error_;
};

// Validates responses against docs/openapi.yaml (written in YAML's
// JSON-compatible flow style so that it parses with simdjson, see
// docs/webhookd.md). Supports the subset the document uses: $ref, type
// (string or list, incl. "null"), required, properties,
// additionalProperties, items, enum, pattern, maxLength, minLength,
// minimum, maximum, allOf.
class OpenApi {
 public:
  static const OpenApi& Get();
  // "" when `result` of `method` on `target` is what the document says
  // (the documented status, content type and body schema); otherwise what
  // differs.
  std::string Check(std::string_view method, std::string_view target,
                    const HttpResult& result) const;
  // The number of (path, method) operations in the document.
  size_t OperationCount() const;
  // Every documented operation: {"GET", "/integrations/.../{endpoint_id}/"}
  // (method upper-case, path template as written), and whether it declares
  // an empty `security` (needs no API key).
  struct Operation {
    std::string method;
    std::string path;
    bool public_route = false;
  };
  std::vector<Operation> Operations() const;

 private:
  OpenApi();
  std::string CheckSchema(simdjson::dom::element schema,
                          simdjson::dom::element value,
                          const std::string& where) const;
  simdjson::dom::element Resolve(simdjson::dom::element e) const;
  Json doc_;
};

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process with stdout on a pipe and stderr in a file.
class Child {
 public:
  Child(const std::vector<std::string>& argv,
        const std::vector<std::string>& extra_env = {});
  ~Child();
  // The next stdout line (without '\n'); nullopt on EOF or timeout.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  // Everything still on stdout until EOF.
  std::string ReadRest(std::chrono::milliseconds timeout);
  void Signal(int sig);
  // The exit code (128+signal when killed); nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  std::string Stderr() const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string err_path_;
  std::string pending_;
  std::optional<int> exit_code_;
};

}  // namespace webhookd_test

#endif  // HOOKLOG_TESTS_WEBHOOKD_SUPPORT_H_
