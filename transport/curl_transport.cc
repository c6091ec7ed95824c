// The libcurl-multi transport, driven by Boost.Asio.
//
// How the glue works (DESIGN.md "curl glue rules"; ephiperfifo.c and
// multi-uv.c are the models, curl's removed asiohiper.cpp is not):
//  - Every call into the multi handle happens on one strand, under `mu_`.
//    The strand gives ordering when the io_context runs on several threads;
//    the mutex exists only so that the destructor can tear down while
//    handlers are still queued (they find `dead_` set and return).
//  - CURLMOPT_SOCKETFUNCTION: the first time curl names a socket we wrap the
//    fd in a posix::stream_descriptor (SocketCtx, attached to curl with
//    curl_multi_assign) and arm async_wait()s for the wanted directions. On
//    CURL_POLL_REMOVE we release() the descriptor, which deregisters the fd
//    from epoll and completes pending waits with operation_aborted; the
//    SocketCtx is owned by those waits (shared_ptr) and so is freed only
//    after they have completed. curl 7.88 announces REMOVE before closing a
//    socket (Curl_multi_closed), including its resolver socketpair, so the
//    fd is never closed while registered.
//  - CURLMOPT_TIMERFUNCTION: one steady_timer per multi handle. A zero
//    timeout is post()ed (coalesced), never acted on inside the callback,
//    because curl forbids re-entering curl_multi_socket_action from its own
//    callbacks.
//  - After every curl_multi_socket_action we drain curl_multi_info_read.
//
// Per-attempt deadline (see docs/transport.md): CURLOPT_TIMEOUT_MS in the
// multi interface counts from curl_multi_add_handle, including time a
// transfer waits for a connection when curl's connection limits
// (CURLMOPT_MAX_HOST_CONNECTIONS / MAX_TOTAL_CONNECTIONS) are reached. We
// never set those limits, so curl never parks a transfer: every handle added
// starts resolving/connecting at once, and the timeout measures the attempt
// itself. Concurrency limiting (per-endpoint max in-flight, rate limits)
// happens above the transport, before Send(), where no curl clock runs.
#include "transport/curl_transport.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <csignal>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hooklog/signing.h"
#include "hooklog/transport.h"
#include "transport/response_capture.h"
#include "transport/ssrf_guard.h"

#ifndef HOOKLOG_VERSION
#define HOOKLOG_VERSION "0.0.0"
#endif

