// The execution stream reactors on a real gRPC server (in process) whose sequencer ring is
// full: nothing may block a gRPC thread, so a subscription that cannot be handed to the
// sequencer is answered RESOURCE_EXHAUSTED naming the limit at once (it used to retry on
// the gRPC thread every millisecond until the ring had room).
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "engine/config/config.h"
#include "engine/matching/engine.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/writer.h"
#include "engine/testing/test_universe.h"
#include "gateway/auth.h"
#include "gateway/history_reader.h"
#include "gateway/hubs.h"
#include "gateway/reports.h"
#include "gateway/sequencer.h"
#include "gateway/service.h"
#include "gtest/gtest.h"

namespace msx::gateway {
namespace {

constexpr std::size_t kQueueCapacity = 2;

// A query that only holds a ring slot.
class Filler : public Work {
 public:
  void Complete(const absl::Status&) override {}
};

class FullRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ref_ = std::make_unique<ReferenceData>(*LoadReferenceData(DefaultConfig()));
    TokenTable::Policy policy;
    policy.allow_plaintext = true;
    policy.check_strength = false;
    tokens_ = std::make_unique<TokenTable>(*TokenTable::Build(DefaultConfig(), *ref_, policy));
    journal::WriterOptions wo;
    wo.durability = journal::Durability::kNone;
    wo.config = "execution stream test";
    wo.on_durable = [this](Seq s) { sequencer_->OnDurable(s); };
    wo.on_failure = [this](const absl::Status& s) { sequencer_->OnJournalFailure(s); };
    journal_ = *journal::JournalWriter::Open(dir_.path(), wo);
    engine_ = std::make_unique<Engine>(*ref_, EngineOptions{});
    exec_hub_ = std::make_unique<ExecHub>(ref_->agencies().size());
    book_hub_ = std::make_unique<BookHub>(ref_->pairs().size());
    reports_ = std::make_unique<Reports>(*ref_, exec_hub_.get(), book_hub_.get(), 1024, 0);
    SequencerOptions so;
    so.queue_capacity = kQueueCapacity;
    sequencer_ = std::make_unique<Sequencer>(*ref_, engine_.get(), journal_.get(),
                                             std::vector<SequencerObserver*>{reports_.get()}, so,
                                             SnapshotFn());
    stream_counts_ = std::make_unique<StreamCounts>(ref_->agencies().size());
    ServiceContext ctx{ref_.get(),      tokens_.get(),        sequencer_.get(),
                       exec_hub_.get(), book_hub_.get(),      reports_.get(),
                       "none",          dir_.path(),          nullptr,
                       &history_,       stream_counts_.get(), StreamLimits{},
                       {}};
    service_ = std::make_unique<ExchangeService>(ctx);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Exchange::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    StartSequencer();  // drains the ring, so a stuck handler could return
    exec_hub_->CloseAll(grpc::Status(grpc::StatusCode::UNAVAILABLE, "test over"));
    book_hub_->CloseAll(grpc::Status(grpc::StatusCode::UNAVAILABLE, "test over"));
    server_->Shutdown();
    sequencer_->Stop();
    history_.Stop();
    journal_->Close().IgnoreError();
  }

  // The sequencer thread is not running yet: every push stays in the ring.
  void FillRing() {
    while (sequencer_->SubmitQuery(&filler_).ok()) {
    }
    ASSERT_EQ(sequencer_->queue_depth(), kQueueCapacity);
  }
  void StartSequencer() {
    if (started_) return;
    started_ = true;
    sequencer_->Start();
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer demo-komir");
    // Only a broken server gets near this: the answer is immediate.
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return ctx;
  }

  journal::testing::TempDir dir_;
  std::unique_ptr<ReferenceData> ref_;
  std::unique_ptr<TokenTable> tokens_;
  std::unique_ptr<journal::JournalWriter> journal_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ExecHub> exec_hub_;
  std::unique_ptr<BookHub> book_hub_;
  std::unique_ptr<Reports> reports_;
  std::unique_ptr<Sequencer> sequencer_;
  std::unique_ptr<StreamCounts> stream_counts_;
  HistoryReader history_;
  std::unique_ptr<ExchangeService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Exchange::Stub> stub_;
  Filler filler_;
  bool started_ = false;
};

void ExpectQueueFull(const grpc::Status& s) {
  ASSERT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "sequencer queue full (capacity 2"))
      << s.error_message();
  EXPECT_TRUE(absl::StrContains(s.error_message(), "server.queue_capacity")) << s.error_message();
}

TEST_F(FullRingTest, ExecutionStreamsAreRefusedAtOnceNamingTheQueueLimit) {
  ASSERT_NO_FATAL_FAILURE(FillRing());
  // A flood of subscriptions of both kinds: each one is answered, none waits for room.
  for (int i = 0; i < 8; ++i) {
    v1::StreamExecutionsRequest req;
    std::unique_ptr<grpc::ClientContext> ctx = Context();
    if (i % 2 == 0) {
      auto reader = stub_->StreamExecutions(ctx.get(), req);
      v1::ExecutionReport report;
      EXPECT_FALSE(reader->Read(&report));
      ASSERT_NO_FATAL_FAILURE(ExpectQueueFull(reader->Finish()));
    } else {
      auto reader = stub_->StreamExecutionBatches(ctx.get(), req);
      v1::ExecutionReportBatch batch;
      EXPECT_FALSE(reader->Read(&batch));
      ASSERT_NO_FATAL_FAILURE(ExpectQueueFull(reader->Finish()));
    }
  }
  // Each refused stream gives its max_streams_per_agency slot back (in OnDone, after the
  // client saw the status).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (stream_counts_->open(*ref_->FindAgency("KOMIR")) != 0 &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::yield();
  }
  EXPECT_EQ(stream_counts_->open(*ref_->FindAgency("KOMIR")), 0);

  // Once the sequencer drains the ring, a subscription is taken: here it is answered
  // from memory with the report of an offer accepted before it (nothing else is queued,
  // so the ring has room).
  StartSequencer();
  const AgencyId komir = *ref_->FindAgency("KOMIR");
  const PairBook& pair = ref_->pairs()[0];
  Price price = pair.reference_price / pair.tick * pair.tick;
  while (price < pair.band_low || price < pair.floor_price) price += pair.tick;
  for (const Command& cmd : {msx::testing::SetHolding(komir, pair.base, Amount{1} << 40),
                             msx::testing::Submit(komir, pair.id, Side::kSell, 1, price, 7)}) {
    absl::Status s;
    while (absl::IsResourceExhausted(s = sequencer_->SubmitCommand(cmd, nullptr))) {
      std::this_thread::yield();
    }
    ASSERT_TRUE(s.ok()) << s;
  }
  while (sequencer_->durable_seq() < 2 || sequencer_->queue_depth() != 0) {
    std::this_thread::yield();
  }
  std::unique_ptr<grpc::ClientContext> ctx = Context();
  auto reader = stub_->StreamExecutions(ctx.get(), v1::StreamExecutionsRequest());
  v1::ExecutionReport report;
  ASSERT_TRUE(reader->Read(&report)) << reader->Finish().error_message();
  EXPECT_TRUE(report.has_accepted());
  EXPECT_EQ(report.accepted().offer().client_offer_id(), 7u);
  ctx->TryCancel();
}

}  // namespace
}  // namespace msx::gateway
