// Internal helpers of gateway/replication: owning handles for the NATS C client's objects
// and the one place where a natsStatus becomes an absl::Status. Not part of the contract.
#ifndef MSX_GATEWAY_REPLICATION_INTERNAL_NATS_UTIL_H_
#define MSX_GATEWAY_REPLICATION_INTERNAL_NATS_UTIL_H_

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace msx::replication::internal {

struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
struct PubAckDeleter {
  void operator()(jsPubAck* p) const { jsPubAck_Destroy(p); }
};
struct StreamInfoDeleter {
  void operator()(jsStreamInfo* p) const { jsStreamInfo_Destroy(p); }
};
struct KvEntryDeleter {
  void operator()(kvEntry* e) const { kvEntry_Destroy(e); }
};
struct KvStoreDeleter {
  void operator()(kvStore* kv) const { kvStore_Destroy(kv); }
};
struct SubscriptionDeleter {
  // Unsubscribe first so the server drops the (ephemeral) consumer at once instead of
  // after its inactivity threshold; then free.
  void operator()(natsSubscription* s) const {
    natsSubscription_Unsubscribe(s);
    natsSubscription_Destroy(s);
  }
};
struct OptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};

using MsgPtr = std::unique_ptr<natsMsg, MsgDeleter>;
using PubAckPtr = std::unique_ptr<jsPubAck, PubAckDeleter>;
using StreamInfoPtr = std::unique_ptr<jsStreamInfo, StreamInfoDeleter>;
using KvEntryPtr = std::unique_ptr<kvEntry, KvEntryDeleter>;
using KvStorePtr = std::unique_ptr<kvStore, KvStoreDeleter>;
using SubscriptionPtr = std::unique_ptr<natsSubscription, SubscriptionDeleter>;
using OptionsPtr = std::unique_ptr<natsOptions, OptionsDeleter>;

// The NATS client's description of the last error on this thread (nats_GetLastError),
// falling back to the status text.
std::string LastErrorText(natsStatus s);

// Maps a failed NATS call to a canonical code; `what` names the operation ("publish to
// stream MSX"). Timeouts, no responders and lost connections are UNAVAILABLE (the caller
// may retry); NATS_NOT_FOUND is NOT_FOUND; the rest INTERNAL. REQUIRES: s != NATS_OK.
absl::Status ToStatus(natsStatus s, jsErrCode js_err, absl::string_view what);
inline absl::Status ToStatus(natsStatus s, absl::string_view what) {
  return ToStatus(s, static_cast<jsErrCode>(0), what);
}

// True when the failure is one a retry can cure (timeout, no responders, disconnected).
bool IsTransient(natsStatus s);

// True for the JetStream API errors a cluster answers while it is still forming (no meta
// leader yet, peers not yet known for placement): a retry a moment later can succeed.
bool IsTransientJetStream(jsErrCode js_err);

// Runs `attempt` until it returns anything but UNAVAILABLE, or until `budget` has passed
// since the first try, pausing briefly between tries; returns the last status. For the
// setup calls (create or check a stream or bucket) a node makes when it starts: the three
// NATS servers of a cluster started at the same moment take a few seconds to elect their
// JetStream leaders, and requests made meanwhile time out.
absl::Status RetryWhileUnavailable(std::chrono::milliseconds budget,
                                   absl::FunctionRef<absl::Status()> attempt);

// Parses "wrong last sequence: 17" (the server's text for JSStreamWrongLastSequenceErr)
// into 17. Returns false when the text has no such number.
bool ParseWrongLastSequence(absl::string_view text, uint64_t* actual);

}  // namespace msx::replication::internal

#endif  // MSX_GATEWAY_REPLICATION_INTERNAL_NATS_UTIL_H_
