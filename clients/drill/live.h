// Live replay: resubmits a journal's commands to a running msx-server over gRPC
// (msx.v1.Exchange with each agency's token, msx.v1.Admin with an admin token) at a chosen
// multiple of the original pace, so operators can rehearse with their real clients
// connected. The one part of msx-drill that uses the network.
//
// Translation of each journaled command:
//   SubmitOffer   -> Exchange.SubmitOffer as the agency (client_offer_id + offset; a GTD
//                    expiry keeps its distance from the command's time, scaled by the speed)
//   SubmitOfferWithNeed -> the same, with declared_need and priority_tier
//   CancelOffer / ReplaceOffer -> the live offer id of the same offer (learned from the
//                    SubmitOffer response); skipped if the live server never accepted it.
//                    A journal's legacy open-lots replace (kReplaceOfferOpenLots) is sent
//                    as the total: its open lots plus what the live offer has filled.
//   SetHoldings, HaltPair, ResumePair, and the emergency commands PublishReference (an
//                    effective time after the command's kept as far ahead, scaled),
//                    AdmitMember, SuspendMember, SetEmergencyLevel -> Admin (skipped
//                    without an admin token)
//   SubmitTermOffer -> Exchange.SubmitTermOffer as the agency (as SubmitOffer); each loan
//                    it made in the journal is mapped to the live obligation the response
//                    shows between the same two term offers (live ids of both)
//   ReplaceTermOffer -> Exchange.ReplaceTermOffer of the live id of the same term offer
//                    (new total lots and premium, as journaled); the loans it made as the
//                    taker are mapped to live obligations as a SubmitTermOffer's are
//   CancelTermOffer, ReturnObligation, RecallObligation -> the live id of the same term
//                    offer or obligation; skipped if the live server never made it
//   ConfirmDelivery -> Exchange.ConfirmDelivery as the agency (an admin agency's with the
//                    admin token) of the live delivery of the same fill and instrument, by
//                    id: each fill a submit or replace made as the taker in the journal is
//                    mapped to the live fill its response reports in the same place (the
//                    k-th fill of the offer, with the same counterparty, lots and price),
//                    and the journal delivery (its Opened event names the fill) to the
//                    live delivery of that live fill and instrument (ListDeliveries, asked
//                    again only when a live fill's deliveries are not listed yet). A fill
//                    no response reports (an allocation auction the live server ran on its
//                    own tick) is found on the execution stream of one of its parties (the
//                    receiver first; StreamExecutions from the start, read on a thread of
//                    its own, opened at the first such confirmation): the k-th fill of the
//                    party's live offer, with the same counterparty, lots and price; the
//                    stream is waited for while it still brings reports, up to 300 ms of
//                    quiet. No guessing by amount or parties: a journal delivery without a
//                    live fill (the live fills differed, or the live auction has not run
//                    yet, as at --speed max) or whose live fill opened no delivery is not
//                    confirmed, and LiveResult::unmatched_deliveries names it; skipped as
//                    well if the journal's delivery id is unknown (a journaled reject)
//   AdvanceTime, RunAuction -> skipped (the server runs its own time and auction ticks)
// Commands are sent one at a time, in journal order, each when its scaled time comes (or
// at once with speed "max").
//
// Several servers (a primary and its hot standbys, "A,B"): a call answered UNAVAILABLE is
// sent again, unchanged, to the next server in turn, as msx does (clients/common/
// failover.h): a submit keeps its client_offer_id, so one the old primary executed is
// answered with its original offer instead of being executed twice; cancels, replaces
// and admin calls are absolute, so a repeat changes nothing (a repeated cancel is refused
// and counted as rejected). The reply to such a retried submit carries no fills: they are
// on the server's execution streams, not in LiveResult::fills.
//
// Tokens: an agency's token is, first found: LiveOptions::tokens (the command line), the
// environment variable TokenEnvName(code) (MSX_TOKEN_KOMIR, MSX_TOKEN_CMSR_AU, ...),
// LiveOptions::config_tokens (plaintext tokens of a configuration file). The admin's:
// admin_token, MSX_ADMIN_TOKEN, config_admin_token. A configuration that stores only
// token_sha256 digests supplies none, so a journal with commands of an agency that has no
// token is refused before anything is sent, naming the agency and where its token can come
// from (CheckLiveTokens); with skip_agencies_without_token their commands are skipped.
//
// Thread-safety: LiveReplay is reentrant; it blocks the calling thread.
#ifndef MSX_CLIENTS_DRILL_LIVE_H_
#define MSX_CLIENTS_DRILL_LIVE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

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
  std::string server;  // "127.0.0.1:50051", or several comma-separated (failover)
  Speed speed;
  // Agency code -> bearer token, in order of precedence (see the file comment): given
  // on the command line; from the environment (nullptr: not consulted, e.g. in tests);
  // plaintext tokens of a configuration file.
  std::map<std::string, std::string> tokens;
  std::function<const char*(const char* name)> getenv;
  std::map<std::string, std::string> config_tokens;
  std::string admin_token;         // the same three sources for the admin
  std::string config_admin_token;  // (the environment's is MSX_ADMIN_TOKEN)
  // Skip the commands of agencies without a token (and admin commands without an admin
  // token) instead of refusing the replay.
  bool skip_agencies_without_token = false;
  std::uint64_t client_id_offset = 0;  // added to every client_offer_id
  // How long LiveFillStream::Find waits once the stream is quiet (--fill-wait-ms).
  std::int64_t fill_wait_ms = 300;
  int rpc_timeout_ms = 10000;
};

