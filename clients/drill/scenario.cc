#include "clients/drill/scenario.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "clients/drill/chart_axis.h"  // FloorDiv
#include "clients/drill/drill_journal.h"
#include "clients/drill/format.h"
#include "engine/config/config.h"
#include "engine/matching/engine.h"
#include "engine/journal/json.h"
#include "engine/journal/reader.h"
#include "engine/journal/writer.h"

namespace msx::drill {
namespace {

// Original id -> drill id for one id space (pair offers, term offers, obligations: each
// dense from 1 in an engine). An id the original assigned but the drill never did is
// "lost": commands naming it are dropped. An id the original never assigned stays unknown
// and is sent as one no engine assigns, so the drill's engine rejects it as the original's did.
class IdTranslation {
 public:
  static constexpr std::uint64_t kUnknown = ~std::uint64_t{0};

  // The original assigned `id` (called for every id its events show, in journal order).
  void NoteOriginal(std::uint64_t id) {
    if (id == 0 || id > assigned_.size() + 1) return;  // not dense: not from an engine
    if (id >= assigned_.size()) assigned_.resize(id + 1, false);
    assigned_[id] = true;
  }
  // REQUIRES: NoteOriginal(original) was called (the map only grows over ids the original
  // assigned, which are dense).
  void Map(std::uint64_t original, std::uint64_t drill) {
    if (original >= assigned_.size() || !assigned_[original]) return;
    if (original >= to_.size()) to_.resize(original + 1, 0);
    to_[original] = drill;
  }
  // The drill's id of `original`, 0 when it is lost, kUnknown when it never existed.
  std::uint64_t Translate(std::uint64_t original) const {
    if (original < to_.size() && to_[original] != 0) return to_[original];
    if (original < assigned_.size() && assigned_[original]) return 0;
    return kUnknown;
  }
  // The drill's id or 0: for matching events of one command.
  std::uint64_t MappedOrZero(std::uint64_t original) const {
    return original < to_.size() ? to_[original] : 0;
  }

 private:
  std::vector<std::uint64_t> to_;
  std::vector<bool> assigned_;
};

// Drives the drill engine and the drill journal (none when `writer` is null); owns the id
// translations.
class DrillRunner {
 public:
  DrillRunner(const ReferenceData& ref, journal::JournalWriter* writer, ReportBuilder* report)
      : ref_(ref), engine_(ref, EngineOptions{}), writer_(writer), report_(report) {
    events_.reserve(1024);
    banned_.assign(ref.instruments().size() + 1, 0);  // indexed by mineral id
    original_auctions_.assign(ref.instruments().size(), false);
  }

  const absl::Status& status() const { return status_; }
  Seq next_seq() const { return next_seq_; }
  std::uint64_t dropped_submits() const { return dropped_submits_; }
  std::uint64_t dropped_offer_commands() const { return dropped_offer_commands_; }

  // Applies `cmd` (seq assigned here) and journals it; returns the events (valid until
  // the next call). Time never goes backwards in the drill.
  const std::vector<Event>& Apply(Command cmd) {
    cmd.seq = next_seq_++;
    if (cmd.time < last_time_) cmd.time = last_time_;
    last_time_ = cmd.time;
    events_.clear();
    engine_.Apply(cmd, &events_);
    for (const Event& e : events_) {
      if (e.type == EventType::kTermAccepted) last_term_offer_ = e.accepted.offer;
      levels_changed_ |= e.type == EventType::kEmergencyLevelSet;
    }
    if (status_.ok() && writer_ != nullptr) status_ = writer_->Append(cmd, events_);
    report_->Add(cmd, events_);
    return events_;
  }

