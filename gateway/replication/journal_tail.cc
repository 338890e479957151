#include "gateway/replication/journal_tail.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/journal/codec.h"
#include "engine/journal/journal_format.h"
#include "engine/matching/command.h"
#include "gateway/replication/internal/nats_util.h"
#include "gateway/replication/replicated_batch.h"

namespace msx::replication {

namespace jf = msx::journal;

namespace {

// The stream's messages as command groups, read on demand (js_GetMsg) and cached.
class StreamCommands {
 public:
  struct Message {
    std::uint64_t stream_seq = 0;
    std::uint64_t first = 0, last = 0;  // command seqs; 0, 0 for a leadership marker
  };

  StreamCommands(NatsConnection& conn, std::string stream, std::uint64_t first_seq,
                 std::uint64_t last_seq)
      : conn_(conn), stream_(std::move(stream)), first_seq_(first_seq), last_seq_(last_seq) {}

  // The first message at or after stream seq `from` that holds commands; stream_seq =
  // last_seq + 1 when there is none.
  absl::StatusOr<Message> NextWithCommands(std::uint64_t from) {
    for (std::uint64_t s = std::max(from, first_seq_); s <= last_seq_; ++s) {
      absl::StatusOr<Message> m = Read(s);
      if (!m.ok() || m->first != 0) return m;
    }
    return Message{last_seq_ + 1, 0, 0};
  }
  // The last message that holds commands (stream_seq 0 when none).
  absl::StatusOr<Message> LastWithCommands() {
    for (std::uint64_t s = last_seq_; s >= first_seq_ && s >= 1; --s) {
      absl::StatusOr<Message> m = Read(s);
      if (!m.ok() || m->first != 0) return m;
    }
    return Message{};
  }
  // The journal bytes of command `cmd` as the stream holds them; nullopt if no message
  // holds it. Command seqs grow with stream seqs (markers hold none): a binary search.
  absl::StatusOr<std::optional<std::string>> Group(std::uint64_t cmd) {
    if (auto it = groups_.find(cmd); it != groups_.end()) return std::optional(it->second);
    std::uint64_t lo = first_seq_, hi = last_seq_ + 1;
    while (lo < hi) {
      const std::uint64_t mid = lo + (hi - lo) / 2;
      absl::StatusOr<Message> m = NextWithCommands(mid);
      if (!m.ok()) return m.status();
      if (m->first == 0 || m->last >= cmd) {
        hi = mid;
      } else {
        lo = m->stream_seq + 1;
      }
    }
    absl::StatusOr<Message> m = NextWithCommands(lo);
    if (!m.ok()) return m.status();
    if (auto it = groups_.find(cmd); it != groups_.end()) return std::optional(it->second);
    return std::optional<std::string>();
  }

 private:
  // Reads message `seq`, verifies it and caches its groups by command seq.
  absl::StatusOr<Message> Read(std::uint64_t seq) {
    if (auto it = read_.find(seq); it != read_.end()) return it->second;
    natsMsg* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetMsg(&raw, conn_.js(), stream_.c_str(), seq, nullptr, &jerr);
    internal::MsgPtr msg(raw);
    if (s != NATS_OK) {
      return internal::ToStatus(s, jerr, absl::StrCat("read stream ", stream_, " seq ", seq));
    }
    const absl::string_view payload(natsMsg_GetData(msg.get()),
                                    static_cast<std::size_t>(natsMsg_GetDataLength(msg.get())));
    Message m{seq, 0, 0};
    if (!payload.empty()) {
      if (payload.size() < jf::kRecordHeaderSize + 8) {
        return absl::DataLossError(absl::StrCat("stream ", stream_, " seq ", seq, ": too short"));
      }
      absl::StatusOr<ReplicatedBatch> batch = VerifyReplicatedBatch(
          payload, jf::GetFixed64(payload.data() + jf::kRecordHeaderSize));
      if (!batch.ok()) {
        return absl::DataLossError(
            absl::StrCat("stream ", stream_, " seq ", seq, ": ", batch.status().message()));
      }
      m.first = batch->first_seq;
      m.last = batch->last_seq;
      // Split into groups (the framing is verified): a COMMAND record and its events.
      std::size_t pos = 0;
      while (pos < payload.size()) {
        const std::size_t begin = pos;
        const std::uint32_t len = jf::GetFixed32(payload.data() + pos + jf::kRecordLengthOffset);
        Command cmd{};
        std::uint32_t events = 0;
        absl::Status d = jf::DecodeCommandPayload(
            payload.substr(pos + jf::kRecordHeaderSize, len), &cmd, &events);
        if (!d.ok()) {
          return absl::DataLossError(
              absl::StrCat("stream ", stream_, " seq ", seq, " offset ", pos, ": ", d.message()));
        }
        pos += jf::kRecordHeaderSize + len;
        for (std::uint32_t i = 0; i < events; ++i) {
          pos += jf::kRecordHeaderSize +
                 jf::GetFixed32(payload.data() + pos + jf::kRecordLengthOffset);
        }
        groups_[cmd.seq] = std::string(payload.substr(begin, pos - begin));
      }
    }
    read_.emplace(seq, m);
    return m;
  }

