// Hub::PublishBatch (gateway/hubs.h): the fan-out that runs on the thread releasing every
// group commit. BM_HubPublishBatch/N: one group commit of 64 execution reports for one
// agency with N subscribed streams; BM_HubPublishBatchSpread/N: 64 reports over 64
// agencies with N streams each. The sinks only count (a real stream also locks and queues;
// that cost is per delivered message and the same for any publish algorithm).
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "gateway/hubs.h"

namespace msx::gateway {
namespace {

class CountingSink final : public Sink<v1::ExecutionReport> {
 public:
  void Enqueue(const std::shared_ptr<const v1::ExecutionReport>& msg,
               std::size_t bytes) override {
    benchmark::DoNotOptimize(msg.get());
    messages_ += 1;
    bytes_ += bytes;
  }
  void Kick() override { kicks_ += 1; }
  void Close(const grpc::Status& /*status*/) override {}
  bool closed() const override { return false; }
  std::size_t messages() const { return messages_; }

 private:
  std::size_t messages_ = 0;
  std::size_t bytes_ = 0;
  std::size_t kicks_ = 0;
};

using Batch = std::vector<std::pair<std::size_t, std::shared_ptr<const v1::ExecutionReport>>>;

Batch MakeBatch(std::size_t messages, std::size_t keys) {
  Batch batch;
  for (std::size_t i = 0; i < messages; ++i) {
    auto r = std::make_shared<v1::ExecutionReport>();
    r->set_seq(1000 + i);
    r->set_time_ns(1);
    v1::Fill* f = r->mutable_fill();
    f->set_fill_id(i + 1);
    f->set_pair("GA-4N/CO-99.8");
    f->set_counterparty("JOGMEC");
    f->set_lots(3);
    f->set_price(1234567);
    batch.emplace_back(i % keys, std::move(r));
  }
  return batch;
}

void RunPublish(benchmark::State& state, std::size_t keys) {
  const std::size_t subscribers = static_cast<std::size_t>(state.range(0));
  ExecHub hub(keys);
  std::vector<std::shared_ptr<CountingSink>> sinks;
  for (std::size_t k = 0; k < keys; ++k) {
    for (std::size_t i = 0; i < subscribers; ++i) {
      auto sink = std::make_shared<CountingSink>();
      hub.Add(k, sink, 0);
      sinks.push_back(std::move(sink));
    }
  }
  const Batch batch = MakeBatch(64, keys);
  for (auto _ : state) hub.PublishBatch(batch);
  const double deliveries = static_cast<double>(64 * subscribers);
  state.counters["deliveries/s"] =
      benchmark::Counter(deliveries, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_HubPublishBatch(benchmark::State& state) { RunPublish(state, 1); }
void BM_HubPublishBatchSpread(benchmark::State& state) { RunPublish(state, 64); }

BENCHMARK(BM_HubPublishBatch)->Arg(1)->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(BM_HubPublishBatchSpread)->Arg(1)->Arg(10)->Arg(100);

}  // namespace
}  // namespace msx::gateway

BENCHMARK_MAIN();
