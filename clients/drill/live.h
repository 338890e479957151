// Live replay: resubmits a journal's commands to a running msx-server over gRPC
// (msx.v1.Exchange with each agency's token, msx.v1.Admin with an admin token) at a chosen
// multiple of the original pace, so operators can rehearse with their real clients
// connected. The one part of msx-drill that uses the network.
//
// Translation of each journaled command:
//   SubmitOffer   -> Exchange.SubmitOffer as the agency (client_offer_id + offset; a GTD
//                    expiry keeps its distance from the command's time, scaled by the speed)
//   CancelOffer / ReplaceOffer -> the live offer id of the same offer (learned from the
//                    SubmitOffer response); skipped if the live server never accepted it.
//                    A journal's legacy open-lots replace (kReplaceOfferOpenLots) is sent
//                    as the total: its open lots plus what the live offer has filled.
//   SetHoldings, HaltPair, ResumePair -> Admin (skipped without an admin token)
//   AdvanceTime   -> skipped (the server advances its own time)
// Commands of agencies without a token are skipped. Commands are sent one at a time, in
// journal order, each when its scaled time comes (or at once with speed "max").
//
// Thread-safety: LiveReplay is reentrant; it blocks the calling thread.
#ifndef MSX_CLIENTS_DRILL_LIVE_H_
#define MSX_CLIENTS_DRILL_LIVE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "msx/v1/config.pb.h"

namespace msx::drill {

// A replay speed: "max", or a positive decimal multiple of the original pace ("1", "10",
// "0.5"), kept as the exact fraction numerator/denominator.
struct Speed {
  bool max = true;
  std::int64_t numerator = 1;
  std::int64_t denominator = 1;
};
// InvalidArgument for anything but "max" or a positive decimal with at most 6 decimals.
absl::StatusOr<Speed> ParseSpeed(absl::string_view text);

struct LiveOptions {
  std::string server;  // "127.0.0.1:50051"
  Speed speed;
  std::map<std::string, std::string> tokens;  // agency code -> bearer token
  std::string admin_token;                    // empty = skip admin commands
  std::uint64_t client_id_offset = 0;         // added to every client_offer_id
  int rpc_timeout_ms = 10000;
};

// The tokens of every agency (first token) and of the first admin in `config`.
void TokensFromConfig(const msx::v1::ExchangeConfig& config, LiveOptions* options);

struct LiveResult {
  std::uint64_t commands = 0;   // journal commands read
  std::uint64_t sent = 0;       // RPCs sent
  std::uint64_t ok = 0;         // answered OK
  std::uint64_t rejected = 0;   // answered with a reject (INVALID_ARGUMENT, FAILED_PRECONDITION,
                                // NOT_FOUND, ALREADY_EXISTS, OUT_OF_RANGE)
  std::uint64_t skipped = 0;    // not sendable (no token, unknown live offer, AdvanceTime)
  std::uint64_t fills = 0;      // fills reported in SubmitOffer responses (taker side)
  std::int64_t max_lag_ns = 0;  // worst delay behind the scaled schedule
};

// Replays `dir` against options.server. Fails with the journal's read errors, or
// UNAVAILABLE/DEADLINE_EXCEEDED/UNAUTHENTICATED/... (the gRPC code and message, with the
// sequence number) when the server cannot be reached or refuses a token.
absl::StatusOr<LiveResult> LiveReplay(const std::string& dir, const LiveOptions& options);

std::string RenderLiveText(const LiveResult& r);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_LIVE_H_