  // One journal command, translated.
  void Replay(const journal::JournalEntry& entry) {
    Command cmd = entry.command;
    switch (cmd.type) {
      case CommandType::kSubmitOffer:
      case CommandType::kSubmitOfferWithNeed: {
        if (Banned(SubmitBody(cmd).pair, SubmitBody(cmd).agency)) {
          ++dropped_submits_;
          return;
        }
        MapAccepted(entry.events, Apply(cmd), &offers_);
        return;
      }
      case CommandType::kCancelOffer:
      case CommandType::kReplaceOffer:
      case CommandType::kReplaceOfferOpenLots: {
        OfferId& id = cmd.type == CommandType::kCancelOffer ? cmd.cancel.offer : cmd.replace.offer;
        if (!TranslateOrDrop(offers_, &id)) return;
        Apply(cmd);
        return;
      }
      case CommandType::kSubmitTermOffer:
      case CommandType::kReplaceTermOffer: {
        // A replace that crosses makes loans as a submit does.
        if (cmd.type == CommandType::kReplaceTermOffer &&
            !TranslateOrDrop(term_offers_, &cmd.replace.offer)) {
          return;
        }
        const std::vector<Event>& out = Apply(cmd);
        if (cmd.type == CommandType::kSubmitTermOffer) {
          MapAccepted(entry.events, out, &term_offers_);
        }
        // A loan the drill made between the same two offers (in this command, as in the
        // original) is the same obligation.
        for (const Event& o : entry.events) {
          if (o.type != EventType::kLoanFill) continue;
          const OfferId maker = term_offers_.MappedOrZero(o.loan_fill.maker_offer);
          const OfferId taker = term_offers_.MappedOrZero(o.loan_fill.taker_offer);
          for (const Event& d : out) {
            if (d.type == EventType::kLoanFill && maker != 0 && d.loan_fill.maker_offer == maker &&
                d.loan_fill.taker_offer == taker) {
              obligations_.Map(o.loan_fill.obligation, d.loan_fill.obligation);
            }
          }
        }
        return;
      }
      case CommandType::kCancelTermOffer:
        if (!TranslateOrDrop(term_offers_, &cmd.cancel.offer)) return;
        Apply(cmd);
        return;
      case CommandType::kReturnObligation:
      case CommandType::kRecallObligation:
        if (!TranslateOrDrop(obligations_, &cmd.obligation.obligation)) return;
        Apply(cmd);
        return;
      default:
        Apply(cmd);
    }
  }

