// The libFuzzer entry point around one check of fuzz/targets.h, chosen at
// compile time (HOOKLOG_FUZZ_CHECK, set by fuzz/CMakeLists.txt).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/targets.h"

#ifndef HOOKLOG_FUZZ_CHECK
#error "define HOOKLOG_FUZZ_CHECK to a check function of fuzz/targets.h"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string problem = hooklog::fuzz::HOOKLOG_FUZZ_CHECK(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!problem.empty()) {
    // abort() makes libFuzzer save the input as a crash file.
    std::fprintf(stderr, "fuzz: invariant violated: %s\n", problem.c_str());
    std::abort();
  }
  return 0;
}
