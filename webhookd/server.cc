#include "webhookd/server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webhookd/log.h"

namespace webhookd {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using beast::error_code;

std::atomic<uint64_t> g_next_connection{1};

struct FramingError {
  int status;
  std::string message;
};

// What Beast's parser lets through but RFC 9112 §6 makes a framing error.
// Beast reads a Transfer-Encoding whose final coding is not "chunked" (e.g.
// "gzip", "chunked, gzip") as "no body" when there is no Content-Length, and
// takes a Content-Length after such a Transfer-Encoding as the length:
// either way the server and a proxy in front of it could disagree on where
// the body ends, so that the rest of the bytes would be read as another
// request (request smuggling). §6.3: such a request is answered 400 and the
// connection closed; a coding webhookd does not implement ("gzip, chunked")
// is 501 (§6.1), also closing, since its body is never read.
std::optional<FramingError> FramingProblem(
    const http::request_parser<http::string_body>& parser) {
  const auto& req = parser.get();
  std::vector<std::string> codings;
  bool any = false;
  for (const auto& field : req) {
    if (field.name() != http::field::transfer_encoding) continue;
    any = true;
    std::string_view v(field.value().data(), field.value().size());
    while (!v.empty()) {
      size_t comma = v.find(',');
      std::string_view item = v.substr(0, comma);
      v = comma == std::string_view::npos ? std::string_view()
                                          : v.substr(comma + 1);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
        item.remove_prefix(1);
      }
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
        item.remove_suffix(1);
      }
      if (item.empty()) continue;  // empty list elements are allowed
      std::string lower(item);
      for (char& c : lower)
        c = static_cast<char>(std::tolower((unsigned char)c));
      codings.push_back(std::move(lower));
    }
  }
  if (!any) return std::nullopt;
  if (req.version() < 11) {
    return FramingError{400, "Transfer-Encoding is not allowed in HTTP/1.0"};
  }
  if (req.find(http::field::content_length) != req.end()) {
    return FramingError{400,
                        "a request may not have both Content-Length and "
                        "Transfer-Encoding"};
  }
  if (codings.empty() || codings.back() != "chunked") {
    return FramingError{400, "the final Transfer-Encoding must be chunked"};
  }
  if (std::count(codings.begin(), codings.end(), "chunked") > 1) {
    return FramingError{400, "chunked may be applied only once"};
  }
  if (codings.size() > 1) {
    return FramingError{501,
                        "transfer codings other than chunked are not "
                        "supported"};
  }
  if (!parser.chunked()) {
    // Read as exactly "chunked" here but not by Beast (some odd spelling of
    // the list): the two readings of the body would differ.
    return FramingError{400, "malformed Transfer-Encoding"};
  }
  return std::nullopt;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Api* api, const ServerOptions& options)
      : stream_(std::move(socket)),
        deadline_(stream_.get_executor()),
        api_(api),
        options_(options),
        id_(g_next_connection++) {}

  void Start() {
    net::dispatch(stream_.get_executor(),
                  [self = shared_from_this()] { self->ReadHeader(); });
  }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(options_.header_limit);
    parser_->body_limit(options_.max_body_bytes);
    stream_.expires_after(options_.read_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(error_code ec) {
    if (ec) return OnReadError(ec);
    started_ = std::chrono::steady_clock::now();
    if (auto bad = FramingProblem(*parser_)) {
      // Where this request ends is unknown: answer, then close without
      // reading further (Linger discards, never parses).
      return Reply(ErrorResponse(bad->status, bad->message), /*close=*/true);
    }
    auto length = parser_->content_length();
    if (length && *length > options_.max_body_bytes) {
      // Refused on the declared size alone: the body is never read.
      return Reply(
          ErrorResponse(413, "request body is larger than " +
                                 std::to_string(options_.max_body_bytes) +
                                 " bytes"),
          /*close=*/true);
    }
    if (parser_->is_done()) return OnBody({});
    auto& req = parser_->get();
    auto expect = req.find(http::field::expect);
    if (expect != req.end() &&
        beast::iequals(expect->value(), "100-continue")) {
      // curl sends Expect for bodies over 1 KiB and waits a second for this.
      auto cont = std::make_shared<http::response<http::empty_body>>(
          http::status::continue_, 11);
      stream_.expires_after(options_.write_timeout);
      return http::async_write(
          stream_, *cont,
          [self = shared_from_this(), cont](error_code ec, size_t) {
            if (ec) return self->Close();
            self->ReadBody();
          });
    }
    ReadBody();
  }

  void ReadBody() {
    stream_.expires_after(options_.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, size_t) {
                       self->OnBody(ec);
                     });
  }

  void OnReadError(error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == beast::error::timeout ||
        ec == net::error::operation_aborted) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      return Reply(
          ErrorResponse(413, "request body is larger than " +
                                 std::to_string(options_.max_body_bytes) +
                                 " bytes"),
          true);
    }
    if (ec == http::error::header_limit) {
      return Reply(
          ErrorResponse(400, "request headers are larger than " +
                                 std::to_string(options_.header_limit) +
                                 " bytes"),
          true);
    }
    if (ec.category() == error_code(http::error::bad_target).category()) {
      return Reply(
          ErrorResponse(400, "malformed HTTP request: " + ec.message()), true);
    }
    Close();
  }

  void OnBody(error_code ec) {
    if (ec) return OnReadError(ec);
    HttpRequest req = parser_->release();
    keep_alive_ = req.keep_alive();
    method_ =
        std::string(req.method_string().data(), req.method_string().size());
    std::string_view target(req.target().data(), req.target().size());
    path_ = std::string(target.substr(0, target.find('?')));
    stream_.expires_never();
    const uint64_t seq = ++request_seq_;
    responded_ = false;
    deadline_.expires_after(options_.request_deadline);
    deadline_.async_wait([self = shared_from_this(), seq](error_code ec) {
      if (ec || seq != self->request_seq_ || self->responded_) return;
      self->Reply(ErrorResponse(503,
                                "the request did not complete within its "
                                "deadline; it may still take effect"),
                  true);
    });
    // The handler may complete on any thread, or inline; the reply always
    // goes through this connection's strand.
    try {
      api_->Handle(
          std::move(req), [self = shared_from_this(), seq](HttpResponse res) {
            net::post(self->stream_.get_executor(),
                      [self, seq, res = std::move(res)]() mutable {
                        if (seq != self->request_seq_ || self->responded_) {
                          return;
                        }
                        self->Reply(std::move(res), false);
                      });
          });
    } catch (const std::exception& e) {
      // No exception may escape into Asio; answer 500 and keep serving.
      Log(LogLevel::kError, "handler threw", {{"what", e.what()}});
      if (!responded_) Reply(ErrorResponse(500, "internal error"), true);
    }
  }

  void Reply(HttpResponse res, bool close) {
    responded_ = true;
    deadline_.cancel();
    res.set(http::field::server, "webhookd");
    res.keep_alive(keep_alive_ && !close);
    if (!res.has_content_length() && res.result() != http::status::no_content) {
      res.prepare_payload();
    }
    if (LogEnabled(LogLevel::kInfo)) {
      auto ms = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - started_)
                    .count();
      Log(LogLevel::kInfo, "request",
          {{"conn", std::to_string(id_)},
           {"method", method_.empty() ? "-" : method_},
           {"path", path_.empty() ? "-" : path_},
           {"status", std::to_string(res.result_int())},
           {"duration_ms", std::to_string(double(ms) / 1000.0)}});
    }
    auto sp = std::make_shared<HttpResponse>(std::move(res));
    stream_.expires_after(options_.write_timeout);
    http::async_write(stream_, *sp,
                      [self = shared_from_this(), sp](error_code ec, size_t) {
                        if (ec) return self->Close();
                        if (!sp->keep_alive()) return self->Linger();
                        self->method_.clear();
                        self->path_.clear();
                        self->ReadHeader();
                      });
  }

  // After a response that closes the connection: stop sending, then read and
  // discard what the client is still sending (e.g. the rest of a refused
  // body) for a moment, so that closing does not reset the connection before
  // the client has read the response.
  void Linger(bool first = true) {
    if (first) {
      error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      // One deadline for the whole drain: a client that keeps sending cannot
      // hold the connection open.
      stream_.expires_after(std::chrono::seconds(2));
    }
    auto buf = std::make_shared<std::array<char, 16384>>();
    stream_.async_read_some(net::buffer(*buf), [self = shared_from_this(), buf](
                                                   error_code ec, size_t) {
      if (ec) return self->Close();
      self->Linger(false);
    });
  }

  void Close() {
    error_code ignored;
    deadline_.cancel();
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  net::steady_timer deadline_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Api* api_;
  const ServerOptions options_;  // a copy: sessions may outlive the Server
  const uint64_t id_;
  uint64_t request_seq_ = 0;
  bool responded_ = false;
  bool keep_alive_ = false;
  std::string method_;
  std::string path_;
  std::chrono::steady_clock::time_point started_ =
      std::chrono::steady_clock::now();
};

