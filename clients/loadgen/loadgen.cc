// The Runner's setup and run: channels and the workload, the driver threads, the progress
// line, the totals and the cleanup after the run; operations drawn from the workload and the
// open-loop sender both drivers use. See runner.h.
#include "clients/loadgen/loadgen.h"

#include <sys/prctl.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "clients/loadgen/runner.h"

namespace msx::loadgen {
namespace internal {
namespace {

// Closed-loop runs without --count track exec latency for this many offers at most.
constexpr std::uint64_t kMaxSlots = std::uint64_t{1} << 24;
// Each agency must hold a block of rounds at the largest size (plus passive offers).
constexpr std::int64_t kReserveRounds = 2 * static_cast<std::int64_t>(Workload::kBlock);

v1::Side ToProto(Side s) { return s == Side::kBuy ? v1::SIDE_BUY : v1::SIDE_SELL; }

constexpr const char* kCodeNames[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

}  // namespace

std::string CodeName(grpc::StatusCode code) {
  int n = static_cast<int>(code);
  if (n < 0 || n > 16) return absl::StrCat("CODE_", n);
  return kCodeNames[n];
}

absl::Status Runner::Setup() {
  for (const auto& a : o_.agencies) bearer_.push_back("Bearer " + a.token);
  failover_ = std::make_unique<clients::ServerFailover>(clients::SplitServerList(o_.server));
  // Distinct channel arguments give each channel its own connection.
  for (const std::string& server : failover_->servers()) {
    for (int c = 0; c < o_.concurrency; ++c) {
      grpc::ChannelArguments args;
      args.SetInt("msx.loadgen.channel", c);
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      channels_.push_back(
          grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args));
      if (o_.echo) {
        echo_stubs_.push_back(bench::Echo::NewStub(channels_.back()));
      } else {
        stubs_.push_back(v1::Exchange::NewStub(channels_.back()));
      }
    }
  }
  // Start at the first server whose every channel connects (the others may be down).
  std::size_t reachable = failover_->size();
  for (std::size_t i = 0; i < failover_->size() && reachable == failover_->size(); ++i) {
    bool all = true;
    for (int c = 0; c < o_.concurrency && all; ++c) {
      all = channels_[i * static_cast<std::size_t>(o_.concurrency) + c]->WaitForConnected(
          std::chrono::system_clock::now() + std::chrono::seconds(5));
    }
    if (all) reachable = i;
  }
  if (reachable == failover_->size()) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", o_.server));
  }
  clients::ServerFailover::Attempt at;
  at.index = reachable;
  failover_->OnAnswered(at);
  const auto unavailable = [](const grpc::Status& s) {
    return s.error_code() == grpc::StatusCode::UNAVAILABLE;
  };
  if (o_.echo) return absl::OkStatus();

  auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(5); };
  v1::ListPairsResponse pairs;
  v1::ListInstrumentsResponse instruments;
  {
    grpc::Status s = failover_->Run(
        [&](std::size_t server) {
          grpc::ClientContext c1, c2;
          c1.set_deadline(deadline());
          c2.set_deadline(deadline());
          Authorize(&c1, 0);
          Authorize(&c2, 0);
          grpc::Status st = Stub(server, 0)->ListPairs(&c1, {}, &pairs);
          if (st.ok()) st = Stub(server, 0)->ListInstruments(&c2, {}, &instruments);
          return st;
        },
        unavailable);
    if (!s.ok()) {
      return absl::UnavailableError(absl::StrCat("reference data as ", o_.agencies[0].agency, ": ",
                                                 CodeName(s.error_code()), ": ",
                                                 s.error_message()));
    }
  }
  absl::flat_hash_map<std::string, std::int64_t> lot_size;
  for (const auto& i : instruments.instruments()) lot_size[i.symbol()] = i.lot_size();
  std::vector<PairInfo> infos;
  for (const auto& p : pairs.pairs()) {
    PairInfo info;
    info.symbol = p.symbol();
    info.base = p.base();
    info.quote = p.quote();
    info.tick = p.tick();
    info.band_low = p.band_low();
    info.band_high = p.band_high();
    info.reference_price = p.reference_price();
    info.max_lots = p.max_lots();
    info.base_lot_size = lot_size.contains(p.base()) ? lot_size[p.base()] : 1;
    info.halted = p.halted();
    infos.push_back(info);
  }
  std::vector<HoldingsMap> holdings(o_.agencies.size());
  for (std::size_t a = 0; a < o_.agencies.size(); ++a) {
    v1::GetHoldingsResponse h;
    grpc::Status s = failover_->Run(
        [&](std::size_t server) {
          grpc::ClientContext ctx;
          ctx.set_deadline(deadline());
          Authorize(&ctx, static_cast<int>(a));
          return Stub(server, 0)->GetHoldings(&ctx, {}, &h);
        },
        unavailable);
    if (!s.ok()) {
      return absl::PermissionDeniedError(absl::StrCat("holdings of ", o_.agencies[a].agency, ": ",
                                                      CodeName(s.error_code()), ": ",
                                                      s.error_message()));
    }
    if (h.agency() != o_.agencies[a].agency) {
      return absl::InvalidArgumentError(absl::StrCat("the token given for ", o_.agencies[a].agency,
                                                     " authenticates as ", h.agency()));
    }
    for (const auto& x : h.holdings()) holdings[a][x.instrument()] = x.available();
  }
  auto plans = PlanPairs(infos, holdings, o_.pairs, o_.max_lots, kReserveRounds, &notes_);
  if (!plans.ok()) return plans.status();
  workload_ = std::make_unique<Workload>(*std::move(plans), o_.cancel_percent, o_.max_lots);

  if (!o_.admin_token.empty()) {
    v1::GetExchangeStatusResponse st;
    grpc::Status s = failover_->Run(
        [&](std::size_t server) {
          grpc::ClientContext ctx;
          ctx.set_deadline(deadline());
          ctx.AddMetadata("authorization", "Bearer " + o_.admin_token);
          v1::Admin::Stub admin(channels_[server * static_cast<std::size_t>(o_.concurrency)]);
          return admin.GetExchangeStatus(&ctx, {}, &st);
        },
        unavailable);
    if (s.ok()) {
      start_seq_ = st.last_seq();
    } else {
      notes_.push_back("admin status unavailable: execution streams replay from seq 0");
    }
  }
  return absl::OkStatus();
}

CallType Runner::PrepareOp(Driver* d, std::uint64_t op_index, OpKind* kind, int* agency,
                           v1::SubmitOfferRequest* submit, v1::CancelOfferRequest* cancel,
                           int* pair) {
  Op op = workload_->At(op_index);
  std::pair<int, std::uint64_t> resting{-1, 0};
  if (op.kind == OpKind::kCancel || op.kind == OpKind::kPassive) {
    std::lock_guard<std::mutex> lock(d->passive_mu);
    if (!d->orphan_queue.empty()) {
      // An orphan reserves holdings that later rounds need: cancel it now. A passive
      // offer's slot is taken too (never a crossing half's: its partner would be orphaned).
      resting = d->orphan_queue.front();
      d->orphan_queue.pop_front();
    } else if (op.kind == OpKind::kCancel && !d->passive.empty()) {
      resting = d->passive.front();
      d->passive.pop_front();
    }
  }
  if (resting.first >= 0) {
    *kind = OpKind::kCancel;
    *agency = resting.first;
    cancel->set_offer_id(resting.second);
    return CallType::kCancel;
  }
  if (op.kind == OpKind::kCancel) {
    // Nothing resting to cancel yet: post a passive offer instead.
    const PairPlan& p = workload_->plans()[op_index % workload_->plans().size()];
    op = Op{OpKind::kPassive,
            static_cast<int>(op_index % workload_->plans().size()),
            p.first,
            Side::kSell,
            1,
            p.band_high,
            false};
  }
  *kind = op.kind;
  *agency = op.agency;
  if (pair != nullptr) *pair = op.pair;
  submit->set_client_offer_id(client_id_base_ + op_index + 1);
  submit->set_pair(workload_->plans()[op.pair].symbol);
  submit->set_side(ToProto(op.side));
  submit->set_lots(op.lots);
  submit->set_price(op.price);
  submit->set_time_in_force(v1::TIME_IN_FORCE_GTC);
  return CallType::kSubmit;
}

