// Helpers for the gateway end-to-end tests: an authenticated client of one agency, a
// background reader of a server stream, fill tallies and the offers of traffic rounds. Header-only; tests link msx_test_support.
#ifndef MSX_TESTS_GATEWAY_TEST_CLIENT_H_
#define MSX_TESTS_GATEWAY_TEST_CLIENT_H_

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>

#include "msx/v1/config.pb.h"
#include "msx/v1/exchange.grpc.pb.h"
#include "tests/testing/config_files.h"
#include "tests/testing/server_process.h"

namespace msx::testing {

inline constexpr char kGaCo[] = "GA-4N/CO-99.8";  // KOMIR, JOGMEC, DLA... eligible (FORGE)
inline constexpr char kNdprCo[] = "NDPR-OX/CO-99.8";  // KABIL and KOMIR share no agreement

// One agency's view of a server: stubs plus the bearer token on every call.
class AgencyClient {
 public:
  AgencyClient(const std::string& address, std::string token)
      : channel_(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        exchange_(v1::Exchange::NewStub(channel_)),
        admin_(v1::Admin::NewStub(channel_)),
        token_(std::move(token)) {}

  std::unique_ptr<grpc::ClientContext> Context(int timeout_ms = 10000) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
    return ctx;
  }

  grpc::Status Submit(const v1::SubmitOfferRequest& req, v1::SubmitOfferResponse* resp) {
    return exchange_->SubmitOffer(Context().get(), req, resp);
  }
  // A GTC offer.
  grpc::Status Submit(std::uint64_t client_id, const std::string& pair, v1::Side side,
                      std::int64_t lots, std::int64_t price, v1::SubmitOfferResponse* resp) {
    v1::SubmitOfferRequest req;
    req.set_client_offer_id(client_id);
    req.set_pair(pair);
    req.set_side(side);
    req.set_lots(lots);
    req.set_price(price);
    req.set_time_in_force(v1::TIME_IN_FORCE_GTC);
    return Submit(req, resp);
  }
  grpc::Status Cancel(std::uint64_t offer_id, v1::CancelOfferResponse* resp) {
    v1::CancelOfferRequest req;
    req.set_offer_id(offer_id);
    return exchange_->CancelOffer(Context().get(), req, resp);
  }
  grpc::Status GetOffer(std::uint64_t offer_id, v1::Offer* resp) {
    v1::GetOfferRequest req;
    req.set_offer_id(offer_id);
    return exchange_->GetOffer(Context().get(), req, resp);
  }
  grpc::Status ListOffers(v1::ListOffersResponse* resp) {
    return exchange_->ListOffers(Context().get(), v1::ListOffersRequest(), resp);
  }
  grpc::Status Holdings(v1::GetHoldingsResponse* resp) {
    return exchange_->GetHoldings(Context().get(), v1::GetHoldingsRequest(), resp);
  }
  // Available + reserved of one instrument (-1 if not listed).
  std::int64_t Available(const std::string& instrument) {
    v1::GetHoldingsResponse h;
    if (!Holdings(&h).ok()) return -1;
    for (const auto& x : h.holdings()) {
      if (x.instrument() == instrument) return x.available();
    }
    return -1;
  }
  v1::Pair Pair(const std::string& symbol) {
    v1::ListPairsResponse resp;
    exchange_->ListPairs(Context().get(), v1::ListPairsRequest(), &resp);
    for (const auto& p : resp.pairs()) {
      if (p.symbol() == symbol) return p;
    }
    return v1::Pair();
  }
  v1::Instrument Instrument(const std::string& symbol) {
    v1::ListInstrumentsResponse resp;
    exchange_->ListInstruments(Context().get(), v1::ListInstrumentsRequest(), &resp);
    for (const auto& i : resp.instruments()) {
      if (i.symbol() == symbol) return i;
    }
    return v1::Instrument();
  }
  // A price inside the pair's band, on its tick: the reference price rounded to the tick.
  std::int64_t FairPrice(const std::string& symbol) {
    v1::Pair p = Pair(symbol);
    std::int64_t price = p.reference_price() / p.tick() * p.tick();
    if (price < p.band_low()) price = p.band_low();
    return price;
  }

  v1::Exchange::Stub& exchange() { return *exchange_; }
  v1::Admin::Stub& admin() { return *admin_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Exchange::Stub> exchange_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::string token_;
};

// Reads a server stream on a background thread and keeps every message.
template <typename Msg>
class StreamWatcher {
 public:
  using Opener = std::function<std::unique_ptr<grpc::ClientReader<Msg>>(grpc::ClientContext*)>;

