#include "gateway/service.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/translate.h"

namespace msx::gateway {
namespace {

using AppliedFn = std::function<absl::Status(const SequencerView&, const Command&,
                                             absl::Span<const Event>)>;
using QueryFn = std::function<absl::Status(const SequencerView&)>;
using FinishFn = std::function<void(const absl::Status&)>;

// A Work whose reply is built by `applied` (commands) or `query` (queries) on the
// sequencer thread, and delivered by `finish` once durable. Deletes itself on Complete.
class CallWork final : public Work {
 public:
  CallWork(AppliedFn applied, QueryFn query, FinishFn finish)
      : applied_(std::move(applied)), query_(std::move(query)), finish_(std::move(finish)) {}
  ~CallWork() override { ReleaseSlot(); }

  void Applied(const SequencerView& view, const Command& cmd,
               absl::Span<const Event> events) override {
    if (applied_) result_ = applied_(view, cmd, events);
  }
  void Query(const SequencerView& view) override {
    if (query_) result_ = query_(view);
  }
  void Complete(const absl::Status& status) override {
    // The slot is free before the reply leaves: a client that sends its next call on
    // receipt must find it free.
    ReleaseSlot();
    finish_(status.ok() ? result_ : status);
    delete this;
  }

  // Holds one of `agency`'s in-flight slots (taken by the caller) until completion.
  void HoldSlot(Admission* admission, AgencyId agency) {
    admission_ = admission;
    agency_ = agency;
  }

 private:
  void ReleaseSlot() {
    if (admission_ != nullptr) admission_->Release(agency_);
    admission_ = nullptr;
  }