  NatsConnection& conn_;
  const std::string stream_;
  const std::uint64_t first_seq_, last_seq_;
  std::map<std::uint64_t, Message> read_;
  std::map<std::uint64_t, std::string> groups_;
};

}  // namespace

absl::StatusOr<JournalAgreement> FindJournalAgreement(NatsConnection& conn,
                                                      const std::string& stream,
                                                      const std::string& dir,
                                                      std::uint64_t local_last) {
  JournalAgreement a;
  a.local_last = local_last;
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&raw, conn.js(), stream.c_str(), nullptr, &jerr);
  internal::StreamInfoPtr info(raw);
  std::uint64_t first_seq = 1, last_seq = 0;  // an empty (or missing) stream
  if (s == NATS_OK) {
    if (info->State.Msgs > 0) {
      first_seq = info->State.FirstSeq;
      last_seq = info->State.LastSeq;
    }
  } else if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
    return internal::ToStatus(s, jerr, absl::StrCat("stream info ", stream));
  }
  StreamCommands commands(conn, stream, first_seq, last_seq);
  absl::StatusOr<StreamCommands::Message> first = commands.NextWithCommands(first_seq);
  if (!first.ok()) return first.status();
  absl::StatusOr<StreamCommands::Message> last = commands.LastWithCommands();
  if (!last.ok()) return last.status();
  a.stream_first = first->first;
  a.stream_last = last->last;
  if (local_last == 0) return a;
  if (a.stream_last == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "replication: the stream ", stream, " holds no command but this node's journal holds "
        "commands up to seq ", local_last, ": it is not this stream's journal; start the "
        "node on a new data directory"));
  }
  if (local_last < a.stream_first) {
    a.agreed = local_last;  // nothing to compare (the node's start checks the gap)
    return a;
  }
  // From the last command both hold, backwards, in windows that double: a normal restart
  // stops at the first comparison; an old primary's unreplicated tail is short.
  std::uint64_t top = std::min(local_last, a.stream_last);
  std::uint64_t window = 16;
  while (top >= a.stream_first) {
    const std::uint64_t lo = top - std::min(top - a.stream_first, window - 1);
    absl::StatusOr<std::vector<jf::RawGroup>> local = jf::ReadRawGroups(dir, lo - 1, top);
    if (!local.ok()) return local.status();
    for (auto it = local->rbegin(); it != local->rend(); ++it) {
      absl::StatusOr<std::optional<std::string>> theirs = commands.Group(it->seq);
      if (!theirs.ok()) return theirs.status();
      if (!theirs->has_value()) {
        return absl::DataLossError(absl::StrCat("replication: the stream ", stream,
                                                " holds commands ", a.stream_first, "..",
                                                a.stream_last, " but not ", it->seq));
      }
      ++a.compared;
      if (**theirs == it->bytes) {
        a.agreed = it->seq;
        return a;
      }
    }
    if (lo == a.stream_first) break;
    top = lo - 1;
    window *= 2;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "replication: no command of this node's journal (up to seq ", local_last,
      ") equals the stream's from seq ", a.stream_first, " to ", std::min(local_last, a.stream_last),
      a.stream_first > 1 ? " (the stream was trimmed above where the two part)"
                         : ": it is not this stream's journal",
      "; start the node on a new data directory"));
}

absl::StatusOr<TailCut> CutUnreplicatedTail(const ConnectionOptions& connection,
                                            const std::string& stream, const std::string& dir,
                                            std::uint64_t local_last) {
  TailCut out;
  out.agreement.local_last = local_last;
  if (local_last == 0) return out;
  absl::StatusOr<std::unique_ptr<NatsConnection>> conn = NatsConnection::Connect(connection);
  if (!conn.ok()) return conn.status();
  absl::StatusOr<JournalAgreement> a = FindJournalAgreement(**conn, stream, dir, local_last);
  if (!a.ok()) return a.status();
  out.agreement = *a;
  if (a->agreed >= local_last) return out;
  absl::StatusOr<jf::CutResult> cut = jf::CutJournalAfter(dir, a->agreed);
  if (!cut.ok()) {
    return absl::Status(cut.status().code(),
                        absl::StrCat("replication: commands ", a->agreed + 1, "..", local_last,
                                     " of this node's journal are not the stream's (never "
                                     "replicated, so never acknowledged) but cannot be set "
                                     "aside: ",
                                     cut.status().message(),
                                     absl::IsFailedPrecondition(cut.status())
                                         ? "; move that snapshot out of the data directory, "
                                           "or start the node on a new data directory"
                                         : ""));
  }
  out.cut = *std::move(cut);
  return out;
}

}  // namespace msx::replication
