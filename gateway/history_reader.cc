#include "gateway/history_reader.h"

#include <pthread.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace msx::gateway {

bool EventConcerns(const Event& e, AgencyId agency) {
  // Exhaustive (no default), so that a new event type is a -Wswitch warning here: this
  // must name exactly the agencies that Reports::Build (reports.cc) reports an event to,
  // or a stream resumed from the journal misses reports that the live stream carried.
  switch (e.type) {
    case EventType::kAccepted:
    case EventType::kTermAccepted:
      return e.accepted.agency == agency;
    case EventType::kFill:
      return e.fill.maker_agency == agency || e.fill.taker_agency == agency;
    case EventType::kCancelled:
    case EventType::kTermCancelled:
      return e.cancelled.agency == agency;
    case EventType::kExpired:
    case EventType::kTermExpired:
      return e.expired.agency == agency;
    case EventType::kReplaced:
    case EventType::kTermReplaced:
      return e.replaced.agency == agency;
    // Time swaps: the lender and the borrower, never anyone else.
    case EventType::kLoanFill:
      return e.loan_fill.lender == agency || e.loan_fill.borrower == agency;
    case EventType::kObligation:
      return e.obligation.lender == agency || e.obligation.borrower == agency;
    case EventType::kCollateral:
      return e.collateral.lender == agency || e.collateral.borrower == agency;
    case EventType::kEmergencyLevelSet:  // every agency is told (ExecutionReport.level_changed)
      return true;
    case EventType::kDelivery:  // both parties (ExecutionReport.delivery)
      return e.delivery.deliverer == agency || e.delivery.receiver == agency;
    // No execution report: market data, admin state, and the emergency and auction events
    // whose effects on offers arrive as kCancelled and kFill.
    case EventType::kRejected:
    case EventType::kBookLevel:
    case EventType::kHoldingsSet:
    case EventType::kPairHalted:
    case EventType::kPairResumed:
    case EventType::kReferencePublished:
    case EventType::kPairBandChanged:
    case EventType::kMemberAdmitted:
    case EventType::kMemberSuspended:
    case EventType::kAuction:
      return false;
  }
  return false;
}

HistoryCursor::HistoryCursor(std::string journal_dir, AgencyId agency, Seq after, Seq upto)
    : dir_(std::move(journal_dir)), agency_(agency), upto_(upto), position_(after) {}

absl::StatusOr<Seq> HistoryCursor::NextPage(std::size_t max_events,
                                            std::vector<HistoryGroup>* page) {
  if (done()) return position_;
  if (reader_ == nullptr) {
    journal::ReaderOptions options;
    options.after_seq = position_;
    options.until_seq = upto_;
    absl::StatusOr<std::unique_ptr<journal::JournalReader>> reader =
        journal::JournalReader::Open(dir_, options);
    if (!reader.ok()) return reader.status();
    reader_ = std::move(*reader);
  }
  std::size_t found = 0;
  while (found < max_events && position_ < upto_) {
    if (!reader_->Next(&entry_)) {
      if (!reader_->status().ok()) return reader_->status();
      return absl::OutOfRangeError(absl::StrCat("execution history: the journal in ", dir_,
                                                " ends at ", position_, ", before ", upto_));
    }
    position_ = entry_.command.seq;
    HistoryGroup* group = nullptr;
    for (const Event& e : entry_.events) {
      if (!EventConcerns(e, agency_)) continue;
      if (group == nullptr) {
        group = &page->emplace_back();
        group->command = entry_.command;
      }
      group->events.push_back(e);
      ++found;
    }
  }
  if (done()) reader_.reset();  // close the segment files now
  return position_;
}

HistoryReader::HistoryReader() {
  thread_ = std::thread([this] { Run(); });
}

HistoryReader::~HistoryReader() { Stop(); }

bool HistoryReader::Post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      jobs_.push_back(std::move(job));
      cv_.notify_one();
      return true;
    }
  }
  return false;  // `job` (and what it holds) is destroyed outside mu_
}

void HistoryReader::Stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    dropped.swap(jobs_);
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void HistoryReader::Run() {
  pthread_setname_np(pthread_self(), "msx-history");
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace msx::gateway