  // Auction ticks the original lacks (scenario.h): before a command at `now`, a RunAuction
  // for each instrument whose level auctions in the drill but not in the original, at each
  // grid time in (the previous command's time, now], earliest first, until one of the
  // instrument's auctions makes no fill (nothing changes then until the next command).
  void Tick(TimeNs now) {
    if (now <= ticked_until_) return;
    const TimeNs from = ticked_until_;
    ticked_until_ = now;
    if (levels_changed_) {
      levels_changed_ = false;
      drill_only_.clear();
      for (const Instrument& i : ref_.instruments()) {
        const LevelPolicy& p = ref_.level_policy(engine_.GetLevel(i.id));
        if (p.mode == MatchingMode::kCallAuction && p.auction_interval_seconds > 0 &&
            !original_auctions_[i.id]) {
          drill_only_.emplace_back(i.id, p.auction_interval_seconds * 1'000'000'000);
        }
      }
    }
    if (drill_only_.empty()) return;
    std::vector<std::pair<TimeNs, std::size_t>> next;  // (grid time, index in drill_only_)
    for (std::size_t k = 0; k < drill_only_.size(); ++k) {
      const TimeNs interval = drill_only_[k].second;
      const TimeNs g = (FloorDiv(from, interval) + 1) * interval;
      if (g <= now) next.emplace_back(g, k);
    }
    while (!next.empty()) {
      auto it = std::min_element(next.begin(), next.end());
      Command cmd{};
      cmd.time = it->first;
      cmd.type = CommandType::kRunAuction;
      cmd.run_auction = RunAuction{drill_only_[it->second].first};
      const std::vector<Event>& out = Apply(cmd);
      ++auction_ticks_;
      const bool filled = std::any_of(out.begin(), out.end(),
                                      [](const Event& e) { return e.type == EventType::kFill; });
      it->first += drill_only_[it->second].second;
      if (!filled || it->first > now) next.erase(it);
    }
  }
  std::uint64_t auction_ticks() const { return auction_ticks_; }

  // The ids the original journal assigned in `events` (call for every entry, in order).
  void NoteOriginal(const journal::JournalEntry& entry) {
    for (const Event& e : entry.events) {
      if (e.type == EventType::kEmergencyLevelSet &&
          e.level_set.instrument < original_auctions_.size()) {
        original_auctions_[e.level_set.instrument] =
            ref_.level_policy(e.level_set.level).mode == MatchingMode::kCallAuction;
        levels_changed_ = true;
      }
      if (e.type == EventType::kAccepted) offers_.NoteOriginal(e.accepted.offer);
      if (e.type == EventType::kTermAccepted) term_offers_.NoteOriginal(e.accepted.offer);
      if (e.type == EventType::kLoanFill) obligations_.NoteOriginal(e.loan_fill.obligation);
    }
  }

  // Fires one edit at `time`; returns the number of commands it issued.
  std::uint64_t Fire(const ResolvedEdit& e, TimeNs time, std::string* description) {
    const Seq first = next_seq_;
    Command cmd{};
    cmd.time = time;
    switch (e.kind) {
      case ResolvedEdit::Kind::kExportBan: {
        banned_[e.mineral] |= AgencyMask{1} << e.agency;
        std::uint64_t cancelled = 0;
        for (const OfferInfo& o : engine_.ListOpenOffers(e.agency)) {
          if (!Banned(o.pair, e.agency)) continue;
          cmd.type = CommandType::kCancelOffer;
          cmd.cancel = CancelOffer{e.agency, o.id};
          Apply(cmd);
          ++cancelled;
        }
        *description =
            absl::StrCat("export ban: ", ref_.agencies()[e.agency].code, " stops ",
                         MineralName(e.mineral), " (", cancelled, " open offers cancelled)");
        break;
      }
      case ResolvedEdit::Kind::kSupplyShock: {
        HoldingInfo h = engine_.GetHoldings(e.agency, e.instrument);
        const Amount total = h.available + h.reserved;
        const __int128 scaled =
            static_cast<__int128>(total) * e.numerator / static_cast<__int128>(e.denominator);
        const Amount target = scaled > INT64_MAX ? INT64_MAX : static_cast<Amount>(scaled);
        std::uint64_t cancelled = 0;
        if (target < h.reserved) {
          std::vector<OfferInfo> open = engine_.ListOpenOffers(e.agency);
          for (auto it = open.rbegin(); it != open.rend() && target < h.reserved; ++it) {
            const PairBook& b = ref_.pairs()[it->pair];
            const InstrumentId gives = it->side == Side::kSell ? b.base : b.quote;
            if (gives != e.instrument) continue;
            cmd.type = CommandType::kCancelOffer;
            cmd.cancel = CancelOffer{e.agency, it->id};
            Apply(cmd);
            ++cancelled;
            h = engine_.GetHoldings(e.agency, e.instrument);
          }
        }
        cmd = Command{};
        cmd.time = time;
        cmd.type = CommandType::kSetHoldings;
        cmd.set_holdings = SetHoldings{e.agency, e.instrument, target};
        Apply(cmd);
        *description =
            absl::StrCat("supply shock: ", ref_.agencies()[e.agency].code, " ",
                         ref_.instruments()[e.instrument].symbol, " ", Thousands(total), " -> ",
                         Thousands(target), " ", ref_.instruments()[e.instrument].unit, " (x ",
                         e.numerator, "/", e.denominator, ", ", cancelled, " offers cancelled)");
        break;
      }
      case ResolvedEdit::Kind::kHalt:
      case ResolvedEdit::Kind::kResume:
        cmd.type =
            e.kind == ResolvedEdit::Kind::kHalt ? CommandType::kHaltPair : CommandType::kResumePair;
        cmd.pair = PairCommand{e.pair};
        Apply(cmd);
        *description = absl::StrCat(e.kind == ResolvedEdit::Kind::kHalt ? "halt " : "resume ",
                                    ref_.pairs()[e.pair].symbol);
        break;
      case ResolvedEdit::Kind::kInject: {
        cmd.type = CommandType::kSubmitOffer;
        SubmitOffer& s = cmd.submit;
        s.agency = e.agency;
        s.pair = e.pair;
        s.side = e.side;
        s.tif = e.tif;
        s.lots = e.lots;
        s.price = e.price;
        s.min_fill = e.min_fill;
        s.client_id = e.client_id;
        const std::vector<Event>& out = Apply(cmd);
        std::string outcome = "rejected";
        for (const Event& ev : out) {
          if (ev.type == EventType::kAccepted) outcome = absl::StrCat("offer ", ev.accepted.offer);
        }
        *description =
            absl::StrCat("inject: ", ref_.agencies()[e.agency].code, " ",
                         e.side == Side::kBuy ? "buy " : "sell ", e.lots, " lots ",
                         ref_.pairs()[e.pair].symbol, " @ ", e.price, " (", outcome, ")");
        break;
      }
      case ResolvedEdit::Kind::kSetLevel: {
        cmd.type = CommandType::kSetEmergencyLevel;
        cmd.set_level = SetEmergencyLevel{};
        cmd.set_level.instrument = e.instrument;
        cmd.set_level.level = e.level;
        cmd.set_level.reason_size = static_cast<std::uint8_t>(e.reason.size());
        std::memcpy(cmd.set_level.reason, e.reason.data(), e.reason.size());
        const std::vector<Event>& out = Apply(cmd);
        *description = absl::StrCat("level: ", ref_.instruments()[e.instrument].symbol, " -> ",
                                    EmergencyLevelName(e.level),
                                    e.reason.empty() ? "" : absl::StrCat(" (", e.reason, ")"),
                                    Outcome(out));
        break;
      }
      case ResolvedEdit::Kind::kPublishReference: {
        cmd.type = CommandType::kPublishReference;
        cmd.publish_reference =
            PublishReference{e.instrument, e.reference_value, e.floor, /*effective_time=*/time};
        const std::vector<Event>& out = Apply(cmd);
        *description = absl::StrCat("reference: ", ref_.instruments()[e.instrument].symbol, " ",
                                    e.reference_value, " micro-USD, floor ", e.floor,
                                    Outcome(out));
        break;
      }
      case ResolvedEdit::Kind::kAdmitMember:
      case ResolvedEdit::Kind::kSuspendMember: {
        const bool admit = e.kind == ResolvedEdit::Kind::kAdmitMember;
        cmd.type = admit ? CommandType::kAdmitMember : CommandType::kSuspendMember;
        cmd.member = MemberCommand{e.agreement, e.agency};
        const std::vector<Event>& out = Apply(cmd);
        *description = absl::StrCat(admit ? "admit " : "suspend ", ref_.agencies()[e.agency].code,
                                    admit ? " to " : " from ",
                                    ref_.agreements()[e.agreement].name, Outcome(out));
        break;
      }
      case ResolvedEdit::Kind::kDefault:
        *description = Default(e, time);
        break;
      case ResolvedEdit::Kind::kRecallAll:
        *description = RecallAll(e, time);
        break;
      case ResolvedEdit::Kind::kSupplyLoss:
        *description = SupplyLoss(e, time);
        break;
    }
    return next_seq_ - first;
  }

 private:
  // AgencyDefault (scenario.h): cancels what reserves the instrument beyond the new total,
  // then sets the holdings.
  std::string Default(const ResolvedEdit& e, TimeNs time) {
    const Instrument& inst = ref_.instruments()[e.instrument];
    HoldingInfo h = engine_.GetHoldings(e.agency, e.instrument);
    const Amount before = h.available + h.reserved;
    std::uint64_t cancelled = 0;
    Command cmd{};
    cmd.time = time;
    std::vector<OfferInfo> open = engine_.ListOpenOffers(e.agency);
    for (auto it = open.rbegin(); it != open.rend() && e.total < h.reserved; ++it) {
      const PairBook& b = ref_.pairs()[it->pair];
      if ((it->side == Side::kSell ? b.base : b.quote) != e.instrument) continue;
      cmd.type = CommandType::kCancelOffer;
      cmd.cancel = CancelOffer{e.agency, it->id};
      Apply(cmd);
      ++cancelled;
      h = engine_.GetHoldings(e.agency, e.instrument);
    }
    for (OfferId id = last_term_offer_; id >= 1 && e.total < h.reserved; --id) {
      std::optional<OfferInfo> o = engine_.GetTermOffer(id);
      if (!o || o->agency != e.agency || o->status != OfferStatus::kOpen ||
          o->side != Side::kSell || o->pair >= ref_.term_books().size() ||
          ref_.term_books()[o->pair].instrument != e.instrument) {
        continue;
      }
      cmd.type = CommandType::kCancelTermOffer;
      cmd.cancel = CancelOffer{e.agency, id};
      Apply(cmd);
      ++cancelled;
      h = engine_.GetHoldings(e.agency, e.instrument);
    }
    const Amount target = std::max(e.total, h.reserved);
    cmd = Command{};
    cmd.time = time;
    cmd.type = CommandType::kSetHoldings;
    cmd.set_holdings = SetHoldings{e.agency, e.instrument, target};
    Apply(cmd);
    return absl::StrCat("default: ", ref_.agencies()[e.agency].code, " ", inst.symbol, " ",
                        Thousands(before), " -> ", Thousands(target), " ", inst.unit, " (",
                        cancelled, cancelled == 1 ? " offer" : " offers", " cancelled",
                        target > e.total ? absl::StrCat(", ", Thousands(target), " ", inst.unit,
                                                        " stay reserved")
                                         : "",
                        ")");
  }

  // ExternalSupplyLoss (scenario.h, drill.proto): one need buy at the reference price.
  std::string SupplyLoss(const ResolvedEdit& e, TimeNs time) {
    const Instrument& inst = ref_.instruments()[e.instrument];
    const Lots wanted = (e.units + inst.lot_size - 1) / inst.lot_size;
    auto lots_on = [&](PairId p) { return std::min(wanted, ref_.pairs()[p].max_lots); };
    // The tick nearest the live reference price (half up), within the band.
    auto price_on = [&](PairId p) {
      const PairBand band = engine_.GetPairBand(p);
      const Price tick = ref_.pairs()[p].tick;
      Price price = band.reference_price / tick * tick;
      if (2 * (band.reference_price % tick) >= tick) price += tick;
      return std::clamp(price, band.band_low, band.band_high);
    };
    PairId pair = e.pair;
    if (e.any_pair) {
      bool chosen = false;
      for (const PairBook& b : ref_.pairs()) {
        if (b.base != e.instrument) continue;
        const HoldingInfo h = engine_.GetHoldings(e.agency, b.quote);
        const __int128 cost = static_cast<__int128>(lots_on(b.id)) * price_on(b.id);
        if (!chosen || h.available >= cost) pair = b.id;
        if (h.available >= cost) break;
        chosen = true;
      }
    }
    Command cmd{};
    cmd.time = time;
    cmd.type = CommandType::kSubmitOfferWithNeed;
    SubmitOffer& s = cmd.submit_need.offer;
    s.agency = e.agency;
    s.pair = pair;
    s.side = Side::kBuy;
    s.tif = TimeInForce::kGtc;
    s.lots = lots_on(pair);
    s.price = price_on(pair);
    s.client_id = e.client_id;
    cmd.submit_need.need = e.units;
    cmd.submit_need.tier = e.tier;
    const std::vector<Event>& out = Apply(cmd);
    std::string outcome = "rejected";
    for (const Event& ev : out) {
      if (ev.type == EventType::kAccepted) outcome = absl::StrCat("offer ", ev.accepted.offer);
      if (ev.type == EventType::kRejected) {
        outcome = absl::StrCat("rejected: reason ", static_cast<int>(ev.rejected.reason));
      }
    }
    return absl::StrCat("supply loss: ", ref_.agencies()[e.agency].code, " needs ",
                        Thousands(e.units), " ", inst.unit, " more ", inst.symbol, ": buy ",
                        s.lots, " lots ", ref_.pairs()[pair].symbol, " @ ", s.price, ", ",
                        PriorityTierName(e.tier), " (", outcome, ")");
  }

  // RecallAll (scenario.h): one RecallObligation per open loan not yet recalled.
  std::string RecallAll(const ResolvedEdit& e, TimeNs time) {
    std::uint64_t recalled = 0, refused = 0;
    Command cmd{};
    cmd.time = time;
    cmd.type = CommandType::kRecallObligation;
    for (const ObligationInfo& o : engine_.ListObligations(e.agency)) {
      if (o.lender != e.agency || o.state != ObligationState::kOpen || o.recalled) continue;
      if (!e.every_instrument && o.instrument != e.instrument) continue;
      cmd.obligation = ObligationCommand{e.agency, o.id, 0};
      const std::vector<Event>& out = Apply(cmd);
      const bool rejected = std::any_of(out.begin(), out.end(), [](const Event& ev) {
        return ev.type == EventType::kRejected;
      });
      ++(rejected ? refused : recalled);
    }
    return absl::StrCat("recall all: ", ref_.agencies()[e.agency].code, " recalled ", recalled,
                        recalled == 1 ? " loan" : " loans",
                        e.every_instrument ? ""
                                           : absl::StrCat(" of ", ref_.instruments()[e.instrument].symbol),
                        refused > 0 ? absl::StrCat(" (", refused, " refused)") : "");
  }

  // ", 3 offers cancelled" or " (rejected: reason N)" for the events of an admin command.
  static std::string Outcome(const std::vector<Event>& out) {
    std::uint64_t cancelled = 0;
    for (const Event& ev : out) {
      if (ev.type == EventType::kRejected) {
        return absl::StrCat(" (rejected: reason ", static_cast<int>(ev.rejected.reason), ")");
      }
      cancelled += ev.type == EventType::kCancelled;
    }
    return absl::StrCat(" (", cancelled, cancelled == 1 ? " offer" : " offers", " cancelled)");
  }


  bool Banned(PairId pair, AgencyId agency) const {
    if (pair >= ref_.pairs().size() || agency >= kMaxAgencies) return false;
    const PairBook& b = ref_.pairs()[pair];
    const AgencyMask bit = AgencyMask{1} << agency;
    return ((banned_[ref_.instruments()[b.base].mineral] |
             banned_[ref_.instruments()[b.quote].mineral]) &
            bit) != 0;
  }
  // Maps the offer the original accepted in `original` to the one the drill accepted in
  // `drill` (one submit: at most one each).
  static void MapAccepted(const std::vector<Event>& original, const std::vector<Event>& drill,
                          IdTranslation* ids) {
    OfferId from = 0, to = 0;
    for (const Event& e : original) {
      if (IsAccepted(e.type)) from = e.accepted.offer;
    }
    for (const Event& e : drill) {
      if (IsAccepted(e.type)) to = e.accepted.offer;
    }
    if (from != 0 && to != 0) ids->Map(from, to);
  }
  static bool IsAccepted(EventType t) {
    return t == EventType::kAccepted || t == EventType::kTermAccepted;
  }
  // Rewrites `*id` to the drill's; false (the command is dropped, and counted) when the
  // original's object never existed in the drill.
  bool TranslateOrDrop(const IdTranslation& ids, std::uint64_t* id) {
    const std::uint64_t to = ids.Translate(*id);
    if (to == 0) {
      ++dropped_offer_commands_;
      return false;
    }
    *id = to;
    return true;
  }
  std::string MineralName(MineralId m) const {
    for (const Instrument& i : ref_.instruments()) {
      if (i.mineral == m) return i.mineral_name;
    }
    return absl::StrCat("mineral ", m);
  }

  const ReferenceData& ref_;
  Engine engine_;
  journal::JournalWriter* writer_;
  ReportBuilder* report_;
  std::vector<Event> events_;
  std::vector<AgencyMask> banned_;  // [mineral] -> agencies under an export ban
  IdTranslation offers_;       // pair-book offers
  IdTranslation term_offers_;  // term-book offers (their own id space)
  IdTranslation obligations_;
  Seq next_seq_ = 1;
  OfferId last_term_offer_ = 0;  // the drill engine's newest term offer id
  TimeNs last_time_ = 0;
  std::uint64_t dropped_submits_ = 0;
  std::uint64_t dropped_offer_commands_ = 0;
  // Auction ticks (Tick): the original's level of each instrument auctions; the drill's
  // instruments that auction when the original's do not, with their interval in ns.
  std::vector<bool> original_auctions_;
  std::vector<std::pair<InstrumentId, TimeNs>> drill_only_;
  bool levels_changed_ = false;
  TimeNs ticked_until_ = 0;
  std::uint64_t auction_ticks_ = 0;
  absl::Status status_;
};

}  // namespace

absl::StatusOr<DrillResult> RunDrill(const std::string& dir, const msx::v1::Scenario& scenario,
                                     const std::string& out_dir, int top_minutes) {
  absl::StatusOr<DrillJournal> j = OpenDrillJournal(dir);
  if (!j.ok()) return j.status();
  absl::StatusOr<std::vector<ResolvedEdit>> edits = ResolveScenario(scenario, *j->ref);
  if (!edits.ok()) return edits.status();
  absl::StatusOr<std::vector<journal::SegmentInfo>> existing = journal::ListSegments(out_dir);
  if (existing.ok() && !existing->empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(out_dir, " already holds a journal; choose a new output directory"));
  }
  absl::StatusOr<std::unique_ptr<journal::JournalReader>> reader =
      journal::JournalReader::Open(dir, journal::ReaderOptions{});
  if (!reader.ok()) return reader.status();