  AppliedFn applied_;
  QueryFn query_;
  FinishFn finish_;
  absl::Status result_;
  Admission* admission_ = nullptr;
  AgencyId agency_ = 0;
};

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Queues `work` as a command or query; on a refused hand-off finishes the call at once. A
// command may also run to completion on this thread (Sequencer::SubmitCommandHere): the
// call is then finished before the reactor is returned, which the callback API allows.
//
// Admission first: the caller's agency must have an in-flight slot free
// (server.max_in_flight_per_agency), else RESOURCE_EXHAUSTED naming that limit; the slot
// is held by the work until it completes (or freed here if the hand-off is refused).
grpc::ServerUnaryReactor* Enqueue(const ServiceContext& ctx, const Caller& caller,
                                  grpc::ServerUnaryReactor* reactor, const Command* cmd,
                                  CallWork* work) {
  if (ctx.admission != nullptr) {
    if (!ctx.admission->TryAcquire(caller.agency)) {
      delete work;
      reactor->Finish(
          ToGrpcStatus(ctx.admission->Refusal(ctx.ref->agencies()[caller.agency].code)));
      return reactor;
    }
    work->HoldSlot(ctx.admission, caller.agency);
  }
  absl::Status s = cmd != nullptr ? ctx.sequencer->SubmitCommandHere(*cmd, work)
                                  : ctx.sequencer->SubmitQuery(work);
  if (!s.ok()) {
    delete work;
    reactor->Finish(ToGrpcStatus(s));
  }
  return reactor;
}

FinishFn FinishWith(grpc::ServerUnaryReactor* reactor) {
  return [reactor](const absl::Status& s) { reactor->Finish(ToGrpcStatus(s)); };
}

absl::StatusOr<Caller> Trader(const ServiceContext& ctx, grpc::CallbackServerContext* context) {
  absl::StatusOr<Caller> caller = ctx.tokens->Authenticate(*context);
  if (!caller.ok()) return caller.status();
  if (caller->admin) {
    return absl::PermissionDeniedError(
        "authorization: an admin token cannot trade; use an agency's token");
  }
  return caller;
}

absl::StatusOr<Caller> Admin(const ServiceContext& ctx, grpc::CallbackServerContext* context) {
  absl::StatusOr<Caller> caller = ctx.tokens->Authenticate(*context);
  if (!caller.ok()) return caller.status();
  if (!caller->admin) {
    return absl::PermissionDeniedError("authorization: the Admin service needs an admin token");
  }
  return caller;
}

const RejectedEvent* FindReject(absl::Span<const Event> events) {
  for (const Event& e : events) {
    if (e.type == EventType::kRejected) return &e.rejected;
  }
  return nullptr;
}

void AddFillsOf(const SequencerView& view, OfferId offer, absl::Span<const Event> events,
                google::protobuf::RepeatedPtrField<v1::Fill>* out) {
  std::optional<OfferInfo> info;
  for (const Event& e : events) {
    if (e.type != EventType::kFill) continue;
    const FillEvent& f = e.fill;
    if (f.maker_offer != offer && f.taker_offer != offer) continue;
    if (!info) info = view.engine.GetOffer(offer);
    ToProtoFill(view.ref, f, f.maker_offer == offer, info ? *info : OfferInfo{}, out->Add());
  }
}

// ---- Command replies (sequencer thread). Shared by the unary calls and OrderEntry. ----

absl::Status SubmitApplied(const SequencerView& view, const Command& cmd,
                           absl::Span<const Event> events, v1::SubmitOfferResponse* resp) {
  if (const RejectedEvent* r = FindReject(events)) {
    if (r->reason != RejectReason::kDuplicateClientId) {
      return RejectToStatus(view.ref, cmd, r->reason);
    }
    // A retry: the original offer, in its current state, if the parameters are the same.
    std::optional<OfferInfo> original = view.engine.GetOffer(r->offer);
    if (!original) {
      original = view.engine.FindByClientId(cmd.submit.agency, cmd.submit.client_id);
    }
    if (!original || !SameSubmitParameters(*original, cmd.submit)) {
      return absl::AlreadyExistsError(absl::StrCat(
          RejectReasonName(RejectReason::kDuplicateClientId), ": client_offer_id: ",
          cmd.submit.client_id, " was already used for offer ",
          original ? original->id : r->offer, " with different parameters"));
    }
    ToProtoOffer(view.ref, *original, resp->mutable_offer());
    resp->set_seq(original->accepted_seq);
    return absl::OkStatus();
  }
  for (const Event& e : events) {
    if (e.type != EventType::kAccepted) continue;
    std::optional<OfferInfo> info = view.engine.GetOffer(e.accepted.offer);
    if (info) ToProtoOffer(view.ref, *info, resp->mutable_offer());
    AddFillsOf(view, e.accepted.offer, events, resp->mutable_fills());
    resp->set_seq(cmd.seq);
    return absl::OkStatus();
  }
  return absl::InternalError("engine produced neither accept nor reject");
}

absl::Status CancelApplied(const SequencerView& view, const Command& cmd,
                           absl::Span<const Event> events, v1::CancelOfferResponse* resp) {
  if (const RejectedEvent* r = FindReject(events)) return RejectToStatus(view.ref, cmd, r->reason);
  std::optional<OfferInfo> info = view.engine.GetOffer(cmd.cancel.offer);
  if (info) ToProtoOffer(view.ref, *info, resp->mutable_offer());
  resp->set_seq(cmd.seq);
  return absl::OkStatus();
}

absl::Status ReplaceApplied(const SequencerView& view, const Command& cmd,
                            absl::Span<const Event> events, v1::ReplaceOfferResponse* resp) {
  if (const RejectedEvent* r = FindReject(events)) return RejectToStatus(view.ref, cmd, r->reason);
  std::optional<OfferInfo> info = view.engine.GetOffer(cmd.replace.offer);
  if (info) ToProtoOffer(view.ref, *info, resp->mutable_offer());
  AddFillsOf(view, cmd.replace.offer, events, resp->mutable_fills());
  resp->set_seq(cmd.seq);
  return absl::OkStatus();
}

absl::Status SimpleApplied(const SequencerView& view, const Command& cmd,
                           absl::Span<const Event> events) {
  if (const RejectedEvent* r = FindReject(events)) return RejectToStatus(view.ref, cmd, r->reason);
  return absl::OkStatus();
}

void FillHoldings(const SequencerView& view, AgencyId agency, v1::GetHoldingsResponse* resp) {
  resp->set_agency(view.ref.agencies()[agency].code);
  for (const Instrument& i : view.ref.instruments()) {
    ToProtoHolding(view.ref, i.id, view.engine.GetHoldings(agency, i.id), resp->add_holdings());
  }
}

absl::Status NotYourOffer(std::uint64_t id) {
  return absl::NotFoundError(absl::StrCat(RejectReasonName(RejectReason::kUnknownOffer),
                                          ": offer_id: ", id, " is not an offer of this agency"));
}

// ---- Streams ----

// A server stream with a bounded outgoing queue: Enqueue/Deliver never block; one write in
// flight at a time; Close finishes once the write in flight (and, when draining, the
// queue) is done. Every decision is taken under mu_, every gRPC call is made outside it
// (gRPC may run OnWriteDone inline).
//
// Two queues: `history_` (reports replayed to a resuming stream, paged by the caller and
// never counted against the limits; always written first) and `queue_` (live messages,
// capped by StreamLimits in messages and in bytes: a stream over either cap is ended with
// RESOURCE_EXHAUSTED naming it).
//
// `Out` is what one write sends: `Msg` itself (one message per write), or a batch message
// with a `repeated Msg reports` field, which takes everything queued (up to
// kMaxBatchMessages) in one write: gRPC's cost is per write (a call op, a completion
// callback, usually a sendmsg), so under load a batch costs about what one message does.
// Appends one queued message to a batch message (QueuedStream with Out != Msg).
void AddToBatch(v1::ExecutionReportBatch* batch, const v1::ExecutionReport& m) {
  *batch->add_reports() = m;
}
void AddToBatch(v1::OrderEntryResponseBatch* batch, const v1::OrderEntryResponse& m) {
  *batch->add_responses() = m;
}

template <typename Reactor, typename Msg, typename Out = Msg>
class QueuedStream : public Reactor, public Sink<Msg> {
 public:
  // Queues `msg` (live) and starts a write if none is in flight.
  void Deliver(const std::shared_ptr<const Msg>& msg) {
    Enqueue(msg, msg->ByteSizeLong());
    Kick();
  }

  void Enqueue(const std::shared_ptr<const Msg>& msg, std::size_t bytes) override {
    std::string overflow;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return;
      if (queue_.size() >= limits_.max_queued_messages) {
        overflow = absl::StrCat("more than ", limits_.max_queued_messages,
                                " messages queued (server.stream_max_queued_messages)");
      } else if (queued_bytes_ + bytes > limits_.max_queued_bytes) {
        overflow = absl::StrCat("more than ", limits_.max_queued_bytes,
                                " bytes queued (server.stream_max_queued_bytes)");
      } else {
        queue_.push_back(Queued{msg, bytes});
        queued_bytes_ += bytes;
      }
    }
    if (!overflow.empty()) {
      Close(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                         absl::StrCat("stream consumer too slow: ", overflow,
                                      "; reconnect and resume")));
    }
  }

