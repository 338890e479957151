#include "engine/journal/writer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/journal/codec.h"
#include "engine/journal/env.h"
#include "engine/journal/file_util.h"
#include "engine/journal/reader.h"

namespace msx::journal {

using internal::JoinPath;

namespace {

constexpr std::uint64_t kPage = 4096;

std::uint64_t RoundUpToPage(std::uint64_t n) { return (n + kPage - 1) / kPage * kPage; }

absl::Status ValidateOptions(const WriterOptions& o) {
  if (o.durability != Durability::kSync && o.durability != Durability::kNone) {
    return absl::InvalidArgumentError("durability: must be kSync or kNone");
  }
  if (o.segment_bytes < 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("segment_bytes: ", o.segment_bytes, " is below the minimum of 4096"));
  }
  if (o.config.size() > kMaxPayload) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config: ", o.config.size(), " bytes exceed the record maximum of ", kMaxPayload));
  }
  if (o.next_seq == 0) return absl::InvalidArgumentError("next_seq: must be >= 1");
  if (o.preallocate_bytes != 0 &&
      (o.preallocate_bytes < (64u << 10) || o.preallocate_bytes > (1u << 30) ||
       o.preallocate_bytes % 4096 != 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("preallocate_bytes: ", o.preallocate_bytes,
                     " must be 0 (off) or a multiple of 4096 in [65536, 1073741824]"));
  }
  return absl::OkStatus();
}

// Checks that appending at next_seq continues the journal already in `dir`. Returns
// whether the last segment, named after next_seq, holds no command and may be replaced.
absl::StatusOr<bool> CheckContinuation(const std::string& dir, Seq next_seq) {
  absl::StatusOr<std::vector<SegmentInfo>> segments = ListSegments(dir);
  if (!segments.ok()) return segments.status();
  if (segments->empty()) {
    if (next_seq != 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "journal ", dir, " is empty, so the first command must be seq 1, not ", next_seq));
    }
    return false;
  }
  const SegmentInfo& last = segments->back();
  if (last.first_seq > next_seq) {
    return absl::FailedPreconditionError(
        absl::StrCat("journal already has segment ", last.path, " starting at seq ", last.first_seq,
                     ", beyond next_seq ", next_seq, "; run recovery"));
  }
  // Read (and verify) only the last segment.
  ReaderOptions ro;
  ro.after_seq = last.first_seq - 1;
  absl::StatusOr<std::unique_ptr<JournalReader>> reader = JournalReader::Open(dir, ro);
  if (!reader.ok()) return reader.status();
  JournalEntry entry;
  while ((*reader)->Next(&entry)) {
  }
  if (!(*reader)->status().ok()) return (*reader)->status();
  const ReadStats& st = (*reader)->stats();
  if (st.torn_bytes > 0 || st.zero_fill_bytes > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "journal segment ", st.torn_file, " ends in a torn tail of ", st.torn_bytes,
        " bytes and ", st.zero_fill_bytes, " bytes of zero fill at offset ", st.torn_offset,
        "; run recovery"));
  }
  if (st.commands == 0) {
    if (last.first_seq != next_seq) {
      return absl::FailedPreconditionError(
          absl::StrCat("journal segment ", last.path, " is empty but starts at seq ",
                       last.first_seq, ", not next_seq ", next_seq));
    }
    return true;
  }
  if (st.last_seq + 1 != next_seq) {
    return absl::FailedPreconditionError(absl::StrCat("journal ends at seq ", st.last_seq,
                                                      ", so next_seq must be ", st.last_seq + 1,
                                                      ", not ", next_seq));
  }
  return false;
}

}  // namespace

