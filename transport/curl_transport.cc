// The libcurl-multi transport, driven by Boost.Asio.
//
// One cohesive thing, kept in one file on purpose (~950 lines): the glue of
// one multi handle. Every callback below (socket, timer, open/close socket,
// write) works on the same strand-confined state, and the invariants that
// keep it sound (who owns a SocketCtx, when a wait may be cancelled) span
// them all; splitting them across files would hide those invariants.
// Signing, the SSRF guard and response capture are their own files.
//
// How the glue works (docs/transport.md; curl's ephiperfifo.c and
// multi-uv.c are the models, its removed asiohiper.cpp is not):
//  - Every call into the multi handle happens on one strand, under `mu_`.
//    The strand gives ordering when the io_context runs on several threads;
//    the mutex exists only so that the destructor can tear down while
//    handlers are still queued (they find `dead_` set and return).
//  - Sockets: every fd curl uses is wrapped in a posix::stream_descriptor
//    (SocketCtx), kept in `sockets_` keyed by fd; the map is its only owner
//    apart from pending waits (shared_ptr), so a context is freed only after
//    its waits have completed or been cancelled. CURLMOPT_SOCKETFUNCTION arms
//    async_wait()s for the wanted directions.
//  - Keep-alive without churn: curl 7.88 sends CURL_POLL_REMOVE for a
//    keep-alive socket at the end of every transfer and announces it again
//    on reuse. For a connection socket we opened (CURLOPT_OPENSOCKETFUNCTION)
//    that has been established, REMOVE only cancels pending waits: the fd
//    stays registered with the reactor until curl closes it through
//    CURLOPT_CLOSESOCKETFUNCTION, where we deregister and close it. Every
//    other socket (curl's resolver socketpair, a socket still connecting) is
//    released on REMOVE as before. Why "established": curl 7.88 closes a
//    connecting socket that lost (happy eyeballs) with a plain close(),
//    bypassing CLOSESOCKETFUNCTION; a socket that never got past connecting
//    is therefore never kept. curl only asks for POLL_IN once a socket is
//    connected, which is what marks it established.
//    Because a kept context outlives curl's own socket-hash entry (and the
//    pointer curl_multi_assign would store there), contexts are looked up
//    by fd, never through curl's socketp.
//  - CURLMOPT_TIMERFUNCTION: one steady_timer per multi handle. A zero
//    timeout is post()ed (coalesced), never acted on inside the callback,
//    because curl forbids re-entering curl_multi_socket_action from its own
//    callbacks. A later deadline than the one armed does not re-arm the
//    timer (that costs a cancel, a handler and a timerfd_settime each time
//    curl's earliest expiry moves, i.e. on every completion): the armed wait
//    fires early, sees the deadline moved and re-arms once.
//  - Easy handles are pooled without curl_easy_reset(): the options that
//    never change (the safety ones included) are set once when a handle is
//    created and never touched again; only the per-attempt ones are set per
//    attempt (see InitEasy / ApplyAttemptOptions).
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
#include <unistd.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hooklog/signing.h"
#include "hooklog/transport.h"
#include "transport/response_capture.h"
#include "transport/sharded_transport.h"
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
struct SocketCtx {
  SocketCtx(asio::io_context& io, curl_socket_t s, bool opened_by_us)
      : desc(io), fd(s), owned(opened_by_us) {}
  asio::posix::stream_descriptor desc;
  const curl_socket_t fd;
  // Opened by OpenSocketCallback: curl closes it via CloseSocketCallback.
  const bool owned;
  // curl asked for POLL_IN: the socket is connected and in use (see the
  // file comment for why only such sockets stay registered across REMOVE).
  bool established = false;
  int want = 0;  // CURL_POLL_IN / OUT / INOUT; 0 while idle
  bool read_pending = false;
  bool write_pending = false;
  bool removed = false;  // no longer ours: waits finishing must do nothing
};

class CurlTransportImpl;