namespace hooklog {

namespace transport_internal {

ErrorClass ClassifyCurlError(int curl_code, bool blocked, bool too_large) {
  const auto code = static_cast<CURLcode>(curl_code);
  if (code == CURLE_OK) return ErrorClass::kNone;
  if (blocked && code == CURLE_COULDNT_CONNECT) return ErrorClass::kBlocked;
  if (too_large) return ErrorClass::kTooLarge;
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return ErrorClass::kDns;
    case CURLE_COULDNT_CONNECT:
      return ErrorClass::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      return ErrorClass::kTimeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
      return ErrorClass::kTls;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return ErrorClass::kReset;
    case CURLE_FILESIZE_EXCEEDED:
      return ErrorClass::kTooLarge;
    default:
      return ErrorClass::kOther;
  }
}

bool IsSafeHeader(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  // RFC 9110 token characters.
  static constexpr std::string_view kTokenExtra = "!#$%&'*+-.^_`|~";
  for (char c : name) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                       (c >= 'A' && c <= 'Z');
    if (!alnum && kTokenExtra.find(c) == std::string_view::npos) return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

}  // namespace transport_internal

namespace {

namespace asio = boost::asio;
using transport_internal::ClassifyCurlError;
using transport_internal::IsSafeHeader;

// Raw bytes kept to produce the 256-character response prefix.
constexpr size_t kCaptureBytes =
    transport_internal::CaptureBytesFor(kResponseBodyChars);
// Idle easy handles kept for reuse; more are cleaned up.
constexpr size_t kMaxIdleEasy = 1024;

// Per-socket state. Invariant: touched only on the strand under mu_.
struct SocketCtx : std::enable_shared_from_this<SocketCtx> {
  explicit SocketCtx(asio::io_context& io) : desc(io) {}
  asio::posix::stream_descriptor desc;
  curl_socket_t fd = CURL_SOCKET_BAD;
  int want = 0;  // CURL_POLL_IN / OUT / INOUT
  bool read_pending = false;
  bool write_pending = false;
  bool removed = false;
};

class CurlTransportImpl;

// One attempt in flight. Owned by CurlTransportImpl::active_.
struct Attempt {
  CurlTransportImpl* owner = nullptr;
  CURL* easy = nullptr;
  AttemptRequest req;
  std::function<void(AttemptResult)> done;
  curl_slist* headers = nullptr;
  std::string capture;
  size_t received = 0;
  bool too_large = false;
  bool blocked = false;
  std::optional<std::string> retry_after;
  std::chrono::steady_clock::time_point start;
  char errbuf[CURL_ERROR_SIZE] = {};
};

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

AttemptResult ErrorResult(ErrorClass e, std::string detail) {
  AttemptResult r;
  r.error = e;
  r.error_detail = std::move(detail);
  return r;
}

class CurlTransportImpl
    : public std::enable_shared_from_this<CurlTransportImpl> {
 public:
  CurlTransportImpl(asio::io_context& io, TransportOptions options)
      : io_(io),
        strand_(asio::make_strand(io)),
        timer_(io),
        options_(std::move(options)) {
    if (options_.user_agent.empty()) {
      options_.user_agent = std::string("hooklog/") + HOOKLOG_VERSION;
    }
    user_agent_header_ = "User-Agent: " + options_.user_agent;
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &SocketCallback);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &TimerCallback);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING,
                      static_cast<long>(CURLPIPE_MULTIPLEX));
    if (options_.max_connections > 0) {
      curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, options_.max_connections);
    }
    // Deliberately no CURLMOPT_MAX_HOST_CONNECTIONS/MAX_TOTAL_CONNECTIONS:
    // see the deadline note at the top of this file.
  }

  ~CurlTransportImpl() { Destroy(); }

  void Send(AttemptRequest request, std::function<void(AttemptResult)> done) {
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    auto a = std::make_unique<Attempt>();
    a->owner = this;
    a->req = std::move(request);
    a->done = std::move(done);
    // Never start (or complete) inside Send(): the caller may hold locks
    // that `done` needs.
    asio::post(strand_,
               [self = shared_from_this(), a = std::move(a)]() mutable {
                 std::lock_guard<std::mutex> lock(self->mu_);
                 if (self->dead_) return;
                 self->Start(std::move(a));
               });
  }

  void Shutdown() {
    shutdown_.store(true);
    asio::post(strand_, [self = shared_from_this()] {
      std::lock_guard<std::mutex> lock(self->mu_);
      if (self->dead_) return;
      self->AbortAll();
    });
  }

  size_t InFlight() const { return in_flight_.load(std::memory_order_relaxed); }

  // Synchronous teardown for the owner's destructor: after it returns no
  // `done` is ever called. Pending handlers keep *this alive and return
  // early.
  void Destroy() {
    std::lock_guard<std::mutex> lock(mu_);
    if (dead_) return;
    dead_ = true;
    boost::system::error_code ec;
    timer_.cancel(ec);
    // Stop curl from calling back into a half-destroyed transport.
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, nullptr);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, nullptr);
    for (auto& [ptr, a] : active_) {
      curl_multi_remove_handle(multi_, a->easy);
      curl_slist_free_all(a->headers);
      curl_easy_cleanup(a->easy);
    }
    active_.clear();
    for (auto& [fd, ctx] : sockets_) {
      ctx->removed = true;
      ctx->desc.release();
    }
    sockets_.clear();
    for (CURL* e : pool_) curl_easy_cleanup(e);
    pool_.clear();
    curl_multi_cleanup(multi_);
    multi_ = nullptr;
    in_flight_.store(0);
  }

 private:
  // ---- attempt lifecycle (strand, mu_ held) ----

  void Start(std::unique_ptr<Attempt> a) {
    if (shutdown_.load()) {
      Complete(std::move(a), ErrorResult(ErrorClass::kOther, "shutdown"));
      return;
    }
    std::string detail;
    if (!BuildHeaders(*a, detail)) {
      Complete(std::move(a), ErrorResult(ErrorClass::kOther, detail));
      return;
    }
    a->easy = AcquireEasy();
    if (a->easy == nullptr) {
      Complete(std::move(a),
               ErrorResult(ErrorClass::kOther, "curl_easy_init failed"));
      return;
    }
    ApplyOptions(*a);
    a->start = std::chrono::steady_clock::now();
    CURLMcode mc = curl_multi_add_handle(multi_, a->easy);
    if (mc != CURLM_OK) {
      ReleaseEasy(a->easy);
      a->easy = nullptr;
      Complete(std::move(a),
               ErrorResult(ErrorClass::kOther, curl_multi_strerror(mc)));
      return;
    }
    Attempt* raw = a.get();
    active_.emplace(raw, std::move(a));
    // curl_multi_add_handle has set a zero timeout through TimerCallback,
    // which posts the kick-off; nothing more to do here.
  }

  bool BuildHeaders(Attempt& a, std::string& detail) {
    const AttemptRequest& r = a.req;
    auto append = [&a](const std::string& line) {
      curl_slist* n = curl_slist_append(a.headers, line.c_str());
      if (n == nullptr) return false;
      a.headers = n;
      return true;
    };
    bool ok = append("Content-Type: application/json") &&
              append(user_agent_header_) &&
              // No "Expect: 100-continue" round trip for large bodies.
              append("Expect:");
    const int64_t now = UnixNow();
    if (r.scheme == SignatureScheme::kClosient) {
      for (const std::string* v : {&r.event_type, &r.delivery_id}) {
        if (!IsSafeHeader("X", *v)) {
          detail = "unsafe characters in a Closient header value";
          return false;
        }
      }
      ok = ok &&
           append("X-Closient-Signature: " +
                  ClosientSignature(r.secrets, now, r.body)) &&
           append("X-Closient-Event-Type: " + r.event_type) &&
           append("X-Closient-Delivery-ID: " + r.delivery_id);
    } else {
      if (!IsSafeHeader("webhook-id", r.webhook_id)) {
        detail = "unsafe characters in webhook-id";
        return false;
      }
      auto sig =
          StandardWebhooksSignature(r.secrets, r.webhook_id, now, r.body);
      if (!sig.ok()) {
        detail = "signing: " + sig.status().message();
        return false;
      }
      ok = ok && append("webhook-id: " + r.webhook_id) &&
           append("webhook-timestamp: " + std::to_string(now)) &&
           append("webhook-signature: " + *sig);
    }
    for (const auto& [name, value] : r.headers) {
      // Defence in depth: the engine validates headers when an endpoint is
      // created, but a CR/LF here would let one header smuggle others.
      if (!IsSafeHeader(name, value)) {
        detail = "refused unsafe custom header";
        return false;
      }
      // "Name;" is curl's spelling of a header with an empty value.
      ok = ok && append(value.empty() ? name + ";" : name + ": " + value);
    }
    if (!ok) detail = "out of memory building headers";
    return ok;
  }

  void ApplyOptions(Attempt& a) {
    CURL* e = a.easy;
    const AttemptRequest& r = a.req;
    // The easy handle came from the pool after curl_easy_reset(), which
    // resets *every* option: all safety options are applied here, each
    // time.
    curl_easy_setopt(e, CURLOPT_PRIVATE, &a);
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(r.body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, a.headers);
    if (r.http2) {
      const bool tls =
          r.url.size() >= 8 && (r.url.compare(0, 8, "https://") == 0 ||
                                r.url.compare(0, 8, "HTTPS://") == 0);
      // h2 over TLS negotiates by ALPN (falls back to 1.1); on cleartext
      // there is nothing to negotiate with a POST, so opting in means
      // prior knowledge (h2c).
      curl_easy_setopt(
          e, CURLOPT_HTTP_VERSION,
          tls ? static_cast<long>(CURL_HTTP_VERSION_2TLS)
              : static_cast<long>(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE));
      curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    } else {
      curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                       static_cast<long>(CURL_HTTP_VERSION_1_1));
    }
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(r.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(r.timeout.count()));
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_bytes);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(options_.low_speed_time.count()));
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) {
      // CAINFO replaces the default bundle file, but Debian's libcurl also
      // trusts CAPATH (/etc/ssl/certs), so the system store stays trusted.
      curl_easy_setopt(e, CURLOPT_CAINFO, options_.ca_file.c_str());
    }
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 16384L);
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &WriteCallback);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HeaderCallback);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &OpenSocketCallback);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &a);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a.errbuf);
  }

  void Finish(Attempt* raw, CURLcode code) {
    auto it = active_.find(raw);
    if (it == active_.end()) return;
    std::unique_ptr<Attempt> a = std::move(it->second);
    active_.erase(it);
    AttemptResult r;
    r.latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - a->start);
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
      curl_off_t declared = -1;
      curl_easy_getinfo(a->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &declared);
      if (status == 0) {
        // curl < 8 could report a reset HTTP/2 stream as CURLE_OK with no
        // response at all; "no response" is never a success.
        r.error = ErrorClass::kReset;
        r.error_detail = "no HTTP response";
      } else if (declared >= 0 &&
                 static_cast<curl_off_t>(a->received) < declared) {
        r.error = ErrorClass::kReset;
        r.error_detail = "response body shorter than Content-Length";
      } else {
        r.http_status_code = static_cast<int>(status);
        r.response_body =
            transport_internal::Utf8Prefix(a->capture, kResponseBodyChars);
        if (a->retry_after) {
          auto secs = ParseRetryAfterSeconds(*a->retry_after, UnixNow());
          if (secs.ok()) r.retry_after = std::chrono::seconds(*secs);
        }
      }
    } else {
      r.error = ClassifyCurlError(code, a->blocked, a->too_large);
      r.error_detail = a->errbuf[0] != '\0' ? std::string(a->errbuf)
                                            : curl_easy_strerror(code);
      if (r.error == ErrorClass::kBlocked) {
        r.error_detail = "blocked by SSRF guard: " + r.error_detail;
      }
    }
    curl_multi_remove_handle(multi_, a->easy);
    ReleaseEasy(a->easy);
    a->easy = nullptr;
    Complete(std::move(a), std::move(r));
  }

  void Complete(std::unique_ptr<Attempt> a, AttemptResult result) {
    curl_slist_free_all(a->headers);
    a->headers = nullptr;
    auto done = std::move(a->done);
    a.reset();
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (done) done(std::move(result));
  }

  void AbortAll() {
    std::vector<Attempt*> all;
    all.reserve(active_.size());
    for (auto& [ptr, a] : active_) all.push_back(ptr);
    for (Attempt* raw : all) {
      auto it = active_.find(raw);
      if (it == active_.end()) continue;
      std::unique_ptr<Attempt> a = std::move(it->second);
      active_.erase(it);
      curl_multi_remove_handle(multi_, a->easy);
      ReleaseEasy(a->easy);
      a->easy = nullptr;
      Complete(std::move(a), ErrorResult(ErrorClass::kOther, "shutdown"));
    }
  }

  CURL* AcquireEasy() {
    if (!pool_.empty()) {
      CURL* e = pool_.back();
      pool_.pop_back();
      return e;
    }
    return curl_easy_init();
  }

  void ReleaseEasy(CURL* e) {
    if (e == nullptr) return;
    if (pool_.size() >= kMaxIdleEasy) {
      curl_easy_cleanup(e);
      return;
    }
    // Drops every pointer into the finished Attempt (PRIVATE, WRITEDATA,
    // POSTFIELDS, ...); ApplyOptions sets everything again on reuse.
    curl_easy_reset(e);
    pool_.push_back(e);
  }

  // ---- driving curl (strand, mu_ held) ----

  void SocketAction(curl_socket_t fd, int flags) {
    int running = 0;
    curl_multi_socket_action(multi_, fd, flags, &running);
    DrainInfo();
  }

  void DrainInfo() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* e = msg->easy_handle;
      const CURLcode code = msg->data.result;  // msg dies with remove_handle
      Attempt* a = nullptr;
      curl_easy_getinfo(e, CURLINFO_PRIVATE, &a);
      if (a != nullptr) Finish(a, code);
    }
  }

  void Arm(const std::shared_ptr<SocketCtx>& ctx) {
    if ((ctx->want & CURL_POLL_IN) && !ctx->read_pending) {
      ctx->read_pending = true;
      ctx->desc.async_wait(
          asio::posix::stream_descriptor::wait_read,
          asio::bind_executor(strand_,
                              [self = shared_from_this(),
                               ctx](const boost::system::error_code& ec) {
                                self->OnSocketReady(ctx, CURL_CSELECT_IN, ec);
                              }));
    }
    if ((ctx->want & CURL_POLL_OUT) && !ctx->write_pending) {
      ctx->write_pending = true;
      ctx->desc.async_wait(
          asio::posix::stream_descriptor::wait_write,
          asio::bind_executor(strand_,
                              [self = shared_from_this(),
                               ctx](const boost::system::error_code& ec) {
                                self->OnSocketReady(ctx, CURL_CSELECT_OUT, ec);
                              }));
    }
  }

  void OnSocketReady(const std::shared_ptr<SocketCtx>& ctx, int dir,
                     const boost::system::error_code& ec) {
    std::lock_guard<std::mutex> lock(mu_);
    if (dir == CURL_CSELECT_IN) {
      ctx->read_pending = false;
    } else {
      ctx->write_pending = false;
    }
    if (dead_ || ctx->removed || ec == asio::error::operation_aborted) return;
    const int want_bit = dir == CURL_CSELECT_IN ? CURL_POLL_IN : CURL_POLL_OUT;
    if (!ec && !(ctx->want & want_bit)) return;  // no longer of interest
    SocketAction(ctx->fd, ec ? (dir | CURL_CSELECT_ERR) : dir);
    // curl may have removed (and even re-added, as a new SocketCtx) this fd
    // during the action; only a still-current context is re-armed.
    if (!ctx->removed && !dead_) Arm(ctx);
  }

  static int SocketCallback(CURL* /*easy*/, curl_socket_t s, int what,
                            void* userp, void* socketp) {
    auto* self = static_cast<CurlTransportImpl*>(userp);
    auto* ctx = static_cast<SocketCtx*>(socketp);
    if (what == CURL_POLL_REMOVE) {
      if (ctx != nullptr) self->RemoveSocket(ctx);
      return 0;
    }
    std::shared_ptr<SocketCtx> sp;
    if (ctx == nullptr) {
      sp = std::make_shared<SocketCtx>(self->io_);
      sp->fd = s;
      boost::system::error_code ec;
      sp->desc.assign(s, ec);
      if (ec) return 0;  // the transfer will time out; nothing better to do
      self->sockets_[s] = sp;
      curl_multi_assign(self->multi_, s, sp.get());
    } else {
      sp = ctx->shared_from_this();
    }
    sp->want = what;
    self->Arm(sp);
    return 0;
  }

  void RemoveSocket(SocketCtx* ctx) {
    ctx->removed = true;
    ctx->want = 0;
    // release(), not close(): curl owns (and will close) the fd. release()
    // deregisters it and completes the pending waits with
    // operation_aborted; those handlers hold the last references.
    ctx->desc.release();
    auto it = sockets_.find(ctx->fd);
    if (it != sockets_.end() && it->second.get() == ctx) sockets_.erase(it);
  }

  static int TimerCallback(CURLM* /*multi*/, long timeout_ms, void* userp) {
    auto* self = static_cast<CurlTransportImpl*>(userp);
    boost::system::error_code ec;
    if (timeout_ms < 0) {
      self->timer_.cancel(ec);
    } else if (timeout_ms == 0) {
      self->timer_.cancel(ec);
      if (!self->zero_timeout_posted_) {
        self->zero_timeout_posted_ = true;
        asio::post(self->strand_, [s = self->shared_from_this()] {
          std::lock_guard<std::mutex> lock(s->mu_);
          s->zero_timeout_posted_ = false;
          if (s->dead_) return;
          s->SocketAction(CURL_SOCKET_TIMEOUT, 0);
        });
      }
    } else {
      self->timer_.expires_after(std::chrono::milliseconds(timeout_ms));
      self->timer_.async_wait(asio::bind_executor(
          self->strand_,
          [s = self->shared_from_this()](const boost::system::error_code& e) {
            if (e) return;
            std::lock_guard<std::mutex> lock(s->mu_);
            if (s->dead_) return;
            s->SocketAction(CURL_SOCKET_TIMEOUT, 0);
          }));
    }
    return 0;
  }

  static size_t WriteCallback(char* ptr, size_t size, size_t nmemb,
                              void* userp) {
    auto* a = static_cast<Attempt*>(userp);
    const size_t n = size * nmemb;
    // CURLOPT_MAXFILESIZE only rejects a *declared* size; a chunked or
    // lying response is capped here.
    if (a->received + n > a->owner->options_.max_response_bytes) {
      a->too_large = true;
      return CURL_WRITEFUNC_ERROR;
    }
    a->received += n;
    if (a->capture.size() < kCaptureBytes) {
      a->capture.append(ptr, std::min(n, kCaptureBytes - a->capture.size()));
    }
    return n;
  }

  static size_t HeaderCallback(char* ptr, size_t size, size_t nmemb,
                               void* userp) {
    auto* a = static_cast<Attempt*>(userp);
    const size_t n = size * nmemb;
    std::string_view line(ptr, n);
    if (line.size() >= 5 && line.compare(0, 5, "HTTP/") == 0) {
      a->retry_after.reset();  // a new response (after a 1xx) starts
      return n;
    }
    constexpr std::string_view kName = "retry-after:";
    if (line.size() > kName.size() &&
        strncasecmp(line.data(), kName.data(), kName.size()) == 0) {
      std::string_view v = line.substr(kName.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
        v.remove_prefix(1);
      }
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' ||
                            v.back() == ' ' || v.back() == '\t')) {
        v.remove_suffix(1);
      }
      a->retry_after = std::string(v);
    }
    return n;
  }

  static curl_socket_t OpenSocketCallback(void* clientp,
                                          curlsocktype /*purpose*/,
                                          curl_sockaddr* address) {
    auto* a = static_cast<Attempt*>(clientp);
    // The address actually about to be connected to: checking here (not the
    // URL's host) defeats DNS rebinding and numeric host tricks alike.
    if (!a->owner->options_.allow_private_targets &&
        transport_internal::IsBlockedSockaddr(&address->addr,
                                              address->addrlen)) {
      a->blocked = true;
      return CURL_SOCKET_BAD;
    }
    return ::socket(address->family, address->socktype | SOCK_CLOEXEC,
                    address->protocol);
  }

  asio::io_context& io_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;  // the one timer of multi_
  TransportOptions options_;
  std::string user_agent_header_;
  std::atomic<size_t> in_flight_{0};
  std::atomic<bool> shutdown_{false};

  std::mutex mu_;
  // Everything below: strand + mu_.
  bool dead_ = false;
  bool zero_timeout_posted_ = false;
  CURLM* multi_ = nullptr;
  std::unordered_map<Attempt*, std::unique_ptr<Attempt>> active_;
  std::unordered_map<curl_socket_t, std::shared_ptr<SocketCtx>> sockets_;
  std::vector<CURL*> pool_;
};