absl::StatusOr<std::unique_ptr<JournalWriter>> JournalWriter::Open(const std::string& dir,
                                                                   WriterOptions options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  Env* const env = options.env != nullptr ? options.env : Env::Default();
  if (absl::Status s = env->CreateDir(dir); !s.ok()) return s;
  absl::StatusOr<bool> replace = CheckContinuation(dir, options.next_seq);
  if (!replace.ok()) return replace.status();

  std::unique_ptr<JournalWriter> w(new JournalWriter(dir, std::move(options)));
  // The first segment is created here, synchronously, so that Open reports a journal
  // directory it cannot write to.
  std::string start;
  AppendSegmentHeader(w->options_.next_seq, &start);
  AppendRecord(RecordType::kConfig, w->options_.config, &start);
  if (absl::Status s = w->OpenSegmentFile(w->options_.next_seq); !s.ok()) return s;
  if (absl::Status s = w->WriteData(start); !s.ok()) return s;
  if (absl::Status s = w->SyncFile(); !s.ok()) return s;
  // The header and CONFIG are durable before any zeros follow them, so a crash never
  // leaves a segment whose header is zero. The first commit then finds zeros ready.
  if (w->preallocating()) {
    if (absl::Status s = w->ExtendZeros(); !s.ok()) return s;
  }
  {
    absl::MutexLock l(&w->mu_);
    w->segment_size_ = start.size();
    w->stats_.segments = 1;
    w->stats_.records = 1;
    w->stats_.bytes = start.size();
  }
  w->durable_seq_.store(w->options_.next_seq - 1, std::memory_order_release);
  absl::MutexLock l(&w->close_mu_);
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  return w;
}

JournalWriter::JournalWriter(std::string dir, WriterOptions options)
    : dir_(std::move(dir)),
      options_(std::move(options)),
      env_(options_.env != nullptr ? options_.env : Env::Default()),
      next_seq_(options_.next_seq),
      zero_cap_(RoundUpToPage(options_.segment_bytes + kMinZeroTail)) {}

JournalWriter::~JournalWriter() {
  // The status was available through Close()/status(); a destructor cannot report it.
  Close().IgnoreError();
}

absl::Status JournalWriter::Close() {
  absl::MutexLock cl(&close_mu_);
  if (thread_.joinable()) {
    {
      absl::MutexLock l(&mu_);
      closing_ = true;
      work_cv_.Signal();
    }
    thread_.join();
  }
  bool cut = false;
  {
    absl::MutexLock l(&mu_);
    closing_ = true;
    // Everything appended is written (the thread drained it); a failed writer does no
    // more I/O. Nothing else owns the file now.
    cut = status_.ok() && file_ != nullptr && !writing_;
  }
  if (cut) {
    if (absl::Status s = CutToDataEnd(); !s.ok()) Fail(s);
  }
  if (file_ != nullptr) {
    file_->Close().IgnoreError();  // everything that matters was synced, or failed
    file_.reset();
  }
  return status();
}

absl::Status JournalWriter::status() const {
  absl::MutexLock l(&mu_);
  return status_;
}

Seq JournalWriter::next_seq() const {
  absl::MutexLock l(&mu_);
  return next_seq_;
}

std::uint64_t JournalWriter::pending_bytes() const {
  absl::MutexLock l(&mu_);
  return pending_.size();
}

WriterStats JournalWriter::stats() const {
  absl::MutexLock l(&mu_);
  return stats_;
}

absl::Status JournalWriter::Append(const Command& cmd, absl::Span<const Event> events) {
  absl::MutexLock l(&mu_);
  return AppendNextLocked(cmd, events, /*wake=*/true);
}

absl::Status JournalWriter::AppendDeferred(const Command& cmd, absl::Span<const Event> events) {
  absl::MutexLock l(&mu_);
  return AppendNextLocked(cmd, events, /*wake=*/false);
}

absl::Status JournalWriter::AppendNextLocked(const Command& cmd, absl::Span<const Event> events,
                                             bool wake) {
  if (cmd.seq != next_seq_) {
    if (!status_.ok()) return status_;
    return absl::FailedPreconditionError(
        absl::StrCat("command seq ", cmd.seq, " is not the next seq ", next_seq_));
  }
  return AppendLocked(cmd, events, wake);
}

