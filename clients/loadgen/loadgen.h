// The msx-loadgen engine: drives msx-server (or msx-echo-server) over gRPC's async
// (completion-queue) client API and measures latency.
//
// Timing: in open loop (rate > 0) operation i is due at start + i / rate; latency is
// measured from that due time, not from when the call actually left, so a stall in the
// server or in this process shows up in full (coordinated omission corrected). `rtt_*`
// figures, measured from the actual send, are reported beside them for diagnosis. In
// closed loop (rate = 0) each channel keeps one call in flight and both clocks coincide.
//
// The figures and how they are counted: summary.h.
//
// Thread-safety: RunLoad is blocking and self-contained; call it from one thread.
#ifndef MSX_CLIENTS_LOADGEN_LOADGEN_H_
#define MSX_CLIENTS_LOADGEN_LOADGEN_H_

#include "absl/status/statusor.h"
#include "clients/loadgen/options.h"
#include "clients/loadgen/summary.h"

namespace msx::loadgen {

// Runs the whole benchmark. Fails (before sending anything) when the server cannot be
// reached, a token is refused, or no pair can be traded; errors during the run are
// counted in the summary instead.
absl::StatusOr<Summary> RunLoad(const LoadgenOptions& options);

}  // namespace msx::loadgen

#endif  // MSX_CLIENTS_LOADGEN_LOADGEN_H_
