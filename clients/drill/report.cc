#include "clients/drill/report.h"

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "clients/drill/chart_axis.h"
#include "clients/drill/drill_journal.h"
#include "clients/drill/format.h"
#include "clients/drill/scenario.h"
#include "engine/journal/json.h"
#include "engine/journal/reader.h"

namespace msx::drill {

std::int64_t NearestRank(const std::vector<std::int64_t>& sorted, int percent) {
  if (sorted.empty()) return 0;
  const std::uint64_t n = sorted.size();
  // ceil(percent * n / 100), at least 1.
  std::uint64_t rank = (static_cast<std::uint64_t>(percent) * n + 99) / 100;
  if (rank == 0) rank = 1;
  return sorted[rank - 1];
}

LatencyStats ComputeLatency(std::vector<std::int64_t>* samples) {
  std::sort(samples->begin(), samples->end());
  LatencyStats s;
  s.count = samples->size();
  if (s.count == 0) return s;
  s.p50 = NearestRank(*samples, 50);
  s.p90 = NearestRank(*samples, 90);
  s.max = samples->back();
  return s;
}

ReportBuilder::ReportBuilder(const ReferenceData& ref, int top_minutes)
    : ref_(ref),
      top_minutes_(top_minutes),
      num_instruments_(ref.instruments().size()),
      offers_(1),
      pairs_(ref.pairs().size()),
      obligations_(1),
      loans_(ref.instruments().size()),
      holdings_(ref.agencies().size() * ref.instruments().size(), 0),
      received_(holdings_.size(), 0),
      delivered_(holdings_.size(), 0),
      agency_fills_(ref.agencies().size(), 0),
      volume_by_second_(ref.instruments().size()),
      agency_loans_(ref),
      needs_(ref),
      deliveries_(ref) {}

namespace {

void AddVolume(std::vector<VolumePoint>* points, std::int64_t second, Amount volume) {
  if (points->empty() || points->back().second != second) points->push_back({second, 0});
  points->back().volume += volume;
}

}  // namespace

void ReportBuilder::FirstFill(OfferId id, TimeNs time) {
  if (id >= offers_.size())
    return;  // not accepted in this stream (cannot happen for
             // an engine's own events)
  OfferTrack& o = offers_[id];
  if (o.filled) return;
  o.filled = true;
  pairs_[o.pair].first_fill.push_back(time - o.accepted_time);
}

void ReportBuilder::Add(const Command& cmd, absl::Span<const Event> events) {
  if (!have_before_ && cmd.type != CommandType::kSetHoldings) {
    before_ = holdings_;
    have_before_ = true;
    data_.holdings_before_seq = cmd.seq;
  }
  if (data_.commands == 0) {
    data_.first_seq = cmd.seq;
    data_.first_time = cmd.time;
  }
  ++data_.commands;
  data_.last_seq = cmd.seq;
  data_.last_time = cmd.time;
  needs_.Add(cmd, events);
  const auto& pairs = ref_.pairs();
  for (const Event& e : events) {
    agency_loans_.Add(e);
    deliveries_.Add(e);
    switch (e.type) {
      case EventType::kAccepted: {
        const AcceptedEvent& a = e.accepted;
        // Offer ids are dense (1, 2, 3, ...): an id beyond the next one cannot come from an
        // engine, and tracking it could mean a huge allocation, so it is not tracked.
        if (a.offer > offers_.size()) break;
        if (a.offer == offers_.size()) offers_.emplace_back();
        OfferTrack& o = offers_[a.offer];
        o.accepted_time = e.time;
        o.open = a.lots;
        o.price = a.price;
        o.pair = a.pair;
        o.side = a.side;
        o.filled = false;
        if (a.pair < pairs_.size()) ++pairs_[a.pair].offers;
        ++data_.offers_accepted;
        break;
      }
      case EventType::kRejected:
        ++data_.rejects;
        break;
      case EventType::kFill: {
        const FillEvent& f = e.fill;
        if (f.pair >= pairs_.size()) break;
        ++data_.fills;
        PairAcc& p = pairs_[f.pair];
        ++p.fills;
        p.lots += f.lots;
        p.base_volume += f.base_amount;
        p.quote_volume += f.quote_amount;
        FirstFill(f.maker_offer, e.time);
        FirstFill(f.taker_offer, e.time);
        if (f.maker_offer < offers_.size()) offers_[f.maker_offer].open = f.maker_open;
        if (f.taker_offer < offers_.size()) offers_[f.taker_offer].open = f.taker_open;
        const PairBook& book = pairs[f.pair];
        const std::int64_t second = FloorDiv(e.time, 1'000'000'000);
        AddVolume(&volume_by_second_[book.base], second, f.base_amount);
        AddVolume(&volume_by_second_[book.quote], second, f.quote_amount);
        const bool taker_sells = f.aggressor_side == Side::kSell;
        const AgencyId seller = taker_sells ? f.taker_agency : f.maker_agency;
        const AgencyId buyer = taker_sells ? f.maker_agency : f.taker_agency;
        const std::size_t s_base = seller * num_instruments_ + book.base;
        const std::size_t s_quote = seller * num_instruments_ + book.quote;
        const std::size_t b_base = buyer * num_instruments_ + book.base;
        const std::size_t b_quote = buyer * num_instruments_ + book.quote;
        if (s_quote >= holdings_.size() || b_quote >= holdings_.size()) break;
        holdings_[s_base] -= f.base_amount;
        delivered_[s_base] += f.base_amount;
        holdings_[s_quote] += f.quote_amount;
        received_[s_quote] += f.quote_amount;
        holdings_[b_base] += f.base_amount;
        received_[b_base] += f.base_amount;
        holdings_[b_quote] -= f.quote_amount;
        delivered_[b_quote] += f.quote_amount;
        ++agency_fills_[seller];
        ++agency_fills_[buyer];
        // Time only moves forward, so minutes arrive in ascending order.
        const TimeNs minute =
            e.time >= 0 ? e.time / 60'000'000'000 : (e.time + 1) / 60'000'000'000 - 1;
        if (minutes_.empty() || minutes_.back().first != minute) minutes_.emplace_back(minute, 0);
        ++minutes_.back().second;
        break;
      }
      case EventType::kCancelled:
        if (e.cancelled.offer < offers_.size()) offers_[e.cancelled.offer].open = 0;
        break;
      case EventType::kExpired:
        if (e.expired.offer < offers_.size()) offers_[e.expired.offer].open = 0;
        break;
      case EventType::kReplaced:
        if (e.replaced.offer < offers_.size()) {
          offers_[e.replaced.offer].open = e.replaced.lots;
          offers_[e.replaced.offer].price = e.replaced.price;
        }
        break;
      case EventType::kHoldingsSet: {
        const HoldingsSetEvent& h = e.holdings_set;
        if (h.agency < ref_.agencies().size() && h.instrument < num_instruments_) {
          Holding(h.agency, h.instrument) = h.available + h.reserved;
        }
        break;
      }
      case EventType::kBookLevel:
        continue;  // market data: not journaled, not counted
      case EventType::kPairHalted:
      case EventType::kPairResumed:
      case EventType::kAuction:  // its fills are counted as kFill
      case EventType::kDelivery:
        break;
      // Time swaps: holdings follow the units that move (the near leg, and what goes back
      // to the lender); loans are not reported yet.
      case EventType::kLoanFill: {
        const LoanFillEvent& f = e.loan_fill;
        if (f.book >= ref_.term_books().size()) break;
        const InstrumentId i = ref_.term_books()[f.book].instrument;
        const std::size_t lender = f.lender * num_instruments_ + i;
        const std::size_t borrower = f.borrower * num_instruments_ + i;
        if (lender >= holdings_.size() || borrower >= holdings_.size()) break;
        const Amount principal = f.lots * ref_.instruments()[i].lot_size;
        holdings_[lender] -= principal;
        holdings_[borrower] += principal;
        ++loans_[i].opened;
        loans_[i].lent += principal;
        // Obligation ids are the loans' fill numbers, 1, 2, 3, ...: a gap is not tracked.
        if (f.obligation == obligations_.size()) obligations_.emplace_back();
        if (f.obligation != 0 && f.obligation < obligations_.size()) {
          obligations_[f.obligation] = ObligationTrack{i, f.due_amount, ObligationState::kOpen};
        }
        break;
      }
      case EventType::kObligation: {
        const ObligationEvent& o = e.obligation;
        const std::size_t lender = o.lender * num_instruments_ + o.instrument;
        const std::size_t borrower = o.borrower * num_instruments_ + o.instrument;
        if (lender >= holdings_.size() || borrower >= holdings_.size()) break;
        if (o.instrument >= num_instruments_) break;
        holdings_[borrower] -= o.amount;
        holdings_[lender] += o.amount;
        loans_[o.instrument].paid_back += o.amount;
        if (o.obligation == 0 || o.obligation >= obligations_.size()) break;
        ObligationTrack& t = obligations_[o.obligation];
        LoanReport& l = loans_[o.instrument];
        t.instrument = o.instrument;
        if (o.state == ObligationState::kClosed && t.state != ObligationState::kClosed) ++l.closed;
        if (o.kind == ObligationEventKind::kOverdue && !t.fell_overdue) ++l.fell_overdue;
        if (o.kind == ObligationEventKind::kRecalled && !t.recalled) ++l.recalled;
        t.fell_overdue |= o.kind == ObligationEventKind::kOverdue;
        t.recalled |= o.kind == ObligationEventKind::kRecalled;
        t.outstanding = o.outstanding;
        t.state = o.state;
        break;
      }
      case EventType::kCollateral: {
        // A pledge is reserved and released in the borrower's own holdings; only a
        // forfeit moves units (of the collateral instrument) to the lender, and it may
        // close the obligation.
        const CollateralEvent& c = e.collateral;
        if (c.kind != CollateralEventKind::kForfeited) break;
        const std::size_t lender = c.lender * num_instruments_ + c.instrument;
        const std::size_t borrower = c.borrower * num_instruments_ + c.instrument;
        if (lender >= holdings_.size() || borrower >= holdings_.size()) break;
        holdings_[borrower] -= c.amount;
        holdings_[lender] += c.amount;
        if (c.obligation == 0 || c.obligation >= obligations_.size()) break;
        ObligationTrack& t = obligations_[c.obligation];
        if (t.instrument < loans_.size() && c.state == ObligationState::kClosed &&
            t.state != ObligationState::kClosed) {
          ++loans_[t.instrument].closed;
        }
        t.outstanding = c.outstanding;
        t.state = c.state;
        break;
      }
      case EventType::kTermAccepted:
      case EventType::kTermCancelled:
      case EventType::kTermExpired:
      case EventType::kTermReplaced:
      // Emergencies (issue 15): counted, not reported per mineral yet.
      case EventType::kReferencePublished:
      case EventType::kPairBandChanged:
      case EventType::kMemberAdmitted:
      case EventType::kMemberSuspended:
      case EventType::kEmergencyLevelSet:
        break;
    }
    ++data_.events;
  }
}

ReportData ReportBuilder::Finish() {
  if (!have_before_) before_ = holdings_;
  const auto& instruments = ref_.instruments();
  const auto& pairs = ref_.pairs();

  // Resting offers at the end.
  std::vector<PairReport> pr(pairs.size());
  std::vector<InstrumentReport> ir(instruments.size());
  for (std::size_t id = 1; id < offers_.size(); ++id) {
    const OfferTrack& o = offers_[id];
    if (o.open <= 0 || o.pair >= pairs.size()) continue;
    const PairBook& b = pairs[o.pair];
    if (o.side == Side::kBuy) {
      pr[o.pair].resting_bid_lots += o.open;
      const Amount units = o.open * instruments[b.base].lot_size;
      pr[o.pair].resting_bid_units += units;
      ir[b.base].unfilled_demand += units;
    } else {
      pr[o.pair].resting_ask_lots += o.open;
      const Amount units = o.open * o.price;
      pr[o.pair].resting_ask_units += units;
      ir[b.quote].unfilled_demand += units;
    }
  }
  offers_.clear();
  offers_.shrink_to_fit();

  std::vector<std::vector<std::int64_t>> inst_samples(instruments.size());
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    const PairBook& b = pairs[p];
    PairAcc& acc = pairs_[p];
    for (InstrumentId i : {b.base, b.quote}) {
      inst_samples[i].insert(inst_samples[i].end(), acc.first_fill.begin(), acc.first_fill.end());
      ir[i].fills += acc.fills;
    }
    ir[b.base].volume += acc.base_volume;
    ir[b.quote].volume += acc.quote_volume;
    PairReport& r = pr[p];
    r.pair = static_cast<PairId>(p);
    r.symbol = b.symbol;
    r.base = instruments[b.base].symbol;
    r.quote = instruments[b.quote].symbol;
    r.base_unit = instruments[b.base].unit;
    r.quote_unit = instruments[b.quote].unit;
    r.offers_accepted = acc.offers;
    r.fills = acc.fills;
    r.lots = acc.lots;
    r.base_volume = acc.base_volume;
    r.quote_volume = acc.quote_volume;
    r.first_fill = ComputeLatency(&acc.first_fill);
    if (r.offers_accepted > 0 || r.fills > 0) data_.pairs.push_back(std::move(r));
  }
  std::vector<bool> inst_active(instruments.size(), false);
  for (const PairReport& r : data_.pairs) {
    inst_active[pairs[r.pair].base] = true;
    inst_active[pairs[r.pair].quote] = true;
  }
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    if (!inst_active[i]) continue;
    InstrumentReport& r = ir[i];
    r.instrument = static_cast<InstrumentId>(i);
    r.symbol = instruments[i].symbol;
    r.unit = instruments[i].unit;
    r.first_fill = ComputeLatency(&inst_samples[i]);
    r.volume_by_second = std::move(volume_by_second_[i]);
    data_.instruments.push_back(std::move(r));
  }

