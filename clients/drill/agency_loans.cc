#include "clients/drill/agency_loans.h"

#include "absl/strings/str_cat.h"
#include "clients/drill/format.h"

namespace msx::drill {

AgencyLoanLedger::AgencyLoanLedger(const ReferenceData& ref)
    : ref_(ref),
      obligations_(1),
      lent_(ref.agencies().size() * ref.instruments().size()),
      borrowed_(lent_.size()) {}

LoanSide& AgencyLoanLedger::Side(AgencyId agency, InstrumentId instrument, bool lender) {
  const std::size_t k = agency * ref_.instruments().size() + instrument;
  return lender ? lent_[k] : borrowed_[k];
}

void AgencyLoanLedger::Closed(Track* t, ObligationState state) {
  if (state == ObligationState::kClosed && t->state != ObligationState::kClosed) {
    ++Side(t->lender, t->instrument, true).returned;
    ++Side(t->borrower, t->instrument, false).returned;
  }
  t->state = state;
}

void AgencyLoanLedger::Add(const Event& e) {
  const std::size_t agencies = ref_.agencies().size();
  switch (e.type) {
    case EventType::kLoanFill: {
      const LoanFillEvent& f = e.loan_fill;
      if (f.book >= ref_.term_books().size() || f.lender >= agencies || f.borrower >= agencies) {
        return;
      }
      const InstrumentId i = ref_.term_books()[f.book].instrument;
      // Obligation ids are the loans' fill numbers, dense from 1 in one engine's stream.
      if (f.obligation == 0 || f.obligation > obligations_.size()) return;
      if (f.obligation == obligations_.size()) obligations_.emplace_back();
      obligations_[f.obligation] = Track{true, f.lender, f.borrower, i, f.due_amount,
                                         ObligationState::kOpen, false, false};
      const Amount principal = f.lots * ref_.instruments()[i].lot_size;
      for (bool lender : {true, false}) {
        LoanSide& s = Side(lender ? f.lender : f.borrower, i, lender);
        ++s.loans;
        s.units += principal;
      }
      return;
    }
    case EventType::kObligation: {
      const ObligationEvent& o = e.obligation;
      if (o.obligation >= obligations_.size() || !obligations_[o.obligation].known) return;
      Track& t = obligations_[o.obligation];
      LoanSide& lent = Side(t.lender, t.instrument, true);
      LoanSide& borrowed = Side(t.borrower, t.instrument, false);
      lent.paid_back += o.amount;
      borrowed.paid_back += o.amount;
      if (o.kind == ObligationEventKind::kOverdue && !t.fell_overdue) {
        t.fell_overdue = true;
        ++lent.fell_overdue;
        ++borrowed.fell_overdue;
      }
      if (o.kind == ObligationEventKind::kRecalled && !t.recalled) {
        t.recalled = true;
        ++lent.recalled;
        ++borrowed.recalled;
      }
      t.outstanding = o.outstanding;
      Closed(&t, o.state);
      return;
    }
    case EventType::kCollateral: {
      const CollateralEvent& c = e.collateral;
      if (c.obligation >= obligations_.size() || !obligations_[c.obligation].known) return;
      Track& t = obligations_[c.obligation];
      t.outstanding = c.outstanding;
      Closed(&t, c.state);
      return;
    }
    default:
      return;
  }
}

std::vector<AgencyLoanRow> AgencyLoanLedger::Finish() const {
  std::vector<LoanSide> lent = lent_, borrowed = borrowed_;
  const std::size_t n = ref_.instruments().size();
  for (const Track& t : obligations_) {
    if (!t.known || t.state == ObligationState::kClosed) continue;
    for (LoanSide* s : {&lent[t.lender * n + t.instrument], &borrowed[t.borrower * n + t.instrument]}) {
      ++s->open_at_end;
      s->owed_at_end += t.outstanding;
      if (t.state == ObligationState::kOverdue) ++s->overdue_at_end;
    }
  }
  std::vector<AgencyLoanRow> rows;
  for (std::size_t k = 0; k < lent.size(); ++k) {
    if (lent[k].loans == 0 && borrowed[k].loans == 0) continue;
    AgencyLoanRow r;
    r.agency = static_cast<AgencyId>(k / n);
    r.instrument = static_cast<InstrumentId>(k % n);
    r.code = ref_.agencies()[r.agency].code;
    const Instrument& inst = ref_.instruments()[r.instrument];
    r.symbol = inst.symbol;
    r.unit = inst.unit;
    r.mineral = inst.mineral_name;
    r.lent = lent[k];
    r.borrowed = borrowed[k];
    rows.push_back(std::move(r));
  }
  return rows;
}

namespace {

nlohmann::ordered_json SideJson(const LoanSide& s) {
  nlohmann::ordered_json j;
  j["loans"] = s.loans;
  j["units"] = s.units;
  j["paid_back"] = s.paid_back;
  j["returned"] = s.returned;
  j["fell_overdue"] = s.fell_overdue;
  j["recalled"] = s.recalled;
  j["open_at_end"] = s.open_at_end;
  j["overdue_at_end"] = s.overdue_at_end;
  j["owed_at_end"] = s.owed_at_end;
  return j;
}

}  // namespace

nlohmann::ordered_json AgencyLoansJson(const std::vector<AgencyLoanRow>& rows) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const AgencyLoanRow& r : rows) {
    nlohmann::ordered_json& o = out.emplace_back();
    o["agency"] = r.code;
    o["instrument"] = r.symbol;
    o["mineral"] = r.mineral;
    o["unit"] = r.unit;
    o["lent"] = SideJson(r.lent);
    o["borrowed"] = SideJson(r.borrowed);
  }
  return out;
}

std::string RenderAgencyLoansText(const std::vector<AgencyLoanRow>& rows) {
  TextTable t({"agency", "instrument", "role", "loans", "units", "paid back", "returned",
               "overdue", "recalled", "open at end", "owed at end", "unit"});
  t.LeftAlign(1);
  t.LeftAlign(2);
  t.LeftAlign(11);
  for (const AgencyLoanRow& r : rows) {
    for (bool lender : {true, false}) {
      const LoanSide& s = lender ? r.lent : r.borrowed;
      if (s.loans == 0) continue;
      t.AddRow({r.code, r.symbol, lender ? "lent" : "borrowed", ThousandsU(s.loans),
                Thousands(s.units), Thousands(s.paid_back), ThousandsU(s.returned),
                ThousandsU(s.fell_overdue), ThousandsU(s.recalled),
                absl::StrCat(ThousandsU(s.open_at_end), " (", ThousandsU(s.overdue_at_end),
                             " overdue)"),
                Thousands(s.owed_at_end), r.unit});
    }
  }
  if (t.empty()) return "";
  return absl::StrCat("Loans per agency (time swaps)\n", t.Render());
}

}  // namespace msx::drill