void Runner::NoteRound(Driver* d, std::uint64_t op, std::uint64_t outcome) {
  if (op >= capacity_ || o_.agencies.size() > 64) return;
  std::uint64_t other = std::atomic_ref<std::uint64_t>(round_slots_[op / 2])
                            .exchange(outcome, std::memory_order_acq_rel);
  if (other == 0) return;  // the first half answered; its partner decides
  std::uint64_t resting = 0;
  if ((outcome & 3) == kRoundResting && other == kRoundDead) resting = outcome;
  if ((other & 3) == kRoundResting && outcome == kRoundDead) resting = other;
  if (resting == 0) return;
  std::lock_guard<std::mutex> lock(d->passive_mu);
  d->orphan_queue.emplace_back(static_cast<int>((resting >> 2) & 63), resting >> 8);
  d->orphans.fetch_add(1, std::memory_order_relaxed);
}

void Runner::SendOpenLoop(Driver* d) {
  // Sleep precisely: the default 50 us timer slack would count as latency.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  const std::uint64_t stride = static_cast<std::uint64_t>(o_.threads);
  for (std::uint64_t op = static_cast<std::uint64_t>(d->id);; op += stride) {
    // Due times come from the op index alone, so a late sender catches up in a burst and
    // its lateness counts as latency.
    std::int64_t due = base_ns_ + static_cast<std::int64_t>(op) * interval_ns_;
    if (op >= total_ops_ || due >= end_ns_) break;
    if (due > Now()) std::this_thread::sleep_until(start_ + std::chrono::nanoseconds(due));
    int channel = d->channels[d->next_channel++ % d->channels.size()];
    if (order_entry_) {
      IssueOe(d, op, due, channel);
    } else {
      Issue(d, op, due, channel);
    }
  }
  d->sending_done.store(true, std::memory_order_release);
}