  void Kick() override {
    const Out* start = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_ || writing_ || (queue_.empty() && history_.empty())) return;
      start = TakeNextLocked();
    }
    this->StartWrite(start);
  }

  void Close(const grpc::Status& status) override { CloseImpl(status, /*drain=*/false); }
  bool closed() const override { return closed_.load(std::memory_order_acquire); }

  void OnWriteDone(bool ok) override {
    const Out* next = nullptr;
    bool finish = false;
    bool drained = false;
    grpc::Status status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      ReleaseWrittenLocked();
      if (!ok) {  // the client went away
        closing_ = true;
        closed_.store(true, std::memory_order_release);
        ClearQueuesLocked();
        if (!finished_) {
          finished_ = finish = true;
          status = grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled");
        }
      } else if (closing_ && (!drain_ || (queue_.empty() && history_.empty()))) {
        if (!finished_) {
          finished_ = finish = true;
          status = close_status_;
        }
      } else {
        // Checked before taking the next write: the page's last write has completed.
        if (awaiting_drain_ && history_.empty()) {
          awaiting_drain_ = false;
          drained = true;
        }
        if (!queue_.empty() || !history_.empty()) next = TakeNextLocked();
      }
    }
    if (next != nullptr) this->StartWrite(next);
    if (finish) this->Finish(status);
    if (drained) HistoryDrained();
  }

  void OnCancel() override {
    CloseImpl(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"), false);
  }

  void OnDone() override {
    closed_.store(true, std::memory_order_release);
    Released();
    std::shared_ptr<QueuedStream> self = std::move(self_);  // may delete this on return
  }

 protected:
  // Called once from OnDone; for subclasses to drop interest counters and the like.
  virtual void Released() {}
  // Called (outside mu_, on the thread of the last write's completion or of QueueHistory)
  // once everything queued by QueueHistory(..., notify = true) has been written.
  virtual void HistoryDrained() {}

  void SetLimits(const StreamLimits& limits) { limits_ = limits; }

  // Queues history messages ahead of any live message, outside the limits. With `notify`,
  // HistoryDrained() follows once all of them are written (at once if there are none).
  void QueueHistory(std::vector<std::shared_ptr<const Msg>> msgs, bool notify) {
    const Out* start = nullptr;
    bool drained = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return;
      for (auto& m : msgs) history_.push_back(std::move(m));
      if (notify) {
        if (history_.empty() && !writing_) {
          drained = true;
        } else {
          awaiting_drain_ = true;
        }
      }
      if (!writing_ && (!history_.empty() || !queue_.empty())) start = TakeNextLocked();
    }
    if (start != nullptr) this->StartWrite(start);
    if (drained) HistoryDrained();
  }

  // Graceful end (drain = true): finish with `status` after every queued message.
  void CloseImpl(const grpc::Status& status, bool drain) {
    bool finish = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return;
      closing_ = true;
      drain_ = drain;
      close_status_ = status;
      closed_.store(true, std::memory_order_release);
      if (!drain) ClearQueuesLocked();  // what will never be written is released now
      if (!writing_ && !finished_) {
        finished_ = finish = true;
      }
    }
    if (finish) this->Finish(status);
  }

  std::shared_ptr<QueuedStream> self_;  // gRPC's reference, dropped in OnDone

 private:
  struct Queued {
    std::shared_ptr<const Msg> msg;
    std::size_t bytes;
  };

  // The next message to write: history first.
  std::shared_ptr<const Msg> PopLocked() {
    std::shared_ptr<const Msg> m;
    if (!history_.empty()) {
      m = std::move(history_.front());
      history_.pop_front();
    } else {
      m = std::move(queue_.front().msg);
      queued_bytes_ -= queue_.front().bytes;
      queue_.pop_front();
    }
    return m;
  }

  // REQUIRES: mu_ held, !writing_, a queue not empty. Moves the next write's content out
  // of the queues and marks a write in flight; the result stays valid until OnWriteDone.
  const Out* TakeNextLocked() {
    writing_ = true;
    if constexpr (std::is_same_v<Out, Msg>) {
      writing_msg_ = PopLocked();
      return writing_msg_.get();
    } else {
      batch_.Clear();
      std::size_t n = std::min(queue_.size() + history_.size(), kMaxBatchMessages);
      for (std::size_t i = 0; i < n; ++i) AddToBatch(&batch_, *PopLocked());
      return &batch_;
    }
  }
  void ReleaseWrittenLocked() {
    if constexpr (std::is_same_v<Out, Msg>) {
      writing_msg_.reset();
    } else {
      batch_.Clear();
    }
  }
  void ClearQueuesLocked() {
    queue_.clear();
    history_.clear();
    queued_bytes_ = 0;
    awaiting_drain_ = false;
  }

  std::mutex mu_;
  StreamLimits limits_;
  std::deque<Queued> queue_;                        // live, not yet handed to a write
  std::size_t queued_bytes_ = 0;                    // serialized bytes in queue_
  std::deque<std::shared_ptr<const Msg>> history_;  // replayed history, written first
  bool awaiting_drain_ = false;                     // HistoryDrained() is due
  std::shared_ptr<const Msg> writing_msg_;          // Out == Msg: the write in flight
  Out batch_;                                       // batching: the write in flight
  bool writing_ = false;
  bool closing_ = false;
  bool drain_ = false;
  bool finished_ = false;
  grpc::Status close_status_;
  std::atomic<bool> closed_{false};
};

// Counts a new subscription stream of `agency` against max_streams_per_agency; false (and
// the RESOURCE_EXHAUSTED to end it with in *refusal) when the agency is at the limit.
bool OpenStream(const ServiceContext& ctx, AgencyId agency, grpc::Status* refusal) {
  const int max = ctx.stream_limits.max_streams_per_agency;
  if (ctx.stream_counts->TryOpen(agency, max)) return true;
  *refusal = grpc::Status(
      grpc::StatusCode::RESOURCE_EXHAUSTED,
      absl::StrCat("max_streams_per_agency: ", ctx.ref->agencies()[agency].code, " has ", max,
                   " streams open (StreamExecutions, StreamExecutionBatches and StreamBook "
                   "count; server.max_streams_per_agency); close one first"));
  return false;
}

