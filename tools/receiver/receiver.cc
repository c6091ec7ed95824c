// hooklog::receiver::Receiver: Beast parses requests; responses are written
// as raw bytes so that the receiver can stop half-way (close or reset
// mid-response), trickle, or never answer — things a well-behaved
// serializer would not let it do.
#include "tools/receiver/receiver.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "hooklog/signing.h"

namespace hooklog::receiver {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string RecordedRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, beast::string_view(name.data(), name.size()))) {
      return v;
    }
  }
  return {};
}

Script Sequence(std::vector<Reply> replies) {
  if (replies.empty()) replies.push_back(Reply{});
  return [replies = std::move(replies)](const RecordedRequest& r) {
    size_t i = std::min<size_t>(r.index_on_path, replies.size() - 1);
    return replies[i];
  };
}

Script RandomMix(MixSpec spec) {
  struct State {
    std::mutex mu;
    std::mt19937_64 rng;
  };
  auto state = std::make_shared<State>();
  state->rng.seed(spec.seed);
  return [spec, state](const RecordedRequest&) {
    double roll;
    double delay_frac;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      std::uniform_real_distribution<double> u(0.0, 1.0);
      roll = u(state->rng);
      delay_frac = u(state->rng);
    }
    Reply r = spec.ok;
    double edge = spec.fail_rate;
    if (roll < edge) {
      r.status = 500;
      r.body = "internal error";
      return r;
    }
    edge += spec.rate_limit_rate;
    if (roll < edge) {
      r.status = 429;
      r.retry_after = "1";
      return r;
    }
    edge += spec.reset_rate;
    if (roll < edge) {
      r.action = Reply::Action::kResetBeforeResponse;
      return r;
    }
    edge += spec.slow_rate;
    if (roll < edge) {
      r.delay = std::chrono::milliseconds(
          static_cast<int64_t>(delay_frac * spec.max_delay.count()));
    }
    return r;
  };
}

namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 410:
      return "Gone";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

// A self-signed certificate for CN=localhost, SAN 127.0.0.1 and localhost,
// made at start so that no private key is ever committed.
bool MakeSelfSigned(std::string& cert_pem, std::string& key_pem) {
  EVP_PKEY* pkey = EVP_EC_gen("prime256v1");
  if (pkey == nullptr) return false;
  X509* x = X509_new();
  bool ok = x != nullptr;
  if (ok) {
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 7 * 24 * 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(
        name, "CN", MBSTRING_ASC,
        reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    const std::pair<int, const char*> exts[] = {
        {NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
        {NID_basic_constraints, "critical,CA:TRUE"},
        {NID_key_usage, "critical,digitalSignature,keyCertSign"},
        {NID_ext_key_usage, "serverAuth"},
    };
    for (const auto& [nid, value] : exts) {
      X509_EXTENSION* ext =
          X509V3_EXT_conf_nid(nullptr, &v3, nid, const_cast<char*>(value));
      if (ext == nullptr) {
        ok = false;
        break;
      }
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    }
    ok = ok && X509_sign(x, pkey, EVP_sha256()) > 0;
  }
  if (ok) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    cert_pem.assign(data, static_cast<size_t>(n));
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, pkey, nullptr, nullptr, 0, nullptr, nullptr);
    n = BIO_get_mem_data(b, &data);
    key_pem.assign(data, static_cast<size_t>(n));
    BIO_free(b);
  }
  X509_free(x);
  EVP_PKEY_free(pkey);
  return ok;
}

struct PathConfig {
  std::optional<Reply> reply;
  Script script;
  std::vector<std::string> secrets;
  SignatureScheme scheme = SignatureScheme::kStandard;
  bool has_secrets = false;
};

class ReceiverImpl;