absl::Status JournalWriter::AppendAssigningSeq(Command* cmd, absl::Span<Event> events) {
  absl::MutexLock l(&mu_);
  cmd->seq = next_seq_;
  for (Event& e : events) e.seq = next_seq_;
  return AppendLocked(*cmd, events, /*wake=*/true);
}

absl::Status JournalWriter::AppendLocked(const Command& cmd, absl::Span<const Event> events,
                                         bool wake) {
  if (!status_.ok()) return status_;
  if (closing_) return absl::FailedPreconditionError("journal writer is closed");
  if (CommandPayloadSize(cmd.type) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("command seq ", cmd.seq, ": unknown type ", static_cast<int>(cmd.type)));
  }
  std::size_t group = kRecordHeaderSize + CommandPayloadSize(cmd.type);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (e.seq != cmd.seq) {
      return absl::InvalidArgumentError(
          absl::StrCat("command seq ", cmd.seq, ": event ", i, " carries seq ", e.seq));
    }
    std::size_t size = EventPayloadSize(e.type);
    if (size == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "command seq ", cmd.seq, ": event ", i, " has unknown type ", static_cast<int>(e.type)));
    }
    if (IsJournaled(e.type)) group += kRecordHeaderSize + size;
  }
  // Rotate at a group boundary; a segment always receives at least one group, so a group
  // larger than segment_bytes still fits somewhere.
  if (segment_has_commands_ && segment_size_ + group > options_.segment_bytes) {
    StartSegmentLocked(cmd.seq);
  }
  std::uint32_t n = AppendCommandGroup(cmd, events, &pending_);
  segment_size_ += group;
  segment_has_commands_ = true;
  pending_last_seq_ = cmd.seq;
  ++next_seq_;
  ++stats_.groups;
  stats_.records += 1 + n;
  stats_.bytes += group;
  if (wake) HandOffLocked();
  return absl::OkStatus();
}

void JournalWriter::HandOffLocked() {
  handoff_ = true;
  // A writer thread that is writing takes pending_ when it is done; one that waits (also
  // while a Commit caller writes) needs the wake-up.
  if (!writing_) work_cv_.Signal();
}

void JournalWriter::StartSegmentLocked(Seq first_seq) {
  std::size_t offset = pending_.size();
  AppendSegmentHeader(first_seq, &pending_);
  AppendRecord(RecordType::kConfig, options_.config, &pending_);
  pending_segments_.push_back(PendingSegment{offset, first_seq});
  segment_size_ = pending_.size() - offset;
  segment_has_commands_ = false;
  ++stats_.segments;
  ++stats_.records;
  stats_.bytes += segment_size_;
}

absl::Status JournalWriter::WaitDurable(Seq seq) {
  absl::MutexLock l(&mu_);
  if (seq >= next_seq_) {
    return absl::InvalidArgumentError(
        absl::StrCat("seq ", seq, " has not been appended (next seq ", next_seq_, ")"));
  }
  if (durable_seq_.load(std::memory_order_acquire) < seq && !handoff_ && !pending_.empty()) {
    HandOffLocked();  // waiting for a deferred group nobody committed yet
  }
  while (durable_seq_.load(std::memory_order_acquire) < seq && status_.ok()) {
    durable_cv_.Wait(&mu_);
  }
  if (durable_seq_.load(std::memory_order_acquire) >= seq) return absl::OkStatus();
  return status_;
}

absl::Status JournalWriter::Flush() {
  Seq last;
  {
    absl::MutexLock l(&mu_);
    last = next_seq_ - 1;
  }
  if (last == 0) return status();
  return WaitDurable(last);
}

