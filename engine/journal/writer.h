// JournalWriter: appends command groups (a command and its events) to the journal's
// segment files and makes them durable with group commit: one write() + fdatasync() covers
// every group that arrived while the previous sync was running.
//
//   sequencer thread                       journal writer thread (owned by JournalWriter)
//   ----------------                       -------------------------------------------
//   Append(cmd, events)  --> buffer  -->   write(all buffered) ; fdatasync
//   (encodes, never touches the disk)      durable_seq = last seq written
//                                          options.on_durable(durable_seq)
//
// Group commit on the caller's thread (leader/follower): AppendDeferred queues without
// waking the writer thread, then Commit(true) writes (and fdatasyncs) the buffered groups
// on the calling thread if no write is in progress, saving the writer thread's wake-up;
// if one is, the writer thread takes them after it without a wake-up. Either way exactly
// one thread writes at a time (it owns the file), so durable_seq and on_durable stay
// strictly increasing, and on_durable runs on whichever thread made the commit.
//
// Replies, execution reports and market data for a command must be released only once
// durable_seq() >= its seq (on_durable tells when; WaitDurable blocks until then).
//
// Failure is closed: the first failed open/write/fdatasync/ftruncate puts the writer into a
// permanent error state. status() returns that error (naming the file and the errno)
// forever, every later Append fails with it, nothing after the failure is ever reported
// durable, and on_failure is called once. The error is DATA_LOSS when an fdatasync (or a
// directory fsync) failed: the kernel may have dropped the unsynced pages, so data the
// process wrote may never reach the disk, and a restart on the same boot could read page
// cache that the disk never got; the server exits and the operator reboots before
// restarting (gateway/README.md). Any other failure is UNAVAILABLE.
//
// Preallocation (WriterOptions::preallocate_bytes, kSync only): the writer keeps real zero
// bytes (pwrite, then fdatasync) ahead of its write position in the current segment, so
// that a group commit overwrites space that already belongs to the file and its fdatasync
// does not also commit a file-size change (on ext4 that metadata commit is most of the
// difference between an append and an overwrite). The zeros are extended by the writer
// thread once the zero space left falls below half a chunk, after a commit's on_durable
// has run (never between a write and its report) or while it is idle, and before it takes
// the next batch; a Commit that finds them running low hands its batch to the writer
// thread instead of writing it inline (so back-to-back commits cannot starve them, at the
// price of one extension's wait per half chunk under load); a group that does
// not fit the zeros (keeping kMinZeroTail of them after it) is appended past them the old
// way instead. Before the next segment starts, and at Close(), the segment is cut to its
// exact data end (ftruncate, made durable), so only a crash leaves zeros at the end of
// the last segment, which the reader treats as a clean end (FORMAT.md "Torn tail").
//
// Unsynced bytes: under kSync the writer never has more than kMaxUnsyncedBytes of records
// written but not fdatasync'd (a larger batch is written in pieces of whole records, each
// synced before the next is written; the batch is reported durable after the last), so a
// power cut can damage only that much at the end of the last segment (FORMAT.md "Torn
// tail").
//
// Memory: appended groups are buffered until the writer thread has written them, so if the
// disk stalls the buffer grows at the append rate (pending_bytes() shows it; the gateway's
// bounded queue is what limits the rate).
//
// Thread-safety: every public method is thread-safe. Append may be called from any number
// of threads, but the sequence it requires (gapless seq) makes a single sequencer thread
// the normal caller. Callbacks run on the thread that made the commit (the writer thread,
// or a Commit caller) with no journal lock held; they may call durable_seq()/status() but
// must not block for long (they delay the next group commit) and must not call
// WaitDurable/Flush/Close/Commit (deadlock).
#ifndef MSX_ENGINE_JOURNAL_WRITER_H_
#define MSX_ENGINE_JOURNAL_WRITER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "engine/matching/command.h"
#include "engine/matching/event.h"
#include "engine/journal/env.h"
#include "engine/journal/journal_format.h"
#include "engine/matching/types.h"

