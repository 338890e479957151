// TimeSwaps' part of the engine state image: Save, Load and the reservation check
// (the section after the pair books in engine state version 3; SNAPSHOT.md).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/matching/internal/coding.h"
#include "engine/matching/internal/time_swaps.h"

namespace msx::internal {
namespace {

using i128 = __int128;
constexpr i128 kInt64Max = INT64_MAX;
constexpr AgencyMask kAllAgencies = ~AgencyMask{0};

// The section's fields go through the one byte-coding header.
void PutU64(std::string* s, std::uint64_t v) { coding::PutFixed64(s, v); }
using SectionReader = coding::BoundedReader;

}  // namespace

// Section layout (all u64/i64 little-endian): offer_count, then per offer: agency, book,
// side, tif, status, premium, open, filled, original, expiry, allow, deny, client_id,
// accepted_seq, accepted_time; then per book, lends then borrows: n, n offer ids in
// priority order (premium best first is not needed: levels are rebuilt by premium, FIFO
// within one); then obligation_count and per obligation: book, agreement, lender,
// borrower, lend_offer, borrow_offer, lots, premium, due_amount, returned, fill_time,
// due_time, state, recalled, and in engine state version 5 also covered,
// collateral_state, collateral_instrument, collateral_amount, collateral_forfeited. In
// engine state version 7 each offer record ends with min_fill (16 fields), and tif may be
// 4 (FOK: such an offer never rests, so it is never open). In engine state version 9 each
// obligation record ends with recalled_seq, forfeited_seq, released_seq (22 fields).
// Everything else (client ids, heaps, the overdue list, credit used, the forfeit queue) is
// derived on load.

void TimeSwaps::Save(std::string* out, bool with_collateral, bool with_min_fill,
                     bool with_change_seqs) const {
  PutU64(out, offers_.size());
  for (const TermOffer& o : offers_) {
    for (std::uint64_t v :
         {std::uint64_t{o.agency}, std::uint64_t{o.book}, std::uint64_t(o.side),
          std::uint64_t(o.tif), std::uint64_t(o.status), std::uint64_t(o.premium),
          std::uint64_t(o.open), std::uint64_t(o.filled), std::uint64_t(o.original),
          std::uint64_t(o.expiry), o.allow, o.deny, o.client_id, o.accepted_seq,
          std::uint64_t(o.accepted_time)}) {
      PutU64(out, v);
    }
    if (with_min_fill) PutU64(out, std::uint64_t(o.min_fill));
  }
  for (const Book& b : books_) {
    for (const Side_* s : {&b.lends, &b.borrows}) {
      std::vector<OfferId> ids;
      if (!s->levels.empty()) {
        for (std::int64_t p = s->bits.NextAtOrAfter(0); p >= 0; p = s->bits.NextAtOrAfter(p + 1)) {
          for (OfferId id = s->levels[p].head; id != 0; id = Offer(id).next) ids.push_back(id);
        }
      }
      PutU64(out, ids.size());
      for (OfferId id : ids) PutU64(out, id);
    }
  }
  PutU64(out, obligations_.size());
  for (const Obligation& ob : obligations_) {
    for (std::uint64_t v :
         {std::uint64_t{ob.book}, std::uint64_t{ob.agreement}, std::uint64_t{ob.lender},
          std::uint64_t{ob.borrower}, ob.lend_offer, ob.borrow_offer, std::uint64_t(ob.lots),
          std::uint64_t(ob.premium), std::uint64_t(ob.due_amount), std::uint64_t(ob.returned),
          std::uint64_t(ob.fill_time), std::uint64_t(ob.due_time), std::uint64_t(ob.state),
          std::uint64_t{ob.recalled}}) {
      PutU64(out, v);
    }
    if (!with_collateral) continue;
    for (std::uint64_t v :
         {std::uint64_t(ob.covered), std::uint64_t(ob.collateral_state),
          std::uint64_t{ob.collateral_instrument}, std::uint64_t(ob.collateral_amount),
          std::uint64_t(ob.collateral_forfeited)}) {
      PutU64(out, v);
    }
    if (!with_change_seqs) continue;
    for (Seq v : {ob.recalled_seq, ob.forfeited_seq, ob.released_seq}) PutU64(out, v);
  }
}

bool TimeSwaps::AddReservations(std::vector<Amount>* reserved) const {
  for (const TermOffer& o : offers_) {
    if (o.status != OfferStatus::kOpen || o.side != Side::kSell) continue;
    const InstrumentId i = ref_.term_books()[o.book].instrument;
    Amount units;
    Amount& r = (*reserved)[o.agency * num_instruments_ + i];
    if (__builtin_mul_overflow(o.open, ref_.instruments()[i].lot_size, &units) ||
        __builtin_add_overflow(r, units, &r)) {
      return false;
    }
  }
  for (const Obligation& ob : obligations_) {
    if (ob.collateral_state != CollateralState::kPledged) continue;
    Amount& r = (*reserved)[ob.borrower * num_instruments_ + ob.collateral_instrument];
    if (__builtin_add_overflow(r, ob.collateral_amount, &r)) return false;
  }
  return true;
}

absl::Status TimeSwaps::Load(absl::string_view bytes, std::size_t base_offset,
                             bool with_collateral, bool with_min_fill,
                             bool with_change_seqs) {
  SectionReader r(bytes);
  auto corrupt = [&](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat("engine snapshot: ", what, " at offset ", base_offset + r.pos()));
  };
  std::uint64_t n;
  if (!r.U64(&n)) return corrupt("truncated term offers");
  const std::size_t offer_fields = with_min_fill ? 16 : 15;
  if (n > bytes.size() / (offer_fields * 8)) return corrupt("term offer count beyond the data");
  offers_.reserve(n);
  for (std::uint64_t id = 1; id <= n; ++id) {
    std::uint64_t v[16] = {};
    for (std::size_t k = 0; k < offer_fields; ++k) {
      if (!r.U64(&v[k])) return corrupt(absl::StrCat("truncated term offer ", id));
    }
    TermOffer o;
    // FOK (tif 4) and a minimum fill exist from version 7 on; a FOK offer never rests.
    const std::uint64_t max_tif = with_min_fill ? 4 : 3;
    const std::int64_t min_fill = static_cast<std::int64_t>(v[15]);
    if (v[0] >= num_agencies_ || v[1] >= books_.size() || v[2] < 1 || v[2] > 2 || v[3] < 1 ||
        v[3] > max_tif || v[4] < 1 || v[4] > 4 ||
        v[5] > static_cast<std::uint64_t>(kMaxPremiumBps) ||
        static_cast<std::int64_t>(v[6]) < 0 || static_cast<std::int64_t>(v[7]) < 0 ||
        min_fill < 0 || min_fill > static_cast<std::int64_t>(v[8]) ||
        (v[3] == 4 && v[4] == static_cast<std::uint64_t>(OfferStatus::kOpen))) {
      return corrupt(absl::StrCat("invalid term offer ", id));
    }
    o.agency = static_cast<AgencyId>(v[0]);
    o.book = static_cast<TermBookId>(v[1]);
    o.side = static_cast<Side>(v[2]);
    o.tif = static_cast<TimeInForce>(v[3]);
    o.status = static_cast<OfferStatus>(v[4]);
    o.premium = static_cast<std::int64_t>(v[5]);
    o.open = static_cast<Lots>(v[6]);
    o.filled = static_cast<Lots>(v[7]);
    o.original = static_cast<Lots>(v[8]);
    o.min_fill = min_fill;
    if (o.tif == TimeInForce::kFok || o.min_fill != 0) ++order_types_;
    o.expiry = static_cast<TimeNs>(v[9]);
    o.allow = v[10];
    o.deny = v[11];
    o.accept = (o.allow != 0 ? o.allow : kAllAgencies) & ~o.deny;
    o.client_id = v[12];
    o.accepted_seq = v[13];
    o.accepted_time = static_cast<TimeNs>(v[14]);
    if (o.client_id != 0) {
      if (client_index_.Find(o.agency, o.client_id) != 0) {
        return corrupt(absl::StrCat("duplicate client id in term offer ", id));
      }
      client_index_.Insert(o.agency, o.client_id, id);
    }
    offers_.push_back(o);
  }
  std::uint64_t linked = 0;
  for (TermBookId b = 0; b < books_.size(); ++b) {
    for (Side side : {Side::kSell, Side::kBuy}) {
      std::uint64_t k;
      if (!r.U64(&k)) return corrupt("truncated term book");
      for (std::uint64_t j = 0; j < k; ++j) {
        std::uint64_t id;
        if (!r.U64(&id)) return corrupt("truncated term book");
        if (id == 0 || id > n) return corrupt("unknown offer in term book");
        TermOffer& o = Offer(id);
        if (o.status != OfferStatus::kOpen || o.book != b || o.side != side || o.open <= 0 ||
            o.prev != 0 || o.next != 0) {
          return corrupt(absl::StrCat("inconsistent term book entry ", id));
        }
        EnsureAllocated(b);
        const Level& l = SideOf(b, side).levels[o.premium];
        if (l.tail == id || l.head == id) {
          return corrupt(absl::StrCat("term offer listed twice ", id));
        }
        Link(id, o);
        ++linked;
        if (o.tif == TimeInForce::kGtd) expiries_.push_back({o.expiry, id});
      }
    }
  }
  std::uint64_t open = 0;
  for (const TermOffer& o : offers_) open += o.status == OfferStatus::kOpen;
  if (open != linked) return corrupt("open term offer missing from its book (or listed twice)");
  std::make_heap(expiries_.begin(), expiries_.end(), TimedLater{});