  journal::WriterOptions wo;
  wo.durability = journal::Durability::kNone;
  wo.config = j->config_bytes;
  wo.next_seq = 1;
  absl::StatusOr<std::unique_ptr<journal::JournalWriter>> writer =
      journal::JournalWriter::Open(out_dir, std::move(wo));
  if (!writer.ok()) return writer.status();

  ReportBuilder original(*j->ref, top_minutes);
  ReportBuilder drill(*j->ref, top_minutes);
  DrillRunner runner(*j->ref, writer->get(), &drill);
  DrillResult result;
  result.out_dir = out_dir;

  std::vector<ResolvedEdit> pending = *std::move(edits);
  auto fire_due = [&](const Command* before, TimeNs time) {
    for (auto it = pending.begin(); it != pending.end();) {
      const bool due = before == nullptr ||
                       (it->by_seq ? before->seq >= it->at_seq : before->time >= it->at_time);
      if (!due) {
        ++it;
        continue;
      }
      FiredEdit f;
      f.index = it->index;
      f.before_original_seq = before ? before->seq : 0;
      const Seq first = runner.next_seq();
      f.commands = runner.Fire(*it, time, &f.description);
      f.drill_seq = f.commands > 0 ? first : 0;
      result.fired.push_back(std::move(f));
      it = pending.erase(it);
    }
  };

