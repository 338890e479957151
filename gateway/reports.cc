#include "gateway/reports.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include "gateway/deliveries.h"
#include "gateway/translate.h"

namespace msx::gateway {
namespace {

// The obligation as command `seq` left it, from `ob` as it is now: undoes what later
// commands did to the fields no event carries (whether it was recalled and the due time the
// recall moved, what forfeit collateral covered, the pledge's state and how much of it was
// forfeit), by the sequence numbers the engine keeps of those changes. For a live report
// (`ob` as `seq` left it) it changes nothing; for one rebuilt from the journal it gives
// what the live report said. A change the engine knows no seq of (made before engine state
// version 9) shows as it is now.
ObligationInfo AsOf(const ReferenceData& ref, ObligationInfo ob, Seq seq) {
  if (ob.recalled_seq > seq) {
    ob.recalled = false;
    if (ob.book < ref.term_books().size()) {
      ob.due_time = ob.fill_time + ref.term_books()[ob.book].tenor;
    }
  }
  if (ob.forfeited_seq > seq) {
    ob.covered = 0;
    ob.collateral_forfeited = 0;
    ob.collateral_state = CollateralState::kPledged;
  }
  if (ob.released_seq > seq) ob.collateral_state = CollateralState::kPledged;
  return ob;
}

}  // namespace

Reports::Reports(const ReferenceData& ref, ExecHub* exec_hub, BookHub* book_hub,
                 std::size_t history_reports, Seq recovered_seq)
    : ref_(ref),
      exec_hub_(exec_hub),
      book_hub_(book_hub),
      history_reports_(history_reports),
      history_floor_(recovered_seq) {
  staged_reports_.reserve(256);
  staged_book_.reserve(256);
}

void Reports::OnApplied(const Engine& engine, const Command& cmd, absl::Span<const Event> events) {
  const std::size_t first = staged_reports_.size();
  Build(engine, cmd, events, &staged_reports_, &staged_book_, false, 0);
  for (std::size_t i = first; i < staged_reports_.size(); ++i) {
    history_.push_back(staged_reports_[i]);
  }
  while (history_.size() > history_reports_) {
    history_floor_ = std::max(history_floor_, history_.front().report->seq());
    history_.pop_front();
  }
}

void Reports::OnBatchSequenced(absl::Span<const CommandGroup> /*groups*/) {
  if (staged_reports_.empty() && staged_book_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_) {  // after a journal failure nothing more is published
      for (ExecOut& r : staged_reports_) pending_reports_.push_back(std::move(r));
      for (BookOut& b : staged_book_) pending_book_.push_back(std::move(b));
    }
  }
  staged_reports_.clear();
  staged_book_.clear();
}

void Reports::OnGroupDurable(Seq /*first_seq*/, Seq last_seq) {
  ready_reports_.clear();
  ready_book_.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!pending_reports_.empty() && pending_reports_.front().report->seq() <= last_seq) {
      ExecOut& r = pending_reports_.front();
      ready_reports_.emplace_back(r.agency, std::move(r.report));
      pending_reports_.pop_front();
    }
    while (!pending_book_.empty() && pending_book_.front().update->seq() <= last_seq) {
      BookOut& b = pending_book_.front();
      ready_book_.emplace_back(b.pair, std::move(b.update));
      pending_book_.pop_front();
    }
  }
  // One batch per hub: each stream then starts one write for all of its messages of this
  // group commit.
  exec_hub_->PublishBatch(ready_reports_);
  book_hub_->PublishBatch(ready_book_);
  ready_reports_.clear();
  ready_book_.clear();
}

void Reports::OnJournalFailed(Seq /*durable_seq*/) {
  std::lock_guard<std::mutex> lock(mu_);
  failed_ = true;
  pending_reports_.clear();
  pending_book_.clear();
}

bool Reports::RecentExecutions(AgencyId agency, Seq after, Seq last_seq,
                               std::vector<std::shared_ptr<const v1::ExecutionReport>>* out,
                               Seq* journal_upto) const {
  if (after >= last_seq) return true;
  if (after < history_floor_) {
    *journal_upto = history_floor_;
    return false;
  }
  auto it = std::partition_point(history_.begin(), history_.end(),
                                 [&](const ExecOut& r) { return r.report->seq() <= after; });
  for (; it != history_.end(); ++it) {
    if (it->agency == agency) out->push_back(it->report);
  }
  return true;
}

