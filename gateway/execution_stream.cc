// StreamExecutions and StreamExecutionBatches: live execution reports with resume.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/history_reader.h"
#include "gateway/reports.h"
#include "gateway/internal/call.h"
#include "gateway/internal/queued_stream.h"
#include "gateway/service.h"
#include "gateway/translate.h"

namespace msx::gateway {
namespace {

using internal::CallWork;
using internal::OpenStream;
using internal::QueuedStream;

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

  // Queues `work`, or ends the stream with the refusal: RESOURCE_EXHAUSTED when the ring
  // is full (the client resumes with after_seq, as after any stream cap), UNAVAILABLE when
  // the journal failed or the server is stopping. Never waits for room: this runs on a
  // gRPC thread, the HistoryReader's thread or a releasing thread, and none may block.
  static void Submit(const std::shared_ptr<ExecStream>& s, CallWork* work) {
    absl::Status q = s->ctx_.sequencer->SubmitQuery(work);
    if (q.ok()) return;
    delete work;
    s->Close(ToGrpcStatus(q));
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

}  // namespace

grpc::ServerWriteReactor<v1::ExecutionReport>* ExchangeService::StreamExecutions(
    grpc::CallbackServerContext* context, const v1::StreamExecutionsRequest* request) {
  return ExecStream<v1::ExecutionReport>::Create(ctx_, context, request);
}

grpc::ServerWriteReactor<v1::ExecutionReportBatch>* ExchangeService::StreamExecutionBatches(
    grpc::CallbackServerContext* context, const v1::StreamExecutionsRequest* request) {
  return ExecStream<v1::ExecutionReportBatch>::Create(ctx_, context, request);
}

}  // namespace msx::gateway