// One attempt in flight. Owned by CurlTransportImpl (intrusive list
// active_head_) from curl_multi_add_handle until Finish/AbortAll.
struct Attempt {
  CurlTransportImpl* owner = nullptr;
  CURL* easy = nullptr;
  Attempt* prev = nullptr;  // active list
  Attempt* next = nullptr;
  AttemptRequest req;
  std::function<void(AttemptResult)> done;
  // Request headers: the lines, NUL-separated, in one buffer, and curl_slist
  // nodes pointing into it (curl only reads the list), so building them
  // costs one or two allocations rather than two per header.
  std::string header_text;
  std::vector<curl_slist> header_nodes;
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
    // Otherwise see UpdateDefaultMaxConnects().
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
    // Stop curl from calling back into a half-destroyed transport. The
    // close-socket callback stays: curl_multi_cleanup below closes the
    // cached connections through it, and it copes with an empty sockets_.
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, nullptr);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, nullptr);
    while (Attempt* a = active_head_) {
      Unlink(a);
      curl_multi_remove_handle(multi_, a->easy);
      curl_easy_cleanup(a->easy);
      delete a;
    }
    for (auto& [fd, ctx] : sockets_) {
      ctx->removed = true;
      ctx->desc.release();  // curl closes the fd (below, or already did)
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
    ApplyAttemptOptions(*a);
    a->start = std::chrono::steady_clock::now();
    CURLMcode mc = curl_multi_add_handle(multi_, a->easy);
    if (mc != CURLM_OK) {
      ReleaseEasy(a->easy);
      a->easy = nullptr;
      Complete(std::move(a),
               ErrorResult(ErrorClass::kOther, curl_multi_strerror(mc)));
      return;
    }
    Link(a.release());
    UpdateDefaultMaxConnects();
    // curl_multi_add_handle has set a zero timeout through TimerCallback,
    // which posts the kick-off; nothing more to do here.
  }

  // curl's default cache size is 4 x the handles added *at the moment a
  // connection is returned*. We remove a handle as soon as its attempt
  // completes, so after a burst of completions the last ones see only a few
  // handles added and curl closes nearly every idle keep-alive connection,
  // to reopen them on the next burst (at 64 in flight, ~700 extra connects
  // per 20,000 attempts). Without an explicit max_connections we apply
  // curl's rule to the high-water mark of attempts in flight instead.
  void UpdateDefaultMaxConnects() {
    if (options_.max_connections > 0 || active_count_ <= active_high_water_) {
      return;
    }
    active_high_water_ = active_count_;
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS,
                      static_cast<long>(4 * active_high_water_));
  }

  void Link(Attempt* a) {
    ++active_count_;
    a->prev = nullptr;
    a->next = active_head_;
    if (active_head_ != nullptr) active_head_->prev = a;
    active_head_ = a;
  }

  void Unlink(Attempt* a) {
    --active_count_;
    if (a->prev != nullptr) {
      a->prev->next = a->next;
    } else {
      active_head_ = a->next;
    }
    if (a->next != nullptr) a->next->prev = a->prev;
    a->prev = a->next = nullptr;
  }

  bool BuildHeaders(Attempt& a, std::string& detail) {
    const AttemptRequest& r = a.req;
    std::string& text = a.header_text;
    size_t lines = 0;
    // Each line ends with '\0'; the nodes are pointed into `text` once it
    // is complete (appending may move it).
    auto line = [&](std::initializer_list<std::string_view> parts) {
      for (std::string_view p : parts) text.append(p);
      text.push_back('\0');
      ++lines;
    };
    text.reserve(256 + r.body.size() / 64 + 64 * r.headers.size());
    line({"Content-Type: application/json"});
    line({user_agent_header_});
    // No "Expect: 100-continue" round trip for large bodies.
    line({"Expect:"});
    const int64_t now = UnixNow();
    if (r.scheme == SignatureScheme::kClosient) {
      for (const std::string* v : {&r.event_type, &r.delivery_id}) {
        if (!IsSafeHeader("X", *v)) {
          detail = "unsafe characters in a Closient header value";
          return false;
        }
      }
      line({"X-Closient-Signature: ",
            ClosientSignature(r.secrets, now, r.body)});
      line({"X-Closient-Event-Type: ", r.event_type});
      line({"X-Closient-Delivery-ID: ", r.delivery_id});
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
      char ts[24];
      const int ts_len =
          std::snprintf(ts, sizeof(ts), "%lld", static_cast<long long>(now));
      line({"webhook-id: ", r.webhook_id});
      line({"webhook-timestamp: ",
            std::string_view(ts, static_cast<size_t>(ts_len))});
      line({"webhook-signature: ", *sig});
    }
    for (const auto& [name, value] : r.headers) {
      // Defence in depth: the engine validates headers when an endpoint is
      // created, but a CR/LF here would let one header smuggle others.
      if (!IsSafeHeader(name, value)) {
        detail = "refused unsafe custom header";
        return false;
      }
      // "Name;" is curl's spelling of a header with an empty value.
      if (value.empty()) {
        line({name, ";"});
      } else {
        line({name, ": ", value});
      }
    }
    a.header_nodes.resize(lines);
    char* p = text.data();
    for (size_t i = 0; i < lines; ++i) {
      a.header_nodes[i].data = p;
      a.header_nodes[i].next = i + 1 < lines ? &a.header_nodes[i + 1] : nullptr;
      p += std::strlen(p) + 1;
    }
    return true;
  }

  // Options that never change for a handle, set once when it is created.
  // Invariant: nothing else sets these, and handles are never
  // curl_easy_reset(), so every attempt runs with all of them - the safety
  // options (protocols, no redirects, no proxy, no signals, the SSRF guard,
  // TLS verification, the response cap in WriteCallback) included.
  void InitEasy(CURL* e) {
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
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
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HeaderCallback);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &OpenSocketCallback);
    // A connection outlives the attempt that opened it (curl copies this
    // pointer into the connection), so the close callback gets the
    // transport, never an Attempt.
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &CloseSocketCallback);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
  }

  // The options that differ per attempt. Every one of them is set here on
  // every attempt, so nothing leaks from the previous user of the handle.
  void ApplyAttemptOptions(Attempt& a) {
    CURL* e = a.easy;
    const AttemptRequest& r = a.req;
    curl_easy_setopt(e, CURLOPT_PRIVATE, &a);
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(r.body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, a.header_nodes.data());
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
      curl_easy_setopt(e, CURLOPT_PIPEWAIT, 0L);
    }
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(r.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(r.timeout.count()));
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &a);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &a);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a.errbuf);
  }

  // REQUIRES: `a` is linked in the active list.
  void Finish(Attempt* raw, CURLcode code) {
    Unlink(raw);
    std::unique_ptr<Attempt> a(raw);
    AttemptResult r;
    r.latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - a->start);
    long status = 0;
    curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
    // A body over the cap is cut off (declared: CURLOPT_MAXFILESIZE; sent:
    // the write callback), but the response stands: the receiver answered
    // -- a 2xx accepted the event -- and only we stopped reading. Recording
    // it as a failure would resend an event the customer already took.
    const bool cut_off =
        status != 0 && (a->too_large || code == CURLE_FILESIZE_EXCEEDED);
    if (code == CURLE_OK || cut_off) {
      curl_off_t declared = -1;
      curl_easy_getinfo(a->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &declared);
      if (status == 0) {
        // curl < 8 could report a reset HTTP/2 stream as CURLE_OK with no
        // response at all; "no response" is never a success.
        r.error = ErrorClass::kReset;
        r.error_detail = "no HTTP response";
      } else if (!cut_off && declared >= 0 &&
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
    auto done = std::move(a->done);
    a.reset();
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    if (done) done(std::move(result));
  }

  void AbortAll() {
    while (Attempt* raw = active_head_) {
      Unlink(raw);
      std::unique_ptr<Attempt> a(raw);
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
    CURL* e = curl_easy_init();
    if (e != nullptr) InitEasy(e);
    return e;
  }

  void ReleaseEasy(CURL* e) {
    if (e == nullptr) return;
    if (pool_.size() >= kMaxIdleEasy) {
      curl_easy_cleanup(e);
      return;
    }
    // No curl_easy_reset(): it would drop the safety options set once by
    // InitEasy. Drop only the pointers into the finished Attempt, so that
    // an idle handle never refers to freed memory; ApplyAttemptOptions sets
    // them again on reuse.
    curl_easy_setopt(e, CURLOPT_PRIVATE, nullptr);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, nullptr);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, nullptr);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, nullptr);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, nullptr);
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

  // Arms a wait for each wanted direction that has none pending.
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
    if (dead_ || ctx->removed) return;
    if (ec == asio::error::operation_aborted) {
      // Cancelled by an idle REMOVE of a kept socket. curl may have wanted
      // the socket again since (while this wait still counted as pending):
      // arm what is wanted now.
      Arm(ctx);
      return;
    }
    const int want_bit = dir == CURL_CSELECT_IN ? CURL_POLL_IN : CURL_POLL_OUT;
    if (!ec && !(ctx->want & want_bit)) return;  // no longer of interest
    SocketAction(ctx->fd, ec ? (dir | CURL_CSELECT_ERR) : dir);
    // curl may have removed or closed this fd (and even opened a new one
    // with the same number, as a new SocketCtx) during the action; a
    // removed context is never re-armed.
    if (!ctx->removed && !dead_) Arm(ctx);
  }

  std::shared_ptr<SocketCtx> FindSocket(curl_socket_t s) {
    auto it = sockets_.find(s);
    return it == sockets_.end() ? nullptr : it->second;
  }

  // Stops using `ctx`: deregisters its fd without closing it (curl owns the
  // fd) and completes its pending waits with operation_aborted; they hold
  // the last references, so the context is freed after they have run.
  void Retire(const std::shared_ptr<SocketCtx>& ctx) {
    ctx->removed = true;
    ctx->want = 0;
    ctx->desc.release();
    auto it = sockets_.find(ctx->fd);
    if (it != sockets_.end() && it->second == ctx) sockets_.erase(it);
  }

  static int SocketCallback(CURL* /*easy*/, curl_socket_t s, int what,
                            void* userp, void* /*socketp*/) {
    auto* self = static_cast<CurlTransportImpl*>(userp);
    std::shared_ptr<SocketCtx> ctx = self->FindSocket(s);
    if (what == CURL_POLL_REMOVE) {
      if (ctx == nullptr) return 0;
      if (ctx->owned && ctx->established) {
        // An idle keep-alive connection: stay registered until curl closes
        // it (CloseSocketCallback); just stop waiting. Cancelling costs no
        // system call, unlike deregistering and registering again on reuse.
        ctx->want = 0;
        if (ctx->read_pending || ctx->write_pending) {
          boost::system::error_code ec;
          ctx->desc.cancel(ec);
        }
      } else {
        self->Retire(ctx);
      }
      return 0;
    }
    if (ctx == nullptr) {
      // Not opened by OpenSocketCallback (e.g. the resolver's socketpair),
      // or retired by an earlier REMOVE.
      ctx = std::make_shared<SocketCtx>(self->io_, s, /*opened_by_us=*/false);
      boost::system::error_code ec;
      ctx->desc.assign(s, ec);
      if (ec) return 0;  // the transfer will time out; nothing better to do
      self->sockets_[s] = ctx;
    }
    ctx->want = what;
    if (what & CURL_POLL_IN) ctx->established = true;
    self->Arm(ctx);
    return 0;
  }

  static int TimerCallback(CURLM* /*multi*/, long timeout_ms, void* userp) {
    auto* self = static_cast<CurlTransportImpl*>(userp);
    if (timeout_ms < 0) {
      // No timeout: cancel, so that an idle transport holds no timer.
      self->deadline_.reset();
      if (self->timer_pending_) {
        boost::system::error_code ec;
        self->timer_.cancel(ec);
        self->timer_pending_ = false;
        ++self->timer_generation_;
      }
    } else if (timeout_ms == 0) {
      // Supersedes any deadline; an armed wait may stay (it will find no
      // deadline, or a new one curl sets after the action).
      self->deadline_.reset();
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
      const auto deadline = std::chrono::steady_clock::now() +
                            std::chrono::milliseconds(timeout_ms);
      self->deadline_ = deadline;
      // An armed wait that fires no later than the deadline re-arms itself
      // for it (OnTimer); only an earlier deadline needs the timer moved.
      if (!self->timer_pending_ || self->timer_.expiry() > deadline) {
        self->ArmTimer(deadline);
      }
    }
    return 0;
  }

  void ArmTimer(std::chrono::steady_clock::time_point at) {
    timer_.expires_at(at);  // cancels a pending wait (a stale generation)
    timer_pending_ = true;
    const uint64_t generation = ++timer_generation_;
    timer_.async_wait(asio::bind_executor(
        strand_, [s = shared_from_this(),
                  generation](const boost::system::error_code& ec) {
          std::lock_guard<std::mutex> lock(s->mu_);
          s->OnTimer(generation, ec);
        }));
  }

  void OnTimer(uint64_t generation, const boost::system::error_code& ec) {
    if (dead_ || generation != timer_generation_) return;  // superseded
    timer_pending_ = false;
    if (ec || !deadline_) return;
    if (std::chrono::steady_clock::now() < *deadline_) {
      ArmTimer(*deadline_);  // curl's deadline moved later meanwhile
      return;
    }
    deadline_.reset();
    SocketAction(CURL_SOCKET_TIMEOUT, 0);
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
    CurlTransportImpl* self = a->owner;
    // The address actually about to be connected to: checking here (not the
    // URL's host) defeats DNS rebinding and numeric host tricks alike. It
    // runs for every new connection; a reused keep-alive connection was
    // checked when it was opened.
    if (!self->options_.allow_private_targets &&
        transport_internal::IsBlockedSockaddr(&address->addr,
                                              address->addrlen)) {
      a->blocked = true;
      return CURL_SOCKET_BAD;
    }
    const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC,
                            address->protocol);
    if (fd < 0) return CURL_SOCKET_BAD;
    // A context still filed under this number belongs to a socket curl
    // closed without telling us (a connecting socket that lost a happy
    // eyeballs race is close()d directly). Its registration died with it.
    if (auto stale = self->FindSocket(fd)) self->Retire(stale);
    auto ctx =
        std::make_shared<SocketCtx>(self->io_, fd, /*opened_by_us=*/true);
    boost::system::error_code ec;
    ctx->desc.assign(fd, ec);
    if (ec) {
      ::close(fd);
      return CURL_SOCKET_BAD;
    }
    self->sockets_[fd] = std::move(ctx);
    return fd;
  }

  // curl closes every socket OpenSocketCallback opened through here (after
  // announcing REMOVE if the socket was in use), with the transport as
  // `clientp`.
  static int CloseSocketCallback(void* clientp, curl_socket_t s) {
    auto* self = static_cast<CurlTransportImpl*>(clientp);
    if (auto ctx = self->FindSocket(s)) {
      ctx->removed = true;
      ctx->want = 0;
      self->sockets_.erase(s);
      // Deregisters, completes pending waits with operation_aborted (they
      // hold the last references) and closes the fd.
      boost::system::error_code ec;
      ctx->desc.close(ec);
      return ec ? 1 : 0;
    }
    return ::close(s) == 0 ? 0 : 1;
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
  // curl's current timeout, when it has one; timer_ is armed no later.
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  bool timer_pending_ = false;
  uint64_t timer_generation_ = 0;  // identifies the current timer wait
  CURLM* multi_ = nullptr;
  Attempt* active_head_ = nullptr;  // owned; see Attempt
  size_t active_count_ = 0;         // attempts in the active list
  size_t active_high_water_ = 0;    // max of active_count_ so far
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
  auto make = [&io, options] {
    return std::make_unique<CurlTransport>(
        std::make_shared<CurlTransportImpl>(io, options));
  };
  if (options.transfers_per_handle == 0 || options.max_handles <= 1) {
    return make();
  }
  const size_t per = options.transfers_per_handle;
  const size_t max = std::min(options.max_handles,
                              transport_internal::ShardedTransport::kMaxShards);
  return std::make_unique<transport_internal::ShardedTransport>(std::move(make),
                                                                per, max);
}

}  // namespace hooklog