namespace msx::journal {

enum class Durability : std::uint8_t {
  kSync = 1,  // fdatasync before a group is reported durable (the default)
  kNone = 2,  // write() only: reported durable once in the OS page cache. Survives a
              // crash of the process (kill -9) but not of the machine (power cut).
};

// One group commit: the commands it made durable and where its time went.
struct CommitTiming {
  std::uint64_t commands = 0;  // durable seq advanced by this many
  std::uint64_t bytes = 0;     // journal bytes written (headers and CONFIG records included)
  std::uint64_t write_ns = 0;  // the whole write, fdatasyncs included (steady clock)
  std::uint64_t sync_ns = 0;   // of which in fdatasync (0 under kNone)
};

struct WriterOptions {
  Durability durability = Durability::kSync;
  // Rotate to a new segment when the next group would grow the current one beyond this.
  std::uint64_t segment_bytes = kDefaultSegmentBytes;
  // Zero bytes to keep ahead of the data in the current segment, extended a chunk of this
  // many bytes at a time (see "Preallocation" above). 0 turns preallocation off (each
  // commit appends to the file). Otherwise a multiple of 4096 in [64 KiB, 1 GiB]. Applies
  // under kSync only: without fdatasync there is no metadata commit to save.
  std::uint64_t preallocate_bytes = kDefaultPreallocateBytes;
  // The file system (tests pass a FaultInjectionEnv); nullptr means Env::Default().
  // REQUIRES: outlives the writer.
  Env* env = nullptr;
  // Opaque reference-data configuration (serialized msx.v1.ExchangeConfig), written as the
  // CONFIG record at the start of every segment. REQUIRES: size() <= kMaxPayload.
  std::string config;
  // Sequence number of the first command that will be appended: 1 for a new journal,
  // RecoveryResult::last_seq + 1 after Recover().
  Seq next_seq = 1;
  // Called after each group commit with the new durable seq (strictly increasing), on the
  // thread that made it: the writer thread, or the caller of Commit. May be empty.
  std::function<void(Seq durable_seq)> on_durable;
  // Called once, on the thread whose write failed (writer thread or Commit caller), when
  // the writer fails closed. May be empty.
  std::function<void(const absl::Status& status)> on_failure;
  // Called after each group commit, before on_durable, on the same thread, with what it
  // cost (for metrics: gateway/http/METRICS.md). May be empty; must not block.
  std::function<void(const CommitTiming& timing)> on_commit;
};

struct WriterStats {
  std::uint64_t groups = 0;    // command groups appended
  std::uint64_t records = 0;   // records appended (COMMAND + EVENT + CONFIG)
  std::uint64_t bytes = 0;     // bytes appended including headers
  std::uint64_t syncs = 0;     // write+fdatasync rounds (group commits), both kinds
  // fdatasync calls of every kind: group commits, the extra ones that keep at most
  // kMaxUnsyncedBytes unsynced within a large batch, zero extensions and cuts.
  std::uint64_t fdatasyncs = 0;
  std::uint64_t inline_syncs = 0;  // of those, made by a Commit caller's thread
  std::uint64_t segments = 0;  // segment files created
  std::uint64_t zero_fills = 0;        // preallocation extensions (pwrite zeros + fdatasync)
  std::uint64_t zero_fill_bytes = 0;   // zero bytes they wrote
  // With preallocation on: writes that grew the file (each segment's first write does;
  // any other means the zeros ran out before the writer thread could extend them).
  std::uint64_t appends_past_zeros = 0;
};

class JournalWriter {
 public:
  // Opens the journal in `dir` (created if missing) for appending and starts the writer
  // thread. A new segment named after options.next_seq is started; an existing segment
  // of that name is replaced only if it holds no command. Fails with:
  //   FailedPrecondition if the journal already holds commands at or beyond next_seq, or
  //     its last segment does not end at next_seq - 1 or ends in a torn tail (run
  //     Recover() first, which truncates torn tails);
  //   InvalidArgument for bad options; the I/O error (UNAVAILABLE) naming the path.
  static absl::StatusOr<std::unique_ptr<JournalWriter>> Open(const std::string& dir,
                                                             WriterOptions options);