void Runner::Progress(const std::vector<std::unique_ptr<Driver>>& drivers, std::int64_t now) const {
  std::uint64_t sent = 0, ok = 0, rej = 0, err = 0, fills = 0;
  LatencyHistogram h;
  for (const auto& d : drivers) {
    sent += d->sent.load(std::memory_order_relaxed);
    ok += d->ok.load(std::memory_order_relaxed);
    rej += d->rejected.load(std::memory_order_relaxed);
    err += d->errors.load(std::memory_order_relaxed);
    fills += d->fills.load(std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(d->mu);
    h.Merge(d->submit_hist);
  }
  std::uint64_t done = ok + rej + err;
  double secs = static_cast<double>(now) / 1e9;
  std::fprintf(stderr,
               "[%6.1fs] sent %llu ok %llu rejected %llu errors %llu in-flight %llu | "
               "%.0f/s | submit p50 %s us p99 %s us | fills %llu\n",
               secs, static_cast<unsigned long long>(sent), static_cast<unsigned long long>(ok),
               static_cast<unsigned long long>(rej), static_cast<unsigned long long>(err),
               static_cast<unsigned long long>(sent - done),
               secs > 0 ? static_cast<double>(done) / secs : 0.0,
               Micros(h.ValueAtPerMillion(500000)).c_str(),
               Micros(h.ValueAtPerMillion(990000)).c_str(), static_cast<unsigned long long>(fills));
}

absl::StatusOr<Summary> Runner::Run() {
  if (absl::Status s = Setup(); !s.ok()) return s;
  if (o_.count > 0) total_ops_ = static_cast<std::uint64_t>(o_.count);
  if (o_.rate > 0) interval_ns_ = 1000000000 / o_.rate;
  if (interval_ns_ == 0) interval_ns_ = 1;
  capacity_ = std::min<std::uint64_t>(total_ops_, kMaxSlots);
  if (o_.rate > 0 && o_.duration_ms > 0) {
    capacity_ = std::min<std::uint64_t>(
        capacity_, static_cast<std::uint64_t>(o_.duration_ms) * 1000000 / interval_ns_ + 16);
  }
  due_slots_ = static_cast<std::int64_t*>(std::calloc(capacity_, sizeof(std::int64_t)));
  round_slots_ = static_cast<std::uint64_t*>(std::calloc(capacity_ / 2 + 1, sizeof(std::uint64_t)));
  if (due_slots_ == nullptr || round_slots_ == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate slots");
  }
  client_id_base_ =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count())
      << 22;
  start_ = Clock::now();
  if (!o_.echo && o_.exec_stream != "none") {
    StartStreams();
    // Give the subscriptions a moment; anything earlier is replayed from start_seq anyway.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  std::vector<std::unique_ptr<Driver>> drivers;
  for (int t = 0; t < o_.threads; ++t) {
    auto d = std::make_unique<Driver>();
    d->id = t;
    d->max_seq.assign(o_.agencies.size(), 0);
    for (int c = t; c < o_.concurrency; c += o_.threads) d->channels.push_back(c);
    drivers.push_back(std::move(d));
  }
  base_ns_ = Now();
  if (o_.duration_ms > 0) end_ns_ = base_ns_ + o_.duration_ms * 1000000;
  std::vector<std::thread> threads;
  stream_cap_ = static_cast<std::size_t>(o_.rate > 0 ? o_.window : kMaxOrderEntryWindow);
  if (order_entry_) StartOrderEntry(drivers);
  for (auto& d : drivers) {
    Driver* raw = d.get();
    if (o_.rate > 0) {
      threads.emplace_back([this, raw] { SendOpenLoop(raw); });
      if (order_entry_) {
        threads.emplace_back([this, raw] { PollOe(raw); });
      } else {
        threads.emplace_back([this, raw] { Poll(raw); });
      }
    } else if (order_entry_) {
      threads.emplace_back([this, raw] { DriveClosedLoopOe(raw); });
    } else {
      threads.emplace_back([this, raw] { DriveClosedLoop(raw); });
    }
  }
  std::atomic<bool> finished{false};
  std::thread progress([&] {
    std::int64_t next = base_ns_ + 1000000000;
    while (!finished.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::int64_t now = Now();
      if (now >= next) {
        if (o_.progress) Progress(drivers, now - base_ns_);
        next += 1000000000;
      }
    }
  });
  for (auto& t : threads) t.join();
  finished.store(true);
  progress.join();

  Summary sum;
  sum.mode = o_.echo ? "echo" : "exchange";
  sum.api = o_.api;
  sum.exec_stream = o_.echo ? "none" : o_.exec_stream;
  sum.window = order_entry_ ? o_.window : 0;
  sum.streams = static_cast<int>(oe_streams_.size());
  sum.target_rate = o_.rate;
  sum.concurrency = o_.concurrency;
  sum.agencies = o_.echo ? 0 : static_cast<int>(o_.agencies.size());
  sum.pairs = o_.echo ? 0 : static_cast<int>(workload_->plans().size());
  std::vector<std::uint64_t> max_seq(o_.agencies.size(), 0);
  std::map<std::string, std::string> examples;
  for (auto& d : drivers) {
    sum.sent += d->sent.load();
    sum.ok += d->ok.load();
    sum.rejected += d->rejected.load();
    sum.fills += d->fills.load();
    sum.submits += d->submits.load();
    sum.cancels += d->cancels.load();
    sum.orphans += d->orphans.load();
    sum.submit.Merge(d->submit_hist);
    sum.cancel.Merge(d->cancel_hist);
    sum.rtt.Merge(d->rtt_hist);
    for (const auto& [k, v] : d->error_codes) sum.errors[k] += v;
    for (const auto& [k, v] : d->response_codes) sum.response_errors[k] += v;
    for (const auto& [k, v] : d->reject_reasons) sum.reject_reasons[k] += v;
    for (const auto& [k, v] : d->first_example) examples.emplace(k, v);
    sum.elapsed_ns = std::max(sum.elapsed_ns, d->last_reply_ns - base_ns_);
    sum.max_send_lag_ns = std::max(sum.max_send_lag_ns, d->max_lag_ns);
    for (std::size_t a = 0; a < max_seq.size(); ++a) {
      max_seq[a] = std::max(max_seq[a], d->max_seq[a]);
    }
  }

  if (!o_.echo) {
    // Leave the books as we found them: cancel this run's offers still resting (makers
    // whose other half was never sent, passive offers not yet cancelled), which releases
    // their reserved holdings for the next run. Not counted in sent/ok.
    const auto unavailable = [](const grpc::Status& s) {
      return s.error_code() == grpc::StatusCode::UNAVAILABLE;
    };
    for (std::size_t a = 0; a < o_.agencies.size(); ++a) {
      v1::ListOffersResponse open;
      grpc::Status listed = failover_->Run(
          [&](std::size_t server) {
            grpc::ClientContext list_ctx;
            list_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
            Authorize(&list_ctx, static_cast<int>(a));
            open.Clear();
            return Stub(server, 0)->ListOffers(&list_ctx, {}, &open);
          },
          unavailable);
      if (!listed.ok()) continue;
      for (const auto& offer : open.offers()) {
        const std::uint64_t id = offer.client_offer_id();
        if (id <= client_id_base_ || id - client_id_base_ > total_ops_) continue;
        v1::CancelOfferRequest req;
        req.set_offer_id(offer.offer_id());
        v1::CancelOfferResponse resp;
        grpc::Status cancelled = failover_->Run(
            [&](std::size_t server) {
              grpc::ClientContext ctx;
              ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
              Authorize(&ctx, static_cast<int>(a));
              return Stub(server, 0)->CancelOffer(&ctx, req, &resp);
            },
            unavailable);
        if (cancelled.ok()) {
          ++sum.cleanup_cancels;
          max_seq[a] = std::max(max_seq[a], resp.seq());
        }
      }
    }
    // Let the streams catch up: each agency's stream must reach the last sequence number
    // of its own replies, then stay quiet briefly (the resting side's fills arrive at
    // other agencies' sequence numbers).
    const std::int64_t give_up = Now() + 5000000000;
    while (Now() < give_up) {
      bool caught_up = true;
      std::int64_t last_message = 0;
      for (auto& s : streams_) {
        if (!s->done.load() && s->last_seq.load() < max_seq[s->agency]) caught_up = false;
        last_message = std::max(last_message, s->last_message_ns.load());
      }
      if (caught_up && Now() - last_message > 300000000) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    StopStreams();
    for (auto& s : streams_) {
      sum.exec_fills += s->fills.load();
      sum.exec_reports += s->reports.load();
      std::lock_guard<std::mutex> lock(s->mu);
      sum.exec.Merge(s->exec_hist);
      if (!s->error.empty()) {
        sum.notes.push_back(
            absl::StrCat("execution stream of ", o_.agencies[s->agency].agency, ": ", s->error));
      }
    }
  }
  if (failover_->failovers() > 0) {
    sum.notes.push_back(absl::StrCat(failover_->failovers(),
                                     " calls moved on to the next server (UNAVAILABLE); now at ",
                                     failover_->server(failover_->current())));
  }
  for (const auto& [k, v] : examples) sum.notes.push_back(absl::StrCat(k, " ", v));
  for (auto& n : notes_) sum.notes.push_back(n);
  return sum;
}

}  // namespace internal

absl::StatusOr<Summary> RunLoad(const LoadgenOptions& options) {
  internal::Runner runner(options);
  return runner.Run();
}

}  // namespace msx::loadgen
