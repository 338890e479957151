// Loans per agency and instrument (time swaps): the `agency_loans` part of a drill report
// (issue 14: "loans made, returned, overdue and recalled per agency and mineral"). Built
// from the journaled events alone, like the rest of the report (report.h).
//
// Definitions (exact integers), for one agency and one lent instrument, once as the lender
// (`lent`) and once as the borrower (`borrowed`):
// - loans, units: loans opened (LoanFill events) and their principal.
// - paid_back: units that went from the borrower to the lender on those loans (returns,
//   settlement at the due time, collection of overdue ones; forfeited collateral is in
//   another instrument and not counted).
// - returned: loans closed (paid back in full, or the rest covered by forfeited
//   collateral); fell_overdue: loans that became overdue at their due time; recalled:
//   loans the lender recalled (each loan counted once however many events it had).
// - At the end: open_at_end (open or overdue), overdue_at_end, and owed_at_end, the units
//   still owed on them.
// An obligation whose loan is not in the stream (a report of a journal's tail) is ignored.
//
// Thread-safety: an AgencyLoanLedger is used by one thread; the rows are values.
#ifndef MSX_CLIENTS_DRILL_AGENCY_LOANS_H_
#define MSX_CLIENTS_DRILL_AGENCY_LOANS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/types.h"

namespace msx::drill {

struct LoanSide {
  std::uint64_t loans = 0;
  Amount units = 0;
  Amount paid_back = 0;
  std::uint64_t returned = 0;
  std::uint64_t fell_overdue = 0;
  std::uint64_t recalled = 0;
  std::uint64_t open_at_end = 0;
  std::uint64_t overdue_at_end = 0;
  Amount owed_at_end = 0;
};

struct AgencyLoanRow {
  AgencyId agency = 0;
  InstrumentId instrument = 0;
  std::string code, symbol, unit, mineral;
  LoanSide lent;      // the agency as the lender
  LoanSide borrowed;  // the agency as the borrower
};

class AgencyLoanLedger {
 public:
  // REQUIRES: `ref` outlives the ledger.
  explicit AgencyLoanLedger(const ReferenceData& ref);
  AgencyLoanLedger(const AgencyLoanLedger&) = delete;
  AgencyLoanLedger& operator=(const AgencyLoanLedger&) = delete;

  // Accounts one event (any type; those of no loan are ignored). REQUIRES: events in
  // journal order.
  void Add(const Event& e);
  // Rows with any loan, by agency then instrument (configuration order).
  std::vector<AgencyLoanRow> Finish() const;

 private:
  struct Track {
    bool known = false;
    AgencyId lender = 0, borrower = 0;
    InstrumentId instrument = 0;
    Amount outstanding = 0;
    ObligationState state = ObligationState::kOpen;
    bool fell_overdue = false, recalled = false;
  };
  LoanSide& Side(AgencyId agency, InstrumentId instrument, bool lender);
  void Closed(Track* t, ObligationState state);

  const ReferenceData& ref_;
  std::vector<Track> obligations_;        // index = obligation id
  std::vector<LoanSide> lent_, borrowed_;  // [agency * instruments + instrument]
};

// [{"agency", "instrument", "mineral", "unit", "lent": {...}, "borrowed": {...}}], each side
// with every LoanSide figure under its field name.
nlohmann::ordered_json AgencyLoansJson(const std::vector<AgencyLoanRow>& rows);
// A text table, one line per agency, instrument and role with a loan; "" when none.
std::string RenderAgencyLoansText(const std::vector<AgencyLoanRow>& rows);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_AGENCY_LOANS_H_