// StreamExecutions (Out = ExecutionReport) and StreamExecutionBatches (Out =
// ExecutionReportBatch): the same subscription, history and resume rule.
//
// Resume: the sequencer answers from memory when it still holds every report after the
// position (RecentExecutions); the stream then queues them as history and joins the hub
// with floor max(L, after_seq) in the same release, so live reports follow with no gap
// and no duplicate. Otherwise the journal is read up to the seq the sequencer names, on
// the HistoryReader's thread, a page at a time: read a page, have the sequencer build its
// reports (HistoryReports), queue them as history, and read the next page only once the
// page's last write completed. At the end of that range the stream asks the sequencer
// again from there (its memory has moved on meanwhile; under heavy load this repeats).
template <typename Out>
class ExecStream final
    : public QueuedStream<grpc::ServerWriteReactor<Out>, v1::ExecutionReport, Out> {
 public:
  static grpc::ServerWriteReactor<Out>* Create(const ServiceContext& ctx,
                                               grpc::CallbackServerContext* c,
                                               const v1::StreamExecutionsRequest* r) {
    auto stream = std::shared_ptr<ExecStream>(new ExecStream(ctx));
    stream->self_ = stream;
    stream->weak_self_ = stream;
    stream->SetLimits(ctx.stream_limits);
    absl::StatusOr<Caller> caller = ctx.tokens->Authenticate(*c);
    if (!caller.ok()) {
      stream->Close(ToGrpcStatus(caller.status()));
      return stream.get();
    }
    if (caller->admin) {
      stream->Close(ToGrpcStatus(absl::PermissionDeniedError(
          "authorization: admin tokens have no executions; use an agency's token")));
      return stream.get();
    }
    grpc::Status refusal;
    if (!OpenStream(ctx, caller->agency, &refusal)) {
      stream->Close(refusal);
      return stream.get();
    }
    stream->counted_ = true;
    stream->agency_ = caller->agency;
    stream->after_ = r->after_seq();
    Subscribe(stream, stream->after_);
    return stream.get();
  }

 private:
  explicit ExecStream(const ServiceContext& ctx) : ctx_(ctx) {}

  // Asks the sequencer for the reports after `from`: from memory (then the stream joins
  // the hub), or the seq up to which the journal must be read first.
  static void Subscribe(const std::shared_ptr<ExecStream>& s, Seq from) {
    struct Answer {
      std::vector<std::shared_ptr<const v1::ExecutionReport>> reports;
      Seq shown = 0;  // the state the answer describes (L)
      bool in_memory = false;
      Seq journal_upto = 0;
    };
    auto answer = std::make_shared<Answer>();
    const AgencyId agency = s->agency_;
    const Reports* reports = s->ctx_.reports;
    auto* work = new CallWork(
        nullptr,
        [agency, from, answer, reports](const SequencerView& view) {
          answer->shown = view.last_seq;
          answer->in_memory = reports->RecentExecutions(agency, from, view.last_seq,
                                                        &answer->reports, &answer->journal_upto);
          return absl::OkStatus();
        },
        [s, from, answer](const absl::Status& status) {
          if (!status.ok()) {
            s->Close(ToGrpcStatus(status));
            return;
          }
          if (answer->in_memory) {
            s->QueueHistory(std::move(answer->reports), /*notify=*/false);
            // Live reports continue strictly after both the history and the client's
            // after_seq (a resume may be ahead of the exchange).
            s->ctx_.exec_hub->Add(s->agency_, s, std::max(answer->shown, s->after_));
            return;
          }
          s->cursor_ = std::make_unique<HistoryCursor>(s->ctx_.data_dir, s->agency_, from,
                                                       answer->journal_upto);
          ReadPage(s);
        });
    Submit(s, work);
  }

  // Reads the next page on the reader thread and has the sequencer build its reports.
  static void ReadPage(const std::shared_ptr<ExecStream>& s) {
    bool posted = s->ctx_.history != nullptr && s->ctx_.history->Post([s] {
      if (s->closed()) return;
      auto page = std::make_shared<std::vector<HistoryGroup>>();
      absl::StatusOr<Seq> read = s->cursor_->NextPage(kHistoryPageEvents, page.get());
      if (!read.ok()) {
        s->Close(ToGrpcStatus(read.status()));
        return;
      }
      if (page->empty()) {  // nothing of this agency in what was read: go on
        s->HistoryDrained();
        return;
      }
      auto reports = std::make_shared<std::vector<std::shared_ptr<const v1::ExecutionReport>>>();
      auto* work = new CallWork(
          nullptr,
          [s, page, reports](const SequencerView& view) {
            s->ctx_.reports->HistoryReports(view.engine, s->agency_, *page, reports.get());
            return absl::OkStatus();
          },
          [s, reports](const absl::Status& status) {
            if (!status.ok()) {
              s->Close(ToGrpcStatus(status));
              return;
            }
            s->QueueHistory(std::move(*reports), /*notify=*/true);
          });
      Submit(s, work);
    });
    if (!posted) s->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
  }

  // Queues `work`; a full ring is waited out (history is not urgent: a resume waits
  // rather than fail), anything else ends the stream.
  static void Submit(const std::shared_ptr<ExecStream>& s, CallWork* work) {
    for (;;) {
      absl::Status q = s->ctx_.sequencer->SubmitQuery(work);
      if (q.ok()) return;
      if (!absl::IsResourceExhausted(q) || s->closed()) {
        delete work;
        s->Close(ToGrpcStatus(q));
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void HistoryDrained() override {
    std::shared_ptr<ExecStream> s = weak_self_.lock();
    if (s == nullptr || s->closed()) return;
    if (cursor_->done()) {
      Subscribe(s, cursor_->upto());
    } else {
      ReadPage(s);
    }
  }

  void Released() override {
    ctx_.exec_hub->Remove(agency_, this);
    if (counted_) ctx_.stream_counts->Release(agency_);
  }

  const ServiceContext& ctx_;
  std::weak_ptr<ExecStream> weak_self_;
  bool counted_ = false;
  AgencyId agency_ = 0;
  Seq after_ = 0;
  // Reading the journal: used by one thread at a time (the reader's job, then the thread
  // that completes the page's writes), each step handing over to the next.
  std::unique_ptr<HistoryCursor> cursor_;
};

class BookStream final
    : public QueuedStream<grpc::ServerWriteReactor<v1::BookUpdate>, v1::BookUpdate> {
 public:
  static grpc::ServerWriteReactor<v1::BookUpdate>* Create(const ServiceContext& ctx,
                                                          grpc::CallbackServerContext* c,
                                                          const v1::StreamBookRequest* r) {
    auto stream = std::shared_ptr<BookStream>(new BookStream(ctx));
    stream->self_ = stream;
    stream->SetLimits(ctx.stream_limits);
    absl::StatusOr<Caller> caller = ctx.tokens->Authenticate(*c);
    if (!caller.ok()) {
      stream->Close(ToGrpcStatus(caller.status()));
      return stream.get();
    }
    absl::StatusOr<PairId> pair = LookupPair(*ctx.ref, r->pair());
    if (!pair.ok()) {
      stream->Close(ToGrpcStatus(pair.status()));
      return stream.get();
    }
    int depth = r->depth() == 0 ? 10 : r->depth();
    if (depth < 0 || depth > 1000) {
      stream->Close(ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("depth: must be in 0..1000 (0 = 10), got ", r->depth()))));
      return stream.get();
    }
    grpc::Status refusal;
    if (!OpenStream(ctx, caller->agency, &refusal)) {
      stream->Close(refusal);
      return stream.get();
    }
    stream->agency_ = caller->agency;
    stream->open_counted_ = true;
    PairId p = *pair;
    BookHub* hub = ctx.book_hub;
    const Reports* reports = ctx.reports;
    stream->pair_ = p;
    auto snapshot = std::make_shared<std::shared_ptr<v1::BookUpdate>>();
    auto* work = new CallWork(
        nullptr,
        [stream, snapshot, p, depth, hub, reports](const SequencerView& view) {
          // From here on the reports unit builds this pair's updates (seq > view.last_seq).
          hub->interest(p).fetch_add(1, std::memory_order_acq_rel);
          stream->counted_.store(true, std::memory_order_release);
          *snapshot = reports->BookSnapshot(view.engine, p, depth, view.last_seq);
          return absl::OkStatus();
        },
        [stream, snapshot, hub, p](const absl::Status& s) {
          if (!s.ok()) {
            stream->Close(ToGrpcStatus(s));
            return;
          }
          stream->Deliver(*snapshot);
          // Updates of commands after the snapshot only (the same group commit's earlier
          // commands are published after this answer).
          hub->Add(p, stream, (*snapshot)->seq());
        });
    absl::Status s = ctx.sequencer->SubmitQuery(work);
    if (!s.ok()) {
      delete work;
      stream->Close(ToGrpcStatus(s));
    }
    return stream.get();
  }

 private:
  explicit BookStream(const ServiceContext& ctx) : ctx_(ctx) {}
  void Released() override {
    if (counted_.exchange(false)) {
      ctx_.book_hub->interest(pair_).fetch_sub(1, std::memory_order_acq_rel);
    }
    ctx_.book_hub->Remove(pair_, this);
    if (open_counted_) ctx_.stream_counts->Release(agency_);
  }
  const ServiceContext& ctx_;
  PairId pair_ = 0;
  AgencyId agency_ = 0;
  bool open_counted_ = false;
  std::atomic<bool> counted_{false};
};

// OrderEntry (In = OrderEntryRequest, Out = OrderEntryResponse) and OrderEntryBatches
// (In = OrderEntryRequestBatch, Out = OrderEntryResponseBatch): reads requests
// continuously (one read in flight), hands each to the sequencer, and queues each response
// when its command is durable; batches carry every response queued when a write starts.
// Finishes with OK once the client half-closed and every request was answered.
//
// Per request: one allocation (an OrderEntryWork, which also holds the response while it
// waits to be written), atomics for the in-flight count; the response is queued on the
// thread that completes the work (the journal thread right after the group commit), which
// starts the write itself when none is in flight.
template <typename In, typename Out>
class OrderEntryStream final
    : public QueuedStream<grpc::ServerBidiReactor<In, Out>, v1::OrderEntryResponse, Out> {
 public:
  using Base = grpc::ServerBidiReactor<In, Out>;
  static Base* Create(const ServiceContext& ctx, grpc::CallbackServerContext* c) {
    auto stream = std::shared_ptr<OrderEntryStream>(new OrderEntryStream(ctx));
    stream->self_ = stream;
    absl::StatusOr<Caller> caller = Trader(ctx, c);
    if (!caller.ok()) {
      stream->Close(ToGrpcStatus(caller.status()));
      return stream.get();
    }
    stream->agency_ = caller->agency;
    stream->StartRead(&stream->request_);
    return stream.get();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      reads_done_.store(true, std::memory_order_seq_cst);
      MaybeFinish();
      return;
    }
    if constexpr (std::is_same_v<In, v1::OrderEntryRequest>) {
      Handle(request_);
    } else {
      for (const v1::OrderEntryRequest& r : request_.requests()) Handle(r);
    }
    this->StartRead(&request_);
  }

 private:
  // One request in the sequencer. Owned by `self_` from Handle until Complete, then by
  // the stream's write queue (as the response's owner) until the response is written.
  class OrderEntryWork final : public Work {
   public:
    OrderEntryWork(std::shared_ptr<OrderEntryStream> stream,
                   v1::OrderEntryRequest::CommandCase command, std::uint64_t correlation_id,
                   Admission* admission, AgencyId agency)
        : stream_(std::move(stream)), command_(command), admission_(admission), agency_(agency) {
      response_.set_correlation_id(correlation_id);
    }
    ~OrderEntryWork() override { ReleaseSlot(); }

    void Applied(const SequencerView& view, const Command& cmd,
                 absl::Span<const Event> events) override {
      switch (command_) {
        case v1::OrderEntryRequest::kSubmit:
          result_ = SubmitApplied(view, cmd, events, response_.mutable_submit());
          break;
        case v1::OrderEntryRequest::kCancel:
          result_ = CancelApplied(view, cmd, events, response_.mutable_cancel());
          break;
        case v1::OrderEntryRequest::kReplace:
          result_ = ReplaceApplied(view, cmd, events, response_.mutable_replace());
          break;
        default:
          result_ = absl::InternalError("order entry: no command");
      }
    }
    void Complete(const absl::Status& status) override {
      ReleaseSlot();
      std::shared_ptr<OrderEntryWork> self = std::move(self_);  // may delete this on return
      std::shared_ptr<OrderEntryStream> stream = std::move(stream_);
      SetError(&response_, status.ok() ? result_ : status);
      stream->Deliver(std::shared_ptr<const v1::OrderEntryResponse>(self, &response_));
      stream->in_flight_.fetch_sub(1, std::memory_order_seq_cst);
      stream->MaybeFinish();
    }

    std::shared_ptr<OrderEntryWork> self_;

   private:
    void ReleaseSlot() {
      if (admission_ != nullptr) admission_->Release(agency_);
      admission_ = nullptr;
    }

    std::shared_ptr<OrderEntryStream> stream_;
    v1::OrderEntryRequest::CommandCase command_;
    Admission* admission_;  // the agency's in-flight slot, until Complete; null = none held
    AgencyId agency_;
    v1::OrderEntryResponse response_;
    absl::Status result_;
  };

  explicit OrderEntryStream(const ServiceContext& ctx) : ctx_(ctx) {}

  static void SetError(v1::OrderEntryResponse* resp, const absl::Status& s) {
    if (s.ok()) return;
    resp->clear_result();
    resp->set_code(static_cast<int>(s.code()));
    resp->set_message(std::string(s.message()));
  }

  // An immediate answer (the request never reached the sequencer).
  void ReplyNow(std::uint64_t correlation_id, const absl::Status& s) {
    auto resp = std::make_shared<v1::OrderEntryResponse>();
    resp->set_correlation_id(correlation_id);
    SetError(resp.get(), s);
    this->Deliver(resp);
  }

  void Handle(const v1::OrderEntryRequest& req) {
    absl::StatusOr<Command> cmd;
    switch (req.command_case()) {
      case v1::OrderEntryRequest::kSubmit:
        cmd = SubmitToCommand(*ctx_.ref, agency_, req.submit());
        break;
      case v1::OrderEntryRequest::kCancel:
        cmd = CancelToCommand(agency_, req.cancel());
        break;
      case v1::OrderEntryRequest::kReplace:
        cmd = ReplaceToCommand(agency_, req.replace());
        break;
      default:
        cmd = absl::InvalidArgumentError("command: one of submit, cancel, replace is required");
    }
    if (!cmd.ok()) {
      ReplyNow(req.correlation_id(), cmd.status());
      return;
    }
    if (in_flight_.fetch_add(1, std::memory_order_seq_cst) >= kMaxOrderEntryInFlight) {
      in_flight_.fetch_sub(1, std::memory_order_seq_cst);
      ReplyNow(req.correlation_id(),
               absl::ResourceExhaustedError(absl::StrCat("more than ", kMaxOrderEntryInFlight,
                                                         " requests in flight")));
      return;
    }
    // The agency's in-flight limit covers all of its streams and unary calls together.
    Admission* admission = ctx_.admission;
    if (admission != nullptr && !admission->TryAcquire(agency_)) {
      in_flight_.fetch_sub(1, std::memory_order_seq_cst);
      ReplyNow(req.correlation_id(), admission->Refusal(ctx_.ref->agencies()[agency_].code));
      return;
    }
    auto work = std::make_shared<OrderEntryWork>(
        std::static_pointer_cast<OrderEntryStream>(this->self_), req.command_case(),
        req.correlation_id(), admission, agency_);
    OrderEntryWork* raw = work.get();
    raw->self_ = std::move(work);
    absl::Status s = ctx_.sequencer->SubmitCommand(*cmd, raw);
    if (!s.ok()) {
      raw->self_.reset();  // deletes the work and frees its admission slot
      in_flight_.fetch_sub(1, std::memory_order_seq_cst);
      ReplyNow(req.correlation_id(), s);
    }
  }

  // Closes (after the queued responses) once the client half-closed and nothing is in
  // flight; whichever of the last completion and the end of reads comes second does it.
  void MaybeFinish() {
    if (!reads_done_.load(std::memory_order_seq_cst) ||
        in_flight_.load(std::memory_order_seq_cst) > 0) {
      return;
    }
    this->CloseImpl(grpc::Status::OK, /*drain=*/true);
  }

  const ServiceContext& ctx_;
  AgencyId agency_ = 0;
  In request_;
  std::atomic<bool> reads_done_{false};
  std::atomic<int> in_flight_{0};
};

}  // namespace