// The plaintext tokens of every agency (first token) and of the first admin in `config`,
// into options->config_tokens and config_admin_token. Digests (token_sha256) give none.
void TokensFromConfig(const msx::v1::ExchangeConfig& config, LiveOptions* options);

// The environment variable holding an agency's token for the live replay: "MSX_TOKEN_"
// and the code upper-cased, every character other than A-Z and 0-9 made '_'
// ("CMSR-AU" -> "MSX_TOKEN_CMSR_AU").
std::string TokenEnvName(const std::string& agency_code);
inline constexpr char kAdminTokenEnv[] = "MSX_ADMIN_TOKEN";

// The token stored in `path`: its first line without surrounding whitespace.
// InvalidArgument naming `who` (e.g. "--token-file KOMIR") and the file when it cannot be
// read or holds no token.
absl::StatusOr<std::string> ReadTokenFile(const std::string& who, const std::string& path);

// InvalidArgument naming the first agency (or the admin) that has commands in the journal
// in `dir` but no token from any source, with the seq of its first command and how to give
// one; OK when every sender has a token or options.skip_agencies_without_token is set.
// Otherwise the journal's read errors (DataLoss naming file and offset, NotFound).
absl::Status CheckLiveTokens(const std::string& dir, const LiveOptions& options);

struct LiveResult {
  std::uint64_t commands = 0;   // journal commands read
  std::uint64_t sent = 0;       // RPCs sent
  std::uint64_t ok = 0;         // answered OK
  std::uint64_t rejected = 0;   // answered with a reject (INVALID_ARGUMENT, FAILED_PRECONDITION,
                                // NOT_FOUND, ALREADY_EXISTS, OUT_OF_RANGE)
  std::uint64_t skipped = 0;    // not sendable (no token, unknown live offer, AdvanceTime)
  std::uint64_t fills = 0;      // fills reported in SubmitOffer responses (taker side)
  std::int64_t max_lag_ns = 0;  // worst delay behind the scaled schedule
  std::uint64_t failovers = 0;  // calls moved on to the next server after UNAVAILABLE
  // Journal ids, in the order first met, of deliveries a journaled ConfirmDelivery names
  // that the live server has no counterpart of (the live fills differed), and of loans a
  // journaled ReturnObligation/RecallObligation names that it never made; their commands
  // are not sent (counted in `skipped`) and the summary names them. Exit status 0: a live
  // replay that diverged from the journal is a drill's finding, not a failure.
  std::vector<std::uint64_t> unmatched_deliveries;
  std::vector<std::uint64_t> unmatched_obligations;
};

// Replays `dir` against options.server. Fails with CheckLiveTokens' error before sending
// anything, with the journal's read errors, or
// UNAVAILABLE/DEADLINE_EXCEEDED/UNAUTHENTICATED/... (the gRPC code and message, with the
// sequence number) when the server cannot be reached or refuses a token.
absl::StatusOr<LiveResult> LiveReplay(const std::string& dir, const LiveOptions& options);

std::string RenderLiveText(const LiveResult& r);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_LIVE_H_
