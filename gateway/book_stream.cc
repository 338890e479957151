// StreamBook: a book snapshot, then the level changes, trade prints and halts after it.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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
    absl::StatusOr<int> requested_depth = BookDepth(r->depth());
    if (!requested_depth.ok()) {
      stream->Close(ToGrpcStatus(requested_depth.status()));
      return stream.get();
    }
    const int depth = *requested_depth;
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

}  // namespace

grpc::ServerWriteReactor<v1::BookUpdate>* ExchangeService::StreamBook(
    grpc::CallbackServerContext* context, const v1::StreamBookRequest* request) {
  return BookStream::Create(ctx_, context, request);
}

}  // namespace msx::gateway