void JournalWriter::Run() {
  std::string batch;
  std::vector<PendingSegment> starts;
  bool wrote = false;  // this thread holds writing_ from the previous round
  for (;;) {
    Seq batch_last = 0;
    bool extend = false;
    {
      absl::MutexLock l(&mu_);
      if (wrote) writing_ = false;
      // Wait while another thread (a Commit caller) writes, or while there is nothing to do.
      // Deferred groups are taken only once handed off (Append, Commit without an inline
      // write, WaitDurable, Close), never on a spurious or early wake-up: a Commit caller
      // about to write them inline finds them where it left them.
      // Between commits (replies already released) it extends the preallocated zeros.
      while (status_.ok() &&
             (writing_ ||
              ((pending_.empty() || !handoff_) && !closing_ && !NeedsZerosLocked()))) {
        work_cv_.Wait(&mu_);
      }
      if (!status_.ok()) break;  // failed (by a Commit)
      if (NeedsZerosLocked()) {
        // Before the next batch: with groups handed off back to back (one producer that
        // appends again as soon as its group is durable, or many), taking the batch first
        // would starve the zeros and every later group would append past them.
        extend = true;
        writing_ = true;
      } else if (!pending_.empty() && (handoff_ || closing_)) {
        batch_last = TakePendingLocked(&batch, &starts);
      } else {
        break;  // closing_, and drained (NeedsZerosLocked() is false once closing)
      }
    }
    wrote = true;
    if (extend) {
      if (absl::Status s = ExtendZeros(); !s.ok()) {
        Fail(s);
        return;
      }
      continue;
    }
    if (!WriteAndReport(batch, starts, batch_last).ok()) return;
  }
  absl::MutexLock l(&mu_);
  thread_done_ = true;
}

Seq JournalWriter::TakePendingLocked(std::string* batch, std::vector<PendingSegment>* starts) {
  // Swap so that appenders keep filling a buffer while this one is written; both keep
  // their capacity, so steady state does not allocate.
  batch->clear();
  starts->clear();
  batch->swap(pending_);
  starts->swap(pending_segments_);
  writing_ = true;
  handoff_ = false;  // everything handed off is in this batch
  return pending_last_seq_;
}

absl::Status JournalWriter::WriteAndReport(const std::string& batch,
                                           const std::vector<PendingSegment>& starts,
                                           Seq batch_last) {
  const auto t0 = std::chrono::steady_clock::now();
  sync_ns_ = 0;
  absl::Status s = WriteBatch(batch, starts);
  if (!s.ok()) {
    Fail(s);
    return status();
  }
  if (options_.on_commit) {
    CommitTiming timing;
    const Seq before = durable_seq_.load(std::memory_order_relaxed);
    timing.commands = batch_last > before ? batch_last - before : 0;
    timing.bytes = batch.size();
    timing.write_ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                             t0)
            .count());
    timing.sync_ns = sync_ns_;
    options_.on_commit(timing);
  }
  durable_seq_.store(batch_last, std::memory_order_release);
  {
    absl::MutexLock l(&mu_);
    ++stats_.syncs;
    durable_cv_.SignalAll();
  }
  // Still the only writer here, so reports never overtake each other.
  if (options_.on_durable) options_.on_durable(batch_last);
  return absl::OkStatus();
}

absl::StatusOr<bool> JournalWriter::Commit(bool inline_ok) {
  Seq batch_last;
  {
    absl::MutexLock l(&mu_);
    if (!status_.ok()) return status_;
    if (pending_.empty()) return false;
    if (!inline_ok || writing_ || closing_ || NeedsZerosLocked()) {
      // The writer thread commits it: right after its current write if it is writing
      // (it checks pending_ before it waits), else it is waiting and needs the wake-up.
      // With the preallocated zeros running low it extends them first and then writes
      // the batch into them: commits that always came back inline before the writer
      // thread got a turn would otherwise starve the zeros (once per half chunk).
      HandOffLocked();
      return false;
    }
    batch_last = TakePendingLocked(&inline_batch_, &inline_starts_);
  }
  absl::Status s = WriteAndReport(inline_batch_, inline_starts_, batch_last);
  absl::MutexLock l(&mu_);
  if (!s.ok()) return s;
  writing_ = false;
  ++stats_.inline_syncs;
  // Groups appended by other threads meanwhile (their Commit saw a write in progress and
  // left them to the writer thread), a Close waiting for the file, or zeros to extend
  // (the writer thread does it, off this caller's path): wake the writer.
  if (!pending_.empty() || closing_ || NeedsZerosLocked()) work_cv_.Signal();
  return true;
}