class ServerImpl : public Server {
 public:
  ServerImpl(net::io_context& io, Api* api, ServerOptions options)
      : io_(io),
        api_(api),
        options_(std::move(options)),
        acceptor_(net::make_strand(io)) {}

  hooklog::Status Listen() {
    error_code ec;
    tcp::resolver resolver(io_);
    auto results =
        resolver.resolve(options_.host, std::to_string(options_.port),
                         tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return hooklog::Status::Unavailable("cannot resolve listen address '" +
                                          options_.host + "': " + ec.message());
    }
    tcp::endpoint ep = results.begin()->endpoint();
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return hooklog::Status::Unavailable("cannot listen on " + options_.host +
                                          ":" + std::to_string(options_.port) +
                                          ": " + ec.message());
    }
    bound_ = acceptor_.local_endpoint(ec);
    net::dispatch(acceptor_.get_executor(), [this] { Accept(); });
    return hooklog::Status::Ok();
  }

  std::string host() const override { return bound_.address().to_string(); }
  uint16_t port() const override { return bound_.port(); }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    std::promise<void> done;
    net::post(acceptor_.get_executor(), [this, &done] {
      error_code ignored;
      acceptor_.close(ignored);
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  void Accept() {
    // Each connection gets its own strand on the shared io_context.
    acceptor_.async_accept(net::make_strand(io_), [this](error_code ec,
                                                         tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        std::make_shared<Session>(std::move(socket), api_, options_)->Start();
      } else {
        Log(LogLevel::kWarn, "accept failed", {{"error", ec.message()}});
      }
      Accept();
    });
  }

  net::io_context& io_;
  Api* api_;
  const ServerOptions options_;
  tcp::acceptor acceptor_;
  tcp::endpoint bound_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

hooklog::Result<std::unique_ptr<Server>> Server::Start(net::io_context& io,
                                                       Api* api,
                                                       ServerOptions options) {
  auto server = std::make_unique<ServerImpl>(io, api, std::move(options));
  hooklog::Status st = server->Listen();
  if (!st.ok()) return st;
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace webhookd