// The public object. Holds the implementation by shared_ptr because queued
// Asio handlers may outlive it; its destructor tears everything down
// synchronously so no `done` runs afterwards.
class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(std::shared_ptr<CurlTransportImpl> impl)
      : impl_(std::move(impl)) {}
  ~CurlTransport() override { impl_->Destroy(); }

  void Send(AttemptRequest request,
            std::function<void(AttemptResult)> done) override {
    impl_->Send(std::move(request), std::move(done));
  }
  void Shutdown() override { impl_->Shutdown(); }
  size_t InFlight() const override { return impl_->InFlight(); }

 private:
  std::shared_ptr<CurlTransportImpl> impl_;
};

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    // CURLOPT_NOSIGNAL=1 keeps curl away from signals, so a write to a
    // connection the peer closed raises SIGPIPE in the process: ignore it,
    // unless the host installed its own handler.
    struct sigaction old;
    if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
      struct sigaction ign;
      std::memset(&ign, 0, sizeof(ign));
      ign.sa_handler = SIG_IGN;
      sigemptyset(&ign.sa_mask);
      sigaction(SIGPIPE, &ign, nullptr);
    }
  });
}

}  // namespace

std::unique_ptr<Transport> NewCurlTransport(boost::asio::io_context& io,
                                            TransportOptions options) {
  GlobalInitOnce();
  return std::make_unique<CurlTransport>(
      std::make_shared<CurlTransportImpl>(io, std::move(options)));
}

}  // namespace hooklog
