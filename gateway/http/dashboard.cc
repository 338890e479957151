#include "gateway/http/dashboard.h"

#include <algorithm>
#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "gateway/translate.h"

namespace msx::gateway::http {
namespace {

using nlohmann::json;

// How often holdings and open offers are read (a query on the sequencer thread).
constexpr std::int64_t kAgencyQueryEveryNs = 500'000'000;
// Depth of the book snapshot a subscription starts from (levels per side); later level
// changes at any depth are applied too.
constexpr int kSnapshotDepth = 1000;

const char* SideName(int side) {
  switch (side) {
    case v1::SIDE_BUY:
      return "buy";
    case v1::SIDE_SELL:
      return "sell";
    default:
      return "";
  }
}

}  // namespace

// The hub subscriptions of the dashboard: one sink per pair and per agency (a hub hands a
// sink its messages without the key), all feeding one bounded inbox. Dropped as a whole:
// a new subscription gets new sinks and a new inbox, so nothing stale is ever applied.
struct Dashboard::Subscription : std::enable_shared_from_this<Dashboard::Subscription> {
  struct Snapshot {
    std::vector<v1::BookSnapshot> books;
    Seq seq = 0;
  };

  template <typename Msg>
  class KeySink final : public Sink<Msg> {
   public:
    KeySink(std::weak_ptr<Subscription> sub, std::size_t key) : sub_(std::move(sub)), key_(key) {}
    void Enqueue(const std::shared_ptr<const Msg>& msg, std::size_t /*bytes*/) override {
      if (auto s = sub_.lock()) s->Push(key_, msg);
    }
    void Kick() override {}
    void Close(const grpc::Status& /*status*/) override {
      closed_.store(true, std::memory_order_release);
    }
    bool closed() const override { return closed_.load(std::memory_order_acquire); }

   private:
    std::weak_ptr<Subscription> sub_;
    const std::size_t key_;
    std::atomic<bool> closed_{false};
  };

  void Push(std::size_t pair, const std::shared_ptr<const v1::BookUpdate>& u) {
    std::lock_guard<std::mutex> lock(mu);
    if (book_inbox.size() >= kMaxInbox) {
      overflow = true;  // the HTTP thread subscribes again from a fresh snapshot
      book_inbox.clear();
      return;
    }
    if (!overflow) book_inbox.emplace_back(pair, u);
  }
  void Push(std::size_t agency, const std::shared_ptr<const v1::ExecutionReport>& r) {
    if (!r->has_fill()) return;
    std::lock_guard<std::mutex> lock(mu);
    // Only the last kFills per agency are ever shown: older ones are dropped here.
    if (exec_inbox.size() >= kMaxInbox) exec_inbox.pop_front();
    exec_inbox.emplace_back(agency, r);
  }

  BookHub* book_hub = nullptr;
  ExecHub* exec_hub = nullptr;
  const Reports* reports = nullptr;
  std::vector<std::shared_ptr<KeySink<v1::BookUpdate>>> book_sinks;
  std::vector<std::shared_ptr<KeySink<v1::ExecutionReport>>> exec_sinks;

  std::mutex mu;
  bool cancelled = false;     // Unsubscribe ran
  bool counted = false;       // the query raised the pairs' interest counters
  bool added = false;         // the sinks are in the hubs
  std::unique_ptr<Snapshot> snapshot;  // delivered by the query, taken by the HTTP thread
  bool failed = false;        // the query failed (shutdown, journal failure)
  std::vector<std::pair<std::size_t, std::shared_ptr<const v1::BookUpdate>>> book_inbox;
  std::deque<std::pair<std::size_t, std::shared_ptr<const v1::ExecutionReport>>> exec_inbox;
  bool overflow = false;

