// SequencerObserver: how the rest of the gateway learns what the sequencer did, without
// the sequencer knowing what they make of it. The sequencer orders, journals and
// releases; observers turn that into messages (gateway/reports.h builds the
// ExecutionReport and BookUpdate protos), counters or replicated bytes.
//
// Each observer sees, in sequence order:
//
//   OnApplied(engine, cmd, events)   per journaled command, on the sequencing thread,
//                                    while the engine is still in the state after `cmd`
//   OnBatchSequenced(groups)         per batch, before its commands reach the journal
//   OnBatchCommitting()              per batch, when its journal commit starts: before a
//                                    commit this thread may write itself, after a hand-off
//                                    to the journal thread
//   OnGroupDurable(first, last)      per release: commands first..last are durable and
//                                    every reply that depends on them has been completed
//   OnJournalFailed(durable_seq)     once, when the journal failed closed
//
// A command seen by OnApplied/OnBatchSequenced is later covered by exactly one
// OnGroupDurable range, or it is above the durable_seq of OnJournalFailed (never durable:
// its caller was answered UNAVAILABLE).
//
// Release rule (unchanged from before observers existed): the sequencer completes the
// Works (replies) of a group commit first, then calls OnGroupDurable on each observer in
// the order they were given to the Sequencer, so stream messages go out after the replies
// and never describe a command the journal does not hold. A release gate (e.g. "durable
// AND replicated to the standby") belongs in Sequencer::ReleasableSeq(), the one place
// that decides how far a release may go; observers then see only gated ranges.
//
// Threads: OnApplied and OnBatchSequenced run on whoever holds the sequencing role (the
// sequencer thread, or a gRPC thread in SubmitCommandHere), one at a time. OnBatchCommitting
// runs on the same thread after it let the role go: calls for successive batches may
// overlap (on different threads) and may come in either order. OnGroupDurable
// and OnJournalFailed run on the releasing thread (the journal writer, the sequencer, the
// publisher or a SubmitCommandHere caller), one release at a time (the sequencer
// serializes them), possibly concurrently with OnApplied of later commands. Whatever the
// release side needs from OnApplied must be handed over in OnBatchSequenced at the latest:
// the batch may be released on another thread as soon as it returns.
//
// All four are on the hot path of every command: they must not block, must not call into
// the Sequencer or the JournalWriter, and should not allocate per command in steady state.
#ifndef MSX_GATEWAY_SEQUENCER_OBSERVER_H_
#define MSX_GATEWAY_SEQUENCER_OBSERVER_H_

#include "absl/types/span.h"
#include "engine/matching/command.h"
#include "engine/matching/engine.h"
#include "engine/matching/event.h"

namespace msx::gateway {

// One command group as it is appended to the journal: the command (seq and time stamped)
// and every event Engine::Apply produced for it (the journal keeps those for which
// journal::IsJournaled is true). journal::AppendCommandGroup(*command, events, &out)
// yields exactly the bytes the journal writes for the group (engine/journal/FORMAT.md,
// "Command groups").
struct CommandGroup {
  const Command* command;
  absl::Span<const Event> events;
};

class SequencerObserver {
 public:
  virtual ~SequencerObserver() = default;

  // `cmd` (seq/time stamped) was applied and produced `events`; `engine` is the state
  // right after it and may be read during this call only. Called after the command's
  // Work::Applied, for every command that will be appended to the journal (skipped timer
  // ticks are not). Sequencing role.
  virtual void OnApplied(const Engine& engine, const Command& cmd, absl::Span<const Event> events) {
    (void)engine, (void)cmd, (void)events;
  }

  // The batch's commands, in seq order, just before they are appended to the journal
  // (after their OnApplied calls). `groups` and what it points to are valid during the
  // call only. Not called for a batch without commands. Sequencing role.
  virtual void OnBatchSequenced(absl::Span<const CommandGroup> groups) { (void)groups; }

  // The batch last given to OnBatchSequenced on this thread is being committed: called
  // right before a commit that may write (and fdatasync) on this thread, or right after
  // one was handed to the journal thread, which writes while this runs. For work that
  // should overlap the journal's write rather than delay it (the replication publish).
  // Outside the sequencing role (see Threads); may find its batch handled already by an
  // overlapping call for a later one.
  virtual void OnBatchCommitting() {}

  // Every command with seq in [first_seq, last_seq] is durable (and released: see the
  // release rule above). Consecutive calls cover consecutive ranges. Releasing thread.
  virtual void OnGroupDurable(Seq first_seq, Seq last_seq) { (void)first_seq, (void)last_seq; }

  // The journal failed closed: no command with seq > durable_seq will become durable;
  // drop what is kept for them. At most once, after the last OnGroupDurable. Releasing
  // thread.
  virtual void OnJournalFailed(Seq durable_seq) { (void)durable_seq; }
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_SEQUENCER_OBSERVER_H_
