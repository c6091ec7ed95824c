// The delivery scenarios (throughput, slow, faulty): the engine embedded
// over RocksDB (sync on) against the receiver, N events published, every
// acknowledged delivery waited for, then the ceilings against the same
// receiver.
//
// Thread-safety: one call at a time.
#ifndef HOOKLOG_TOOLS_LOAD_DELIVERY_RUN_H_
#define HOOKLOG_TOOLS_LOAD_DELIVERY_RUN_H_

#include "tools/load/load_flags.h"

namespace hooklog::load {

// Runs it and prints the report. 0 when nothing was lost and it finished
// in time, 3 otherwise, 1 when it could not start.
int RunDelivery(const LoadFlags& flags);

}  // namespace hooklog::load

#endif  // HOOKLOG_TOOLS_LOAD_DELIVERY_RUN_H_