  std::uint64_t no;
  if (!r.U64(&no)) return corrupt("truncated obligations");
  const std::size_t fields = with_change_seqs ? 22 : with_collateral ? 19 : 14;
  if (no > bytes.size() / (fields * 8)) return corrupt("obligation count beyond the data");
  obligations_.reserve(no);
  std::vector<ObligationId> overdue;
  for (std::uint64_t id = 1; id <= no; ++id) {
    std::int64_t v[22] = {};
    for (std::size_t k = 0; k < fields; ++k) {
      if (!r.I64(&v[k])) return corrupt(absl::StrCat("truncated obligation ", id));
    }
    Obligation ob;
    if (v[0] < 0 || static_cast<std::uint64_t>(v[0]) >= books_.size() || v[1] < 0 ||
        static_cast<std::uint64_t>(v[1]) >= ref_.agreements().size() || v[2] < 0 ||
        static_cast<std::uint64_t>(v[2]) >= num_agencies_ || v[3] < 0 ||
        static_cast<std::uint64_t>(v[3]) >= num_agencies_ || v[6] <= 0 || v[7] < 0 ||
        v[7] > kMaxPremiumBps || v[9] < 0 || v[9] > v[8] || v[12] < 1 || v[12] > 3 ||
        v[13] < 0 || v[13] > 1) {
      return corrupt(absl::StrCat("invalid obligation ", id));
    }
    ob.id = id;
    ob.book = static_cast<TermBookId>(v[0]);
    ob.instrument = ref_.term_books()[ob.book].instrument;
    ob.agreement = static_cast<std::uint32_t>(v[1]);
    ob.lender = static_cast<AgencyId>(v[2]);
    ob.borrower = static_cast<AgencyId>(v[3]);
    ob.lend_offer = static_cast<OfferId>(v[4]);
    ob.borrow_offer = static_cast<OfferId>(v[5]);
    ob.lots = v[6];
    ob.premium = v[7];
    ob.due_amount = v[8];
    ob.returned = v[9];
    ob.fill_time = v[10];
    ob.due_time = v[11];
    ob.state = static_cast<ObligationState>(v[12]);
    ob.recalled = v[13] != 0;
    // The pledge (version 5; zero in older images): a state 0..3; none carries nothing;
    // a pledge is of a known instrument, > 0 units, and only a forfeited one covers
    // anything or went (in part) to the lender; a pledge still held belongs to an
    // obligation not yet closed, a released one to a closed one.
    const std::int64_t covered = v[14], cstate = v[15], cinst = v[16], camount = v[17],
                       cforfeited = v[18];
    const bool none = cstate == static_cast<std::int64_t>(CollateralState::kNone);
    const bool forfeited = cstate == static_cast<std::int64_t>(CollateralState::kForfeited);
    if (cstate < 0 || cstate > 3 || covered < 0 || cforfeited < 0 ||
        (none ? cinst != 0 || camount != 0
              : cinst < 0 || static_cast<std::uint64_t>(cinst) >= num_instruments_ ||
                    camount <= 0) ||
        (!forfeited && (covered != 0 || cforfeited != 0)) || cforfeited > camount) {
      return corrupt(absl::StrCat("invalid collateral of obligation ", id));
    }
    ob.covered = covered;
    ob.collateral_state = static_cast<CollateralState>(cstate);
    ob.collateral_instrument = static_cast<InstrumentId>(cinst);
    ob.collateral_amount = camount;
    ob.collateral_forfeited = cforfeited;
    if (!none) ++pledges_;
    // The change seqs (version 9; zero in older images): each names a command that did
    // what the obligation's state says was done (0 = not known), and forfeit and release
    // exclude each other.
    const std::int64_t recalled_seq = v[19], forfeited_seq = v[20], released_seq = v[21];
    if (recalled_seq < 0 || forfeited_seq < 0 || released_seq < 0 ||
        (recalled_seq != 0 && !ob.recalled) || (forfeited_seq != 0 && !forfeited) ||
        (released_seq != 0 &&
         cstate != static_cast<std::int64_t>(CollateralState::kReleased))) {
      return corrupt(absl::StrCat("invalid change seqs of obligation ", id));
    }
    ob.recalled_seq = static_cast<Seq>(recalled_seq);
    ob.forfeited_seq = static_cast<Seq>(forfeited_seq);
    ob.released_seq = static_cast<Seq>(released_seq);
    if (recalled_seq != 0 || forfeited_seq != 0 || released_seq != 0) ++change_seqs_;
    const i128 principal =
        static_cast<i128>(ob.lots) * ref_.instruments()[ob.instrument].lot_size;
    if (principal > kInt64Max || AmountDue(static_cast<Amount>(principal), ob.premium) !=
                                     std::optional<Amount>(ob.due_amount) ||
        covered > ob.due_amount - ob.returned ||
        (ob.state == ObligationState::kClosed) != (Outstanding(ob) == 0) ||
        (ob.collateral_state == CollateralState::kPledged &&
         ob.state == ObligationState::kClosed) ||
        (ob.collateral_state == CollateralState::kReleased &&
         ob.state != ObligationState::kClosed)) {
      return corrupt(absl::StrCat("inconsistent obligation ", id));
    }
    ob.principal = static_cast<Amount>(principal);
    obligations_.push_back(ob);
    if (ob.state == ObligationState::kOpen) dues_.push_back({ob.due_time, ob.id});
    if (ob.state == ObligationState::kOverdue) overdue.push_back(ob.id);
    if (ob.state == ObligationState::kOverdue &&
        ob.collateral_state == CollateralState::kPledged) {
      ScheduleForfeit(ob);
    }
    if (ob.state != ObligationState::kClosed) {
      // At the values term books use: the live ones when the engine follows them (it
      // calls FollowLive before Load).
      const i128 owed = static_cast<i128>(Outstanding(ob)) * values_[ob.instrument];
      const i128 used = owed + exposure_[ob.agreement * num_agencies_ + ob.borrower];
      if (used > kInt64Max) return corrupt(absl::StrCat("credit overflow at obligation ", id));
      exposure_[ob.agreement * num_agencies_ + ob.borrower] = static_cast<MicroUsd>(used);
    }
  }
  std::make_heap(dues_.begin(), dues_.end(), TimedLater{});
  // The overdue groups, each in (due_time, id) order: the order obligations fall overdue.
  std::sort(overdue.begin(), overdue.end(), [&](ObligationId a, ObligationId b) {
    const TimeNs ta = Ob(a).due_time, tb = Ob(b).due_time;
    return ta != tb ? ta < tb : a < b;
  });
  for (ObligationId id : overdue) MarkOverdue(Ob(id));
  if (!r.done()) return corrupt("trailing bytes");
  return absl::OkStatus();
}

}  // namespace msx::internal