// One connection. Invariant: at most one read or write is outstanding, and
// every handler runs on the connection's strand, so no locking is needed
// inside a session.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(Stream stream, ReceiverImpl* rx, uint64_t id)
      : stream_(std::move(stream)),
        timer_(stream_.get_executor()),
        rx_(rx),
        id_(id) {}
  ~Session() { EndRequest(); }

  void Start();

 private:
  auto& Socket() { return beast::get_lowest_layer(stream_); }
  void DoRead();
  void OnRead(beast::error_code ec);
  void HoldOrRespond();
  void Respond();
  void WriteThen(std::string_view bytes, void (Session::*next)());
  void AfterFullResponse();
  void AfterHalfResponse();
  void TrickleNext();
  void WatchUntilClosed();
  void Reset();
  void Close();
  void EndRequest();

  Stream stream_;
  asio::steady_timer timer_;
  ReceiverImpl* rx_;
  uint64_t id_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Reply reply_;
  std::string out_;
  size_t trickle_pos_ = 0;
  bool keep_alive_ = true;
  bool in_request_ = false;
  char sink_[64];
};

class ReceiverImpl final : public Receiver {
 public:
  explicit ReceiverImpl(Options options)
      : options_(std::move(options)),
        ssl_(asio::ssl::context::tls_server),
        io_(std::make_unique<asio::io_context>()),
        acceptor_(std::make_unique<tcp::acceptor>(asio::make_strand(*io_))) {}
  ~ReceiverImpl() override { Stop(); }

