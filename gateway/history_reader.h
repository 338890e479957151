// HistoryReader: the thread that reads execution history from the journal, for execution
// streams that resume before what the sequencer keeps in memory (e.g. from seq 0 after a
// restart). The sequencer never reads the journal: a resume costs it one ring item per
// page (turning the agency's events of that page into reports, which needs the engine),
// never the I/O, verification and decoding of every command in the range.
//
// Paging is driven by the stream (gateway/execution_stream.cc, ExecStream): it posts a job to
// read one page (HistoryCursor::NextPage, at most kHistoryPageEvents of the agency's
// events), has the sequencer build that page's reports, writes them, and posts the next
// page only when the last write of the page completed (gRPC flow control): a slow client
// holds one page in memory, not its history.
//
// Thread-safety: Post and Stop are thread-safe. A HistoryCursor is used by one thread at a
// time (the reader's jobs run one after the other).
#ifndef MSX_GATEWAY_HISTORY_READER_H_
#define MSX_GATEWAY_HISTORY_READER_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "engine/matching/command.h"
#include "engine/matching/event.h"
#include "engine/journal/reader.h"
#include "engine/matching/types.h"

namespace msx::gateway {

// Most events of the resuming agency per page.
inline constexpr std::size_t kHistoryPageEvents = 512;

// One journaled command with the events of one agency, in journal order.
struct HistoryGroup {
  Command command;
  std::vector<Event> events;
};

// True if `e` produces an execution report for `agency` (reports.cc): its own accepts,
// cancels, expiries and replaces (pair and term offers), a fill on either side, a loan,
// obligation or collateral event where it is the lender or the borrower, and every level
// change.
bool EventConcerns(const Event& e, AgencyId agency);

// The command groups of a journal with seq in (after, upto] that concern one agency, read
// forward a page at a time with one open JournalReader (each segment is read once).
class HistoryCursor {
 public:
  // REQUIRES: every command <= upto is durable in `journal_dir`.
  HistoryCursor(std::string journal_dir, AgencyId agency, Seq after, Seq upto);
  HistoryCursor(const HistoryCursor&) = delete;
  HistoryCursor& operator=(const HistoryCursor&) = delete;

  // Reads on until `max_events` events of the agency were found or `upto` was reached,
  // and appends each group with any (holding only those events) to *page. Returns the seq
  // it has read up to: every report up to it is in *page or an earlier page. Fails with
  // the reader's error (DataLoss naming file and offset, OutOfRange if the journal ends
  // before `upto`).
  absl::StatusOr<Seq> NextPage(std::size_t max_events, std::vector<HistoryGroup>* page);
  bool done() const { return position_ >= upto_; }
  Seq upto() const { return upto_; }

 private:
  const std::string dir_;
  const AgencyId agency_;
  const Seq upto_;
  Seq position_;
  std::unique_ptr<journal::JournalReader> reader_;
  journal::JournalEntry entry_;
};

class HistoryReader {
 public:
  HistoryReader();
  ~HistoryReader();  // Stop()
  HistoryReader(const HistoryReader&) = delete;
  HistoryReader& operator=(const HistoryReader&) = delete;

  // Runs `job` on the reader thread after the jobs posted before it. Returns false (and
  // destroys the job unrun) once Stop began.
  bool Post(std::function<void()> job);
  // Destroys the jobs not yet started, waits for the running one and joins the thread.
  // Idempotent; any thread but the reader's.
  void Stop();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_HISTORY_READER_H_
