#include "fuzz/targets.h"

namespace hooklog::fuzz {

void ShutdownWebhookdHarness();  // check_webhookd.cc

const std::vector<Target>& AllTargets() {
  // Names are the corpus folders (fuzz/corpus/<name>/) and, with "fuzz_"
  // in front, the executables (fuzz/sources.cmake lists the same pairs).
  static const std::vector<Target> targets = {
      {"event_codec", CheckEventCodec},   {"row_codec", CheckRowCodec},
      {"shortuuid", CheckShortUuid},      {"url", CheckUrl},
      {"headers", CheckHeaders},          {"retry_after", CheckRetryAfter},
      {"signature", CheckSignature},      {"webhookd_api", CheckWebhookdApi},
      {"portal_token", CheckPortalToken},
  };
  return targets;
}

void ShutdownTargets() { ShutdownWebhookdHarness(); }

}  // namespace hooklog::fuzz
