#include "engine/testing/term_commands.h"

#include <algorithm>

#include "engine/testing/test_universe.h"

namespace msx::testing {
namespace {

constexpr TimeNs kHour = 3'600'000'000'000;
constexpr std::int64_t kMaxProbePremium = 10'000;

RandomCommands::Options PairOptions(Amount max_holding) {
  RandomCommands::Options o;
  o.max_holding = max_holding;
  return o;
}

}  // namespace

TermCommands::TermCommands(std::uint64_t seed, Options options)
    : rng_(seed),
      options_(options),
      pairs_(seed ^ 0x9e3779b97f4a7c15, PairOptions(options.max_holding)) {}

std::int64_t TermCommands::Premium() {
  const std::uint64_t r = Uniform(100);
  if (r < 2) return Uniform(2) ? -1 : 10'001;
  if (r < 10) return static_cast<std::int64_t>(Uniform(10'001));
  if (r < 15) return 0;
  // Mostly near 150 bp so that lends and borrows cross often; odd premiums round.
  return 50 + static_cast<std::int64_t>(Uniform(21)) * 10 + static_cast<std::int64_t>(Uniform(3));
}

void TermCommands::Observe(const std::vector<Event>& events) {
  pairs_.Observe(events, 0);
  auto forget = [&](OfferId id) {
    for (std::size_t i = 0; i < open_.size(); ++i) {
      if (open_[i].offer == id) {
        open_[i] = open_.back();
        open_.pop_back();
        return;
      }
    }
  };
  const ReferenceData& ref = TermUniverse();
  for (const Event& e : events) {
    switch (e.type) {
      case EventType::kTermAccepted:
        open_.push_back({e.accepted.agency, e.accepted.offer, e.accepted.pair, e.accepted.side,
                         e.accepted.tif == TimeInForce::kGtd ? last_expiry_ : 0,
                         e.accepted.price, e.accepted.lots});
        max_offer_ = std::max(max_offer_, e.accepted.offer);
        break;
      case EventType::kLoanFill: {
        const LoanFillEvent& f = e.loan_fill;
        for (Open& x : open_) {
          if (x.offer == f.maker_offer) x.lots = f.maker_open;
          if (x.offer == f.taker_offer) x.lots = f.taker_open;
        }
        if (f.maker_open == 0) forget(f.maker_offer);
        if (f.taker_open == 0) forget(f.taker_offer);
        if (owed_.size() < f.obligation) owed_.resize(f.obligation);
        owed_[f.obligation - 1] = {f.obligation, f.lender,
                                   f.borrower,   ref.term_books()[f.book].instrument,
                                   f.due_amount, e.time + ref.term_books()[f.book].tenor,
                                   false,        false};
        break;
      }
      case EventType::kTermCancelled:
        forget(e.cancelled.offer);
        break;
      case EventType::kTermExpired:
        forget(e.expired.offer);
        break;
      case EventType::kTermReplaced:
        for (Open& x : open_) {
          if (x.offer == e.replaced.offer) {
            x.premium = e.replaced.price;
            x.lots = e.replaced.lots;
          }
        }
        break;
      case EventType::kObligation: {
        const ObligationEvent& o = e.obligation;
        if (o.obligation == 0 || o.obligation > owed_.size()) break;
        owed_[o.obligation - 1].outstanding = o.outstanding;
        owed_[o.obligation - 1].due_time = o.due_time;
        owed_[o.obligation - 1].closed = o.state == ObligationState::kClosed;
        owed_[o.obligation - 1].overdue = o.state == ObligationState::kOverdue;
        break;
      }
      default:
        break;
    }
  }
}

Command TermCommands::Next() {
  const ReferenceData& ref = TermUniverse();
  const Options& o = options_;
  const int total = o.pair + o.term_submit + o.term_cancel + o.term_replace +
                    o.return_obligation + o.recall + o.advance_days + o.squeeze +
                    o.term_garbage + o.fill_probe;
  int pick = static_cast<int>(Uniform(total));
  if (seq_ < 24) pick = 0;  // the pair stream funds every agency and instrument first
  time_ += static_cast<TimeNs>(Uniform(3));
  auto agency = [&] { return static_cast<AgencyId>(Uniform(6)); };
  // An obligation that is not closed, if any (a few tries), else any.
  auto some_obligation = [&]() -> const Owed* {
    if (owed_.empty()) return nullptr;
    for (int i = 0; i < 4; ++i) {
      const Owed& w = owed_[Uniform(owed_.size())];
      if (!w.closed) return &w;
    }
    return &owed_[Uniform(owed_.size())];
  };
  Command c{};
  if ((pick -= o.pair) < 0) {
    c = pairs_.Next();
    // The pair stream keeps its own clock; its GTD expiries are offsets from it.
    if (c.type == CommandType::kSubmitOffer && c.submit.tif == TimeInForce::kGtd) {
      c.submit.expiry = time_ + (c.submit.expiry - c.time);
    }
  } else if ((pick -= o.term_submit) < 0) {
    c.type = CommandType::kSubmitTermOffer;
    SubmitOffer& s = c.submit;
    s.agency = agency();
    s.pair = static_cast<PairId>(Uniform(ref.term_books().size()));
    s.side = Uniform(2) ? Side::kBuy : Side::kSell;
    const std::uint64_t t = Uniform(20);
    s.tif = t < 11   ? TimeInForce::kGtc
            : t < 15 ? TimeInForce::kIoc
            : t < 18 ? TimeInForce::kGtd
                     : TimeInForce::kFok;
    const Lots max = ref.term_books()[s.pair].max_lots;
    s.lots = 1 + static_cast<Lots>(Uniform(Uniform(6) == 0 ? max : std::min<Lots>(max, 6)));
    if (Uniform(100) == 0) s.lots = Uniform(2) ? 0 : max + 1;
    // A borrower lends on what it borrowed (so loans chain, and an overdue borrower may
    // have a loan of its own to be repaid or a lend to expire).
    const Owed* w = Uniform(4) == 0 ? some_obligation() : nullptr;
    if (w != nullptr && !w->closed) {
      for (const TermBook& tb : ref.term_books()) {
        if (tb.instrument == w->instrument && (s.pair == tb.id || Uniform(2) == 0)) {
          s.pair = tb.id;
          s.agency = w->borrower;
          s.side = Side::kSell;
          s.lots = std::min<Lots>(s.lots, 3);
          if (Uniform(2) == 0) s.tif = TimeInForce::kGtd;
          break;
        }
      }
    }
    // A minimum fill now and then (FOK ignores it), rarely an invalid one.
    if (Uniform(5) == 0) s.min_fill = 1 + static_cast<Lots>(Uniform(s.lots > 0 ? s.lots : 1));
    if (Uniform(150) == 0) s.min_fill = Uniform(2) ? -1 : s.lots + 1;
    s.price = Premium();
    if (s.tif == TimeInForce::kGtd) {
      s.expiry =
          time_ + static_cast<TimeNs>(Uniform(30)) * kHour - (Uniform(30) == 0 ? 31 * kHour : 0);
    }
    last_expiry_ = s.expiry;
    if (Uniform(12) == 0) s.allow = Uniform(1u << 6);
    if (Uniform(12) == 0) s.deny = AgencyMask{1} << Uniform(6);
    if (Uniform(200) == 0) s.deny = AgencyMask{1} << 50;
    s.client_id =
        Uniform(60) == 0 ? static_cast<ClientOfferId>(1 + Uniform(client_id_ + 1)) : ++client_id_;
    if (Uniform(40) == 0) s.client_id = 0;
  } else if ((pick -= o.term_cancel) < 0) {
    c.type = CommandType::kCancelTermOffer;
    if (!open_.empty() && Uniform(8) != 0) {
      const Open& x = open_[Uniform(open_.size())];
      c.cancel.agency = Uniform(20) == 0 ? agency() : x.agency;
      c.cancel.offer = x.offer;
    } else {
      c.cancel.agency = agency();
      c.cancel.offer = Uniform(max_offer_ + 2);
    }
  } else if ((pick -= o.fill_probe) < 0 && !open_.empty()) {
    // Against one agency's resting offers in one book: a FOK (or a minimum fill of all of
    // it) from another agency, at a premium that crosses them all.
    const Open& x = open_[Uniform(open_.size())];
    Lots lots = 0;
    std::int64_t premium = x.side == Side::kBuy ? kMaxProbePremium : 0;
    for (const Open& y : open_) {
      if (y.agency != x.agency || y.book != x.book || y.side != x.side) continue;
      lots += y.lots;
      premium = x.side == Side::kBuy ? std::min(premium, y.premium) : std::max(premium, y.premium);
    }
    c.type = CommandType::kSubmitTermOffer;
    SubmitOffer& s = c.submit;
    s.agency = static_cast<AgencyId>((x.agency + 1 + Uniform(5)) % 6);
    s.pair = x.book;
    s.side = x.side == Side::kBuy ? Side::kSell : Side::kBuy;
    s.lots = std::min<Lots>(std::max<Lots>(lots, 1), ref.term_books()[x.book].max_lots);
    s.price = premium;
    if (Uniform(2) == 0) {
      s.tif = TimeInForce::kFok;
    } else {
      s.tif = Uniform(2) ? TimeInForce::kGtc : TimeInForce::kIoc;
      s.min_fill = s.lots;
    }
    s.client_id = ++client_id_;
  } else if ((pick -= o.term_replace) < 0) {
    c.type = CommandType::kReplaceTermOffer;
    ReplaceOffer& r = c.replace;
    if (!open_.empty() && Uniform(10) != 0) {
      const Open& x = open_[Uniform(open_.size())];
      r.agency = Uniform(25) == 0 ? static_cast<AgencyId>(Uniform(9)) : x.agency;
      r.offer = x.offer;
    } else {
      r.agency = agency();
      r.offer = Uniform(max_offer_ + 2);
    }
    // The new total: often at or below what has filled (cancels the rest), often above
    // (more open lots: loses priority).
    r.lots = 1 + static_cast<Lots>(Uniform(8));
    if (Uniform(60) == 0) r.lots = Uniform(2) ? 0 : 1'000'000'000;
    // Same premium (keeps priority when not more lots) or another one (may cross).
    r.price = Uniform(3) == 0 ? -2 : Premium();
    if (r.price == -2) {
      r.price = 150;
      for (const Open& x : open_) {
        if (x.offer == r.offer) r.price = x.premium;
      }
    }
  } else if ((pick -= o.return_obligation) < 0) {
    c.type = CommandType::kReturnObligation;
    const Owed* w = some_obligation();
    if (w == nullptr || Uniform(15) == 0) {
      c.obligation.agency = agency();
      c.obligation.obligation = Uniform(owed_.size() + 2);
      c.obligation.amount = 1;
    } else {
      c.obligation.agency = Uniform(15) == 0 ? w->lender : w->borrower;
      c.obligation.obligation = w->id;
      if (w->overdue) {
        // Overdue, the borrower holds none of it available (collection took it) except
        // what the start of a command releases: return when a loan it made of the same
        // instrument is settled, or when a GTD lend of it expires.
        TimeNs at = 0;
        for (const Owed& v : owed_) {
          if (v.lender == w->borrower && v.instrument == w->instrument && !v.closed && !v.overdue) {
            at = v.due_time;
            break;
          }
        }
        for (const Open& x : open_) {
          if (at == 0 && x.agency == w->borrower && x.side == Side::kSell && x.expiry != 0 &&
              ref.term_books()[x.book].instrument == w->instrument) {
            at = x.expiry;
          }
        }
        time_ = std::max(time_, at);
      }
      const std::uint64_t r = Uniform(10);
      // Overdue: the borrower holds nothing available after the last command's collection,
      // except what the start of this one released (expiries, settlements): ask for little.
      c.obligation.amount =
          w->overdue && r < 8
              ? 1 + static_cast<Amount>(Uniform(std::min<Amount>(w->outstanding, 10)))
          : r < 5 ? w->outstanding  // in full
          : r < 8 ? 1 + static_cast<Amount>(Uniform(std::max<Amount>(w->outstanding, 1)))
          : r < 9 ? w->outstanding + 1                 // too much
                  : -static_cast<Amount>(Uniform(2));  // 0 or -1
    }
  } else if ((pick -= o.recall) < 0) {
    c.type = CommandType::kRecallObligation;
    const Owed* w = some_obligation();
    if (w == nullptr || Uniform(15) == 0) {
      c.obligation.agency = agency();
      c.obligation.obligation = Uniform(owed_.size() + 2);
    } else {
      c.obligation.agency = Uniform(15) == 0 ? w->borrower : w->lender;
      c.obligation.obligation = w->id;
    }
  } else if ((pick -= o.advance_days) < 0) {
    c.type = CommandType::kAdvanceTime;
    time_ += static_cast<TimeNs>(Uniform(49)) * kHour;
  } else if ((pick -= o.squeeze) < 0) {
    c.type = CommandType::kSetHoldings;
    const Owed* w = some_obligation();
    c.set_holdings.agency = w ? w->borrower : agency();
    c.set_holdings.instrument =
        w ? w->instrument : static_cast<InstrumentId>(Uniform(ref.instruments().size()));
    // Often below what is owed; below the reserved units it is rejected.
    c.set_holdings.total = static_cast<Amount>(Uniform(w ? w->outstanding + 20 : 100));
  } else {
    switch (Uniform(5)) {
      case 0:  // unknown or admin agency
        c.type = Uniform(2) ? CommandType::kSubmitTermOffer : CommandType::kCancelTermOffer;
        c.submit.agency = 6 + static_cast<AgencyId>(Uniform(3));
        c.submit.lots = 1;
        c.submit.price = 100;
        if (c.type == CommandType::kCancelTermOffer) c.cancel.offer = 1;
        break;
      case 1:  // unknown term book
        c.type = CommandType::kSubmitTermOffer;
        c.submit.agency = agency();
        c.submit.pair = static_cast<PairId>(ref.term_books().size() + Uniform(3));
        c.submit.lots = 1;
        c.submit.client_id = ++client_id_;
        break;
      case 2:  // bad side or time in force
        c.type = CommandType::kSubmitTermOffer;
        c.submit.agency = agency();
        c.submit.pair = static_cast<PairId>(Uniform(ref.term_books().size()));
        c.submit.side = static_cast<Side>(Uniform(4));
        c.submit.tif = static_cast<TimeInForce>(Uniform(6));
        c.submit.lots = 1;
        c.submit.price = 100;
        c.submit.client_id = ++client_id_;
        break;
      case 3:  // a minimum fill above the lots
        c.type = CommandType::kSubmitTermOffer;
        c.submit.agency = agency();
        c.submit.pair = static_cast<PairId>(Uniform(ref.term_books().size()));
        c.submit.side = Side::kBuy;
        c.submit.tif = TimeInForce::kGtc;
        c.submit.lots = 2;
        c.submit.min_fill = 3;
        c.submit.price = 100;
        c.submit.client_id = ++client_id_;
        break;
      default:  // obligation commands from unknown agencies
        c.type = Uniform(2) ? CommandType::kReturnObligation : CommandType::kRecallObligation;
        c.obligation.agency = 7 + static_cast<AgencyId>(Uniform(3));
        c.obligation.obligation = 1;
        c.obligation.amount = 1;
        break;
    }
  }
  c.seq = ++seq_;
  c.time = time_;
  return c;
}

}  // namespace msx::testing