  StreamWatcher(const std::string& token, Opener open) {
    if (!token.empty()) ctx_.AddMetadata("authorization", "Bearer " + token);
    reader_ = open(&ctx_);
    thread_ = std::thread([this] {
      Msg msg;
      while (reader_->Read(&msg)) {
        std::lock_guard<std::mutex> lock(mu_);
        messages_.push_back(msg);
        cv_.notify_all();
      }
      grpc::Status s = reader_->Finish();
      std::lock_guard<std::mutex> lock(mu_);
      status_ = s;
      done_ = true;
      cv_.notify_all();
    });
  }
  ~StreamWatcher() {
    ctx_.TryCancel();
    thread_.join();
  }

  // Waits until `pred(messages)` holds or the stream ended; returns pred's last value.
  // The default timeouts only bound a broken build: long enough for a loaded two-core
  // machine or a sanitizer build, so that no test depends on how fast a server is.
  bool WaitFor(const std::function<bool(const std::vector<Msg>&)>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return pred(messages_) || done_; });
    return pred(messages_);
  }
  bool WaitForCount(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    return WaitFor([n](const std::vector<Msg>& m) { return m.size() >= n; }, timeout);
  }
  // Waits for the stream to end and returns its status.
  grpc::Status WaitDone(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return done_; });
    return done_ ? status_ : grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "still open");
  }
  std::vector<Msg> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<Msg>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Msg> messages_;
  grpc::Status status_;
  bool done_ = false;
};

using ExecWatcher = StreamWatcher<v1::ExecutionReport>;
using BookWatcher = StreamWatcher<v1::BookUpdate>;

inline std::unique_ptr<ExecWatcher> WatchExecutions(AgencyClient& client, const std::string& token,
                                                    std::uint64_t after_seq = 0) {
  v1::Exchange::Stub* stub = &client.exchange();
  return std::make_unique<ExecWatcher>(token, [stub, after_seq](grpc::ClientContext* ctx) {
    v1::StreamExecutionsRequest req;
    req.set_after_seq(after_seq);
    return stub->StreamExecutions(ctx, req);
  });
}

// Each fill id on a stream: how many times it arrived, and its last serialized bytes (an
// exactly-once check compares both with what the replies told the client).
struct FillTally {
  std::map<std::uint64_t, int> count;
  std::map<std::uint64_t, std::string> content;
};

inline FillTally TallyFills(const std::vector<v1::ExecutionReport>& reports) {
  FillTally tally;
  for (const v1::ExecutionReport& r : reports) {
    if (!r.has_fill()) continue;
    ++tally.count[r.fill().fill_id()];
    tally.content[r.fill().fill_id()] = r.fill().SerializeAsString();
  }
  return tally;
}

inline std::vector<v1::Fill> FillsOf(const std::vector<v1::ExecutionReport>& reports) {
  std::vector<v1::Fill> fills;
  for (const auto& r : reports) {
    if (r.has_fill()) fills.push_back(r.fill());
  }
  return fills;
}

// The n-th offer of one agency in a traffic round on kGaCo (crash and standby tests): GTC
// or IOC, 1 or 2 lots, within 3 ticks of `price`; a seller (KOMIR, JOGMEC hold gallium)
// sells three times in four, a buyer buys three times in four. The client offer id
// round * 1,000,000 + n is unique across rounds. Draws four numbers from `rng`.
inline v1::SubmitOfferRequest TradeOffer(std::mt19937_64& rng, bool seller, int round,
                                         std::uint64_t n, std::int64_t price) {
  v1::SubmitOfferRequest req;
  req.set_client_offer_id(static_cast<std::uint64_t>(round) * 1000000 + n);
  req.set_pair(kGaCo);
  bool sell = seller ? rng() % 4 != 0 : rng() % 4 == 0;
  req.set_side(sell ? v1::SIDE_SELL : v1::SIDE_BUY);
  req.set_lots(1 + static_cast<std::int64_t>(rng() % 2));
  req.set_price(price - 3 + static_cast<std::int64_t>(rng() % 7));
  req.set_time_in_force(rng() % 3 == 0 ? v1::TIME_IN_FORCE_IOC : v1::TIME_IN_FORCE_GTC);
  return req;
}

// Writes `config` as a text-format file in `dir`, its tokens as digests
// (testing/config_files.h), and returns its path.
inline std::string WriteConfig(const v1::ExchangeConfig& config, const std::string& dir) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(WithTokenDigests(config), &text);
  std::string path = dir + "/config.textproto";
  std::ofstream(path) << text;
  return path;
}

}  // namespace msx::testing

#endif  // MSX_TESTS_GATEWAY_TEST_CLIENT_H_