  // Leaves the hubs. Never holds `mu` while calling into a hub: a publishing hub holds
  // its lock while it calls Push, which takes `mu`.
  void Cancel() {
    bool was_added, was_counted;
    {
      std::lock_guard<std::mutex> lock(mu);
      cancelled = true;
      was_added = added;
      was_counted = counted;
      counted = false;
    }
    // Closed sinks are also swept by the hubs, should an Add race this.
    for (auto& s : book_sinks) s->Close(grpc::Status::CANCELLED);
    for (auto& s : exec_sinks) s->Close(grpc::Status::CANCELLED);
    if (was_added) {
      for (std::size_t p = 0; p < book_sinks.size(); ++p) book_hub->Remove(p, book_sinks[p].get());
      for (std::size_t a = 0; a < exec_sinks.size(); ++a) exec_hub->Remove(a, exec_sinks[a].get());
    }
    if (was_counted) {
      for (std::size_t p = 0; p < book_sinks.size(); ++p) {
        book_hub->interest(p).fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }
};

// The snapshot query of a subscription: runs on the sequencer thread, joins the hubs when
// the state it read is durable (as StreamBook does, with the floor = its seq).
class SubscribeWork final : public Work {
 public:
  explicit SubscribeWork(std::shared_ptr<Dashboard::Subscription> sub) : sub_(std::move(sub)) {}
  void Query(const SequencerView& view) override {
    std::lock_guard<std::mutex> lock(sub_->mu);
    if (sub_->cancelled) return;
    auto snap = std::make_unique<Dashboard::Subscription::Snapshot>();
    snap->seq = view.last_seq;
    for (const PairBook& p : view.ref.pairs()) {
      // From here on the sequencer builds this pair's updates (seq > view.last_seq).
      sub_->book_hub->interest(p.id).fetch_add(1, std::memory_order_acq_rel);
      // Built where StreamBook's snapshot is (Reports: the one place of stream messages).
      snap->books.push_back(
          sub_->reports->BookSnapshot(view.engine, p.id, kSnapshotDepth, view.last_seq)->snapshot());
    }
    sub_->counted = true;
    pending_ = std::move(snap);
  }
  void Complete(const absl::Status& status) override {
    Seq floor = 0;
    bool add = false;
    {
      std::lock_guard<std::mutex> lock(sub_->mu);
      if (!status.ok() || pending_ == nullptr) {
        sub_->failed = !sub_->cancelled;
      } else if (!sub_->cancelled) {
        floor = pending_->seq;
        sub_->snapshot = std::move(pending_);
        sub_->added = add = true;
      }
    }
    if (add) {
      // Messages of commands after the snapshot only; this group commit's earlier
      // commands are published after this answer (hubs.h).
      for (std::size_t p = 0; p < sub_->book_sinks.size(); ++p) {
        sub_->book_hub->Add(p, sub_->book_sinks[p], floor);
      }
      for (std::size_t a = 0; a < sub_->exec_sinks.size(); ++a) {
        sub_->exec_hub->Add(a, sub_->exec_sinks[a], floor);
      }
    }
    delete this;
  }

 private:
  std::shared_ptr<Dashboard::Subscription> sub_;
  std::unique_ptr<Dashboard::Subscription::Snapshot> pending_;
};

// Holdings and open offers of every agency, read on the sequencer thread; the HTTP thread
// picks the result up at a later tick.
struct Dashboard::AgencyQuery {
  struct Result {
    std::string holdings_json;
    std::string offers_json;
    std::int64_t open_offers = 0;
    std::string obligations_json;
  };
  struct PairLive {
    EmergencyLevel level = EmergencyLevel::kNormal;
    PairBand band;
  };
  std::mutex mu;
  bool done = false;
  bool ok = false;
  std::vector<Result> results;  // per agency
  std::vector<PairLive> pairs;  // per pair
};

namespace {

// The agency's open and overdue obligations (time swaps), as lender or borrower, the
// newest Dashboard::kObligations first. Names the counterparty: both sides of a loan know
// whom they lent to or owe (as their execution reports say).
std::string ObligationsJson(const Engine& engine, const ReferenceData& ref, AgencyId agency) {
  json list = json::array();
  if (ref.term_books().empty()) return list.dump();
  std::vector<ObligationInfo> obligations = engine.ListObligations(agency);
  for (auto it = obligations.rbegin(); it != obligations.rend(); ++it) {
    const ObligationInfo& o = *it;
    if (o.state == ObligationState::kClosed) continue;
    if (list.size() == Dashboard::kObligations) break;
    const bool lender = o.lender == agency;
    const Instrument& in = ref.instruments()[o.instrument];
    list.push_back({{"obligation_id", o.id},
                    {"term_book", ref.term_books()[o.book].symbol},
                    {"role", lender ? "lender" : "borrower"},
                    {"counterparty", ref.agencies()[lender ? o.borrower : o.lender].code},
                    {"instrument", in.symbol},
                    {"unit", in.unit},
                    {"due_amount", o.due_amount},
                    {"outstanding", o.outstanding},
                    {"due_time_ns", o.due_time},
                    {"state", o.state == ObligationState::kOverdue ? "overdue" : "open"},
                    {"recalled", o.recalled}});
  }
  return list.dump();
}

class AgencyQueryWork final : public Work {
 public:
  explicit AgencyQueryWork(std::shared_ptr<Dashboard::AgencyQuery> q) : q_(std::move(q)) {}
  void Query(const SequencerView& view) override {
    const ReferenceData& ref = view.ref;
    results_.resize(ref.agencies().size());
    for (const Agency& a : ref.agencies()) {
      json holdings = json::array();
      for (const Instrument& i : ref.instruments()) {
        HoldingInfo h = view.engine.GetHoldings(a.id, i.id);
        if (h.available == 0 && h.reserved == 0) continue;
        holdings.push_back({{"instrument", i.symbol},
                            {"unit", i.unit},
                            {"available", h.available},
                            {"reserved", h.reserved}});
      }
      std::vector<OfferInfo> offers = view.engine.ListOpenOffers(a.id);
      json list = json::array();
      // The newest kOffers (offer ids grow with time).
      const std::size_t from = offers.size() > Dashboard::kOffers ? offers.size() - Dashboard::kOffers : 0;
      for (std::size_t k = offers.size(); k > from; --k) {
        const OfferInfo& o = offers[k - 1];
        list.push_back({{"offer_id", o.id},
                        {"client_offer_id", o.client_id},
                        {"pair", ref.pairs()[o.pair].symbol},
                        {"side", o.side == Side::kBuy ? "buy" : "sell"},
                        {"price", o.price},
                        {"open_lots", o.open_lots},
                        {"filled_lots", o.filled_lots}});
      }
      Dashboard::AgencyQuery::Result& r = results_[a.id];
      r.holdings_json = holdings.dump();
      r.offers_json = list.dump();
      r.open_offers = static_cast<std::int64_t>(offers.size());
      r.obligations_json = ObligationsJson(view.engine, ref, a.id);
    }
    pairs_.resize(ref.pairs().size());
    for (const PairBook& p : ref.pairs()) {
      pairs_[p.id].level = view.engine.GetPairLevel(p.id);
      pairs_[p.id].band = view.engine.GetPairBand(p.id);
    }
  }
  void Complete(const absl::Status& status) override {
    {
      std::lock_guard<std::mutex> lock(q_->mu);
      q_->ok = status.ok() && !results_.empty();
      q_->results = std::move(results_);
      q_->pairs = std::move(pairs_);
      q_->done = true;
    }
    delete this;
  }

 private:
  std::shared_ptr<Dashboard::AgencyQuery> q_;
  std::vector<Dashboard::AgencyQuery::Result> results_;
  std::vector<Dashboard::AgencyQuery::PairLive> pairs_;
};

}  // namespace

Dashboard::Dashboard(const ReferenceData& ref, Sequencer* sequencer, const Reports* reports,
                     ExecHub* exec_hub, BookHub* book_hub, StatusSource status)
    : ref_(ref),
      sequencer_(sequencer),
      reports_(reports),
      exec_hub_(exec_hub),
      book_hub_(book_hub),
      status_(std::move(status)),
      pairs_(ref.pairs().size()),
      agencies_(ref.agencies().size()),
      sections_(1 + ref.pairs().size() + ref.agencies().size()) {
  // The configured bands until the first query reads the live ones.
  for (const PairBook& p : ref.pairs()) {
    pairs_[p.id].band = PairBand{p.reference_price, p.band_low, p.band_high, p.floor_price};
  }
}

Dashboard::~Dashboard() { Unsubscribe(); }

void Dashboard::AddClient() {
  if (clients_++ == 0) Subscribe();
}

void Dashboard::RemoveClient() {
  if (--clients_ == 0) Unsubscribe();
}

void Dashboard::Subscribe() {
  auto sub = std::make_shared<Subscription>();
  sub->book_hub = book_hub_;
  sub->exec_hub = exec_hub_;
  sub->reports = reports_;
  for (std::size_t p = 0; p < ref_.pairs().size(); ++p) {
    sub->book_sinks.push_back(
        std::make_shared<Subscription::KeySink<v1::BookUpdate>>(sub, p));
  }
  for (std::size_t a = 0; a < ref_.agencies().size(); ++a) {
    sub->exec_sinks.push_back(
        std::make_shared<Subscription::KeySink<v1::ExecutionReport>>(sub, a));
  }
  subscription_ = sub;
  auto* work = new SubscribeWork(sub);
  if (!sequencer_->SubmitQuery(work).ok()) {
    delete work;
    std::lock_guard<std::mutex> lock(sub->mu);
    sub->failed = true;  // retried at the next tick
  }
}

void Dashboard::Unsubscribe() {
  if (subscription_ == nullptr) return;
  subscription_->Cancel();
  subscription_.reset();
}

void Dashboard::ApplyBookUpdate(std::size_t pair, const v1::BookUpdate& u) {
  PairState& p = pairs_[pair];
  p.seq = std::max<std::uint64_t>(p.seq, u.seq());
  p.dirty = true;
  switch (u.update_case()) {
    case v1::BookUpdate::kLevel: {
      const v1::PriceLevelChange& c = u.level();
      auto apply = [&](auto& side) {
        if (c.lots() == 0) {
          side.erase(c.price());
        } else {
          side[c.price()] = Level{c.lots(), c.offer_count()};
        }
      };
      if (c.side() == v1::SIDE_BUY) {
        apply(p.bids);
      } else {
        apply(p.asks);
      }
      break;
    }
    case v1::BookUpdate::kTrade: {
      const v1::Trade& t = u.trade();
      p.trades.push_back(Trade{u.seq(), u.time_ns(), t.price(), t.lots(),
                               static_cast<int>(t.aggressor_side())});
      while (p.trades.size() > kTrades) p.trades.pop_front();
      break;
    }
    case v1::BookUpdate::kHalted:
      p.halted = u.halted();
      break;
    default:
      break;
  }
}

void Dashboard::Tick(std::int64_t now_ns) {
  if (subscription_ != nullptr) {
    std::unique_ptr<Subscription::Snapshot> snapshot;
    std::vector<std::pair<std::size_t, std::shared_ptr<const v1::BookUpdate>>> book;
    std::deque<std::pair<std::size_t, std::shared_ptr<const v1::ExecutionReport>>> exec;
    bool resubscribe = false;
    {
      std::lock_guard<std::mutex> lock(subscription_->mu);
      snapshot = std::move(subscription_->snapshot);
      book.swap(subscription_->book_inbox);
      exec.swap(subscription_->exec_inbox);
      resubscribe = subscription_->overflow || subscription_->failed;
      if (subscription_->overflow) ++inbox_overflows_;
    }
    if (snapshot != nullptr) {
      for (std::size_t i = 0; i < snapshot->books.size(); ++i) {
        const v1::BookSnapshot& b = snapshot->books[i];
        PairState& p = pairs_[i];
        p.bids.clear();
        p.asks.clear();
        for (const v1::PriceLevel& l : b.bids()) p.bids[l.price()] = Level{l.lots(), l.offer_count()};
        for (const v1::PriceLevel& l : b.asks()) p.asks[l.price()] = Level{l.lots(), l.offer_count()};
        p.halted = b.halted();
        p.seq = b.seq();
        p.dirty = true;
      }
    }
    for (const auto& [pair, u] : book) ApplyBookUpdate(pair, *u);
    for (const auto& [agency, r] : exec) {
      const v1::Fill& f = r->fill();
      json j = {{"seq", r->seq()},         {"time_ns", r->time_ns()},
                {"fill_id", f.fill_id()},  {"pair", f.pair()},
                {"side", SideName(f.side())}, {"aggressor", f.aggressor()},
                {"counterparty", f.counterparty()}, {"lots", f.lots()},
                {"price", f.price()},      {"base_amount", f.base_amount()},
                {"quote_amount", f.quote_amount()}};
      AgencyState& a = agencies_[agency];
      a.fills.push_back(j.dump());
      while (a.fills.size() > kFills) a.fills.pop_front();
      a.dirty = true;
    }
    if (resubscribe) {
      ++resubscriptions_;
      Unsubscribe();
      Subscribe();
    }
  }
  // Holdings and open offers.
  if (agency_query_ != nullptr) {
    std::lock_guard<std::mutex> lock(agency_query_->mu);
    if (agency_query_->done) {
      if (agency_query_->ok) {
        for (std::size_t a = 0; a < agency_query_->results.size(); ++a) {
          AgencyQuery::Result& r = agency_query_->results[a];
          AgencyState& s = agencies_[a];
          if (s.holdings_json != r.holdings_json || s.offers_json != r.offers_json ||
              s.open_offers != r.open_offers || s.obligations_json != r.obligations_json) {
            s.holdings_json = std::move(r.holdings_json);
            s.offers_json = std::move(r.offers_json);
            s.open_offers = r.open_offers;
            s.obligations_json = std::move(r.obligations_json);
            s.dirty = true;
          }
        }
        for (std::size_t p = 0; p < agency_query_->pairs.size() && p < pairs_.size(); ++p) {
          const AgencyQuery::PairLive& live = agency_query_->pairs[p];
          PairState& ps = pairs_[p];
          const std::string level(EmergencyLevelName(live.level));
          if (ps.level != level || ps.band.reference_price != live.band.reference_price ||
              ps.band.band_low != live.band.band_low ||
              ps.band.band_high != live.band.band_high ||
              ps.band.floor_price != live.band.floor_price) {
            ps.level = level;
            ps.band = live.band;
            ps.dirty = true;
          }
        }
      }
      agency_query_.reset();
    }
  }
  // Sections (nobody to send them to: built again when a client comes).
  if (clients_ == 0) return;
  if (status_.status_json) {
    SetSection(0, "status",
               absl::StrCat("{", status_.status_json(), ",\"dashboard_clients\":", clients_,
                            "}"));
  }
  // A dirty section waits for its interval: the changes meanwhile are folded into it.
  for (std::size_t p = 0; p < pairs_.size(); ++p) {
    PairState& ps = pairs_[p];
    if (!ps.dirty || now_ns - ps.built_ns < kPairSectionEveryNs) continue;
    ps.dirty = false;
    ps.built_ns = now_ns;
    SetSection(1 + p, "pair", PairJson(p));
  }
  for (std::size_t a = 0; a < agencies_.size(); ++a) {
    AgencyState& as = agencies_[a];
    if (!as.dirty || now_ns - as.built_ns < kAgencySectionEveryNs) continue;
    as.dirty = false;
    as.built_ns = now_ns;
    SetSection(1 + pairs_.size() + a, "agency", AgencyJson(a));
  }
  // After the status was read: the query would show in its queue depth.
  if (agency_query_ == nullptr &&
      now_ns - last_agency_query_ns_ >= kAgencyQueryEveryNs) {
    last_agency_query_ns_ = now_ns;
    auto q = std::make_shared<AgencyQuery>();
    auto* work = new AgencyQueryWork(q);
    if (sequencer_->SubmitQuery(work).ok()) {
      agency_query_ = q;
    } else {
      delete work;
    }
  }
}

void Dashboard::SetSection(std::size_t index, const std::string& kind, const std::string& json) {
  std::string message = absl::StrCat("event: ", kind, "\ndata: ", json, "\n\n");
  Section& s = sections_[index];
  if (s.message == message) return;
  s.message = std::move(message);
  s.version = ++version_;
}

std::string Dashboard::PairJson(std::size_t pair) const {
  const PairBook& book = ref_.pairs()[pair];
  const PairState& p = pairs_[pair];
  json bids = json::array();
  json asks = json::array();
  for (const auto& [price, l] : p.bids) {
    if (bids.size() == kLadderLevels) break;
    bids.push_back({price, l.lots, l.offers});
  }
  for (const auto& [price, l] : p.asks) {
    if (asks.size() == kLadderLevels) break;
    asks.push_back({price, l.lots, l.offers});
  }
  json trades = json::array();
  for (auto it = p.trades.rbegin(); it != p.trades.rend(); ++it) {
    trades.push_back({{"seq", it->seq},
                      {"time_ns", it->time_ns},
                      {"price", it->price},
                      {"lots", it->lots},
                      {"aggressor", SideName(it->side)}});
  }
  json j = {{"pair", book.symbol},
            {"base", ref_.instruments()[book.base].symbol},
            {"quote", ref_.instruments()[book.quote].symbol},
            {"seq", p.seq},
            {"halted", p.halted},
            {"bids", bids},
            {"asks", asks},
            {"trades", trades},
            {"emergency_level", p.level},
            {"band",
             {{"reference", p.band.reference_price},
              {"low", p.band.band_low},
              {"high", p.band.band_high},
              {"floor", p.band.floor_price}}}};
  return j.dump();
}

std::string Dashboard::AgencyJson(std::size_t agency) const {
  const AgencyState& a = agencies_[agency];
  std::string fills = "[";
  for (auto it = a.fills.rbegin(); it != a.fills.rend(); ++it) {
    if (fills.size() > 1) fills.push_back(',');
    fills += *it;
  }
  fills.push_back(']');
  return absl::StrCat("{\"agency\":", json(ref_.agencies()[agency].code).dump(),
                      ",\"holdings\":", a.holdings_json, ",\"open_offers\":", a.open_offers,
                      ",\"offers\":", a.offers_json, ",\"fills\":", fills,
                      ",\"obligations\":", a.obligations_json, "}");
}

std::string Dashboard::NextMessage(const Caller& caller, ClientCursor* cursor) const {
  std::string out;
  for (std::size_t i = 0; i < sections_.size(); ++i) {
    const Section& s = sections_[i];
    if (s.version == 0) continue;
    if (i > pairs_.size()) {
      const std::size_t agency = i - 1 - pairs_.size();
      if (!caller.admin && caller.agency != agency) continue;
    }
    if (cursor->Take(i, s.version)) out += s.message;
  }
  return out;
}

std::string Dashboard::HelloMessage(const Caller& caller) const {
  json pairs = json::array();
  for (const PairBook& p : ref_.pairs()) pairs.push_back(p.symbol);
  json agencies = json::array();
  for (const Agency& a : ref_.agencies()) {
    if (caller.admin || caller.agency == a.id) agencies.push_back(a.code);
  }
  json j = {{"agency", ref_.agencies()[caller.agency].code},
            {"admin", caller.admin},
            {"pairs", pairs},
            {"agencies", agencies}};
  return absl::StrCat("event: hello\ndata: ", j.dump(), "\n\n");
}

}  // namespace msx::gateway::http