  bool Init() {
    beast::error_code ec;
    if (options_.tls) {
      if (!MakeSelfSigned(cert_pem_, key_pem_)) {
        std::fprintf(stderr, "receiver: cannot make a certificate\n");
        return false;
      }
      ssl_.use_certificate_chain(asio::buffer(cert_pem_), ec);
      if (!ec)
        ssl_.use_private_key(asio::buffer(key_pem_), asio::ssl::context::pem,
                             ec);
      if (ec) {
        std::fprintf(stderr, "receiver: %s\n", ec.message().c_str());
        return false;
      }
    }
    tcp::endpoint ep(asio::ip::make_address(options_.address, ec),
                     options_.port);
    if (!ec) acceptor_->open(ep.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(ep, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      std::fprintf(stderr, "receiver: cannot listen on %s:%u: %s\n",
                   options_.address.c_str(), options_.port,
                   ec.message().c_str());
      return false;
    }
    port_ = acceptor_->local_endpoint().port();
    Accept();
    int n = std::max(1, options_.threads);
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this] { io_->run(); });
    }
    return true;
  }

  void Stop() override {
    std::call_once(stopped_, [this] {
      // Closing happens by destroying the sessions: once the threads are
      // joined, destroying the io_context destroys every pending handler,
      // which drops the last reference to each session, whose socket
      // destructor closes the connection. This runs while *this is alive,
      // so the sessions' destructors may still call back into it.
      io_->stop();
      for (auto& t : threads_) t.join();
      threads_.clear();
      {
        std::lock_guard<std::mutex> lock(gate_mu_);
        gate_.reset();
      }
      acceptor_.reset();
      io_.reset();
    });
  }

  uint16_t port() const override { return port_; }
  std::string Url(std::string_view path) const override {
    std::string host = options_.address;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return std::string(options_.tls ? "https://" : "http://") + host + ":" +
           std::to_string(port_) + std::string(path);
  }
  std::string CertificatePem() const override { return cert_pem_; }

  void SetDefaultReply(Reply reply) override {
    std::lock_guard<std::mutex> lock(mu_);
    default_.reply = std::move(reply);
  }
  void SetReply(std::string path, Reply reply) override {
    std::lock_guard<std::mutex> lock(mu_);
    paths_[std::move(path)].reply = std::move(reply);
  }
  void SetDefaultScript(Script script) override {
    std::lock_guard<std::mutex> lock(mu_);
    default_.script = std::move(script);
  }
  void SetScript(std::string path, Script script) override {
    std::lock_guard<std::mutex> lock(mu_);
    paths_[std::move(path)].script = std::move(script);
  }
  void SetSecrets(std::string path, std::vector<std::string> secrets,
                  SignatureScheme scheme) override {
    std::lock_guard<std::mutex> lock(mu_);
    PathConfig& c = path.empty() ? default_ : paths_[std::move(path)];
    c.secrets = std::move(secrets);
    c.scheme = scheme;
    c.has_secrets = true;
  }

  std::vector<RecordedRequest> Requests() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return recorded_;
  }
  std::vector<RecordedRequest> RequestsFor(
      std::string_view path) const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<RecordedRequest> out;
    for (const auto& r : recorded_) {
      if (r.path == path) out.push_back(r);
    }
    return out;
  }
  uint64_t total() const override { return total_.load(); }
  uint64_t concurrent() const override { return concurrent_.load(); }
  uint64_t max_concurrent() const override { return max_concurrent_.load(); }
  uint64_t signature_failures() const override { return sig_failures_.load(); }
  uint64_t connections_accepted() const override { return connections_.load(); }
  double ThreadCpuSeconds() const override {
    double total = 0;
    for (const std::thread& t : threads_) {
      clockid_t clock;
      timespec ts{};
      if (pthread_getcpuclockid(const_cast<std::thread&>(t).native_handle(),
                                &clock) == 0 &&
          clock_gettime(clock, &ts) == 0) {
        total += double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
      }
    }
    return total;
  }
  void ResetStats() override {
    std::lock_guard<std::mutex> lock(mu_);
    recorded_.clear();
    per_path_count_.clear();
    total_ = 0;
    max_concurrent_ = concurrent_.load();
    sig_failures_ = 0;
  }
  bool WaitForRequests(uint64_t n,
                       std::chrono::milliseconds timeout) const override {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return total_.load() >= n; });
  }

  // Called by sessions (on their strand).
  Reply OnRequest(http::request<http::string_body>& req, uint64_t conn_id) {
    RecordedRequest rec;
    rec.arrival = std::chrono::system_clock::now();
    rec.arrival_steady = std::chrono::steady_clock::now();
    rec.method = std::string(req.method_string());
    rec.target = std::string(req.target());
    rec.path = rec.target.substr(0, rec.target.find('?'));
    rec.connection_id = conn_id;
    for (const auto& f : req) {
      rec.headers.emplace_back(std::string(f.name_string()),
                               std::string(f.value()));
    }
    rec.webhook_id = std::string(req["webhook-id"]);
    rec.body = std::move(req.body());

    Script script;
    Reply reply;
    std::vector<std::string> secrets;
    SignatureScheme scheme = SignatureScheme::kStandard;
    bool has_secrets = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rec.index_on_path = per_path_count_[rec.path]++;
      auto it = paths_.find(rec.path);
      const PathConfig* pc = it == paths_.end() ? nullptr : &it->second;
      if (pc != nullptr && pc->script) {
        script = pc->script;
      } else if (pc != nullptr && pc->reply) {
        reply = *pc->reply;
      } else if (default_.script) {
        script = default_.script;
      } else if (default_.reply) {
        reply = *default_.reply;
      }
      const PathConfig* sc = pc != nullptr && pc->has_secrets ? pc : &default_;
      if (sc->has_secrets) {
        secrets = sc->secrets;
        scheme = sc->scheme;
        has_secrets = true;
      }
    }
    if (has_secrets) {
      bool ok = false;
      if (scheme == SignatureScheme::kStandard) {
        const std::string ts = rec.Header("webhook-timestamp");
        char* end = nullptr;
        long long t = std::strtoll(ts.c_str(), &end, 10);
        ok = !ts.empty() && end != nullptr && *end == '\0' &&
             VerifyStandardWebhooks(secrets, rec.webhook_id, t, rec.body,
                                    rec.Header("webhook-signature"));
      } else {
        ok = VerifyClosient(secrets, rec.body,
                            rec.Header("X-Closient-Signature"));
      }
      rec.signature_ok = ok;
      if (!ok) ++sig_failures_;
    }
    if (script) reply = script(rec);
    if (options_.on_request) options_.on_request(rec, reply);

    uint64_t now = ++concurrent_;
    uint64_t seen = max_concurrent_.load();
    while (now > seen && !max_concurrent_.compare_exchange_weak(seen, now)) {
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (options_.record) recorded_.push_back(std::move(rec));
      ++total_;
    }
    cv_.notify_all();
    return reply;
  }
  void OnRequestDone() { --concurrent_; }

  // Runs `handler` (on `ex`) once ReleaseHeld() has been called. One timer
  // set a day ahead (time_point::max() overflows in Asio) serves as the gate:
  // cancelling it wakes every waiter. Timer calls are serialised by gate_mu_
  // because sessions live on different strands.
  template <class Executor, class Handler>
  void WaitGate(const Executor& ex, Handler handler) {
    std::lock_guard<std::mutex> lock(gate_mu_);
    if (released_) {
      asio::post(
          ex, [h = std::move(handler)]() mutable { h(beast::error_code()); });
      return;
    }
    if (gate_) gate_->async_wait(asio::bind_executor(ex, std::move(handler)));
  }
  void ReleaseHeld() override {
    std::lock_guard<std::mutex> lock(gate_mu_);
    released_ = true;
    if (gate_) gate_->cancel();
  }
  size_t max_body_bytes() const { return options_.max_body_bytes; }

 private:
  void Accept() {
    acceptor_->async_accept(asio::make_strand(*io_), [this](
                                                         beast::error_code ec,
                                                         tcp::socket socket) {
      if (ec == asio::error::operation_aborted) {
        return;
      }
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        uint64_t id = ++connections_;
        if (options_.tls) {
          std::make_shared<Session<beast::ssl_stream<tcp::socket>>>(
              beast::ssl_stream<tcp::socket>(std::move(socket), ssl_), this, id)
              ->Start();
        } else {
          std::make_shared<Session<tcp::socket>>(std::move(socket), this, id)
              ->Start();
        }
      }
      // EMFILE and friends: keep accepting; the test will notice.
      Accept();
    });
  }

  Options options_;
  asio::ssl::context ssl_;  // outlives every TLS session
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::string cert_pem_, key_pem_;
  uint16_t port_ = 0;
  std::vector<std::thread> threads_;
  std::once_flag stopped_;
  std::mutex gate_mu_;
  std::unique_ptr<asio::steady_timer> gate_ =
      std::make_unique<asio::steady_timer>(*io_, std::chrono::hours(24));
  bool released_ = false;

  mutable std::mutex mu_;
  mutable std::condition_variable_any cv_;
  PathConfig default_;
  std::map<std::string, PathConfig, std::less<>> paths_;
  std::map<std::string, uint64_t, std::less<>> per_path_count_;
  std::vector<RecordedRequest> recorded_;
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> concurrent_{0};
  std::atomic<uint64_t> max_concurrent_{0};
  std::atomic<uint64_t> sig_failures_{0};
  std::atomic<uint64_t> connections_{0};
};

