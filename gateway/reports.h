// Reports: the one place where engine events become stream messages. Every
// `ExecutionReport` (StreamExecutions, StreamExecutionBatches, resumed history) and every
// `BookUpdate` (StreamBook: snapshot, level changes, trade prints, halts) is built here,
// and only here, once per message; the hubs fan the same immutable message out to every
// subscriber.
//
// As the sequencer's observer (sequencer_observer.h) it builds a command's reports and
// book updates in OnApplied, on the sequencing thread, while the engine still shows the
// offers as that command left them; hands them to the release side in OnBatchSequenced;
// and publishes them to the ExecHub / BookHub in OnGroupDurable, after the replies of the
// same group commit, so a report never describes a command the journal does not hold.
// Book updates are built only for pairs with a StreamBook subscriber (BookHub::interested).
//
// It also keeps the most recent `history_reports` execution reports, from which an
// execution stream resumes without reading the journal (RecentExecutions), and builds the
// reports of older journaled commands for the HistoryReader's pages (HistoryReports).
//
// Thread-safety: the observer methods as SequencerObserver says; RecentExecutions,
// HistoryReports and BookSnapshot need the engine and run on the sequencer thread (from a
// Work::Query). The release side is guarded by its own mutex (held once per batch and
// once per release, never per command).
#ifndef MSX_GATEWAY_REPORTS_H_
#define MSX_GATEWAY_REPORTS_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/types/span.h"
#include "engine/matching/command.h"
#include "engine/matching/engine.h"
#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"
#include "gateway/history_reader.h"
#include "gateway/hubs.h"
#include "gateway/sequencer_observer.h"
#include "msx/v1/exchange.pb.h"

namespace msx::gateway {

class Reports final : public SequencerObserver {
 public:
  // REQUIRES: `ref` and the hubs outlive this; `recovered_seq` is the engine's last_seq
  // when the sequencer starts (nothing before it is in memory).
  Reports(const ReferenceData& ref, ExecHub* exec_hub, BookHub* book_hub,
          std::size_t history_reports, Seq recovered_seq);
  Reports(const Reports&) = delete;
  Reports& operator=(const Reports&) = delete;

  // ---- SequencerObserver ----
  void OnApplied(const Engine& engine, const Command& cmd, absl::Span<const Event> events) override;
  void OnBatchSequenced(absl::Span<const CommandGroup> groups) override;
  void OnGroupDurable(Seq first_seq, Seq last_seq) override;
  void OnJournalFailed(Seq durable_seq) override;

  // ---- Sequencer thread (Work::Query) ----
  // Execution history for a stream resuming after `after`, in the state after command
  // `last_seq` (the query's SequencerView::last_seq). If every report of `agency` with seq
  // in (after, last_seq] is still in memory, appends them to *out in order and returns
  // true. Otherwise returns false and sets *journal_upto to the seq up to which the journal
  // must be read first (reports with seq in (after, *journal_upto] are no longer in
  // memory; see HistoryReader); the caller then asks again with after = *journal_upto.
  // Cost: O(reports in memory after `after`).
  bool RecentExecutions(AgencyId agency, Seq after, Seq last_seq,
                        std::vector<std::shared_ptr<const v1::ExecutionReport>>* out,
                        Seq* journal_upto) const;
  // The execution reports of `agency` for journaled command groups (read from the journal
  // off the sequencer thread), appended to *out in order. The offers' fixed fields
  // (client id, side, ...) come from `engine`, as for live reports.
  void HistoryReports(const Engine& engine, AgencyId agency, absl::Span<const HistoryGroup> groups,
                      std::vector<std::shared_ptr<const v1::ExecutionReport>>* out) const;
  // The first message of a StreamBook: `depth` levels of `pair` in the state after `seq`.
  std::shared_ptr<v1::BookUpdate> BookSnapshot(const Engine& engine, PairId pair, int depth,
                                               Seq seq) const;

 private:
  // Builds the execution reports (all agencies, or only `only_agency` when
  // `only_agency_valid`) and, when `book` is not null, the book updates of pairs with
  // subscribers, of one applied command. `engine` is the state after it.
  void Build(const Engine& engine, const Command& cmd, absl::Span<const Event> events,
             std::vector<ExecOut>* reports, std::vector<BookOut>* book, bool only_agency_valid,
             AgencyId only_agency) const;

  const ReferenceData& ref_;
  ExecHub* const exec_hub_;
  BookHub* const book_hub_;
  const std::size_t history_reports_;

  // Sequencing role: built since the last OnBatchSequenced, and the resume history.
  std::vector<ExecOut> staged_reports_;
  std::vector<BookOut> staged_book_;
  std::deque<ExecOut> history_;  // recent reports, seq ascending
  Seq history_floor_;            // history_ holds every report with seq > this

  // Release side: handed over, waiting for their command to be durable (seq ascending).
  std::mutex mu_;
  std::deque<ExecOut> pending_reports_ ABSL_GUARDED_BY(mu_);
  std::deque<BookOut> pending_book_ ABSL_GUARDED_BY(mu_);
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  // OnGroupDurable scratch (releases are serialized by the sequencer).
  std::vector<std::pair<std::size_t, std::shared_ptr<const v1::ExecutionReport>>> ready_reports_;
  std::vector<std::pair<std::size_t, std::shared_ptr<const v1::BookUpdate>>> ready_book_;
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_REPORTS_H_
