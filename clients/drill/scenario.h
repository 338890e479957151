// What-if drills: a journal's commands are replayed through a fresh engine with the edits
// of a Scenario (proto/msx/v1/drill.proto) applied at their trigger points, and the result
// is written as a new journal that replays and verifies on its own.
//
// How the drill rewrites the command stream:
// - Commands are renumbered 1, 2, 3, ... in the drill journal; each keeps its original
//   time (edits take the time of the command they precede). Offer ids are those the
//   drill's engine assigns: a journal cancel or replace is translated to the drill's id
//   of the same offer and dropped when the drill never accepted that offer (it was
//   dropped by an export ban, or rejected in the drill). Term offers (their own id space)
//   likewise; an obligation is the same when the drill's submit made a loan between the
//   same two term offers as the original's did, and a return or recall of an obligation
//   the drill never opened is dropped.
// - ExportBan: when it fires, the agency's open offers on pairs involving the mineral are
//   cancelled (CancelOffer by the agency); its later submits on those pairs are dropped.
// - SupplyShock: SetHoldings to floor(total * numerator / denominator) (128-bit
//   intermediate); if that is below what the agency has reserved in the instrument, its
//   open offers giving the instrument are cancelled newest first until it fits.
// - HaltPair / ResumePair: the admin commands. InjectOffer: a SubmitOffer.
// - LevelEdit, ReferenceEdit (effective at once), MembershipEdit: the admin's
//   SetEmergencyLevel, PublishReference, AdmitMember / SuspendMember; the engine cancels
//   what they push out of a band or out of eligibility, and the drill reports the count.
// - AgencyDefault (issue 14): the agency's open pair offers giving the instrument, then its
//   open term lend offers of it, are cancelled newest first (CancelOffer, CancelTermOffer
//   by the agency) until they reserve no more than the new total; then SetHoldings to the
//   total, or to what stays reserved (pledged collateral) if that is more.
// - RecallAll (issue 14): a RecallObligation by the lender for each of its open loans
//   (of the instrument, if given) not yet recalled, in obligation id order.
// - Auction ticks: a server sends RunAuction for each instrument whose level auctions, on
//   a fixed UTC grid of the policy's interval (gateway/auction_schedule.h); a journal holds
//   them only where its own levels auctioned. So when an instrument's level auctions in
//   the drill but not in the original (a set_level edit raised it), the drill adds them:
//   before each journal command (and its edits), for each grid time since the previous
//   command, earliest first, a RunAuction of the instrument stamped at the grid time,
//   stopping for the instrument at its first auction that makes no fill (the book cannot
//   change again before the next command, so the server's later auctions would make none
//   either; the drill journal leaves them out). Where the original auctioned, its own
//   RunAuctions replay (refused when the drill's level does not auction). Counted in
//   DrillResult::auction_ticks.
// - ExternalSupplyLoss (issue 15): one SubmitOfferWithNeed by the agency, need = the
//   units, at the pair's live reference price (drill.proto). It declares the new need when
//   the loss hits rather than raising the need of the agency's later buys in the journal:
//   those may come late or never (then the 8-day window would start whenever the agency
//   next bids), and raising the need of a resting buy would take a cancel and a resubmit
//   that loses its time priority. So the drill's declared need exceeds the original's by
//   exactly the units (when the submit is accepted), and nothing else is changed.
//
// Thread-safety: functions are reentrant.
#ifndef MSX_CLIENTS_DRILL_SCENARIO_H_
#define MSX_CLIENTS_DRILL_SCENARIO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clients/drill/report.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/types.h"
#include "msx/v1/drill.pb.h"