template <class Stream>
void Session<Stream>::Start() {
  if constexpr (std::is_same_v<Stream, tcp::socket>) {
    DoRead();
  } else {
    stream_.async_handshake(
        asio::ssl::stream_base::server,
        [self = this->shared_from_this()](beast::error_code ec) {
          if (!ec) self->DoRead();
        });
  }
}

template <class Stream>
void Session<Stream>::DoRead() {
  parser_.emplace();
  parser_->body_limit(rx_->max_body_bytes());
  http::async_read(stream_, buffer_, *parser_,
                   [self = this->shared_from_this()](
                       beast::error_code ec, size_t) { self->OnRead(ec); });
}

template <class Stream>
void Session<Stream>::OnRead(beast::error_code ec) {
  if (ec) return;  // peer closed or sent garbage: drop the connection
  http::request<http::string_body> req = parser_->release();
  keep_alive_ = req.keep_alive();
  in_request_ = true;
  reply_ = rx_->OnRequest(req, id_);
  if (reply_.close) keep_alive_ = false;
  if (reply_.action == Reply::Action::kNeverAnswer) {
    WatchUntilClosed();
    return;
  }
  if (reply_.delay.count() > 0) {
    timer_.expires_after(reply_.delay);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code wec) {
      if (!wec) self->HoldOrRespond();
    });
    return;
  }
  HoldOrRespond();
}

// A held reply waits for ReleaseHeld(); the gate's wait ends with
// operation_aborted when released, which is the signal, not an error.
template <class Stream>
void Session<Stream>::HoldOrRespond() {
  if (!reply_.hold) {
    Respond();
    return;
  }
  rx_->WaitGate(stream_.get_executor(),
                [self = this->shared_from_this()](beast::error_code) {
                  self->Respond();
                });
}

