#include "engine/testing/traffic_journal.h"

#include <algorithm>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/journal/writer.h"
#include "engine/matching/engine.h"

namespace msx::testing {

absl::StatusOr<TrafficStats> WriteTrafficJournal(const std::string& dir,
                                                 const msx::v1::ExchangeConfig& config,
                                                 const TrafficOptions& options) {
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(config);
  if (!ref.ok()) return ref.status();
  absl::StatusOr<std::vector<Command>> initial = InitialHoldingCommands(config, *ref);
  if (!initial.ok()) return initial.status();

  journal::WriterOptions wo;
  wo.durability = journal::Durability::kNone;
  wo.config = config.SerializeAsString();
  wo.segment_bytes = options.segment_bytes;
  absl::StatusOr<std::unique_ptr<journal::JournalWriter>> writer =
      journal::JournalWriter::Open(dir, std::move(wo));
  if (!writer.ok()) return writer.status();

  Engine engine(*ref, EngineOptions{});
  TrafficStats stats;
  std::vector<Event> events;
  events.reserve(1024);
  Seq seq = 0;
  TimeNs now = options.start_time;
  std::mt19937_64 rng(options.seed);
  absl::Status status;
  auto apply = [&](Command cmd) -> const std::vector<Event>& {
    cmd.seq = ++seq;
    cmd.time = now;
    events.clear();
    engine.Apply(cmd, &events);
    if (status.ok()) status = (*writer)->Append(cmd, events);
    ++stats.commands;
    ++stats.records;
    for (const Event& e : events) {
      if (e.type == EventType::kBookLevel) continue;
      ++stats.records;
      stats.fills += e.type == EventType::kFill;
      stats.accepted += e.type == EventType::kAccepted;
      stats.rejected += e.type == EventType::kRejected;
    }
    return events;
  };

  for (const Command& c : *initial) apply(c);
  const auto& agencies = ref->agencies();
  const auto& pairs = ref->pairs();
  constexpr Amount kTopUp = 10'000'000'000'000;  // 1e13 units of everything
  for (const Agency& a : agencies) {
    if (a.role != Role::kAgency) continue;
    for (const Instrument& i : ref->instruments()) {
      Command c{};
      c.type = CommandType::kSetHoldings;
      c.set_holdings = SetHoldings{a.id, i.id, kTopUp};
      apply(c);
    }
  }

  // Per pair, the agencies that have someone to swap with on it.
  std::vector<std::vector<AgencyId>> traders(pairs.size());
  std::vector<PairId> tradable;
  for (const PairBook& p : pairs) {
    for (const Agency& a : agencies) {
      if (a.role == Role::kAgency && ref->EligiblePartners(p.id, a.id) != 0) {
        traders[p.id].push_back(a.id);
      }
    }
    if (traders[p.id].size() >= 2) tradable.push_back(p.id);
  }
  if (tradable.empty()) return absl::InvalidArgumentError("no pair has two eligible agencies");

  std::vector<ClientOfferId> next_client(agencies.size(), 1);
  struct Recent {
    OfferId offer;
    AgencyId agency;
    PairId pair;
  };
  std::vector<Recent> recent(4096, Recent{0, 0, 0});
  std::size_t recent_next = 0;
  std::vector<bool> halted(pairs.size(), false);
  std::vector<PairId> halted_list;

  auto random_price = [&](const PairBook& p) {
    const std::int64_t ticks = static_cast<std::int64_t>(rng() % 11) - 5;
    Price price = (p.reference_price / p.tick + ticks) * p.tick;
    return std::clamp(price, p.band_low, p.band_high);
  };

  for (std::uint64_t n = 0; n < options.commands && status.ok(); ++n) {
    now += 1 + static_cast<TimeNs>(rng() % static_cast<std::uint64_t>(2 * options.mean_gap_ns));
    const std::uint64_t roll = rng() % 100;
    Command c{};
    if (roll < 60) {
      const PairBook& p = pairs[tradable[rng() % tradable.size()]];
      const std::vector<AgencyId>& who = traders[p.id];
      SubmitOffer& s = c.submit;
      c.type = CommandType::kSubmitOffer;
      s.agency = who[rng() % who.size()];
      s.pair = p.id;
      s.side = rng() % 2 ? Side::kBuy : Side::kSell;
      const std::uint64_t t = rng() % 20;
      s.tif = t < 17 ? TimeInForce::kGtc : t < 19 ? TimeInForce::kIoc : TimeInForce::kGtd;
      if (s.tif == TimeInForce::kGtd && !options.gtd) s.tif = TimeInForce::kGtc;
      if (s.tif == TimeInForce::kGtd) {
        s.expiry = now + 1'000'000'000 + static_cast<TimeNs>(rng() % 60'000'000'000);
      }
      s.lots =
          1 + static_cast<Lots>(rng() % static_cast<std::uint64_t>(std::min<Lots>(10, p.max_lots)));
      s.price = random_price(p);
      s.client_id = next_client[s.agency]++;
      for (const Event& e : apply(c)) {
        if (e.type == EventType::kAccepted) {
          recent[recent_next++ % recent.size()] = Recent{e.accepted.offer, s.agency, s.pair};
        }
      }
    } else if (roll < 88) {
      const Recent& r = recent[rng() % recent.size()];
      if (r.offer == 0) {
        c.type = CommandType::kAdvanceTime;
      } else if (roll < 80) {
        c.type = CommandType::kCancelOffer;
        c.cancel = CancelOffer{r.agency, r.offer};
      } else {
        c.type = CommandType::kReplaceOffer;
        c.replace = ReplaceOffer{r.agency, r.offer, 1 + static_cast<Lots>(rng() % 10),
                                 random_price(pairs[r.pair])};
      }
      apply(c);
    } else if (roll < 96) {
      c.type = CommandType::kAdvanceTime;
      apply(c);
    } else if (roll < 98) {
      const Agency& a = agencies[rng() % agencies.size()];
      c.type = CommandType::kSetHoldings;
      c.set_holdings =
          SetHoldings{a.id, static_cast<InstrumentId>(rng() % ref->instruments().size()), kTopUp};
      apply(c);
    } else if (roll == 98 && halted_list.size() < 3) {
      const PairId p = tradable[rng() % tradable.size()];
      c.type = CommandType::kHaltPair;
      c.pair = PairCommand{p};
      apply(c);
      if (!halted[p]) {
        halted[p] = true;
        halted_list.push_back(p);
      }
    } else if (!halted_list.empty()) {
      const PairId p = halted_list.back();
      halted_list.pop_back();
      halted[p] = false;
      c.type = CommandType::kResumePair;
      c.pair = PairCommand{p};
      apply(c);
    } else {
      c.type = CommandType::kAdvanceTime;
      apply(c);
    }
  }
  absl::Status closed = (*writer)->Close();
  if (!status.ok()) return status;
  if (!closed.ok()) return closed;
  return stats;
}

}  // namespace msx::testing