namespace msx::drill {

// Parses a Scenario in protobuf text format. InvalidArgument naming line and column.
absl::StatusOr<msx::v1::Scenario> ParseScenarioText(absl::string_view text);
// Reads and parses a scenario file; errors name the file.
absl::StatusOr<msx::v1::Scenario> ReadScenarioFile(const std::string& path);

// A scenario edit with its names resolved against the journal's reference data.
struct ResolvedEdit {
  enum class Kind : std::uint8_t {
    kExportBan,
    kSupplyShock,
    kHalt,
    kResume,
    kInject,
    kSetLevel,
    kPublishReference,
    kAdmitMember,
    kSuspendMember,
    kDefault,
    kRecallAll,
    kSupplyLoss,
  };
  int index = 0;  // position in Scenario.edits
  bool by_seq = true;
  Seq at_seq = 0;
  TimeNs at_time = 0;
  Kind kind = Kind::kHalt;
  AgencyId agency = 0;
  MineralId mineral = 0;
  InstrumentId instrument = 0;
  PairId pair = 0;
  std::int64_t numerator = 0, denominator = 1;
  Side side = Side::kBuy;
  TimeInForce tif = TimeInForce::kGtc;
  Lots lots = 0, min_fill = 0;
  Price price = 0;
  ClientOfferId client_id = 0;
  EmergencyLevel level = EmergencyLevel::kNormal;  // kSetLevel
  std::string reason;                              // kSetLevel
  MicroUsd reference_value = 0, floor = 0;         // kPublishReference
  std::uint32_t agreement = 0;                     // kAdmitMember, kSuspendMember
  Amount total = 0;                                // kDefault
  bool every_instrument = false;                   // kRecallAll without an instrument
  Amount units = 0;                                // kSupplyLoss: the need it adds
  PriorityTier tier = PriorityTier::kGeneral;      // kSupplyLoss
  bool any_pair = false;                           // kSupplyLoss without a pair
};

// Resolves names and checks every edit. InvalidArgument naming the edit and field, e.g.
// `edits[2].export_ban.mineral: unknown mineral "cobalt2"`.
absl::StatusOr<std::vector<ResolvedEdit>> ResolveScenario(const msx::v1::Scenario& scenario,
                                                          const ReferenceData& ref);

struct FiredEdit {
  int index = 0;
  Seq drill_seq = 0;            // drill sequence number of the first command it issued
                                // (0 = it issued none)
  Seq before_original_seq = 0;  // the journal command it fired before (0 = at the end)
  std::uint64_t commands = 0;   // commands it issued
  std::string description;
};

struct DrillResult {
  std::string out_dir;
  std::uint64_t original_commands = 0;
  std::uint64_t drill_commands = 0;
  std::uint64_t dropped_submits = 0;         // by export bans
  // Cancels/replaces of offers, and returns/recalls of obligations, that the drill lacks.
  std::uint64_t dropped_offer_commands = 0;
  std::uint64_t auction_ticks = 0;  // RunAuction commands the drill added (scenario.h)
  std::vector<FiredEdit> fired;
  ReportData original;
  ReportData drill;
};

// Runs the drill of `scenario` on the journal in `dir`, writing the drill journal to
// `out_dir` (created; it must not already hold a journal). When either journal holds need
// buys, both reports' needs are compared with continuous matching (ContinuousNeeds). Fails with the errors of
// OpenDrillJournal/ResolveScenario, the reader's DataLossError for a corrupt journal,
// FailedPrecondition if out_dir already holds segments, or the writer's I/O error.
absl::StatusOr<DrillResult> RunDrill(const std::string& dir, const msx::v1::Scenario& scenario,
                                     const std::string& out_dir, int top_minutes);

// The declared needs of the journal in `dir` when its commands are replayed through a
// fresh engine whose level policies all match continuously (needs.h "Continuous"): the
// journal's configuration with matching_mode CONTINUOUS (and no auction interval) for
// every level, ids translated as a drill translates them, nothing written. Errors as
// RunDrill's reading errors.
absl::StatusOr<NeedReport> ContinuousNeeds(const std::string& dir);

// Text: the fired edits, drop counts and the side-by-side comparison, then both reports'
// declared needs (needs.h) when either has any.
std::string RenderDrillText(const DrillResult& result);
// One JSON object: {"out_dir", "fired": [...], "dropped_submits", ..., "auction_ticks",
// "comparison": {...}} (each report of the comparison has its "needs").
std::string RenderDrillJson(const DrillResult& result);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_SCENARIO_H_