bool JournalWriter::NeedsZerosLocked() const {
  if (!preallocating() || closing_ || writing_ || file_ == nullptr) return false;
  // Extend at half a chunk left, up to the cap: the segment rotates before its data
  // passes segment_bytes, and the last group before that needs kMinZeroTail after it.
  return zero_end_ < zero_cap_ && zero_end_ < data_end_ + options_.preallocate_bytes / 2;
}

absl::Status JournalWriter::WriteData(absl::string_view bytes) {
  if (bytes.empty()) return absl::OkStatus();
  const std::uint64_t end = data_end_ + bytes.size();
  if (end <= zero_end_ && end + kMinZeroTail > zero_end_) {
    // It would end inside the zeros with fewer than kMinZeroTail of them left: a write
    // torn there would not be recognized as preallocated. Cut the zeros and append past
    // the end of the file instead, where a crash can only cut the write short. (A write
    // that ends past the zeros leaves no zero tail at all, so it needs no cut.)
    if (absl::Status s = file_->Truncate(data_end_); !s.ok()) return s;
    zero_end_ = data_end_;
  }
  if (preallocating() && end > zero_end_) {
    absl::MutexLock l(&mu_);
    ++stats_.appends_past_zeros;
  }
  if (absl::Status s = file_->Pwrite(bytes, data_end_); !s.ok()) {
    // The write may have stopped at any byte (ENOSPC, EFBIG), leaving part of a record in
    // the zeros, which the reader would take for a record damaged after it was written
    // (FORMAT.md "Torn tail", rule D). Nothing of it was acknowledged: put the zeros back,
    // as far as the disk still takes them.
    if (data_end_ < zero_end_) {
      static const std::string* const kZeroRecords = new std::string(kMaxUnsyncedBytes, '\0');
      const std::uint64_t n = std::min<std::uint64_t>(
          std::min<std::uint64_t>(end, zero_end_) - data_end_, kZeroRecords->size());
      file_->Pwrite(absl::string_view(kZeroRecords->data(), n), data_end_).IgnoreError();
    }
    return s;
  }
  data_end_ = end;
  zero_end_ = std::max(zero_end_, end);  // so zero_end_ >= data_end_ always
  return absl::OkStatus();
}

absl::Status JournalWriter::ExtendZeros() {
  static const std::string* const kZeros = new std::string(256u << 10, '\0');
  const std::uint64_t from = zero_end_;
  const std::uint64_t to = std::min(RoundUpToPage(zero_end_) + options_.preallocate_bytes,
                                    std::max(zero_cap_, RoundUpToPage(data_end_ + kMinZeroTail)));
  for (std::uint64_t at = from; at < to;) {
    const std::uint64_t n = std::min<std::uint64_t>(to - at, kZeros->size());
    if (absl::Status s = file_->Pwrite(absl::string_view(kZeros->data(), n), at); !s.ok()) {
      return s;
    }
    at += n;
  }
  // Durable zeros are what make later data fdatasyncs cheap (no size change to commit).
  if (absl::Status s = SyncFile(); !s.ok()) return s;
  zero_end_ = std::max(zero_end_, to);
  absl::MutexLock l(&mu_);
  ++stats_.zero_fills;
  stats_.zero_fill_bytes += to - from;
  return absl::OkStatus();
}

absl::Status JournalWriter::CutToDataEnd() {
  if (zero_end_ <= data_end_) return absl::OkStatus();
  if (absl::Status s = file_->Truncate(data_end_); !s.ok()) return s;
  zero_end_ = data_end_;
  return SyncFile();
}