  for (std::size_t a = 0; a < ref_.agencies().size(); ++a) {
    AgencyReport ar;
    ar.agency = static_cast<AgencyId>(a);
    ar.code = ref_.agencies()[a].code;
    ar.fills = agency_fills_[a];
    for (std::size_t i = 0; i < num_instruments_; ++i) {
      const std::size_t k = a * num_instruments_ + i;
      if (before_[k] == 0 && holdings_[k] == 0 && received_[k] == 0 && delivered_[k] == 0) {
        continue;
      }
      AgencyHoldingRow row;
      row.instrument = static_cast<InstrumentId>(i);
      row.symbol = instruments[i].symbol;
      row.unit = instruments[i].unit;
      row.before = before_[k];
      row.received = received_[k];
      row.delivered = delivered_[k];
      row.after = holdings_[k];
      ar.rows.push_back(std::move(row));
    }
    if (!ar.rows.empty() || ar.fills > 0) data_.agencies.push_back(std::move(ar));
  }

  for (std::size_t id = 1; id < obligations_.size(); ++id) {
    const ObligationTrack& t = obligations_[id];
    if (t.state == ObligationState::kClosed || t.instrument >= loans_.size()) continue;
    LoanReport& l = loans_[t.instrument];
    ++l.outstanding_at_end;
    l.owed_at_end += t.outstanding;
    if (t.state == ObligationState::kOverdue) {
      ++l.overdue_at_end;
      l.overdue_owed_at_end += t.outstanding;
    }
  }
  data_.agency_loans = agency_loans_.Finish();
  data_.needs = needs_.Finish();
  data_.deliveries = deliveries_.Finish();
  for (std::size_t i = 0; i < loans_.size(); ++i) {
    LoanReport& l = loans_[i];
    if (l.opened == 0 && l.paid_back == 0 && l.outstanding_at_end == 0) continue;
    l.instrument = static_cast<InstrumentId>(i);
    l.symbol = instruments[i].symbol;
    l.unit = instruments[i].unit;
    data_.loans.push_back(std::move(l));
  }