// ---- Exchange ----

grpc::ServerUnaryReactor* ExchangeService::SubmitOffer(grpc::CallbackServerContext* context,
                                                       const v1::SubmitOfferRequest* request,
                                                       v1::SubmitOfferResponse* response) {
  absl::StatusOr<Caller> caller = Trader(ctx_, context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  absl::StatusOr<Command> cmd = SubmitToCommand(*ctx_.ref, caller->agency, *request);
  if (!cmd.ok()) return FinishNow(context, cmd.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto* work = new CallWork(
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        return SubmitApplied(v, c, e, response);
      },
      nullptr, FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, &*cmd, work);
}

grpc::ServerUnaryReactor* ExchangeService::CancelOffer(grpc::CallbackServerContext* context,
                                                       const v1::CancelOfferRequest* request,
                                                       v1::CancelOfferResponse* response) {
  absl::StatusOr<Caller> caller = Trader(ctx_, context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  absl::StatusOr<Command> cmd = CancelToCommand(caller->agency, *request);
  if (!cmd.ok()) return FinishNow(context, cmd.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto* work = new CallWork(
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        return CancelApplied(v, c, e, response);
      },
      nullptr, FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, &*cmd, work);
}

grpc::ServerUnaryReactor* ExchangeService::ReplaceOffer(grpc::CallbackServerContext* context,
                                                        const v1::ReplaceOfferRequest* request,
                                                        v1::ReplaceOfferResponse* response) {
  absl::StatusOr<Caller> caller = Trader(ctx_, context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  absl::StatusOr<Command> cmd = ReplaceToCommand(caller->agency, *request);
  if (!cmd.ok()) return FinishNow(context, cmd.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto* work = new CallWork(
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        return ReplaceApplied(v, c, e, response);
      },
      nullptr, FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, &*cmd, work);
}

grpc::ServerUnaryReactor* ExchangeService::GetOffer(grpc::CallbackServerContext* context,
                                                    const v1::GetOfferRequest* request,
                                                    v1::Offer* response) {
  absl::StatusOr<Caller> caller = ctx_.tokens->Authenticate(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  if (request->offer_id() == 0) {
    return FinishNow(context, absl::InvalidArgumentError("offer_id: required, non-zero"));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Caller who = *caller;
  std::uint64_t id = request->offer_id();
  auto* work = new CallWork(
      nullptr,
      [who, id, response](const SequencerView& v) {
        std::optional<OfferInfo> info = v.engine.GetOffer(id);
        if (!info || (!who.admin && info->agency != who.agency)) return NotYourOffer(id);
        ToProtoOffer(v.ref, *info, response);
        return absl::OkStatus();
      },
      FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, nullptr, work);
}

grpc::ServerUnaryReactor* ExchangeService::ListOffers(grpc::CallbackServerContext* context,
                                                      const v1::ListOffersRequest* request,
                                                      v1::ListOffersResponse* response) {
  absl::StatusOr<Caller> caller = ctx_.tokens->Authenticate(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  std::optional<PairId> pair;
  if (!request->pair().empty()) {
    absl::StatusOr<PairId> p = LookupPair(*ctx_.ref, request->pair());
    if (!p.ok()) return FinishNow(context, p.status());
    pair = *p;
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  AgencyId agency = caller->agency;
  auto* work = new CallWork(
      nullptr,
      [agency, pair, response](const SequencerView& v) {
        for (const OfferInfo& info : v.engine.ListOpenOffers(agency, pair)) {
          ToProtoOffer(v.ref, info, response->add_offers());
        }
        return absl::OkStatus();
      },
      FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, nullptr, work);
}

grpc::ServerUnaryReactor* ExchangeService::GetHoldings(grpc::CallbackServerContext* context,
                                                       const v1::GetHoldingsRequest* /*request*/,
                                                       v1::GetHoldingsResponse* response) {
  absl::StatusOr<Caller> caller = ctx_.tokens->Authenticate(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  AgencyId agency = caller->agency;
  auto* work = new CallWork(
      nullptr,
      [agency, response](const SequencerView& v) {
        FillHoldings(v, agency, response);
        return absl::OkStatus();
      },
      FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, nullptr, work);
}

grpc::ServerUnaryReactor* ExchangeService::ListInstruments(
    grpc::CallbackServerContext* context, const v1::ListInstrumentsRequest* /*request*/,
    v1::ListInstrumentsResponse* response) {
  absl::StatusOr<Caller> caller = ctx_.tokens->Authenticate(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  // Reference data is immutable: answered on the gRPC thread.
  for (const Instrument& i : ctx_.ref->instruments()) {
    ToProtoInstrument(i, response->add_instruments());
  }
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ExchangeService::ListPairs(grpc::CallbackServerContext* context,
                                                     const v1::ListPairsRequest* /*request*/,
                                                     v1::ListPairsResponse* response) {
  absl::StatusOr<Caller> caller = ctx_.tokens->Authenticate(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto* work = new CallWork(
      nullptr,
      [response](const SequencerView& v) {
        for (const PairBook& p : v.ref.pairs()) {
          ToProtoPair(v.ref, p, v.engine.IsHalted(p.id), response->add_pairs());
        }
        return absl::OkStatus();
      },
      FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, nullptr, work);
}

grpc::ServerUnaryReactor* ExchangeService::GetBook(grpc::CallbackServerContext* context,
                                                   const v1::GetBookRequest* request,
                                                   v1::BookSnapshot* response) {
  absl::StatusOr<Caller> caller = ctx_.tokens->Authenticate(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  absl::StatusOr<PairId> pair = LookupPair(*ctx_.ref, request->pair());
  if (!pair.ok()) return FinishNow(context, pair.status());
  int depth = request->depth() == 0 ? 10 : request->depth();
  if (depth < 0 || depth > 1000) {
    return FinishNow(context, absl::InvalidArgumentError(absl::StrCat(
                                  "depth: must be in 0..1000 (0 = 10), got ", request->depth())));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  PairId p = *pair;
  auto* work = new CallWork(
      nullptr,
      [p, depth, response](const SequencerView& v) {
        ToProtoBook(v.ref, p, v.engine.GetDepth(p, depth), v.last_seq, v.engine.IsHalted(p),
                    response);
        return absl::OkStatus();
      },
      FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, nullptr, work);
}

grpc::ServerWriteReactor<v1::ExecutionReport>* ExchangeService::StreamExecutions(
    grpc::CallbackServerContext* context, const v1::StreamExecutionsRequest* request) {
  return ExecStream<v1::ExecutionReport>::Create(ctx_, context, request);
}

grpc::ServerWriteReactor<v1::ExecutionReportBatch>* ExchangeService::StreamExecutionBatches(
    grpc::CallbackServerContext* context, const v1::StreamExecutionsRequest* request) {
  return ExecStream<v1::ExecutionReportBatch>::Create(ctx_, context, request);
}

grpc::ServerWriteReactor<v1::BookUpdate>* ExchangeService::StreamBook(
    grpc::CallbackServerContext* context, const v1::StreamBookRequest* request) {
  return BookStream::Create(ctx_, context, request);
}

grpc::ServerBidiReactor<v1::OrderEntryRequest, v1::OrderEntryResponse>*
ExchangeService::OrderEntry(grpc::CallbackServerContext* context) {
  return OrderEntryStream<v1::OrderEntryRequest, v1::OrderEntryResponse>::Create(ctx_, context);
}

grpc::ServerBidiReactor<v1::OrderEntryRequestBatch, v1::OrderEntryResponseBatch>*
ExchangeService::OrderEntryBatches(grpc::CallbackServerContext* context) {
  return OrderEntryStream<v1::OrderEntryRequestBatch, v1::OrderEntryResponseBatch>::Create(
      ctx_, context);
}

// ---- Admin ----

grpc::ServerUnaryReactor* AdminService::SetHoldings(grpc::CallbackServerContext* context,
                                                    const v1::SetHoldingsRequest* request,
                                                    v1::SetHoldingsResponse* response) {
  absl::StatusOr<Caller> caller = Admin(ctx_, context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  absl::StatusOr<Command> cmd = SetHoldingsToCommand(*ctx_.ref, *request);
  if (!cmd.ok()) return FinishNow(context, cmd.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto* work = new CallWork(
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        absl::Status s = SimpleApplied(v, c, e);
        if (!s.ok()) return s;
        ToProtoHolding(v.ref, c.set_holdings.instrument,
                       v.engine.GetHoldings(c.set_holdings.agency, c.set_holdings.instrument),
                       response->mutable_holding());
        response->set_seq(c.seq);
        return absl::OkStatus();
      },
      nullptr, FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, &*cmd, work);
}

grpc::ServerUnaryReactor* AdminService::HaltPair(grpc::CallbackServerContext* context,
                                                 const v1::HaltPairRequest* request,
                                                 v1::HaltPairResponse* response) {
  absl::StatusOr<Caller> caller = Admin(ctx_, context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  absl::StatusOr<Command> cmd = PairToCommand(*ctx_.ref, CommandType::kHaltPair, request->pair());
  if (!cmd.ok()) return FinishNow(context, cmd.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto* work = new CallWork(
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        response->set_seq(c.seq);
        return SimpleApplied(v, c, e);
      },
      nullptr, FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, &*cmd, work);
}

grpc::ServerUnaryReactor* AdminService::ResumePair(grpc::CallbackServerContext* context,
                                                   const v1::ResumePairRequest* request,
                                                   v1::ResumePairResponse* response) {
  absl::StatusOr<Caller> caller = Admin(ctx_, context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  absl::StatusOr<Command> cmd =
      PairToCommand(*ctx_.ref, CommandType::kResumePair, request->pair());
  if (!cmd.ok()) return FinishNow(context, cmd.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto* work = new CallWork(
      [response](const SequencerView& v, const Command& c, absl::Span<const Event> e) {
        response->set_seq(c.seq);
        return SimpleApplied(v, c, e);
      },
      nullptr, FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, &*cmd, work);
}

grpc::ServerUnaryReactor* AdminService::GetExchangeStatus(
    grpc::CallbackServerContext* context, const v1::GetExchangeStatusRequest* /*request*/,
    v1::GetExchangeStatusResponse* response) {
  absl::StatusOr<Caller> caller = Admin(ctx_, context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  Sequencer* seq = ctx_.sequencer;
  std::string durability = ctx_.durability, data_dir = ctx_.data_dir;
  auto fill = [seq, durability, data_dir, response](const SequencerView* v) {
    response->set_last_seq(v != nullptr ? v->last_seq : seq->last_seq());
    response->set_durable_seq(seq->durable_seq());
    response->set_durability(durability);
    response->set_accepting(seq->accepting());
    response->set_failure(seq->failure());
    response->set_queue_depth(static_cast<std::int64_t>(seq->queue_depth()));
    response->set_queue_capacity(static_cast<std::int64_t>(seq->queue_capacity()));
    response->set_data_dir(data_dir);
  };
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!seq->accepting()) {
    // The operator most needs this view when the journal failed: answer from the gRPC
    // thread with what the atomics say.
    fill(nullptr);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  auto* work = new CallWork(
      nullptr,
      [fill, response](const SequencerView& v) {
        fill(&v);
        response->set_open_offers(static_cast<std::int64_t>(v.engine.OpenOfferCount()));
        for (const Agency& a : v.ref.agencies()) {
          v1::Agency* out = response->add_agencies();
          out->set_id(a.code);
          out->set_name(a.name);
          out->set_country(a.country);
          out->set_admin(a.role == Role::kAdmin);
        }
        for (const PairBook& p : v.ref.pairs()) {
          if (v.engine.IsHalted(p.id)) response->add_halted_pairs(p.symbol);
        }
        return absl::OkStatus();
      },
      FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, nullptr, work);
}

grpc::ServerUnaryReactor* AdminService::GetAgencyHoldings(
    grpc::CallbackServerContext* context, const v1::GetAgencyHoldingsRequest* request,
    v1::GetHoldingsResponse* response) {
  absl::StatusOr<Caller> caller = Admin(ctx_, context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  absl::StatusOr<AgencyId> agency = LookupAgency(*ctx_.ref, "agency", request->agency());
  if (!agency.ok()) return FinishNow(context, agency.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  AgencyId a = *agency;
  auto* work = new CallWork(
      nullptr,
      [a, response](const SequencerView& v) {
        FillHoldings(v, a, response);
        return absl::OkStatus();
      },
      FinishWith(reactor));
  return Enqueue(ctx_, *caller, reactor, nullptr, work);
}

}  // namespace msx::gateway