absl::Status JournalWriter::WriteSynced(absl::string_view bytes, bool starts_with_header) {
  if (options_.durability != Durability::kSync || bytes.size() <= kMaxUnsyncedBytes) {
    return WriteData(bytes);
  }
  // Whole records, at most kMaxUnsyncedBytes between two fdatasyncs (one record alone if
  // it is larger): a crash can then damage only the last kMaxUnsyncedBytes of a segment,
  // the window in which the reader accepts a torn tail (FORMAT.md "Torn tail").
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::size_t end = pos;
    if (starts_with_header && pos == 0) end = kSegmentHeaderSize;
    while (end < bytes.size()) {
      const std::size_t record =
          kRecordHeaderSize + GetFixed32(bytes.data() + end + kRecordLengthOffset);
      if (end > pos && end + record - pos > kMaxUnsyncedBytes) break;
      end += record;
    }
    if (absl::Status s = WriteData(bytes.substr(pos, end - pos)); !s.ok()) return s;
    // The last chunk is synced by the caller, with the rest of the batch.
    if (end < bytes.size()) {
      if (absl::Status s = SyncFile(); !s.ok()) return s;
    }
    pos = end;
  }
  return absl::OkStatus();
}

absl::Status JournalWriter::WriteBatch(const std::string& bytes,
                                       const std::vector<PendingSegment>& starts) {
  std::size_t pos = 0;
  bool header_first = false;  // the part starts with a segment header
  for (const PendingSegment& seg : starts) {
    absl::string_view part(bytes.data() + pos, seg.offset - pos);
    if (absl::Status s = WriteSynced(part, header_first); !s.ok()) return s;
    // The old segment is complete, exact (no zeros after its data) and durable before the
    // new one exists, so a torn tail or zero fill can only ever be in the last segment.
    if (zero_end_ > data_end_) {
      if (absl::Status s = CutToDataEnd(); !s.ok()) return s;  // syncs the data too
    } else if (absl::Status s = SyncFile(); !s.ok()) {
      return s;
    }
    file_->Close().IgnoreError();  // synced above
    file_.reset();
    if (absl::Status s = OpenSegmentFile(seg.first_seq); !s.ok()) return s;
    pos = seg.offset;
    header_first = true;
  }
  absl::string_view rest(bytes.data() + pos, bytes.size() - pos);
  if (absl::Status s = WriteSynced(rest, header_first); !s.ok()) return s;
  return SyncFile();
}

absl::Status JournalWriter::OpenSegmentFile(Seq first_seq) {
  segment_path_ = JoinPath(dir_, SegmentFileName(first_seq));
  // O_TRUNC: Open verified that an existing file of this name holds no command.
  absl::StatusOr<std::unique_ptr<WritableFile>> file = env_->NewWritableFile(segment_path_);
  if (!file.ok()) return file.status();
  file_ = *std::move(file);
  data_end_ = 0;
  zero_end_ = 0;
  if (options_.durability == Durability::kSync) {
    if (absl::Status s = env_->SyncDir(dir_); !s.ok()) {
      sync_failed_ = true;
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status JournalWriter::SyncFile() {
  if (options_.durability != Durability::kSync) return absl::OkStatus();
  const auto t0 = std::chrono::steady_clock::now();
  absl::Status synced = file_->Datasync();
  sync_ns_ += static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  if (absl::Status s = std::move(synced); !s.ok()) {
    // What the page cache holds may never reach the disk (Linux can mark the pages clean
    // after a failed writeback): Fail() reports DATA_LOSS, not UNAVAILABLE.
    sync_failed_ = true;
    return s;
  }
  absl::MutexLock l(&mu_);
  ++stats_.fdatasyncs;
  return absl::OkStatus();
}

void JournalWriter::Fail(const absl::Status& status) {
  // sync_failed_ is owned by this thread (the one whose call failed).
  absl::Status closed =
      sync_failed_
          ? absl::DataLossError(absl::StrCat(
                "journal failed closed: ", status.message(),
                "; data written before it may never reach the disk (reboot before restarting)"))
          : absl::UnavailableError(absl::StrCat("journal failed closed: ", status.message()));
  {
    absl::MutexLock l(&mu_);
    status_ = closed;
    pending_.clear();
    pending_segments_.clear();
    writing_ = false;
    durable_cv_.SignalAll();
    work_cv_.Signal();  // a waiting writer thread exits
  }
  if (options_.on_failure) options_.on_failure(closed);
}

}  // namespace msx::journal