  std::vector<std::pair<TimeNs, std::uint64_t>> m = std::move(minutes_);
  std::stable_sort(m.begin(), m.end(),
                   [](const auto& x, const auto& y) { return x.second > y.second; });
  for (std::size_t i = 0; i < m.size() && static_cast<int>(i) < top_minutes_; ++i) {
    data_.busiest_minutes.push_back(MinuteReport{m[i].first * 60'000'000'000, m[i].second});
  }
  return std::move(data_);
}

VolumeSeries BucketVolume(const std::vector<const ReportData*>& reports, int max_buckets) {
  VolumeSeries out;
  if (max_buckets < 1) max_buckets = 1;
  bool any = false;
  std::int64_t first = 0, last = 0;  // seconds
  for (const ReportData* r : reports) {
    if (r->commands == 0) continue;
    const std::int64_t f = FloorDiv(r->first_time, 1'000'000'000);
    const std::int64_t l = FloorDiv(r->last_time, 1'000'000'000);
    first = any ? std::min(first, f) : f;
    last = any ? std::max(last, l) : l;
    any = true;
  }
  // Instruments of every report, merged by id (each report lists them in id order).
  std::vector<std::pair<InstrumentId, const InstrumentReport*>> all;
  for (const ReportData* r : reports) {
    for (const InstrumentReport& i : r->instruments) all.emplace_back(i.instrument, &i);
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  if (any) {
    static constexpr std::int64_t kWidths[] = {1,    2,    5,    10,   15,    30,    60,
                                               120,  300,  600,  900,   1800,  3600, 7200,
                                               10800, 21600, 43200, 86400};
    auto count = [&](std::int64_t w) { return FloorDiv(last, w) - FloorDiv(first, w) + 1; };
    std::int64_t w = 0;
    for (std::int64_t c : kWidths) {
      if (count(c) <= max_buckets) {
        w = c;
        break;
      }
    }
    if (w == 0) {
      w = 86400;
      // Terminates: |first|, |last| < 2^34 seconds, so w stays far from overflow.
      while (count(w) > max_buckets) w *= 2;
    }
    out.bucket_seconds = w;
    out.start_second = FloorDiv(first, w) * w;
    out.buckets = static_cast<std::size_t>(count(w));
  }
  for (std::size_t k = 0; k < all.size(); ++k) {
    if (k > 0 && all[k].first == all[k - 1].first) continue;
    VolumeSeries::Row& row = out.instruments.emplace_back();
    row.symbol = all[k].second->symbol;
    row.unit = all[k].second->unit;
    for (const ReportData* r : reports) {
      std::vector<Amount>& v = row.volume.emplace_back(out.buckets, 0);
      for (const InstrumentReport& i : r->instruments) {
        if (i.instrument != all[k].first) continue;
        for (const VolumePoint& p : i.volume_by_second) {
          const std::int64_t b = FloorDiv(p.second, out.bucket_seconds) -
                                 FloorDiv(out.start_second, out.bucket_seconds);
          if (b >= 0 && static_cast<std::size_t>(b) < v.size()) v[b] += p.volume;
        }
      }
    }
  }
  return out;
}

absl::StatusOr<ReportData> BuildReport(const std::string& dir, int top_minutes) {
  absl::StatusOr<DrillJournal> j = OpenDrillJournal(dir);
  if (!j.ok()) return j.status();
  absl::StatusOr<std::unique_ptr<journal::JournalReader>> reader =
      journal::JournalReader::Open(dir, journal::ReaderOptions{});
  if (!reader.ok()) return reader.status();
  ReportBuilder builder(*j->ref, top_minutes);
  journal::JournalEntry entry;
  while ((*reader)->Next(&entry)) builder.Add(entry.command, entry.events);
  if (!(*reader)->status().ok()) return (*reader)->status();
  ReportData data = builder.Finish();
  data.torn_bytes = (*reader)->stats().torn_bytes;
  if (!data.needs.empty()) {
    absl::StatusOr<NeedReport> continuous = ContinuousNeeds(dir);
    if (!continuous.ok()) return continuous.status();
    CompareWithContinuous(&data.needs, *continuous);
  }
  return data;
}

// ---- Rendering ----

namespace {

std::string Units(Amount v, const std::string& unit) {
  return absl::StrCat(Thousands(v), " ", unit);
}

std::string LatencyCell(std::int64_t ns, std::uint64_t count) {
  return count == 0 ? "-" : Duration(ns);
}

nlohmann::ordered_json LatencyJson(const LatencyStats& s) {
  nlohmann::ordered_json j;
  j["offers"] = s.count;
  j["p50_ns"] = s.p50;
  j["p90_ns"] = s.p90;
  j["max_ns"] = s.max;
  return j;
}

// A JSON array, empty ([]) rather than null when there are no elements.
nlohmann::ordered_json Array() { return nlohmann::ordered_json::array(); }

}  // namespace

nlohmann::ordered_json ReportJson(const ReportData& r) {
  nlohmann::ordered_json j;
  j["commands"] = r.commands;
  j["events"] = r.events;
  j["fills"] = r.fills;
  j["offers_accepted"] = r.offers_accepted;
  j["rejects"] = r.rejects;
  j["first_seq"] = r.first_seq;
  j["last_seq"] = r.last_seq;
  j["first_time_ns"] = r.first_time;
  j["last_time_ns"] = r.last_time;
  j["holdings_before_seq"] = r.holdings_before_seq;
  j["torn_bytes"] = r.torn_bytes;
  nlohmann::ordered_json& pairs = j["pairs"] = Array();
  for (const PairReport& p : r.pairs) {
    nlohmann::ordered_json& o = pairs.emplace_back();
    o["pair"] = p.symbol;
    o["base"] = p.base;
    o["quote"] = p.quote;
    o["base_unit"] = p.base_unit;
    o["quote_unit"] = p.quote_unit;
    o["offers_accepted"] = p.offers_accepted;
    o["fills"] = p.fills;
    o["lots"] = p.lots;
    o["base_volume"] = p.base_volume;
    o["quote_volume"] = p.quote_volume;
    o["resting_bid_lots"] = p.resting_bid_lots;
    o["resting_bid_base_units"] = p.resting_bid_units;
    o["resting_ask_lots"] = p.resting_ask_lots;
    o["resting_ask_quote_units"] = p.resting_ask_units;
    o["time_to_first_fill"] = LatencyJson(p.first_fill);
  }
  nlohmann::ordered_json& instruments = j["instruments"] = Array();
  for (const InstrumentReport& i : r.instruments) {
    nlohmann::ordered_json& o = instruments.emplace_back();
    o["instrument"] = i.symbol;
    o["unit"] = i.unit;
    o["fills"] = i.fills;
    o["volume"] = i.volume;
    o["unfilled_demand"] = i.unfilled_demand;
    o["time_to_first_fill"] = LatencyJson(i.first_fill);
  }
  nlohmann::ordered_json& agencies = j["agencies"] = Array();
  for (const AgencyReport& a : r.agencies) {
    nlohmann::ordered_json& o = agencies.emplace_back();
    o["agency"] = a.code;
    o["fills"] = a.fills;
    nlohmann::ordered_json& holdings = o["holdings"] = Array();
    for (const AgencyHoldingRow& h : a.rows) {
      nlohmann::ordered_json& row = holdings.emplace_back();
      row["instrument"] = h.symbol;
      row["unit"] = h.unit;
      row["before"] = h.before;
      row["received"] = h.received;
      row["delivered"] = h.delivered;
      row["net"] = h.received - h.delivered;
      row["after"] = h.after;
    }
  }
  nlohmann::ordered_json& loans = j["loans"] = Array();
  for (const LoanReport& l : r.loans) {
    nlohmann::ordered_json& o = loans.emplace_back();
    o["instrument"] = l.symbol;
    o["unit"] = l.unit;
    o["opened"] = l.opened;
    o["lent"] = l.lent;
    o["paid_back"] = l.paid_back;
    o["closed"] = l.closed;
    o["fell_overdue"] = l.fell_overdue;
    o["recalled"] = l.recalled;
    o["outstanding_at_end"] = l.outstanding_at_end;
    o["owed_at_end"] = l.owed_at_end;
    o["overdue_at_end"] = l.overdue_at_end;
    o["overdue_owed_at_end"] = l.overdue_owed_at_end;
  }
  j["agency_loans"] = AgencyLoansJson(r.agency_loans);
  j["needs"] = NeedsJson(r.needs);
  j["deliveries"] = DeliveriesJson(r.deliveries);
  nlohmann::ordered_json& minutes = j["busiest_minutes"] = Array();
  for (const MinuteReport& m : r.busiest_minutes) {
    nlohmann::ordered_json& o = minutes.emplace_back();
    o["minute_start_ns"] = m.minute_start;
    o["minute_utc"] = UtcMinute(m.minute_start);
    o["fills"] = m.fills;
  }
  const VolumeSeries series = BucketVolume({&r});
  nlohmann::ordered_json& v = j["volume_over_time"];
  v["start_second"] = series.start_second;
  v["bucket_seconds"] = series.bucket_seconds;
  v["buckets"] = series.buckets;
  nlohmann::ordered_json& rows = v["instruments"] = Array();
  for (const VolumeSeries::Row& row : series.instruments) {
    nlohmann::ordered_json& o = rows.emplace_back();
    o["instrument"] = row.symbol;
    o["unit"] = row.unit;
    o["volume"] = row.volume[0];
  }
  return j;
}

std::string RenderReportJson(const ReportData& r) { return journal::JsonText(ReportJson(r)); }

std::string RenderReportText(const std::string& title, const ReportData& r) {
  std::string out = absl::StrCat("MSX drill report: ", title, "\n");
  if (r.commands == 0) {
    absl::StrAppend(&out, "  the journal holds no commands\n");
    return out;
  }
  absl::StrAppend(&out, "  seq ", r.first_seq, "..", r.last_seq, ", ", UtcTime(r.first_time),
                  " .. ", UtcTime(r.last_time), " UTC (", Duration(r.last_time - r.first_time),
                  ")\n  ", ThousandsU(r.commands), " commands, ", ThousandsU(r.events), " events, ",
                  ThousandsU(r.offers_accepted), " offers accepted, ", ThousandsU(r.rejects),
                  " rejects, ", ThousandsU(r.fills), " fills\n");
  if (r.torn_bytes > 0) {
    absl::StrAppend(&out, "  (a torn tail of ", r.torn_bytes,
                    " bytes after the last complete command was ignored)\n");
  }

  absl::StrAppend(&out,
                  "\nPair books (resting = unfilled demand left at the end; "
                  "first fill = time from acceptance to an offer's first fill)\n");
  TextTable pairs({"pair", "offers", "fills", "lots", "base swapped", "quote swapped",
                   "resting bids", "bids want", "resting asks", "asks want", "first fill p50",
                   "p90", "max"});
  for (const PairReport& p : r.pairs) {
    pairs.AddRow({p.symbol, ThousandsU(p.offers_accepted), ThousandsU(p.fills), Thousands(p.lots),
                  Units(p.base_volume, p.base_unit), Units(p.quote_volume, p.quote_unit),
                  Thousands(p.resting_bid_lots) + " lots", Units(p.resting_bid_units, p.base_unit),
                  Thousands(p.resting_ask_lots) + " lots", Units(p.resting_ask_units, p.quote_unit),
                  LatencyCell(p.first_fill.p50, p.first_fill.count),
                  LatencyCell(p.first_fill.p90, p.first_fill.count),
                  LatencyCell(p.first_fill.max, p.first_fill.count)});
  }
  out += pairs.empty() ? "  (none)\n" : pairs.Render();

  absl::StrAppend(&out, "\nInstruments\n");
  TextTable inst(
      {"instrument", "fills", "swapped", "unfilled demand", "first fill p50", "p90", "max"});
  for (const InstrumentReport& i : r.instruments) {
    inst.AddRow({i.symbol, ThousandsU(i.fills), Units(i.volume, i.unit),
                 Units(i.unfilled_demand, i.unit),
                 LatencyCell(i.first_fill.p50, i.first_fill.count),
                 LatencyCell(i.first_fill.p90, i.first_fill.count),
                 LatencyCell(i.first_fill.max, i.first_fill.count)});
  }
  out += inst.empty() ? "  (none)\n" : inst.Render();

  absl::StrAppend(&out, "\nAgencies (holdings = available + reserved; before = at seq ",
                  r.holdings_before_seq, ", after the initial SetHoldings)\n");
  for (const AgencyReport& a : r.agencies) {
    absl::StrAppend(&out, "  ", a.code, " (", ThousandsU(a.fills), " fills)\n");
    TextTable t({"instrument", "before", "received", "delivered", "net", "after"});
    for (const AgencyHoldingRow& h : a.rows) {
      t.AddRow({h.symbol, Units(h.before, h.unit), Units(h.received, h.unit),
                Units(h.delivered, h.unit), Units(h.received - h.delivered, h.unit),
                Units(h.after, h.unit)});
    }
    out += t.Render(4);
  }

  absl::StrAppend(&out, "\nBusiest minutes (UTC, by fills)\n");
  TextTable minutes({"minute", "fills"});
  for (const MinuteReport& m : r.busiest_minutes) {
    minutes.AddRow({UtcMinute(m.minute_start), ThousandsU(m.fills)});
  }
  out += minutes.empty() ? "  (no fills)\n" : minutes.Render();
  if (!r.agency_loans.empty()) absl::StrAppend(&out, "\n", RenderAgencyLoansText(r.agency_loans));
  if (!r.needs.empty()) absl::StrAppend(&out, "\n", RenderNeedsText(r.needs));
  if (!r.deliveries.empty()) {
    absl::StrAppend(&out, "\n", RenderDeliveriesText(r.deliveries));
  }
  return out;
}

namespace {

struct InstrumentPair {
  std::string symbol, unit;
  const InstrumentReport* original = nullptr;
  const InstrumentReport* drill = nullptr;
};

// Instruments active in either report, in configuration order.
std::vector<InstrumentPair> MatchInstruments(const ReportData& o, const ReportData& d) {
  std::vector<InstrumentPair> out;
  std::size_t i = 0, j = 0;
  while (i < o.instruments.size() || j < d.instruments.size()) {
    const InstrumentReport* a = i < o.instruments.size() ? &o.instruments[i] : nullptr;
    const InstrumentReport* b = j < d.instruments.size() ? &d.instruments[j] : nullptr;
    InstrumentPair p;
    if (a && (!b || a->instrument <= b->instrument)) {
      p.original = a;
      ++i;
      if (b && b->instrument == a->instrument) {
        p.drill = b;
        ++j;
      }
    } else {
      p.drill = b;
      ++j;
    }
    const InstrumentReport* any = p.original ? p.original : p.drill;
    p.symbol = any->symbol;
    p.unit = any->unit;
    out.push_back(std::move(p));
  }
  return out;
}

std::string Delta(std::int64_t v) { return absl::StrCat(v > 0 ? "+" : "", Thousands(v)); }

}  // namespace

std::string RenderComparisonText(const ReportData& o, const ReportData& d) {
  std::string out = "Drill vs original (shortfall = demand left unfilled in resting offers)\n";
  TextTable totals({"", "original", "drill", "change"});
  auto row = [&](const char* name, std::int64_t a, std::int64_t b) {
    totals.AddRow({name, Thousands(a), Thousands(b), Delta(b - a)});
  };
  row("commands", static_cast<std::int64_t>(o.commands), static_cast<std::int64_t>(d.commands));
  row("offers accepted", static_cast<std::int64_t>(o.offers_accepted),
      static_cast<std::int64_t>(d.offers_accepted));
  row("rejects", static_cast<std::int64_t>(o.rejects), static_cast<std::int64_t>(d.rejects));
  row("fills", static_cast<std::int64_t>(o.fills), static_cast<std::int64_t>(d.fills));
  out += totals.Render();
  out += "\n";
  TextTable t({"instrument", "fills orig", "fills drill", "change", "volume orig", "volume drill",
               "change", "shortfall orig", "shortfall drill", "change"});
  for (const InstrumentPair& p : MatchInstruments(o, d)) {
    const std::int64_t fo = p.original ? static_cast<std::int64_t>(p.original->fills) : 0;
    const std::int64_t fd = p.drill ? static_cast<std::int64_t>(p.drill->fills) : 0;
    const Amount vo = p.original ? p.original->volume : 0;
    const Amount vd = p.drill ? p.drill->volume : 0;
    const Amount so = p.original ? p.original->unfilled_demand : 0;
    const Amount sd = p.drill ? p.drill->unfilled_demand : 0;
    t.AddRow({p.symbol, Thousands(fo), Thousands(fd), Delta(fd - fo), Units(vo, p.unit),
              Units(vd, p.unit), Delta(vd - vo) + " " + p.unit, Units(so, p.unit),
              Units(sd, p.unit), Delta(sd - so) + " " + p.unit});
  }
  out += t.empty() ? "  (no instruments traded)\n" : t.Render();
  return out;
}

nlohmann::ordered_json ComparisonJson(const ReportData& o, const ReportData& d) {
  auto triple = [](std::int64_t a, std::int64_t b) {
    nlohmann::ordered_json j;
    j["original"] = a;
    j["drill"] = b;
    j["delta"] = b - a;
    return j;
  };
  auto count = [](std::uint64_t v) { return static_cast<std::int64_t>(v); };
  nlohmann::ordered_json j;
  nlohmann::ordered_json& totals = j["totals"];
  totals["commands"] = triple(count(o.commands), count(d.commands));
  totals["offers_accepted"] = triple(count(o.offers_accepted), count(d.offers_accepted));
  totals["rejects"] = triple(count(o.rejects), count(d.rejects));
  totals["fills"] = triple(count(o.fills), count(d.fills));
  nlohmann::ordered_json& instruments = j["instruments"] = Array();
  for (const InstrumentPair& p : MatchInstruments(o, d)) {
    nlohmann::ordered_json& i = instruments.emplace_back();
    i["instrument"] = p.symbol;
    i["unit"] = p.unit;
    i["fills"] =
        triple(p.original ? count(p.original->fills) : 0, p.drill ? count(p.drill->fills) : 0);
    i["volume"] = triple(p.original ? p.original->volume : 0, p.drill ? p.drill->volume : 0);
    i["shortfall"] = triple(p.original ? p.original->unfilled_demand : 0,
                            p.drill ? p.drill->unfilled_demand : 0);
  }
  const VolumeSeries series = BucketVolume({&o, &d});
  nlohmann::ordered_json& v = j["volume_over_time"];
  v["start_second"] = series.start_second;
  v["bucket_seconds"] = series.bucket_seconds;
  v["buckets"] = series.buckets;
  nlohmann::ordered_json& rows = v["instruments"] = Array();
  for (const VolumeSeries::Row& row : series.instruments) {
    nlohmann::ordered_json& i = rows.emplace_back();
    i["instrument"] = row.symbol;
    i["unit"] = row.unit;
    i["original"] = row.volume[0];
    i["drill"] = row.volume[1];
  }
  j["original"] = ReportJson(o);
  j["drill"] = ReportJson(d);
  return j;
}

std::string RenderComparisonJson(const ReportData& o, const ReportData& d) {
  return journal::JsonText(ComparisonJson(o, d));
}

}  // namespace msx::drill
