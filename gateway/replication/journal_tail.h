// A replicated node's journal against the stream, before the node starts
// (README.md, "Bootstrap: the stream decides"). A primary writes each group to its own
// journal whether or not its publish reached a quorum, so an old primary restarted as a
// standby may hold a tail the stream never stored (never acknowledged to anyone), while a
// new primary has since written other commands under the same sequence numbers. That tail
// is set aside, never kept and never deleted: the node then takes those sequence numbers
// from the stream like every other standby.
//
// Thread-safety: functions of one caller; run before a JournalWriter is opened on `dir`.
#ifndef MSX_GATEWAY_REPLICATION_JOURNAL_TAIL_H_
#define MSX_GATEWAY_REPLICATION_JOURNAL_TAIL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "engine/journal/tail.h"
#include "gateway/replication/nats_connection.h"

namespace msx::replication {

struct JournalAgreement {
  std::uint64_t local_last = 0;    // last command of the local journal
  std::uint64_t stream_first = 0;  // first and last command the stream holds (0: none)
  std::uint64_t stream_last = 0;
  // The last command whose local journal bytes equal the stream's (the local journal's
  // prefix up to it is the stream's); local_last when the two do not overlap (the stream
  // starts after it: nothing to compare).
  std::uint64_t agreed = 0;
  std::uint64_t compared = 0;  // commands compared to find it
};

// Compares the local journal in `dir` (ending at command `local_last`) with the stream, from
// the last command both hold backwards, until a command's bytes are equal. A normal
// restart compares one command. Errors: UNAVAILABLE (NATS), DATA_LOSS (a malformed stream
// message), FAILED_PRECONDITION when no command agrees (the journal is not this stream's,
// or the stream was trimmed above where the two part), the journal reader's errors.
absl::StatusOr<JournalAgreement> FindJournalAgreement(NatsConnection& conn,
                                                      const std::string& stream,
                                                      const std::string& dir,
                                                      std::uint64_t local_last);

struct TailCut {
  JournalAgreement agreement;
  journal::CutResult cut;  // cut.commands == 0: nothing was set aside
};

// FindJournalAgreement, then CutJournalAfter(dir, agreed) when the local journal goes on
// past it. A missing stream counts as an empty one. The caller recovers its engine again
// when cut.commands > 0. Errors: those two's (FAILED_PRECONDITION naming the snapshot if
// one lies beyond the cut: nothing is changed then).
absl::StatusOr<TailCut> CutUnreplicatedTail(const ConnectionOptions& connection,
                                            const std::string& stream, const std::string& dir,
                                            std::uint64_t local_last);

}  // namespace msx::replication

#endif  // MSX_GATEWAY_REPLICATION_JOURNAL_TAIL_H_