  // Flushes what was appended and stops the writer thread (see Close()).
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Queues `cmd` and its journaled events (kBookLevel events are skipped) for the next
  // group commit. Does not wait for the disk. Returns:
  //   OK; the failure status once the writer has failed closed (UNAVAILABLE);
  //   FailedPrecondition if cmd.seq != next_seq() or after Close();
  //   InvalidArgument if an event's seq differs from cmd.seq or a type is unknown.
  absl::Status Append(const Command& cmd, absl::Span<const Event> events);

  // Like Append, but stamps the next sequence number into cmd->seq and every event's seq
  // under the writer's lock: for producers that do not sequence commands themselves
  // (benchmarks, tools). Returns the same errors as Append except the seq check.
  absl::Status AppendAssigningSeq(Command* cmd, absl::Span<Event> events);

  // Like Append, but does not wake the writer thread, and the writer thread leaves the
  // group alone until a Commit, an Append, a WaitDurable for it or Close hands it over:
  // follow a run of these with Commit.
  absl::Status AppendDeferred(const Command& cmd, absl::Span<const Event> events);

  // Commits what was appended so far. With `inline_ok` and no write in progress, the
  // calling thread writes it (write(), plus fdatasync under kSync), advances durable_seq,
  // wakes WaitDurable and runs on_durable before returning true. Otherwise it returns
  // false and the writer thread commits it: woken if idle, or right after its current
  // write (no wake-up). Also false when nothing is buffered or the writer is closing.
  // A failed inline write fails the writer closed (on_failure runs on this thread) and
  // returns that status; so does a writer that has failed already.
  absl::StatusOr<bool> Commit(bool inline_ok);

  // Blocks until command `seq` is durable (OK) or the writer has failed (its status).
  // REQUIRES: seq < next_seq(), i.e. already appended (else returns InvalidArgument).
  absl::Status WaitDurable(Seq seq);

  // WaitDurable(next_seq() - 1): everything appended so far is durable.
  absl::Status Flush();

  // Makes everything appended durable, stops the writer thread and closes the segment.
  // Returns the writer's final status. Idempotent; later Appends fail.
  absl::Status Close();

  // OK, or the error the writer failed closed with (permanent).
  absl::Status status() const;
  // The highest seq whose group is durable (0 = none yet). Lock-free.
  Seq durable_seq() const { return durable_seq_.load(std::memory_order_acquire); }
  // The seq the next Append must carry.
  Seq next_seq() const;
  WriterStats stats() const;
  // Bytes appended but not yet handed to write() (excludes the batch being written).
  std::uint64_t pending_bytes() const;
  const std::string& dir() const { return dir_; }

 private:
  struct PendingSegment {  // a segment start queued behind the groups before it
    std::size_t offset;    // in pending_ where its header begins
    Seq first_seq;
  };