template <class Stream>
void Session<Stream>::Respond() {
  if (reply_.action == Reply::Action::kResetBeforeResponse) {
    Reset();
    return;
  }
  const size_t body_len =
      reply_.body.empty() ? reply_.body_size : reply_.body.size();
  out_.clear();
  out_.reserve(160 + body_len);
  out_.append("HTTP/1.1 ");
  out_.append(std::to_string(reply_.status));
  out_.push_back(' ');
  out_.append(Reason(reply_.status));
  out_.append("\r\nContent-Type: text/plain\r\nContent-Length: ");
  out_.append(std::to_string(body_len));
  out_.append("\r\n");
  if (reply_.retry_after) {
    out_.append("Retry-After: ");
    out_.append(*reply_.retry_after);
    out_.append("\r\n");
  }
  for (const auto& [k, v] : reply_.headers) {
    out_.append(k);
    out_.append(": ");
    out_.append(v);
    out_.append("\r\n");
  }
  if (!keep_alive_) out_.append("Connection: close\r\n");
  out_.append("\r\n");
  const size_t head_len = out_.size();
  if (reply_.body.empty()) {
    out_.append(body_len, 'x');
  } else {
    out_.append(reply_.body);
  }

  switch (reply_.action) {
    case Reply::Action::kCloseMidResponse:
    case Reply::Action::kResetMidResponse:
      WriteThen(std::string_view(out_).substr(0, head_len + body_len / 2),
                &Session::AfterHalfResponse);
      return;
    default:
      break;
  }
  if (reply_.trickle) {
    trickle_pos_ = head_len;
    WriteThen(std::string_view(out_).substr(0, head_len),
              &Session::TrickleNext);
    return;
  }
  WriteThen(out_, &Session::AfterFullResponse);
}

template <class Stream>
void Session<Stream>::WriteThen(std::string_view bytes,
                                void (Session::*next)()) {
  asio::async_write(
      stream_, asio::buffer(bytes.data(), bytes.size()),
      [self = this->shared_from_this(), next](beast::error_code ec, size_t) {
        if (ec) {
          self->EndRequest();
          return;
        }
        ((*self).*next)();
      });
}

template <class Stream>
void Session<Stream>::TrickleNext() {
  if (trickle_pos_ >= out_.size()) {
    AfterFullResponse();
    return;
  }
  timer_.expires_after(reply_.trickle_interval);
  timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
    if (ec) return;
    size_t n = std::min(std::max<size_t>(1, self->reply_.trickle_bytes),
                        self->out_.size() - self->trickle_pos_);
    std::string_view chunk =
        std::string_view(self->out_).substr(self->trickle_pos_, n);
    self->trickle_pos_ += n;
    self->WriteThen(chunk, &Session::TrickleNext);
  });
}

template <class Stream>
void Session<Stream>::AfterFullResponse() {
  EndRequest();
  if (keep_alive_) {
    DoRead();
  } else {
    Close();
  }
}

template <class Stream>
void Session<Stream>::AfterHalfResponse() {
  EndRequest();
  if (reply_.action == Reply::Action::kResetMidResponse) {
    Reset();
  } else {
    Close();
  }
}

template <class Stream>
void Session<Stream>::WatchUntilClosed() {
  // Reads (and discards) until the client hangs up; the pending read keeps
  // the session alive meanwhile.
  Socket().async_read_some(
      asio::buffer(sink_),
      [self = this->shared_from_this()](beast::error_code ec, size_t) {
        if (ec) {
          self->EndRequest();
          return;
        }
        self->WatchUntilClosed();
      });
}

template <class Stream>
void Session<Stream>::Reset() {
  EndRequest();
  beast::error_code ec;
  // SO_LINGER with a zero timeout turns close() into an RST.
  Socket().set_option(asio::socket_base::linger(true, 0), ec);
  Socket().close(ec);
}

template <class Stream>
void Session<Stream>::Close() {
  beast::error_code ec;
  Socket().shutdown(tcp::socket::shutdown_send, ec);
  Socket().close(ec);
}

template <class Stream>
void Session<Stream>::EndRequest() {
  if (in_request_) {
    in_request_ = false;
    rx_->OnRequestDone();
  }
}

}  // namespace

std::unique_ptr<Receiver> Receiver::Start(Options options) {
  auto rx = std::make_unique<ReceiverImpl>(std::move(options));
  if (!rx->Init()) return nullptr;
  return rx;
}

}  // namespace hooklog::receiver
