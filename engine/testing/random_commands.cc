#include "engine/testing/random_commands.h"

#include "engine/testing/test_universe.h"

namespace msx::testing {

RandomCommands::RandomCommands(std::uint64_t seed, Options options)
    : rng_(seed), options_(options) {}


Price RandomCommands::RandomPrice(std::uint32_t pair) {
  const PairBook& pb = TestUniverse().pairs()[pair % TestUniverse().pairs().size()];
  const std::uint64_t r = Uniform(100);
  if (r < 2) return static_cast<Price>(Uniform(3)) - 1;                      // <= 0 or 1
  if (r < 4) return pb.band_high + pb.tick * static_cast<Price>(1 + Uniform(3));  // above
  if (r < 6) return pb.band_low - pb.tick * static_cast<Price>(1 + Uniform(3));   // below
  if (r < 8 && pb.tick > 1) return pb.band_low + 1;                          // off tick
  // Mostly near the reference so that books cross often.
  const std::int64_t span = (pb.band_high - pb.band_low) / pb.tick;
  const std::int64_t mid = (pb.reference_price - pb.band_low) / pb.tick;
  std::int64_t k = mid + static_cast<std::int64_t>(Uniform(9)) - 4;
  if (Uniform(4) == 0) k = static_cast<std::int64_t>(Uniform(span + 1));
  if (k < 0) k = 0;
  if (k > span) k = span;
  return pb.band_low + k * pb.tick;
}

void RandomCommands::Forget(OfferId id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  const std::size_t pos = it->second;
  index_.erase(it);
  if (pos + 1 != offers_.size()) {
    offers_[pos] = offers_.back();
    index_[offers_[pos].offer] = pos;
  }
  offers_.pop_back();
}

void RandomCommands::Observe(const std::vector<Event>& events, std::size_t from) {
  for (std::size_t i = from; i < events.size(); ++i) {
    const Event& e = events[i];
    switch (e.type) {
      case EventType::kAccepted:
        index_[e.accepted.offer] = offers_.size();
        offers_.push_back({e.accepted.agency, e.accepted.offer, e.accepted.pair, e.accepted.price});
        if (e.accepted.offer > max_offer_) max_offer_ = e.accepted.offer;
        break;
      case EventType::kFill:
        if (e.fill.maker_open == 0) Forget(e.fill.maker_offer);
        if (e.fill.taker_open == 0) Forget(e.fill.taker_offer);
        break;
      case EventType::kCancelled:
        Forget(e.cancelled.offer);
        break;
      case EventType::kExpired:
        Forget(e.expired.offer);
        break;
      case EventType::kReplaced: {
        auto it = index_.find(e.replaced.offer);
        if (it != index_.end()) offers_[it->second].price = e.replaced.price;
        break;
      }
      default:
        break;
    }
  }
}

Command RandomCommands::Next() {
  const ReferenceData& ref = TestUniverse();
  const std::uint32_t num_pairs = static_cast<std::uint32_t>(ref.pairs().size());
  const std::uint32_t num_agencies = static_cast<std::uint32_t>(ref.agencies().size());
  const int total = options_.submit + options_.cancel + options_.replace +
                    options_.advance_time + options_.set_holdings + options_.halt_resume +
                    options_.set_retention + options_.garbage;
  int pick = static_cast<int>(Uniform(total));
  Command c{};
  c.seq = ++seq_;
  time_ += static_cast<TimeNs>(Uniform(3));
  c.time = time_;
  auto agency = [&] { return static_cast<AgencyId>(Uniform(6)); };  // trading agencies
  const std::uint32_t num_instruments = static_cast<std::uint32_t>(ref.instruments().size());
  if (funded_ < 6 * num_instruments) {  // fund every trading agency first
    c.type = CommandType::kSetHoldings;
    c.set_holdings.agency = funded_ / num_instruments;
    c.set_holdings.instrument = funded_ % num_instruments;
    c.set_holdings.total = options_.max_holding;
    ++funded_;
    return c;
  }
  if ((pick -= options_.submit) < 0) {
    c.type = CommandType::kSubmitOffer;
    SubmitOffer& s = c.submit;
    s.agency = agency();
    s.pair = static_cast<PairId>(Uniform(num_pairs));
    s.side = Uniform(2) ? Side::kBuy : Side::kSell;
    const std::uint64_t t = Uniform(10);
    s.tif = t < 6 ? TimeInForce::kGtc : t < 8 ? TimeInForce::kGtd
                                      : t < 9 ? TimeInForce::kIoc : TimeInForce::kFok;
    s.lots = 1 + static_cast<Lots>(Uniform(Uniform(8) == 0 ? 60 : 8));
    if (Uniform(100) == 0) s.lots = 0;
    if (Uniform(200) == 0) s.lots = ref.pairs()[s.pair].max_lots + 1;
    s.price = RandomPrice(s.pair);
    if (Uniform(8) == 0) s.min_fill = static_cast<Lots>(Uniform(s.lots + 2));
    if (s.tif == TimeInForce::kGtd) {
      s.expiry = time_ + static_cast<TimeNs>(Uniform(60)) - (Uniform(30) == 0 ? 100 : 0);
    }
    if (Uniform(10) == 0) s.allow = Uniform(1u << num_agencies) & 0x3f;
    if (Uniform(10) == 0) s.deny = AgencyMask{1} << Uniform(6);
    if (Uniform(200) == 0) s.deny = AgencyMask{1} << 50;
    s.client_id = Uniform(50) == 0 ? static_cast<ClientOfferId>(1 + Uniform(client_id_ + 1))
                                   : ++client_id_;
    if (Uniform(50) == 0) s.client_id = 0;
  } else if ((pick -= options_.cancel) < 0) {
    c.type = CommandType::kCancelOffer;
    if (!offers_.empty() && Uniform(10) != 0) {
      const Seen& o = offers_[Uniform(offers_.size())];
      c.cancel.agency = o.agency;
      c.cancel.offer = o.offer;
      if (Uniform(20) == 0) c.cancel.agency = agency();
    } else {
      c.cancel.agency = agency();
      c.cancel.offer = Uniform(max_offer_ + 2);  // often finished or someone else's
    }
  } else if ((pick -= options_.replace) < 0) {
    // Mostly the total-lots replace; some of the legacy open-lots one (old journals).
    c.type = Uniform(4) == 0 ? CommandType::kReplaceOfferOpenLots : CommandType::kReplaceOffer;
    if (!offers_.empty()) {
      const Seen& o = offers_[Uniform(offers_.size())];
      c.replace.agency = o.agency;
      c.replace.offer = o.offer;
      const PairBook& pb = ref.pairs()[o.pair];
      // Same price (priority kept when reducing), a nearby price, or a random one.
      const std::uint64_t r = Uniform(3);
      c.replace.price = r == 0   ? o.price
                        : r == 1 ? o.price + pb.tick * (static_cast<Price>(Uniform(7)) - 3)
                                 : RandomPrice(o.pair);
    } else {
      c.replace.agency = agency();
      c.replace.offer = Uniform(100);
      c.replace.price = RandomPrice(0);
    }
    c.replace.lots = static_cast<Lots>(Uniform(12));
  } else if ((pick -= options_.advance_time) < 0) {
    c.type = CommandType::kAdvanceTime;
    time_ += static_cast<TimeNs>(Uniform(40));
    c.time = time_;
  } else if ((pick -= options_.set_holdings) < 0) {
    c.type = CommandType::kSetHoldings;
    c.set_holdings.agency = agency();
    c.set_holdings.instrument = static_cast<InstrumentId>(Uniform(ref.instruments().size()));
    c.set_holdings.total = static_cast<Amount>(Uniform(options_.max_holding));
  } else if ((pick -= options_.halt_resume) < 0) {
    c.type = Uniform(10) == 0 ? CommandType::kHaltPair : CommandType::kResumePair;
    c.pair.pair = static_cast<PairId>(Uniform(num_pairs));
  } else if ((pick -= options_.set_retention) < 0) {
    c.type = CommandType::kSetOfferRetention;
    c.set_retention.retention = static_cast<TimeNs>(Uniform(200)) - (Uniform(20) == 0 ? 300 : 0);
  } else {
    switch (Uniform(6)) {
      case 0:
        c.type = CommandType::kSubmitOffer;
        c.submit.agency = num_agencies + static_cast<AgencyId>(Uniform(3));
        c.submit.pair = 0;
        break;
      case 1:
        c.type = CommandType::kSubmitOffer;
        c.submit.agency = agency();
        c.submit.pair = num_pairs + static_cast<PairId>(Uniform(3));
        break;
      case 2:
        c.type = CommandType::kSubmitOffer;
        c.submit.agency = agency();
        c.submit.side = static_cast<Side>(Uniform(4));
        c.submit.tif = static_cast<TimeInForce>(Uniform(6));
        c.submit.lots = 1;
        c.submit.price = ref.pairs()[0].reference_price;
        c.submit.client_id = ++client_id_;
        break;
      case 3:
        c.type = CommandType::kSetHoldings;
        c.set_holdings.agency = agency();
        c.set_holdings.instrument = static_cast<InstrumentId>(Uniform(6));
        c.set_holdings.total = Uniform(2) ? -1 : INT64_MAX - static_cast<Amount>(Uniform(10));
        break;
      case 4:
        c.type = CommandType::kHaltPair;
        c.pair.pair = num_pairs + 1;
        break;
      default:  // an unknown command type (20..29 are the emergency commands now)
        c.type = static_cast<CommandType>(200 + Uniform(5));
        break;
    }
  }
  return c;
}

}  // namespace msx::testing