void Reports::HistoryReports(const Engine& engine, AgencyId agency,
                             absl::Span<const HistoryGroup> groups,
                             std::vector<std::shared_ptr<const v1::ExecutionReport>>* out) const {
  std::vector<ExecOut> reports;
  for (const HistoryGroup& g : groups) {
    reports.clear();
    Build(engine, g.command, g.events, &reports, nullptr, true, agency);
    for (ExecOut& r : reports) out->push_back(std::move(r.report));
  }
}

std::shared_ptr<v1::BookUpdate> Reports::BookSnapshot(const Engine& engine, PairId pair, int depth,
                                                      Seq seq) const {
  auto snapshot = std::make_shared<v1::BookUpdate>();
  snapshot->set_seq(seq);
  snapshot->set_time_ns(engine.last_time());
  ToProtoBook(ref_, pair, engine.GetDepth(pair, depth), seq, engine.IsHalted(pair),
              snapshot->mutable_snapshot());
  return snapshot;
}

void Reports::Build(const Engine& engine, const Command& cmd, absl::Span<const Event> events,
                    std::vector<ExecOut>* reports, std::vector<BookOut>* book,
                    bool only_agency_valid, AgencyId only_agency) const {
  // This command's reports, still private (mutable) until published.
  std::vector<std::pair<AgencyId, v1::ExecutionReport*>> built;
  auto wants = [&](AgencyId a) { return !only_agency_valid || a == only_agency; };
  auto new_report = [&](AgencyId agency) {
    auto r = std::make_shared<v1::ExecutionReport>();
    r->set_seq(cmd.seq);
    r->set_time_ns(cmd.time);
    reports->push_back(ExecOut{agency, r});
    built.emplace_back(agency, r.get());
    return r.get();
  };
  auto offer_info = [&](OfferId id) {
    std::optional<OfferInfo> info = engine.GetOffer(id);
    return info ? *info : OfferInfo{};
  };
  auto term_info = [&](OfferId id) {
    std::optional<OfferInfo> info = engine.GetTermOffer(id);
    return info ? *info : OfferInfo{};
  };
  auto new_book = [&](PairId pair) -> v1::BookUpdate* {
    if (book == nullptr || !book_hub_->interested(pair)) return nullptr;
    auto u = std::make_shared<v1::BookUpdate>();
    u->set_seq(cmd.seq);
    u->set_time_ns(cmd.time);
    book->push_back(BookOut{pair, u});
    return u.get();
  };
  // Every fill of a RunAuction is an auction's allocation (AUCTION.md "In the engine").
  const bool auction_fills = cmd.type == CommandType::kRunAuction;
  // Fill reports of this command by fill id: a fill's deliveries (kDelivery kOpened) come
  // after the command's own events and stamp its deliver-by on both parties' fills.
  std::vector<std::pair<std::uint64_t, v1::Fill*>> fill_reports;
  for (std::size_t ei = 0; ei < events.size(); ++ei) {
    const Event& e = events[ei];
    switch (e.type) {
      case EventType::kAccepted: {
        const AcceptedEvent& a = e.accepted;
        if (!wants(a.agency)) break;
        OfferInfo info = offer_info(a.offer);
        info.original_lots = a.lots;
        info.open_lots = a.lots;
        info.filled_lots = 0;
        info.price = a.price;
        info.status = OfferStatus::kOpen;
        ToProtoOffer(ref_, info, new_report(a.agency)->mutable_accepted()->mutable_offer());
        break;
      }
      case EventType::kFill: {
        const FillEvent& f = e.fill;
        if (wants(f.maker_agency)) {
          v1::Fill* fill = new_report(f.maker_agency)->mutable_fill();
          ToProtoFill(ref_, f, true, offer_info(f.maker_offer), fill, auction_fills);
          fill_reports.emplace_back(f.fill_id, fill);
        }
        if (wants(f.taker_agency)) {
          v1::Fill* fill = new_report(f.taker_agency)->mutable_fill();
          ToProtoFill(ref_, f, false, offer_info(f.taker_offer), fill, auction_fills);
          fill_reports.emplace_back(f.fill_id, fill);
        }
        if (v1::BookUpdate* u = new_book(f.pair)) {
          v1::Trade* t = u->mutable_trade();
          t->set_price(f.price);
          t->set_lots(f.lots);
          t->set_aggressor_side(ToProtoSide(f.aggressor_side));
        }
        break;
      }
      case EventType::kCancelled: {
        const CancelledEvent& c = e.cancelled;
        if (!wants(c.agency)) break;
        OfferInfo info = offer_info(c.offer);
        info.open_lots = 0;
        info.status = OfferStatus::kCancelled;
        v1::OfferCancelled* oc = new_report(c.agency)->mutable_cancelled();
        ToProtoOffer(ref_, info, oc->mutable_offer());
        oc->set_reason(ToProtoCancelReason(c.reason));
        oc->set_cancelled_lots(c.lots);
        break;
      }
      case EventType::kExpired: {
        const ExpiredEvent& x = e.expired;
        if (!wants(x.agency)) break;
        OfferInfo info = offer_info(x.offer);
        info.open_lots = 0;
        info.status = OfferStatus::kExpired;
        v1::OfferExpired* oe = new_report(x.agency)->mutable_expired();
        ToProtoOffer(ref_, info, oe->mutable_offer());
        oe->set_expired_lots(x.lots);
        break;
      }
      case EventType::kReplaced: {
        const ReplacedEvent& r = e.replaced;
        if (!wants(r.agency)) break;
        OfferInfo info = offer_info(r.offer);
        info.open_lots = r.lots;
        info.price = r.price;
        info.status = OfferStatus::kOpen;
        v1::OfferReplaced* orp = new_report(r.agency)->mutable_replaced();
        ToProtoOffer(ref_, info, orp->mutable_offer());
        orp->set_kept_priority(r.kept_priority);
        break;
      }
      case EventType::kBookLevel: {
        const BookLevelEvent& l = e.book_level;
        if (v1::BookUpdate* u = new_book(l.pair)) {
          v1::PriceLevelChange* c = u->mutable_level();
          c->set_side(ToProtoSide(l.side));
          c->set_price(l.price);
          c->set_lots(l.lots);
          c->set_offer_count(static_cast<std::int32_t>(l.offer_count));
        }
        break;
      }
      case EventType::kPairHalted:
        if (v1::BookUpdate* u = new_book(e.pair.pair)) u->set_halted(true);
        break;
      case EventType::kPairResumed:
        if (v1::BookUpdate* u = new_book(e.pair.pair)) u->set_halted(false);
        break;
      // Time swaps. Reports describe the state the event left, not today's (history
      // pages are built with a later engine): fixed fields come from the engine, the
      // changing ones from the event.
      case EventType::kTermAccepted: {
        const AcceptedEvent& a = e.accepted;
        if (!wants(a.agency)) break;
        OfferInfo info = term_info(a.offer);
        info.original_lots = a.lots;
        info.open_lots = a.lots;
        info.filled_lots = 0;
        info.price = a.price;
        info.status = OfferStatus::kOpen;
        ToProtoTermOffer(ref_, info,
                         new_report(a.agency)->mutable_term_accepted()->mutable_offer());
        break;
      }
      case EventType::kTermCancelled: {
        const CancelledEvent& c = e.cancelled;
        if (!wants(c.agency)) break;
        OfferInfo info = term_info(c.offer);
        info.open_lots = 0;
        info.status = OfferStatus::kCancelled;
        v1::TermOfferCancelled* oc = new_report(c.agency)->mutable_term_cancelled();
        ToProtoTermOffer(ref_, info, oc->mutable_offer());
        oc->set_reason(ToProtoCancelReason(c.reason));
        oc->set_cancelled_lots(c.lots);
        break;
      }
      case EventType::kTermReplaced: {
        const ReplacedEvent& p = e.replaced;
        if (!wants(p.agency)) break;
        OfferInfo info = term_info(p.offer);
        // As the replace left it: open lots and premium from the event, before any loan.
        info.open_lots = p.lots;
        info.price = p.price;
        info.status = OfferStatus::kOpen;
        v1::TermOfferReplaced* r = new_report(p.agency)->mutable_term_replaced();
        ToProtoTermOffer(ref_, info, r->mutable_offer());
        r->set_kept_priority(p.kept_priority);
        break;
      }
      case EventType::kTermExpired: {
        const ExpiredEvent& x = e.expired;
        if (!wants(x.agency)) break;
        OfferInfo info = term_info(x.offer);
        info.open_lots = 0;
        info.status = OfferStatus::kExpired;
        v1::TermOfferExpired* oe = new_report(x.agency)->mutable_term_expired();
        ToProtoTermOffer(ref_, info, oe->mutable_offer());
        oe->set_expired_lots(x.lots);
        break;
      }
      case EventType::kLoanFill: {
        const LoanFillEvent& l = e.loan_fill;
        std::optional<ObligationInfo> ob = engine.GetObligation(l.obligation);
        if (!ob) break;
        *ob = AsOf(ref_, *ob, cmd.seq);
        ob->returned = 0;
        ob->outstanding = ob->due_amount;
        ob->state = ObligationState::kOpen;
        ob->recalled = false;
        if (l.book < ref_.term_books().size()) ob->due_time = cmd.time + ref_.term_books()[l.book].tenor;
        // The maker's and the taker's view: each sees its own offer and what is open of it.
        for (bool maker : {true, false}) {
          const OfferId offer = maker ? l.maker_offer : l.taker_offer;
          const bool maker_lends = l.aggressor_side == Side::kBuy;
          const AgencyId agency = (maker == maker_lends) ? l.lender : l.borrower;
          if (!wants(agency)) continue;
          v1::ObligationReport* r = new_report(agency)->mutable_obligation();
          r->set_kind(v1::OBLIGATION_EVENT_KIND_OPENED);
          r->set_amount(ob->principal);
          ToProtoObligation(ref_, *ob, r->mutable_obligation());
          r->set_offer_id(offer);
          r->set_client_offer_id(term_info(offer).client_id);
          r->set_open_lots(maker ? l.maker_open : l.taker_open);
        }
        break;
      }
      case EventType::kObligation: {
        const ObligationEvent& o = e.obligation;
        std::optional<ObligationInfo> ob = engine.GetObligation(o.obligation);
        if (!ob) break;
        *ob = AsOf(ref_, *ob, cmd.seq);
        ob->outstanding = o.outstanding;
        ob->returned = ob->due_amount - o.outstanding - ob->covered;
        ob->state = o.state;
        ob->due_time = o.due_time;
        if (o.kind == ObligationEventKind::kRecalled) ob->recalled = true;
        for (AgencyId agency : {o.lender, o.borrower}) {
          if (!wants(agency)) continue;
          v1::ObligationReport* r = new_report(agency)->mutable_obligation();
          r->set_kind(ToProtoObligationEventKind(o.kind));
          r->set_amount(o.amount);
          ToProtoObligation(ref_, *ob, r->mutable_obligation());
        }
        break;
      }
      case EventType::kCollateral: {
        // A pledge reserved, released or handed over: both parties see it, as an
        // ObligationReport whose amount is in units of the collateral instrument.
        const CollateralEvent& c = e.collateral;
        std::optional<ObligationInfo> ob = engine.GetObligation(c.obligation);
        if (!ob) break;
        *ob = AsOf(ref_, *ob, cmd.seq);
        ob->outstanding = c.outstanding;
        ob->returned = ob->due_amount - c.outstanding - ob->covered;
        ob->state = c.state;
        v1::ObligationEventKind kind = v1::OBLIGATION_EVENT_KIND_COLLATERAL_PLEDGED;
        if (c.kind == CollateralEventKind::kReleased) {
          kind = v1::OBLIGATION_EVENT_KIND_COLLATERAL_RELEASED;
        } else if (c.kind == CollateralEventKind::kForfeited) {
          kind = v1::OBLIGATION_EVENT_KIND_COLLATERAL_FORFEITED;
        }
        for (AgencyId agency : {c.lender, c.borrower}) {
          if (!wants(agency)) continue;
          v1::ObligationReport* r = new_report(agency)->mutable_obligation();
          r->set_kind(kind);
          r->set_amount(c.amount);
          r->set_covered(c.covered);
          ToProtoObligation(ref_, *ob, r->mutable_obligation());
        }
        break;
      }
      // Emergencies: a level change goes to every trading agency (admin tokens have no
      // execution stream).
      case EventType::kEmergencyLevelSet: {
        const EmergencyLevelEvent& l = e.level_set;
        if (l.instrument >= ref_.instruments().size()) break;
        const std::string reason(l.reason,
                                 std::min<std::size_t>(l.reason_size, kMaxLevelReasonBytes));
        for (const Agency& a : ref_.agencies()) {
          if (a.role == Role::kAdmin || !wants(a.id)) continue;
          v1::LevelChanged* lc = new_report(a.id)->mutable_level_changed();
          lc->set_instrument(ref_.instruments()[l.instrument].symbol);
          lc->set_level(ToProtoLevel(l.level));
          lc->set_previous(ToProtoLevel(l.previous));
          lc->set_reason(reason);
        }
        break;
      }
      // Deliveries: both parties see each one opened, overdue or confirmed; an opened one
      // also stamps its fill's deliver-by on the fill reports of this command.
      case EventType::kDelivery: {
        const DeliveryEvent& d = e.delivery;
        if (d.kind == DeliveryEventKind::kOpened) {
          for (auto& [id, fill] : fill_reports) {
            if (id == d.fill_id) fill->set_deliver_by_ns(d.deliver_by);
          }
        }
        const DeliveryInfo info = DeliveryAsOf(engine, e);
        for (AgencyId agency : {d.deliverer, d.receiver}) {
          if (agency >= ref_.agencies().size() || !wants(agency)) continue;
          v1::DeliveryReport* r = new_report(agency)->mutable_delivery();
          r->set_kind(ToProtoDeliveryEventKind(d.kind));
          ToProtoDelivery(ref_, info, r->mutable_delivery());
        }
        break;
      }
      case EventType::kRejected:
      case EventType::kHoldingsSet:
      // The other emergency events reach no execution stream: what they do to an agency's
      // offers arrives as kCancelled, to books as kBookLevel.
      case EventType::kReferencePublished:
      case EventType::kPairBandChanged:
      case EventType::kMemberAdmitted:
      case EventType::kMemberSuspended:
        break;
      // Allocation auctions: the result goes to each agency the auction allocated to
      // (its fills follow: kFill up to the next book's kAuction); an auction that did not
      // cross, or allocated nothing, reaches no stream.
      case EventType::kAuction: {
        const AuctionEvent& x = e.auction;
        if (!x.crossed || x.executed == 0) break;
        std::array<Lots, kMaxAgencies> bought{}, sold{};
        AgencyMask parties = 0;
        for (std::size_t j = ei + 1; j < events.size() && events[j].type != EventType::kAuction;
             ++j) {
          if (events[j].type != EventType::kFill) continue;
          const FillEvent& f = events[j].fill;
          if (f.taker_agency >= kMaxAgencies || f.maker_agency >= kMaxAgencies) continue;
          bought[f.taker_agency] += f.lots;
          sold[f.maker_agency] += f.lots;
          parties |= (AgencyMask{1} << f.taker_agency) | (AgencyMask{1} << f.maker_agency);
        }
        for (AgencyId a = 0; a < kMaxAgencies; ++a) {
          if ((parties & (AgencyMask{1} << a)) == 0 || !wants(a)) continue;
          v1::AuctionResult* ar = new_report(a)->mutable_auction();
          ar->set_pair(x.pair < ref_.pairs().size() ? ref_.pairs()[x.pair].symbol : "?");
          ar->set_price(x.price);
          ar->set_executed_lots(x.executed);
          ar->set_executable_lots(x.executable);
          ar->set_supply_lots(x.supply);
          ar->set_demand_lots(x.demand);
          ar->set_agency_cap_lots(x.agency_cap);
          ar->set_bought_lots(bought[a]);
          ar->set_sold_lots(sold[a]);
        }
        break;
      }
    }
  }
  // Mark each agency's last report of this command (ExecutionReport.seq_complete).
  AgencyMask marked = 0;
  for (auto it = built.rbegin(); it != built.rend(); ++it) {
    AgencyMask bit = AgencyMask{1} << (it->first % kMaxAgencies);
    if ((marked & bit) != 0) continue;
    marked |= bit;
    it->second->set_seq_complete(true);
  }
}

}  // namespace msx::gateway