  JournalWriter(std::string dir, WriterOptions options);
  // Append's seq check, then AppendLocked. `wake`: signal the writer thread.
  absl::Status AppendNextLocked(const Command& cmd, absl::Span<const Event> events, bool wake)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AppendLocked(const Command& cmd, absl::Span<const Event> events, bool wake)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartSegmentLocked(Seq first_seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Lets the writer thread take pending_ (handoff_), waking it if it waits.
  void HandOffLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run();  // the writer thread
  // Takes the buffered groups for writing and marks a write in progress.
  Seq TakePendingLocked(std::string* batch, std::vector<PendingSegment>* starts)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes a taken batch and reports it durable (on_durable), or fails closed. REQUIRES:
  // this thread set writing_ (it owns the file until writing_ is cleared).
  absl::Status WriteAndReport(const std::string& batch, const std::vector<PendingSegment>& starts,
                              Seq batch_last);
  absl::Status WriteBatch(const std::string& bytes, const std::vector<PendingSegment>& starts);
  // WriteData, but under kSync with an fdatasync after every kMaxUnsyncedBytes of whole
  // records (the caller syncs the last piece). `bytes` holds whole records, after a
  // segment header if `starts_with_header`. REQUIRES: this thread owns the file.
  absl::Status WriteSynced(absl::string_view bytes, bool starts_with_header);
  // Writes `bytes` at data_end_: into the zeros if they hold it with kMinZeroTail to spare,
  // else past the end of the file (cutting the zeros first if the write would end inside
  // them, so a file never ends in 1..kMinZeroTail-1 zeros after data). REQUIRES: this
  // thread owns the file.
  absl::Status WriteData(absl::string_view bytes);
  // Extends the zeros by one chunk (pwrite + fdatasync). REQUIRES: owns the file.
  absl::Status ExtendZeros();
  // Cuts the current segment to data_end_ (ftruncate + fdatasync) if zeros follow it.
  absl::Status CutToDataEnd();
  // Whether the zeros should be extended now. REQUIRES: no thread owns the file (!writing_).
  bool NeedsZerosLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool preallocating() const {
    return options_.preallocate_bytes > 0 && options_.durability == Durability::kSync;
  }
  absl::Status OpenSegmentFile(Seq first_seq);
  absl::Status SyncFile();
  void Fail(const absl::Status& status);

  const std::string dir_;
  const WriterOptions options_;
  Env* const env_;

  mutable absl::Mutex mu_;
  absl::CondVar work_cv_;     // signalled when pending_ grows or on close
  absl::CondVar durable_cv_;  // signalled when durable_seq_ advances or on failure
  std::string pending_ ABSL_GUARDED_BY(mu_);
  std::vector<PendingSegment> pending_segments_ ABSL_GUARDED_BY(mu_);
  Seq pending_last_seq_ ABSL_GUARDED_BY(mu_) = 0;
  Seq next_seq_ ABSL_GUARDED_BY(mu_);
  std::uint64_t segment_size_ ABSL_GUARDED_BY(mu_) = 0;  // logical size incl. pending
  bool segment_has_commands_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool thread_done_ ABSL_GUARDED_BY(mu_) = false;
  // A thread (the writer thread or a Commit caller) is writing: it owns file_/segment_path_.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // pending_ has been handed to the writer thread (it may take it); deferred groups that no
  // Commit/Append/WaitDurable handed off yet stay for their Commit caller.
  bool handoff_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  WriterStats stats_ ABSL_GUARDED_BY(mu_);
  std::atomic<Seq> durable_seq_{0};

  // Owned by the thread that set writing_ (and by Open before the thread starts).
  std::unique_ptr<WritableFile> file_;
  bool sync_failed_ = false;  // the failure was an fdatasync or directory fsync
  std::uint64_t sync_ns_ = 0;  // time in SyncFile since the current write began
  std::string segment_path_;
  std::uint64_t data_end_ = 0;  // where the next group goes in the current segment
  std::uint64_t zero_end_ = 0;  // the file's size: zeros in [data_end_, zero_end_)
  std::uint64_t zero_cap_ = 0;  // preallocate no further than this (segment_bytes + a tail)
  std::string inline_batch_;  // Commit's buffers (swapped with pending_, keep capacity)
  std::vector<PendingSegment> inline_starts_;

  absl::Mutex close_mu_;  // serializes Close()
  std::thread thread_ ABSL_GUARDED_BY(close_mu_);
};

}  // namespace msx::journal

#endif  // MSX_ENGINE_JOURNAL_WRITER_H_