  journal::JournalEntry entry;
  TimeNs last_time = 0;
  while ((*reader)->Next(&entry)) {
    original.Add(entry.command, entry.events);
    runner.Tick(entry.command.time);
    runner.NoteOriginal(entry);
    if (!pending.empty()) fire_due(&entry.command, entry.command.time);
    runner.Replay(entry);
    last_time = entry.command.time;
    ++result.original_commands;
    if (!runner.status().ok()) break;
  }
  if (!(*reader)->status().ok()) {
    (void)(*writer)->Close();
    return (*reader)->status();
  }
  if (!pending.empty() && runner.status().ok()) fire_due(nullptr, last_time);
  absl::Status closed = (*writer)->Close();
  if (!runner.status().ok()) return runner.status();
  if (!closed.ok()) return closed;

  result.drill_commands = runner.next_seq() - 1;
  result.dropped_submits = runner.dropped_submits();
  result.dropped_offer_commands = runner.dropped_offer_commands();
  result.auction_ticks = runner.auction_ticks();
  result.original = original.Finish();
  result.drill = drill.Finish();
  for (auto [report, from] :
       {std::pair{&result.original, &dir}, std::pair{&result.drill, &out_dir}}) {
    if (report->needs.empty()) continue;
    absl::StatusOr<NeedReport> continuous = ContinuousNeeds(*from);
    if (!continuous.ok()) return continuous.status();
    CompareWithContinuous(&report->needs, *continuous);
  }
  return result;
}

absl::StatusOr<NeedReport> ContinuousNeeds(const std::string& dir) {
  absl::StatusOr<DrillJournal> j = OpenDrillJournal(dir);
  if (!j.ok()) return j.status();
  msx::v1::ExchangeConfig config = j->config;
  for (int level = msx::v1::EMERGENCY_LEVEL_NORMAL; level <= msx::v1::EMERGENCY_LEVEL_SERIOUS;
       ++level) {
    msx::v1::LevelPolicyConfig* policy = nullptr;
    for (msx::v1::LevelPolicyConfig& p : *config.mutable_level_policies()) {
      if (p.level() == level) policy = &p;
    }
    if (policy == nullptr) {
      policy = config.add_level_policies();
      policy->set_level(static_cast<msx::v1::EmergencyLevel>(level));
    }
    policy->set_matching_mode(msx::v1::MATCHING_MODE_CONTINUOUS);
    policy->clear_auction_interval_seconds();
  }
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(config);
  if (!ref.ok()) {
    return absl::Status(ref.status().code(),
                        absl::StrCat(dir, ": continuous configuration: ", ref.status().message()));
  }
  absl::StatusOr<std::unique_ptr<journal::JournalReader>> reader =
      journal::JournalReader::Open(dir, journal::ReaderOptions{});
  if (!reader.ok()) return reader.status();
  ReportBuilder report(*ref, 0);
  DrillRunner runner(*ref, /*writer=*/nullptr, &report);
  journal::JournalEntry entry;
  while ((*reader)->Next(&entry)) {
    runner.NoteOriginal(entry);
    runner.Replay(entry);
  }
  if (!(*reader)->status().ok()) return (*reader)->status();
  return report.Finish().needs;
}

std::string RenderDrillText(const DrillResult& r) {
  std::string out =
      absl::StrCat("Drill journal written to ", r.out_dir, " (", ThousandsU(r.drill_commands),
                   " commands from ", ThousandsU(r.original_commands),
                   " original; verify it with: msx-drill verify ", r.out_dir, ")\n\nEdits fired\n");
  TextTable t({"edit", "before original seq", "drill seq", "commands", "what"});
  t.LeftAlign(4);
  for (const FiredEdit& f : r.fired) {
    t.AddRow({absl::StrCat("edits[", f.index, "]"),
              f.before_original_seq ? absl::StrCat(f.before_original_seq) : "end",
              f.drill_seq ? absl::StrCat(f.drill_seq) : "-", absl::StrCat(f.commands),
              f.description});
  }
  out += t.empty() ? "  (none)\n" : t.Render();
  absl::StrAppend(&out, "  dropped: ", ThousandsU(r.dropped_submits),
                  " submits under export bans, ", ThousandsU(r.dropped_offer_commands),
                  " commands on offers or loans the drill never made; ",
                  ThousandsU(r.auction_ticks), " auction ticks the original lacked\n\n");
  out += RenderComparisonText(r.original, r.drill);
  if (!r.original.needs.empty() || !r.drill.needs.empty()) {
    absl::StrAppend(&out, "\nOriginal: ",
                    r.original.needs.empty() ? "no declared needs\n"
                                             : RenderNeedsText(r.original.needs),
                    "\nDrill: ",
                    r.drill.needs.empty() ? "no declared needs\n" : RenderNeedsText(r.drill.needs));
  }
  if (!r.original.deliveries.empty() || !r.drill.deliveries.empty()) {
    absl::StrAppend(&out, "\nOriginal: ",
                    r.original.deliveries.empty() ? "no deliveries\n"
                                                  : RenderDeliveriesText(r.original.deliveries),
                    "\nDrill: ",
                    r.drill.deliveries.empty() ? "no deliveries\n"
                                               : RenderDeliveriesText(r.drill.deliveries));
  }
  return out;
}

std::string RenderDrillJson(const DrillResult& r) {
  nlohmann::ordered_json j;
  j["out_dir"] = r.out_dir;
  j["original_commands"] = r.original_commands;
  j["drill_commands"] = r.drill_commands;
  j["dropped_submits"] = r.dropped_submits;
  j["dropped_offer_commands"] = r.dropped_offer_commands;
  j["auction_ticks"] = r.auction_ticks;
  nlohmann::ordered_json& fired = j["fired"] = nlohmann::ordered_json::array();
  for (const FiredEdit& f : r.fired) {
    nlohmann::ordered_json& o = fired.emplace_back();
    o["edit"] = f.index;
    o["before_original_seq"] = f.before_original_seq;
    o["drill_seq"] = f.drill_seq;
    o["commands"] = f.commands;
    o["description"] = f.description;
  }
  j["comparison"] = ComparisonJson(r.original, r.drill);
  return journal::JsonText(j);
}

}  // namespace msx::drill
