// The engine's state image: Engine::SaveState, LoadState (every check that keeps a
// restored engine from overflowing later) and StateDigest. The format is SNAPSHOT.md.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/matching/engine.h"
#include "engine/matching/internal/coding.h"
#include "engine/matching/internal/engine_impl.h"

namespace msx {
namespace {

constexpr char kSnapshotMagic[8] = {'M', 'S', 'X', 'E', 'N', 'G', 'S', 'T'};
// Version 2 added the retention window, explicit offer ids (purged offers are absent) and
// the finished offers in finishing order. Version 1 (every offer ever made, no finish
// times) is refused: its finished offers could not be purged as a replay from the journal
// would purge them. SNAPSHOT.md is the grammar.
constexpr std::uint32_t kSnapshotVersion = 2;
// Version 3 = version 2 + the time-swap section at the end (SNAPSHOT.md, ENGINE.md "Time
// swaps"); an engine that never accepted a term offer writes version 2, byte for byte as
// before time swaps.
constexpr std::uint32_t kSnapshotVersionTimeSwaps = 3;
// Version 4 = version 3 + the live reference data after the halt flags (per instrument its
// value, floor, emergency level and pending publication; per agreement its members). An
// engine whose live reference data is still the configuration's writes version 2 or 3,
// byte for byte as before emergencies.
constexpr std::uint32_t kSnapshotVersionLive = 4;
// Version 5 = version 4 with the pledge in each obligation record (covered, collateral
// state, instrument, amount, forfeited; ENGINE.md "Collateral"). Written only once some
// loan carried a pledge, so an engine without collateral writes version 2, 3 or 4, byte
// for byte as before.
constexpr std::uint32_t kSnapshotVersionCollateral = 5;
// Version 6 = version 5 + the allocation-auction section between the books and the
// time-swap section (the declared needs of open buy offers, the pairs waiting to be
// uncrossed at ResumePair). Only an engine that holds such state writes it; it then also
// writes the live section and the time-swap section in version 5's layout.
constexpr std::uint32_t kSnapshotVersionAuctions = 6;
// Version 7 = version 6 with the minimum fill at the end of each term offer record, and
// tif 4 (FOK) allowed there (ENGINE.md "Time swaps"). Written only once some term offer
// was FOK or had a minimum fill; it then also writes the sections of version 6.
constexpr std::uint32_t kSnapshotVersionTermOrders = 7;
// Version 8 = version 7 + the delivery ledger after the allocation-auction section
// (ENGINE.md "Deliveries"). Only an engine that opened a delivery writes it; it then also
// writes the sections of version 7 (the auction section possibly empty, term offer records
// with their minimum fill).
constexpr std::uint32_t kSnapshotVersionDeliveries = 8;
// Version 9 = version 8 with, at the end of each obligation record, the commands that first
// recalled it, forfeited and released its pledge (ENGINE.md "Time swaps", "Snapshots").
// Only an engine in which one of those happened writes it; it then also writes the
// sections of version 8 (the delivery ledger possibly empty).
constexpr std::uint32_t kSnapshotVersionChangeSeqs = 9;
// Version 10 = version 9 + `terms_live` (u8, 1) after the agreements: term books follow
// the live reference data (kFollowLiveReference; ENGINE.md "Time swaps", "Live reference
// data"). Only an engine that follows writes it; it then also writes the sections of
// version 9. Credit used is rebuilt at the live values.
constexpr std::uint32_t kSnapshotVersionLiveTerms = 10;
// Bytes of one instrument's live entry (SNAPSHOT.md).
constexpr std::size_t kLiveEntryBytes = 8 + 8 + 1 + 1 + 8 + 8 + 8;

// The most filled lots LoadState accepts on one offer: far beyond any engine's reach
// (each command fills at most a pair's max_lots), and room for every later fill.
constexpr Lots kMaxSnapshotLots = Lots{1} << 62;

using SnapshotWriter = coding::StringWriter;
using SnapshotReader = coding::BoundedReader;

}  // namespace

std::string Engine::Impl::SaveState() const {
  std::string s;
  s.reserve(64 + holdings_.size() * 16 + offers_.size() * 120);
  s.append(kSnapshotMagic, sizeof kSnapshotMagic);
  SnapshotWriter w(&s);
  // The declared needs of open offers, by offer id (an entry of a finished offer would be
  // stale: the engine erases them, and this never writes one).
  std::vector<std::pair<OfferId, DeclaredNeed>> needs;
  for (const auto& [id, d] : needs_) {
    if (offers_.Resident(id) && !offers_.Purged(id) &&
        offers_[id].status == OfferStatus::kOpen) {
      needs.push_back({id, d});
    }
  }
  std::sort(needs.begin(), needs.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  const bool live_terms = time_swaps_.FollowsLive();
  const bool change_seqs = live_terms || time_swaps_.AnyChangeSeqs();
  const bool deliveries = change_seqs || !deliveries_.Empty();
  const bool term_orders = deliveries || time_swaps_.AnyOrderTypes();
  const bool auctions =
      term_orders || !needs.empty() ||
      std::any_of(books_.begin(), books_.end(), [](const Book& b) { return b.uncross_pending; });
  const bool collateral = auctions || time_swaps_.AnyPledge();
  const bool live = collateral || !LiveAsConfigured();
  w.U32(live_terms            ? kSnapshotVersionLiveTerms
        : change_seqs         ? kSnapshotVersionChangeSeqs
        : deliveries          ? kSnapshotVersionDeliveries
        : term_orders         ? kSnapshotVersionTermOrders
        : auctions            ? kSnapshotVersionAuctions
        : collateral          ? kSnapshotVersionCollateral
        : live                ? kSnapshotVersionLive
        : time_swaps_.Empty() ? kSnapshotVersion
                              : kSnapshotVersionTimeSwaps);
  w.U64(ref_.instruments().size());
  w.U64(ref_.pairs().size());
  w.U64(ref_.agencies().size());
  w.U64(last_seq_);
  w.I64(last_time_);
  w.U64(next_fill_id_);
  w.I64(retention_);
  w.U64(offers_.size());
  w.U64(offers_.size() - purged_);
  for (const Book& b : books_) w.U8(b.halted ? 1 : 0);
  for (std::size_t i = 0; live && i < live_.size(); ++i) {
    const LiveInstrument& li = live_[i];
    w.I64(li.value);
    w.I64(li.floor);
    w.U8(static_cast<std::uint8_t>(li.level));
    w.U8(li.pending ? 1 : 0);
    w.I64(li.next.reference_value);
    w.I64(li.next.floor);
    w.I64(li.next.effective_time);
  }
  if (live) {
    w.U64(members_.size());
    for (AgencyMask m : members_) w.U64(m);
  }
  if (live_terms) w.U8(1);
  for (const HoldingInfo& h : holdings_) {
    w.I64(h.available);
    w.I64(h.reserved);
  }
  // The offers not purged, by id.
  for (OfferId id = 1; id <= offers_.size(); ++id) {
    if (!offers_.Resident(id)) {  // a freed chunk: on to the first id of the next one
      id = ((id - 1) | (OfferStore::kChunk - 1)) + 1;
      continue;
    }
    if (offers_.Purged(id)) continue;
    const OfferRecord& r = offers_[id];
    w.U64(id);
    w.U32(r.agency);
    w.U32(r.pair);
    w.U8(static_cast<std::uint8_t>(r.side));
    w.U8(static_cast<std::uint8_t>(r.tif));
    w.U8(static_cast<std::uint8_t>(r.status));
    w.I64(r.price);
    w.I64(r.open);
    const ColdRecord& c = offers_.Cold(id);
    w.I64(c.original);
    w.I64(r.filled);
    w.I64(c.min_fill);
    w.I64(c.expiry);
    w.U64(c.allow);
    w.U64(c.deny);
    w.U64(c.client_id);
    w.U64(c.accepted_seq);
    w.I64(c.accepted_time);
  }
  // Finished offers not yet purged, in finishing order.
  w.U64(done_.size());
  for (std::size_t i = 0; i < done_.size(); ++i) {
    w.U64(done_[i].offer);
    w.I64(done_[i].time);
  }
  // Priority order: per pair, per side (bids then asks), levels in index order, FIFO.
  for (const Book& b : books_) {
    for (const BookSide* side : {&b.bids, &b.asks}) {
      std::uint64_t n = 0;
      if (b.allocated) {
        for (std::int64_t i = side->bits.NextAtOrAfter(0); i >= 0;
             i = side->bits.NextAtOrAfter(i + 1)) {
          n += side->levels[i].count;
        }
      }
      w.U64(n);
      if (!b.allocated) continue;
      for (std::int64_t i = side->bits.NextAtOrAfter(0); i >= 0;
           i = side->bits.NextAtOrAfter(i + 1)) {
        ForEachInPriority(side->levels[i], [&](OfferId id) { w.U64(id); });
      }
    }
  }
  if (auctions) {
    w.U64(needs.size());
    for (const auto& [id, d] : needs) {
      w.U64(id);
      w.I64(d.need);
      w.U8(static_cast<std::uint8_t>(d.tier));
    }
    for (const Book& b : books_) w.U8(b.uncross_pending ? 1 : 0);
  }
  if (deliveries) deliveries_.Save(&s);
  if (live || !time_swaps_.Empty()) {
    time_swaps_.Save(&s, collateral, term_orders, change_seqs);
  }
  return s;
}

absl::Status Engine::Impl::LoadState(absl::string_view bytes) {
  Reset();
  absl::Status st = LoadStateInner(bytes);
  if (!st.ok()) Reset();
  return st;
}

absl::Status Engine::Impl::LoadStateInner(absl::string_view bytes) {
  auto corrupt = [](std::size_t offset, absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat("engine snapshot: ", what, " at offset ", offset));
  };
  if (bytes.size() < sizeof kSnapshotMagic ||
      std::memcmp(bytes.data(), kSnapshotMagic, sizeof kSnapshotMagic) != 0) {
    return corrupt(0, "bad magic");
  }
  SnapshotReader r(bytes.substr(sizeof kSnapshotMagic));
  const std::size_t base = sizeof kSnapshotMagic;
  std::uint32_t version;
  if (!r.U32(&version)) return corrupt(base + r.pos(), "truncated header");
  if (version == 1) {
    return absl::FailedPreconditionError(
        "engine snapshot: version 1 predates offer retention (it does not say when finished "
        "offers finished, so they could not be purged as a replay purges them); recover "
        "from an older snapshot or the whole journal instead");
  }
  if (version != kSnapshotVersion && version != kSnapshotVersionTimeSwaps &&
      version != kSnapshotVersionLive && version != kSnapshotVersionCollateral &&
      version != kSnapshotVersionAuctions && version != kSnapshotVersionTermOrders &&
      version != kSnapshotVersionDeliveries && version != kSnapshotVersionChangeSeqs &&
      version != kSnapshotVersionLiveTerms) {
    return absl::FailedPreconditionError(
        absl::StrCat("engine snapshot: unsupported version ", version));
  }
  std::uint64_t ni, np, na, nrec, npresent;
  std::uint64_t seq, fill_id;
  std::int64_t time, retention;
  if (!r.U64(&ni) || !r.U64(&np) || !r.U64(&na) || !r.U64(&seq) || !r.I64(&time) ||
      !r.U64(&fill_id) || !r.I64(&retention) || !r.U64(&nrec) || !r.U64(&npresent)) {
    return corrupt(base + r.pos(), "truncated header");
  }
  if (retention < 0) return corrupt(base + r.pos(), "negative retention");
  if (npresent > nrec || npresent > bytes.size() / 64) {  // an offer takes > 64 bytes
    return corrupt(base + r.pos(), "offer count beyond the snapshot");
  }
  // At most one offer per command, and ids fit the chunk table (purged ids take no bytes,
  // so the snapshot's size cannot bound them).
  if (nrec > seq || nrec > (std::uint64_t{1} << 40)) {
    return corrupt(base + r.pos(), absl::StrCat("offer ids issued (", nrec,
                                                ") beyond the commands applied (", seq, ")"));
  }
  if (ni != ref_.instruments().size() || np != ref_.pairs().size() ||
      na != ref_.agencies().size()) {
    return absl::FailedPreconditionError(
        "engine snapshot: reference data differs (instrument, pair or agency count)");
  }
  last_seq_ = seq;
  last_time_ = time;
  next_fill_id_ = fill_id;
  retention_ = retention;
  for (Book& b : books_) {
    std::uint8_t h;
    if (!r.U8(&h)) return corrupt(base + r.pos(), "truncated halt flags");
    b.halted = h != 0;
  }
  if (version >= kSnapshotVersionLive) {
    // Live reference data; older images keep what Reset derived from the reference data.
    const std::size_t live_at = base + r.pos();
    for (InstrumentId i = 0; i < ni; ++i) {
      LiveInstrument& li = live_[i];
      std::uint8_t level, pending;
      if (!r.I64(&li.value) || !r.I64(&li.floor) || !r.U8(&level) || !r.U8(&pending) ||
          !r.I64(&li.next.reference_value) || !r.I64(&li.next.floor) ||
          !r.I64(&li.next.effective_time)) {
        return corrupt(base + r.pos(), "truncated live reference data");
      }
      li.level = static_cast<EmergencyLevel>(level);
      li.pending = pending == 1;
      li.next.instrument = li.pending ? i : 0;
      auto valid = [](MicroUsd value, MicroUsd floor) { return value > 0 && floor >= 0; };
      if (!ValidEmergencyLevel(level) || pending > 1 || !valid(li.value, li.floor) ||
          (li.pending ? !valid(li.next.reference_value, li.next.floor) || li.next.effective_time <= time
                      : li.next.reference_value != 0 || li.next.floor != 0 ||
                            li.next.effective_time != 0)) {
        return corrupt(live_at + kLiveEntryBytes * i,
                       absl::StrCat("invalid live reference data of instrument ", i));
      }
    }
    std::uint64_t ng;
    if (!r.U64(&ng)) return corrupt(base + r.pos(), "truncated agreements");
    if (ng != members_.size()) {
      return absl::FailedPreconditionError(
          "engine snapshot: reference data differs (agreement count)");
    }
    AgencyMask traders = 0;
    for (const Agency& a : ref_.agencies()) {
      if (a.role != Role::kAdmin) traders |= AgencyMask{1} << a.id;
    }
    for (AgencyMask& m : members_) {
      if (!r.U64(&m)) return corrupt(base + r.pos(), "truncated agreements");
      if ((m & ~traders) != 0) {
        return corrupt(base + r.pos() - 8, "agreement member that is not a trading agency");
      }
    }
    if (version >= kSnapshotVersionLiveTerms) {
      std::uint8_t terms_live;
      if (!r.U8(&terms_live)) return corrupt(base + r.pos(), "truncated terms_live");
      // Written only by an engine whose term books follow the live reference data.
      if (terms_live != 1) return corrupt(base + r.pos() - 1, "terms_live is not 1");
      // Before the time-swap section loads: its credit used is rebuilt at these values.
      time_swaps_.FollowLive(members_, LiveValues());
    }
    RecomputeEligibility();
    RecomputeNextReferenceTime();
    for (PairId p = 0; p < np; ++p) {
      PairBand band;
      if (!DeriveBand(p, &band)) {
        return corrupt(live_at, absl::StrCat("live reference data leaves pair ", p,
                                             " without a valid price"));
      }
      books_[p].guard = GuardOf(p);
      SetGrid(books_[p], band);  // no book is allocated yet
    }
    RecountDeliverBy();
  }
  const std::size_t holdings_at = base + r.pos();
  for (std::size_t k = 0; k < holdings_.size(); ++k) {
    HoldingInfo& h = holdings_[k];
    if (!r.I64(&h.available) || !r.I64(&h.reserved)) {
      return corrupt(base + r.pos(), "truncated holdings");
    }
    // SetHoldings never goes below what is reserved, and reservations are >= 0.
    if (h.available < 0 || h.reserved < 0) {
      return corrupt(holdings_at + 16 * k,
                     absl::StrCat("holdings of agency ", k / ni, " instrument ", k % ni,
                                  ": negative available (", h.available, ") or reserved (",
                                  h.reserved, ")"));
    }
  }
  for (std::size_t a = 0; a < na; ++a) {
    for (std::size_t i = 0; i < ni; ++i) {
      const HoldingInfo& h = holdings_[a * ni + i];
      // A state the engine wrote never overflows its totals (SetHoldings checks).
      Amount total;
      if (__builtin_add_overflow(h.available, h.reserved, &total) ||
          __builtin_add_overflow(totals_[i], total, &totals_[i])) {
        return corrupt(holdings_at + 16 * (a * ni + i), "holdings overflow");
      }
    }
  }
  std::uint64_t finished_records = 0;
  for (std::uint64_t k = 0; k < npresent; ++k) {
    std::uint64_t id;
    if (!r.U64(&id)) return corrupt(base + r.pos(), "truncated offer id");
    if (id <= offers_.size() || id > nrec) {
      return corrupt(base + r.pos(), absl::StrCat("offer id ", id, " out of order or range"));
    }
    offers_.SkipPurged(id - 1);
    OfferRecord& o = offers_.Append();
    ColdRecord& c = offers_.Cold(id);
    std::uint8_t side, tif, status;
    std::uint32_t agency;
    if (!r.U32(&agency) || !r.U32(&o.pair) || !r.U8(&side) || !r.U8(&tif) ||
        !r.U8(&status) || !r.I64(&o.price) || !r.I64(&o.open) || !r.I64(&c.original) ||
        !r.I64(&o.filled) || !r.I64(&c.min_fill) || !r.I64(&c.expiry) || !r.U64(&c.allow) ||
        !r.U64(&c.deny) || !r.U64(&c.client_id) || !r.U64(&c.accepted_seq) ||
        !r.I64(&c.accepted_time)) {
      return corrupt(base + r.pos(), absl::StrCat("truncated offer ", id));
    }
    if (agency >= na || o.pair >= np || side < 1 || side > 2 || tif < 1 || tif > 4 ||
        status < 1 || status > 4) {
      return corrupt(base + r.pos(), absl::StrCat("invalid offer ", id));
    }
    // Fills add to `filled` and Replace subtracts it from a new total: both stay in range
    // only for the lots an engine can reach (each command fills at most max_lots).
    if (o.open < 0 || o.filled < 0 || o.filled > kMaxSnapshotLots) {
      return corrupt(base + r.pos(), absl::StrCat("offer ", id, ": open lots (", o.open,
                                                  ") or filled lots (", o.filled,
                                                  ") out of range"));
    }
    o.agency = static_cast<std::uint8_t>(agency);  // na <= kMaxAgencies
    o.side = static_cast<Side>(side);
    o.tif = static_cast<TimeInForce>(tif);
    o.status = static_cast<OfferStatus>(status);
    finished_records += o.status != OfferStatus::kOpen;
    o.accept = (c.allow != 0 ? c.allow : kAllAgencies) & ~c.deny;
    if (c.client_id != 0) {
      if (client_index_.Find(o.agency, c.client_id) != kNil) {
        return corrupt(base + r.pos(), absl::StrCat("duplicate client id in offer ", id));
      }
      client_index_.Insert(o.agency, c.client_id, id);
    }
  }
  offers_.SkipPurged(nrec);
  purged_ = nrec - npresent;
  // The finished offers: each present, finished record once, finish times in order.
  std::uint64_t ndone;
  if (!r.U64(&ndone)) return corrupt(base + r.pos(), "truncated finished offers");
  if (ndone != (retention_ > 0 ? finished_records : 0)) {
    return corrupt(base + r.pos(), "finished offers do not match the finished records");
  }
  std::vector<OfferId> done_ids;
  done_ids.reserve(ndone);
  TimeNs prev_time = std::numeric_limits<TimeNs>::min();
  for (std::uint64_t k = 0; k < ndone; ++k) {
    DoneEntry d;
    if (!r.U64(&d.offer) || !r.I64(&d.time)) {
      return corrupt(base + r.pos(), "truncated finished offers");
    }
    if (d.offer == kNil || d.offer > nrec || offers_.Purged(d.offer) ||
        offers_[d.offer].status == OfferStatus::kOpen || d.time < prev_time ||
        d.time > last_time_) {
      return corrupt(base + r.pos(), absl::StrCat("invalid finished offer ", d.offer));
    }
    prev_time = d.time;
    done_.push_back(d);
    done_ids.push_back(d.offer);
  }
  std::sort(done_ids.begin(), done_ids.end());
  if (std::adjacent_find(done_ids.begin(), done_ids.end()) != done_ids.end()) {
    return corrupt(base + r.pos(), "an offer finished twice");
  }
  std::uint64_t open_seen = 0;
  // What the open offers reserve, per holding: must equal each holding's `reserved`
  // (the engine keeps them equal), or a cancel would release what was never reserved.
  std::vector<Amount> reserved(holdings_.size(), 0);
  for (PairId p = 0; p < np; ++p) {
    Book& b = books_[p];
    for (Side s : {Side::kBuy, Side::kSell}) {
      std::uint64_t n;
      if (!r.U64(&n)) return corrupt(base + r.pos(), "truncated book");
      for (std::uint64_t k = 0; k < n; ++k) {
        std::uint64_t id;
        if (!r.U64(&id)) return corrupt(base + r.pos(), "truncated book");
        if (id == kNil || id > nrec || offers_.Purged(id)) {
          return corrupt(base + r.pos(), "unknown offer in book");
        }
        OfferRecord& o = offers_[id];
        if (o.status != OfferStatus::kOpen || o.pair != p || o.side != s || o.open <= 0 ||
            o.price < b.low || o.price > b.high || (o.price - b.low) % b.tick != 0 ||
            o.prev != kNil || o.next != kNil) {
          return corrupt(base + r.pos(), absl::StrCat("inconsistent book entry ", id));
        }
        // Submit and Replace accept only offers whose reservation (both products) fits.
        Amount amount;
        if (!Reservation(b, s, o.open, o.price, &amount)) {
          return corrupt(base + r.pos(),
                         absl::StrCat("offer ", id, ": open lots ", o.open, " x price ",
                                      o.price, " (or x lot size ", b.lot_size,
                                      ") overflows"));
        }
        const std::size_t h = std::size_t{o.agency} * ni + (s == Side::kSell ? b.base : b.quote);
        if (__builtin_add_overflow(reserved[h], amount, &reserved[h])) {
          return corrupt(base + r.pos(),
                         absl::StrCat("offer ", id, ": reservations of agency ", o.agency,
                                      " overflow"));
        }
        o.status = OfferStatus::kFilled;  // marks "linked" until the check below
        EnsureAllocated(b);
        LinkTail(b, s == Side::kBuy ? b.bids : b.asks, id, o, (o.price - b.low) / b.tick);
        ++open_seen;
        if (o.tif == TimeInForce::kGtd) PushExpiry(offers_.Cold(id).expiry, id);
      }
    }
  }
  // Every present record is open (and linked) or finished (and in done_).
  if (open_seen + finished_records != npresent) {
    return corrupt(base + r.pos(), "open offer missing from books");
  }
  // Version 5: the allocation-auction section (checked once the book's offers are open
  // again, below).
  struct NeedEntry {
    std::uint64_t id;
    std::int64_t need;
    std::uint8_t tier;
    std::size_t at;  // offset, for the error
  };
  std::vector<NeedEntry> needs;
  if (version >= kSnapshotVersionAuctions) {
    std::uint64_t n;
    if (!r.U64(&n)) return corrupt(base + r.pos(), "truncated declared needs");
    if (n > open_seen) return corrupt(base + r.pos(), "more declared needs than open offers");
    needs.reserve(n);
    for (std::uint64_t k = 0; k < n; ++k) {
      NeedEntry e;
      e.at = base + r.pos();
      if (!r.U64(&e.id) || !r.I64(&e.need) || !r.U8(&e.tier)) {
        return corrupt(base + r.pos(), "truncated declared needs");
      }
      needs.push_back(e);
    }
    for (Book& b : books_) {
      std::uint8_t pending;
      if (!r.U8(&pending)) return corrupt(base + r.pos(), "truncated uncross flags");
      if (pending > 1 || (pending == 1 && (!b.halted || CallAuctionMode(b)))) {
        return corrupt(base + r.pos() - 1,
                       "uncross flag on a pair that is not halted or still auctions");
      }
      b.uncross_pending = pending == 1;
    }
  }
  if (version >= kSnapshotVersionDeliveries) {
    std::size_t consumed = 0;
    absl::Status st = deliveries_.Load(bytes.substr(base + r.pos()), base + r.pos(), ref_,
                                       {next_fill_id_, last_time_}, &consumed);
    if (!st.ok()) return st;
    if (!r.Skip(consumed)) return corrupt(base + r.pos(), "truncated deliveries");
  }
  // The time-swap section follows the books; its open lends reserve too.
  for (InstrumentId i = 0; i < ni; ++i) time_swaps_.SetLevel(i, live_[i].level);
  const bool with_time_swaps = version >= kSnapshotVersionTimeSwaps;
  if (with_time_swaps) {
    absl::Status st = time_swaps_.Load(bytes.substr(base + r.pos()), base + r.pos(),
                                       version >= kSnapshotVersionCollateral,
                                       version >= kSnapshotVersionTermOrders,
                                       version >= kSnapshotVersionChangeSeqs);
    if (!st.ok()) return st;
    if (!time_swaps_.AddReservations(&reserved)) {
      return corrupt(bytes.size(), "reservations of term lend offers overflow");
    }
  }
  for (std::size_t k = 0; k < holdings_.size(); ++k) {
    if (holdings_[k].reserved != reserved[k]) {
      return corrupt(holdings_at + 16 * k + 8,
                     absl::StrCat("holdings of agency ", k / ni, " instrument ", k % ni,
                                  ": reserved ", holdings_[k].reserved,
                                  " but its open offers reserve ", reserved[k]));
    }
  }
  // Restore the status of linked offers.
  for (PairId p = 0; p < np; ++p) {
    Book& b = books_[p];
    if (!b.allocated) continue;
    for (BookSide* side : {&b.bids, &b.asks}) {
      for (std::int64_t i = side->bits.NextAtOrAfter(0); i >= 0;
           i = side->bits.NextAtOrAfter(i + 1)) {
        const Level& l = side->levels[i];
        for (AgencyMask m = l.agencies; m != 0; m &= m - 1) {
          for (OfferId id = Lists(l)[__builtin_ctzll(m)].head; id != kNil;
               id = offers_[id].next) {
            offers_[id].status = OfferStatus::kOpen;
          }
        }
      }
    }
  }
  open_count_ = open_seen;
  OfferId last_need = kNil;
  for (const NeedEntry& e : needs) {
    if (e.id <= last_need || e.id > nrec || offers_.Purged(e.id) ||
        offers_[e.id].status != OfferStatus::kOpen || offers_[e.id].side != Side::kBuy ||
        e.need <= 0 || !ValidPriorityTier(e.tier)) {
      return corrupt(e.at, absl::StrCat("invalid declared need of offer ", e.id));
    }
    last_need = e.id;
    needs_[e.id] = DeclaredNeed{e.need, static_cast<PriorityTier>(e.tier)};
  }
  if (!with_time_swaps && !r.done()) return corrupt(base + r.pos(), "trailing bytes");
  return absl::OkStatus();
}

std::string Engine::SaveState() const { return impl_->SaveState(); }
absl::Status Engine::LoadState(absl::string_view bytes) { return impl_->LoadState(bytes); }
std::uint64_t Engine::StateDigest() const {
  // FNV-1a over the snapshot bytes: the snapshot is the whole state, canonically ordered.
  const std::string s = impl_->SaveState();
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace msx
