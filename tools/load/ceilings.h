// The ceilings hooklog-load measures beside the engine, against the same
// receiver: wrk (a child process) and a bare libcurl-multi loop (in this
// process), both sending the same POST (body and headers, pre-signed) at the
// same concurrency for a fixed time.
//
// Thread-safety: each call runs on the calling thread.
#ifndef HOOKLOG_TOOLS_LOAD_CEILINGS_H_
#define HOOKLOG_TOOLS_LOAD_CEILINGS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace hooklog::load {

struct CeilingRequest {
  std::string url;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct CeilingResult {
  bool ran = false;
  double per_s = 0;        // responses (any status) per second
  uint64_t responses = 0;  // within the measured window
  uint64_t non_2xx = 0;
  uint64_t errors = 0;  // transfers without a response
  double p50_ms = 0;
  double p99_ms = 0;
  std::string note;  // why it did not run, or a remark
};

// Runs `wrk -t<min(2,c)> -c<c> -d<seconds>s --latency -s <lua>` against
// req.url (a child process, killed after seconds + 15 s at most).
CeilingResult RunWrk(const CeilingRequest& req, int concurrency, int seconds);

// A plain curl_multi_socket_action + epoll loop on this thread, with
// `concurrency` reused easy handles (keep-alive) spread over `handles` multi
// handles (as the transport spreads its attempts), no signing and no
// bookkeeping beyond counting, for `seconds`.
CeilingResult RunCurlLoop(const CeilingRequest& req, int concurrency,
                          double seconds, int handles = 1);

}  // namespace hooklog::load

#endif  // HOOKLOG_TOOLS_LOAD_CEILINGS_H_
