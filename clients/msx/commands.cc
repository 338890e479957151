#include "clients/msx/commands.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/common/failover.h"
#include "clients/msx/auction_commands.h"
#include "clients/msx/call.h"
#include "clients/msx/delivery_commands.h"
#include "clients/msx/emergency_commands.h"
#include "clients/msx/term_order_commands.h"
#include "clients/msx/exit_codes.h"
#include "clients/msx/render.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "msx/v1/exchange.grpc.pb.h"

namespace msx::cli {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ConnectionOptions& c) {
  if (!c.tls) return grpc::CreateChannel(c.server, grpc::InsecureChannelCredentials());
  grpc::SslCredentialsOptions ssl;
  if (!c.ca_file.empty()) {
    auto pem = ReadPem(c.ca_file, "--ca-file");
    if (!pem.ok()) return pem.status();
    ssl.pem_root_certs = *pem;
  }
  if (!c.cert_file.empty()) {
    auto cert = ReadPem(c.cert_file, "--cert-file");
    if (!cert.ok()) return cert.status();
    auto key = ReadPem(c.key_file, "--key-file");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  return grpc::CreateChannel(c.server, grpc::SslCredentials(ssl));
}

// Everything a subcommand needs: stubs, output streams, and how to prepare a call.
class Runner {
 public:
  Runner(const Invocation& inv, std::shared_ptr<grpc::Channel> channel, std::ostream& out,
         std::ostream& err)
      : inv_(inv),
        args_(inv.args),
        channel_(std::move(channel)),
        exchange_(v1::Exchange::NewStub(channel_)),
        admin_(v1::Admin::NewStub(channel_)),
        out_(out),
        err_(err) {}

  int Run();

 private:
  // call.h does the work.
  void Prepare(grpc::ClientContext* ctx, bool stream) const {
    PrepareContext(inv_.connection, stream, ctx);
  }
  int Fail(const grpc::Status& s, const std::string& suffix = "") const {
    return FailCall(s, err_, suffix);
  }
  void PrintJson(const google::protobuf::Message& m) const { cli::PrintJson(m, out_); }

  // Reference data for units; empty (units omitted) if the server will not give it.
  const Catalog& catalog() {
    if (!catalog_loaded_) {
      catalog_loaded_ = true;
      v1::ListInstrumentsResponse instruments;
      v1::ListPairsResponse pairs;
      grpc::ClientContext c1, c2;
      Prepare(&c1, false);
      Prepare(&c2, false);
      bool ok = exchange_->ListInstruments(&c1, {}, &instruments).ok();
      ok = exchange_->ListPairs(&c2, {}, &pairs).ok() && ok;
      if (ok) catalog_ = Catalog(instruments, pairs);
    }
    return catalog_;
  }

  // One unary call of every subcommand's shape (call.h, UnaryCall).
  template <typename Stub, typename Request, typename Response, typename Print>
  int Call(Stub* stub,
           grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
           const Request& req, Print print) {
    return UnaryCall(inv_, out_, err_, stub, method, req, print);
  }

  // Submit and Replace answer with the offer, its sequence number and the fills it made.
  template <typename Response>
  void PrintOfferOutcome(const Response& r) {
    out_ << DescribeOffer(r.offer()) << "; seq " << r.seq() << "\n";
    for (const auto& f : r.fills()) out_ << "  " << DescribeFill(f) << "\n";
  }

  std::string DescribeOffer(const v1::Offer& o) {
    std::string s = absl::StrCat(
        "offer ", o.offer_id(), " (client id ", o.client_offer_id(), ") ",
        OfferStateName(o.state()), ": ", SideName(o.side()), " ", o.pair(), " ",
        catalog().Lots(o.pair(), o.original_lots()), " at ", catalog().Price(o.pair(), o.price()),
        ", ", TimeInForceName(o.time_in_force()));
    if (o.time_in_force() == v1::TIME_IN_FORCE_GTD) {
      absl::StrAppend(&s, " until ", FormatTimeNs(o.expire_time_ns()));
    }
    absl::StrAppend(&s, "; open ", FormatThousands(o.open_lots()), ", filled ",
                    FormatThousands(o.filled_lots()));
    if (o.min_fill_lots() > 0) absl::StrAppend(&s, ", min fill ", o.min_fill_lots());
    if (o.allow_counterparties_size() > 0) {
      absl::StrAppend(&s, ", only with ", absl::StrJoin(o.allow_counterparties(), ","));
    }
    if (o.deny_counterparties_size() > 0) {
      absl::StrAppend(&s, ", never with ", absl::StrJoin(o.deny_counterparties(), ","));
    }
    return s + DescribeNeed(catalog(), o);
  }

  std::string DescribeFill(const v1::Fill& f) {
    const char* gives = f.side() == v1::SIDE_SELL ? "gave" : "got";
    const char* gets = f.side() == v1::SIDE_SELL ? "got" : "gave";
    return absl::StrCat("fill ", f.fill_id(), " on offer ", f.offer_id(), ": ",
                        SideName(f.side()), " ", catalog().Lots(f.pair(), f.lots()), " at ",
                        FormatThousands(f.price()), " with ", f.counterparty(), " (", gives,
                        " ", FormatThousands(f.base_amount()), " base, ", gets, " ",
                        catalog().QuoteAmount(f.pair(), f.quote_amount()), "; ",
                        f.auction()     ? "allocated by auction"
                        : f.aggressor() ? "took liquidity"
                                        : "provided liquidity",
                        "; ", FormatThousands(f.open_lots()), " lots still open)",
                        f.deliver_by_ns() != 0
                            ? absl::StrCat("; deliver by ", FormatTimeNs(f.deliver_by_ns()))
                            : "");
  }

  void PrintOffersTable(const google::protobuf::RepeatedPtrField<v1::Offer>& offers) {
    Table t({"OFFER", "CLIENT_ID", "PAIR", "SIDE", "PRICE", "LOTS", "OPEN", "FILLED", "TIF",
             "STATE", "SIZE"});
    for (const auto& o : offers) {
      t.AddRow({std::to_string(o.offer_id()), std::to_string(o.client_offer_id()), o.pair(),
                SideName(o.side()), FormatThousands(o.price()),
                FormatThousands(o.original_lots()), FormatThousands(o.open_lots()),
                FormatThousands(o.filled_lots()), TimeInForceName(o.time_in_force()),
                OfferStateName(o.state()), catalog().Lots(o.pair(), o.open_lots())});
    }
    out_ << t.Render();
  }

  void PrintHoldings(const v1::GetHoldingsResponse& r) {
    out_ << "holdings of " << r.agency() << "\n";
    Table t({"INSTRUMENT", "UNIT", "AVAILABLE", "RESERVED", "TOTAL"});
    for (const auto& h : r.holdings()) {
      t.AddRow({h.instrument(), h.unit(), FormatThousands(h.available()),
                FormatThousands(h.reserved()), FormatThousands(h.available() + h.reserved())});
    }
    out_ << t.Render();
  }

  void PrintBook(const v1::BookSnapshot& b) {
    out_ << b.pair() << "  as of seq " << b.seq() << (b.halted() ? "  HALTED" : "") << "\n";
    out_ << "  lot = " << catalog().Lots(b.pair(), 1) << "; prices in "
         << catalog().Price(b.pair(), 1).substr(2) << "\n";
    Table t({"BID_OFFERS", "BID_LOTS", "BID_PRICE", "ASK_PRICE", "ASK_LOTS", "ASK_OFFERS"});
    int n = std::max(b.bids_size(), b.asks_size());
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> row(6);
      if (i < b.bids_size()) {
        row[0] = std::to_string(b.bids(i).offer_count());
        row[1] = FormatThousands(b.bids(i).lots());
        row[2] = FormatThousands(b.bids(i).price());
      }
      if (i < b.asks_size()) {
        row[3] = FormatThousands(b.asks(i).price());
        row[4] = FormatThousands(b.asks(i).lots());
        row[5] = std::to_string(b.asks(i).offer_count());
      }
      t.AddRow(row);
    }
    out_ << t.Render();
  }

  std::string DescribeReport(const v1::ExecutionReport& r) {
    std::string head = absl::StrCat("seq ", r.seq(), " ", FormatTimeNs(r.time_ns()), " ");
    switch (r.report_case()) {
      case v1::ExecutionReport::kAccepted:
        return head + "accepted " + DescribeOffer(r.accepted().offer());
      case v1::ExecutionReport::kFill:
        return head + DescribeFill(r.fill());
      case v1::ExecutionReport::kCancelled:
        return absl::StrCat(head, "cancelled ", FormatThousands(r.cancelled().cancelled_lots()),
                            " lots (", v1::CancelReason_Name(r.cancelled().reason()), ") of ",
                            DescribeOffer(r.cancelled().offer()));
      case v1::ExecutionReport::kExpired:
        return absl::StrCat(head, "expired ", FormatThousands(r.expired().expired_lots()),
                            " lots of ", DescribeOffer(r.expired().offer()));
      case v1::ExecutionReport::kReplaced:
        return absl::StrCat(head, "replaced (",
                            r.replaced().kept_priority() ? "kept" : "lost", " priority) ",
                            DescribeOffer(r.replaced().offer()));
      case v1::ExecutionReport::kTermAccepted:
        return head + "accepted " + DescribeTermOffer(r.term_accepted().offer());
      case v1::ExecutionReport::kTermCancelled:
        return absl::StrCat(head, "cancelled ",
                            FormatThousands(r.term_cancelled().cancelled_lots()), " lots of ",
                            DescribeTermOffer(r.term_cancelled().offer()));
      case v1::ExecutionReport::kTermExpired:
        return absl::StrCat(head, "expired ", FormatThousands(r.term_expired().expired_lots()),
                            " lots of ", DescribeTermOffer(r.term_expired().offer()));
      case v1::ExecutionReport::kObligation:
        return head + DescribeObligationReport(r.obligation());
      case v1::ExecutionReport::kLevelChanged:
        return head + DescribeLevelChange(r.level_changed());
      case v1::ExecutionReport::kTermReplaced:
        return head + DescribeTermReplaced(r.term_replaced());
      case v1::ExecutionReport::kAuction:
        return head + DescribeAuctionResult(catalog(), r.auction());
      case v1::ExecutionReport::kDelivery:
        return head + DescribeDeliveryReport(catalog(), r.delivery());
      default:
        return head + "(empty report)";
    }
  }

  std::string DescribeBookUpdate(const v1::BookUpdate& u) {
    std::string head = absl::StrCat("seq ", u.seq(), " ");
    switch (u.update_case()) {
      case v1::BookUpdate::kSnapshot:
        return head + "snapshot";
      case v1::BookUpdate::kLevel:
        return absl::StrCat(head, "level ", SideName(u.level().side()), " ",
                            FormatThousands(u.level().price()), " -> ",
                            FormatThousands(u.level().lots()), " lots in ",
                            u.level().offer_count(), " offers");
      case v1::BookUpdate::kTrade:
        return absl::StrCat(head, "trade ", FormatThousands(u.trade().lots()), " lots at ",
                            FormatThousands(u.trade().price()), " (aggressor ",
                            SideName(u.trade().aggressor_side()), ")");
      case v1::BookUpdate::kHalted:
        return head + (u.halted() ? "halted" : "resumed");
      default:
        return head + "(empty update)";
    }
  }

  int Instruments();
  int Pairs();
  int Book();
  int Submit();
  int Cancel();
  int Replace();
  int GetOffer();
  int Offers();
  int Holdings();
  int Watch();
  int WatchBook();
  int Health();
  int SetHoldings();
  int HaltOrResume(bool halt);
  int Status();
  int AgencyHoldings();
  int Term(bool lend);
  int CancelTerm();
  int Obligations();
  int GetObligation();
  int Return();
  int Recall();
  int AdvanceClock();

  std::string DescribeTermOffer(const v1::TermOffer& o) {
    std::string s = absl::StrCat(
        "term offer ", o.offer_id(), " (client id ", o.client_offer_id(), ") ",
        OfferStateName(o.state()), ": ", o.side() == v1::TERM_SIDE_LEND ? "lend" : "borrow",
        " ", o.book(), " ", FormatThousands(o.original_lots()), " lots at ",
        FormatThousands(o.premium_bps()), " bp premium, ", TimeInForceName(o.time_in_force()),
        "; open ", FormatThousands(o.open_lots()), ", filled ", FormatThousands(o.filled_lots()));
    return s;
  }

  // "obligation 3 OPEN: JOGMEC owes KOMIR 203,000 kg CO-99.8 by 2027-03-02T..." and what
  // moved so far.
  std::string DescribeObligation(const v1::Obligation& o) {
    std::string s = absl::StrCat(
        "obligation ", o.obligation_id(), " ", ObligationStateName(o.state()), ": ",
        o.borrower(), o.state() == v1::OBLIGATION_STATE_CLOSED ? " owed " : " owes ",
        o.lender(), " ", catalog().Amount(o.instrument(), o.outstanding()), " by ",
        FormatTimeNs(o.due_time_ns()), " (lent ", catalog().Amount(o.instrument(), o.principal()),
        " on ", o.book(), " at ", o.premium_bps(), " bp: due ",
        catalog().Amount(o.instrument(), o.due_amount()), ", returned ",
        FormatThousands(o.returned()), ")");
    if (o.recalled()) absl::StrAppend(&s, " recalled");
    if (const v1::Collateral& c = o.collateral(); o.has_collateral()) {
      const std::string pledge = catalog().Amount(c.instrument(), c.amount());
      if (c.state() == v1::COLLATERAL_STATE_PLEDGED) {
        absl::StrAppend(&s, "; pledged ", pledge, ", forfeit if overdue on ",
                        FormatTimeNs(c.forfeit_time_ns()));
      } else if (c.state() == v1::COLLATERAL_STATE_RELEASED) {
        absl::StrAppend(&s, "; pledge of ", pledge, " released");
      } else if (c.state() == v1::COLLATERAL_STATE_FORFEITED) {
        absl::StrAppend(&s, "; ", catalog().Amount(c.instrument(), c.forfeited()), " of the pledge",
                        " forfeited, covering ", catalog().Amount(o.instrument(), o.covered()));
      }
    }
    return s;
  }

  static const char* ObligationStateName(v1::ObligationState s) {
    switch (s) {
      case v1::OBLIGATION_STATE_OPEN:
        return "OPEN";
      case v1::OBLIGATION_STATE_OVERDUE:
        return "OVERDUE";
      case v1::OBLIGATION_STATE_CLOSED:
        return "CLOSED";
      default:
        return "?";
    }
  }

  std::string DescribeObligationReport(const v1::ObligationReport& r) {
    std::string kind = v1::ObligationEventKind_Name(r.kind());
    const std::string prefix = "OBLIGATION_EVENT_KIND_";
    if (kind.rfind(prefix, 0) == 0) kind = absl::AsciiStrToLower(kind.substr(prefix.size()));
    std::string s = absl::StrCat(
        kind, " ", catalog().Amount(r.obligation().instrument(), r.amount()), "; ",
        DescribeObligation(r.obligation()));
    if (r.kind() == v1::OBLIGATION_EVENT_KIND_OPENED) {
      absl::StrAppend(&s, "; term offer ", r.offer_id(), " has ", FormatThousands(r.open_lots()),
                      " lots open");
    }
    return s;
  }

  // Opens a server stream with `open(ctx)` and prints each message (JSON with --json,
  // else with `print`) until the stream ends, --count is reached or SIGINT/SIGTERM
  // arrives; the last two are a normal end (exit 0).
  template <typename Message, typename Open, typename Print>
  int RunStream(Open open, Print print);

  const Invocation& inv_;
  const boost::program_options::variables_map& args_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Exchange::Stub> exchange_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::ostream& out_;
  std::ostream& err_;
  bool catalog_loaded_ = false;
  Catalog catalog_;
};

int Runner::Instruments() {
  return Call(
      exchange_.get(), &v1::Exchange::Stub::ListInstruments, v1::ListInstrumentsRequest(),
      [&](const v1::ListInstrumentsResponse& r) {
        Table t({"SYMBOL", "MINERAL", "FORM", "UNIT", "LOT_SIZE", "REF_USD_PER_UNIT",
                 "FLOOR_USD_PER_UNIT"});
        for (const auto& i : r.instruments()) {
          t.AddRow({i.symbol(), i.mineral(), i.form(), i.unit(), FormatThousands(i.lot_size()),
                    FormatMicroUsd(i.reference_value_micro_usd()),
                    i.floor_micro_usd() ? FormatMicroUsd(i.floor_micro_usd()) : "-"});
        }
        out_ << t.Render();
      });
}

int Runner::Pairs() {
  return Call(exchange_.get(), &v1::Exchange::Stub::ListPairs, v1::ListPairsRequest(),
              [&](const v1::ListPairsResponse& r) {
                Table t({"PAIR", "TICK", "BAND_BPS", "REF_PRICE", "BAND_LOW", "BAND_HIGH",
                         "MAX_LOTS", "HALTED", "LEVEL", "LOT", "PRICE_UNIT"});
                for (const auto& p : r.pairs()) {
                  t.AddRow({p.symbol(), FormatThousands(p.tick()), std::to_string(p.band_bps()),
                            FormatThousands(p.reference_price()), FormatThousands(p.band_low()),
                            FormatThousands(p.band_high()), FormatThousands(p.max_lots()),
                            p.halted() ? "yes" : "no", LevelName(p.level()),
                            catalog().Lots(p.symbol(), 1).substr(8),
                            catalog().Price(p.symbol(), 1).substr(2)});
                }
                out_ << t.Render();
              });
}

int Runner::Book() {
  v1::GetBookRequest req;
  req.set_pair(args_["pair"].as<std::string>());
  req.set_depth(args_["depth"].as<std::int32_t>());
  return Call(exchange_.get(), &v1::Exchange::Stub::GetBook, req,
              [&](const v1::BookSnapshot& r) { PrintBook(r); });
}

int Runner::Submit() {
  v1::SubmitOfferRequest req;
  req.set_client_offer_id(args_.count("client-id") ? args_["client-id"].as<std::uint64_t>()
                                                   : GenerateClientOfferId());
  req.set_pair(args_["pair"].as<std::string>());
  // `msx buy` / `msx sell` name the side; `msx submit` takes --side.
  req.set_side(static_cast<v1::Side>(*ParseSide(
      inv_.command == "submit" ? args_["side"].as<std::string>() : inv_.command)));
  SetNeed(args_, &req);
  req.set_lots(args_["lots"].as<std::int64_t>());
  req.set_price(args_["price"].as<std::int64_t>());
  req.set_time_in_force(
      static_cast<v1::TimeInForce>(*ParseTimeInForce(args_["tif"].as<std::string>())));
  if (args_.count("expire-ns")) req.set_expire_time_ns(args_["expire-ns"].as<std::int64_t>());
  if (args_.count("expire-in-ms")) {
    auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    req.set_expire_time_ns(now + args_["expire-in-ms"].as<std::int64_t>() * 1000000);
  }
  req.set_min_fill_lots(args_["min-fill"].as<std::int64_t>());
  if (args_.count("allow")) {
    for (const auto& a : args_["allow"].as<std::vector<std::string>>()) {
      req.add_allow_counterparties(a);
    }
  }
  if (args_.count("deny")) {
    for (const auto& a : args_["deny"].as<std::vector<std::string>>()) {
      req.add_deny_counterparties(a);
    }
  }
  grpc::ClientContext ctx;
  Prepare(&ctx, false);
  v1::SubmitOfferResponse r;
  grpc::Status s = exchange_->SubmitOffer(&ctx, req, &r);
  if (!s.ok()) {
    // The outcome of an unanswered submit is unknown: say how to retry it safely.
    bool unknown = s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                   s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                   s.error_code() == grpc::StatusCode::CANCELLED;
    return Fail(s, unknown ? absl::StrCat(" (client id ", req.client_offer_id(),
                                          "; retry with --client-id ", req.client_offer_id(), ")")
                           : absl::StrCat(" (client id ", req.client_offer_id(), ")"));
  }
  if (inv_.json) {
    PrintJson(r);
  } else {
    PrintOfferOutcome(r);
  }
  return kExitOk;
}

int Runner::Cancel() {
  v1::CancelOfferRequest req;
  req.set_offer_id(args_["offer-id"].as<std::uint64_t>());
  return Call(exchange_.get(), &v1::Exchange::Stub::CancelOffer, req,
              [&](const v1::CancelOfferResponse& r) {
                out_ << DescribeOffer(r.offer()) << "; seq " << r.seq() << "\n";
              });
}

int Runner::Replace() {
  v1::ReplaceOfferRequest req;
  req.set_offer_id(args_["offer-id"].as<std::uint64_t>());
  req.set_lots(args_["lots"].as<std::int64_t>());
  req.set_price(args_["price"].as<std::int64_t>());
  return Call(exchange_.get(), &v1::Exchange::Stub::ReplaceOffer, req,
              [&](const v1::ReplaceOfferResponse& r) { PrintOfferOutcome(r); });
}

int Runner::GetOffer() {
  v1::GetOfferRequest req;
  req.set_offer_id(args_["offer-id"].as<std::uint64_t>());
  return Call(exchange_.get(), &v1::Exchange::Stub::GetOffer, req,
              [&](const v1::Offer& r) { out_ << DescribeOffer(r) << "\n"; });
}

int Runner::Offers() {
  v1::ListOffersRequest req;
  if (args_.count("pair")) req.set_pair(args_["pair"].as<std::string>());
  return Call(exchange_.get(), &v1::Exchange::Stub::ListOffers, req,
              [&](const v1::ListOffersResponse& r) { PrintOffersTable(r.offers()); });
}

int Runner::Holdings() {
  return Call(exchange_.get(), &v1::Exchange::Stub::GetHoldings, v1::GetHoldingsRequest(),
              [&](const v1::GetHoldingsResponse& r) { PrintHoldings(r); });
}

// Blocks SIGINT/SIGTERM for the whole process (gRPC threads inherit the mask) and
// cancels `ctx` when one arrives; Stop() ends the watcher.
class SignalCanceller {
 public:
  explicit SignalCanceller(grpc::ClientContext* ctx) : ctx_(ctx) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        timespec ts{0, 50 * 1000 * 1000};
        if (sigtimedwait(&set_, nullptr, &ts) > 0) {
          signalled_.store(true);
          ctx_->TryCancel();
          return;
        }
      }
    });
  }
  ~SignalCanceller() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  bool signalled() const { return signalled_.load(); }

 private:
  grpc::ClientContext* ctx_;
  sigset_t set_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> signalled_{false};
  std::thread thread_;
};

template <typename Message, typename Open, typename Print>
int Runner::RunStream(Open open, Print print) {
  grpc::ClientContext ctx;
  SignalCanceller canceller(&ctx);
  Prepare(&ctx, true);
  auto reader = open(&ctx);
  const std::int64_t limit = args_["count"].as<std::int64_t>();
  std::int64_t seen = 0;
  bool reached = false;
  Message msg;
  while (reader->Read(&msg)) {
    if (inv_.json) {
      PrintJson(msg);
    } else {
      print(msg);
    }
    if (limit > 0 && ++seen >= limit) {
      reached = true;
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status s = reader->Finish();
  const int code = s.ok() || reached ? kExitOk : Fail(s);
  canceller.Stop();
  return canceller.signalled() ? kExitOk : code;  // SIGINT/SIGTERM: a normal end
}

int Runner::Watch() {
  v1::StreamExecutionsRequest req;
  req.set_after_seq(args_["from-seq"].as<std::uint64_t>());
  return RunStream<v1::ExecutionReport>(
      [&](grpc::ClientContext* ctx) { return exchange_->StreamExecutions(ctx, req); },
      [&](const v1::ExecutionReport& r) { out_ << DescribeReport(r) << "\n" << std::flush; });
}

int Runner::WatchBook() {
  v1::StreamBookRequest req;
  req.set_pair(args_["pair"].as<std::string>());
  req.set_depth(args_["depth"].as<std::int32_t>());
  return RunStream<v1::BookUpdate>(
      [&](grpc::ClientContext* ctx) { return exchange_->StreamBook(ctx, req); },
      [&](const v1::BookUpdate& u) {
        if (u.has_snapshot()) {
          PrintBook(u.snapshot());
          out_ << std::flush;
        } else {
          out_ << DescribeBookUpdate(u) << "\n" << std::flush;
        }
      });
}

int Runner::Health() {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext ctx;
  Prepare(&ctx, false);
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(args_["service"].as<std::string>());
  grpc::health::v1::HealthCheckResponse r;
  grpc::Status s = stub->Check(&ctx, req, &r);
  if (!s.ok()) return Fail(s);
  if (inv_.json) {
    PrintJson(r);
  } else {
    out_ << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(r.status()) << "\n";
  }
  return r.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk
                                                                       : kExitNotServing;
}

int Runner::SetHoldings() {
  v1::SetHoldingsRequest req;
  req.set_agency(args_["agency"].as<std::string>());
  req.set_instrument(args_["instrument"].as<std::string>());
  req.set_total(args_["total"].as<std::int64_t>());
  return Call(
      admin_.get(), &v1::Admin::Stub::SetHoldings, req, [&](const v1::SetHoldingsResponse& r) {
        const auto& h = r.holding();
        out_ << req.agency() << " " << h.instrument() << ": available "
             << catalog().Amount(h.instrument(), h.available()) << ", reserved "
             << FormatThousands(h.reserved()) << " " << h.unit() << "; seq " << r.seq() << "\n";
      });
}

int Runner::HaltOrResume(bool halt) {
  const std::string pair = args_["pair"].as<std::string>();
  auto print = [&](const auto& r) {
    out_ << pair << (halt ? " halted" : " resumed") << "; seq " << r.seq() << "\n";
  };
  if (halt) {
    v1::HaltPairRequest req;
    req.set_pair(pair);
    return Call(admin_.get(), &v1::Admin::Stub::HaltPair, req, print);
  }
  v1::ResumePairRequest req;
  req.set_pair(pair);
  return Call(admin_.get(), &v1::Admin::Stub::ResumePair, req, print);
}

int Runner::Status() {
  return Call(admin_.get(), &v1::Admin::Stub::GetExchangeStatus, v1::GetExchangeStatusRequest(),
              [&](const v1::GetExchangeStatusResponse& r) {
                out_ << "last seq " << r.last_seq() << ", durable seq " << r.durable_seq() << " ("
                     << r.durability() << ")\n"
                     << "accepting: " << (r.accepting() ? "yes" : "no")
                     << (r.failure().empty() ? "" : " - " + r.failure()) << "\n"
                     << "open offers: " << FormatThousands(r.open_offers()) << "\n"
                     << "queue: " << r.queue_depth() << " / " << r.queue_capacity() << "\n"
                     << "data dir: " << r.data_dir() << "\n"
                     << "halted pairs: "
                     << (r.halted_pairs_size() ? absl::StrJoin(r.halted_pairs(), ", ") : "none")
                     << "\n";
                Table t({"AGENCY", "NAME", "COUNTRY", "ROLE"});
                for (const auto& a : r.agencies()) {
                  t.AddRow({a.id(), a.name(), a.country(), a.admin() ? "admin" : "agency"});
                }
                out_ << t.Render();
              });
}

int Runner::AgencyHoldings() {
  v1::GetAgencyHoldingsRequest req;
  req.set_agency(args_["agency"].as<std::string>());
  return Call(admin_.get(), &v1::Admin::Stub::GetAgencyHoldings, req,
              [&](const v1::GetHoldingsResponse& r) { PrintHoldings(r); });
}

int Runner::Term(bool lend) {
  v1::SubmitTermOfferRequest req;
  req.set_client_offer_id(args_.count("client-id") ? args_["client-id"].as<std::uint64_t>()
                                                   : GenerateClientOfferId());
  req.set_book(args_["book"].as<std::string>());
  req.set_side(lend ? v1::TERM_SIDE_LEND : v1::TERM_SIDE_BORROW);
  req.set_lots(args_["lots"].as<std::int64_t>());
  req.set_premium_bps(args_["premium-bps"].as<std::int64_t>());
  req.set_time_in_force(
      static_cast<v1::TimeInForce>(*ParseTimeInForce(args_["tif"].as<std::string>())));
  if (args_.count("expire-ns")) req.set_expire_time_ns(args_["expire-ns"].as<std::int64_t>());
  if (args_.count("allow")) {
    for (const auto& a : args_["allow"].as<std::vector<std::string>>()) {
      req.add_allow_counterparties(a);
    }
  }
  if (args_.count("deny")) {
    for (const auto& a : args_["deny"].as<std::vector<std::string>>()) {
      req.add_deny_counterparties(a);
    }
  }
  req.set_min_fill_lots(args_["min-fill"].as<std::int64_t>());
  return Call(exchange_.get(), &v1::Exchange::Stub::SubmitTermOffer, req,
              [&](const v1::SubmitTermOfferResponse& r) {
                out_ << DescribeTermOffer(r.offer()) << "; seq " << r.seq() << "\n";
                for (const auto& o : r.obligations()) out_ << "  " << DescribeObligation(o) << "\n";
              });
}

int Runner::CancelTerm() {
  v1::CancelTermOfferRequest req;
  req.set_offer_id(args_["offer-id"].as<std::uint64_t>());
  return Call(exchange_.get(), &v1::Exchange::Stub::CancelTermOffer, req,
              [&](const v1::CancelTermOfferResponse& r) {
                out_ << DescribeTermOffer(r.offer()) << "; seq " << r.seq() << "\n";
              });
}

int Runner::Obligations() {
  v1::ListObligationsRequest req;
  const std::string role = args_["role"].as<std::string>();
  const std::string state = args_["state"].as<std::string>();
  if (role == "lender") {
    req.set_role(v1::OBLIGATION_ROLE_LENDER);
  } else if (role == "borrower") {
    req.set_role(v1::OBLIGATION_ROLE_BORROWER);
  } else if (role != "any") {
    err_ << "msx: --role: expected lender, borrower or any, got '" << role << "'\n";
    return kExitUsage;
  }
  if (state == "open") {
    req.set_state(v1::OBLIGATION_STATE_OPEN);
  } else if (state == "overdue") {
    req.set_state(v1::OBLIGATION_STATE_OVERDUE);
  } else if (state == "closed") {
    req.set_state(v1::OBLIGATION_STATE_CLOSED);
  } else if (state != "any") {
    err_ << "msx: --state: expected open, overdue, closed or any, got '" << state << "'\n";
    return kExitUsage;
  }
  if (args_.count("agency")) req.set_agency(args_["agency"].as<std::string>());
  return Call(exchange_.get(), &v1::Exchange::Stub::ListObligations, req,
              [&](const v1::ListObligationsResponse& r) {
                Table t({"ID", "STATE", "LENDER", "BORROWER", "BOOK", "PREMIUM_BPS", "DUE",
                         "RETURNED", "OUTSTANDING", "DUE_TIME"});
                for (const auto& o : r.obligations()) {
                  t.AddRow({std::to_string(o.obligation_id()), ObligationStateName(o.state()),
                            o.lender(), o.borrower(), o.book(), std::to_string(o.premium_bps()),
                            catalog().Amount(o.instrument(), o.due_amount()),
                            FormatThousands(o.returned()), FormatThousands(o.outstanding()),
                            FormatTimeNs(o.due_time_ns())});
                }
                out_ << t.Render();
                for (const auto& o : r.obligations()) {
                  if (o.state() != v1::OBLIGATION_STATE_CLOSED) out_ << DescribeObligation(o) << "\n";
                }
              });
}

int Runner::GetObligation() {
  v1::GetObligationRequest req;
  req.set_obligation_id(args_["obligation-id"].as<std::uint64_t>());
  return Call(exchange_.get(), &v1::Exchange::Stub::GetObligation, req,
              [&](const v1::Obligation& o) { out_ << DescribeObligation(o) << "\n"; });
}

int Runner::Return() {
  v1::ReturnObligationRequest req;
  req.set_obligation_id(args_["obligation-id"].as<std::uint64_t>());
  req.set_amount(args_["amount"].as<std::int64_t>());
  return Call(exchange_.get(), &v1::Exchange::Stub::ReturnObligation, req,
              [&](const v1::ReturnObligationResponse& r) {
                out_ << "returned " << catalog().Amount(r.obligation().instrument(), req.amount())
                     << "; " << DescribeObligation(r.obligation()) << "; seq " << r.seq() << "\n";
              });
}

int Runner::Recall() {
  v1::RecallObligationRequest req;
  req.set_obligation_id(args_["obligation-id"].as<std::uint64_t>());
  return Call(exchange_.get(), &v1::Exchange::Stub::RecallObligation, req,
              [&](const v1::RecallObligationResponse& r) {
                out_ << "recalled; " << DescribeObligation(r.obligation()) << "; seq " << r.seq()
                     << "\n";
              });
}

int Runner::AdvanceClock() {
  v1::AdvanceClockRequest req;
  req.set_advance_ns(args_["seconds"].as<std::int64_t>() * 1'000'000'000);
  return Call(admin_.get(), &v1::Admin::Stub::AdvanceClock, req,
              [&](const v1::AdvanceClockResponse& r) {
                out_ << "clock is " << r.offset_ns() / 1'000'000'000
                     << " s ahead of the wall clock; seq " << r.seq() << "\n";
              });
}

int Runner::Run() {
  const std::string& c = inv_.command;
  if (c == "instruments") return Instruments();
  if (c == "pairs") return Pairs();
  if (c == "book") return Book();
  if (c == "submit" || c == "buy" || c == "sell") return Submit();
  if (c == "cancel") return Cancel();
  if (c == "replace") return Replace();
  if (c == "offer") return GetOffer();
  if (c == "offers") return Offers();
  if (c == "holdings") return Holdings();
  if (c == "watch") return Watch();
  if (c == "watch-book") return WatchBook();
  if (c == "health") return Health();
  if (c == "set-holdings") return SetHoldings();
  if (c == "halt") return HaltOrResume(true);
  if (c == "resume") return HaltOrResume(false);
  if (c == "status") return Status();
  if (c == "agency-holdings") return AgencyHoldings();
  if (c == "lend") return Term(true);
  if (c == "borrow") return Term(false);
  if (c == "cancel-term") return CancelTerm();
  if (c == "replace-term") return RunTermOrderCommand(inv_, channel_, out_, err_);
  if (c == "obligations") return Obligations();
  if (c == "obligation") return GetObligation();
  if (c == "return") return Return();
  if (c == "recall") return Recall();
  if (c == "advance-clock") return AdvanceClock();
  if (c == "deliveries" || c == "confirm-delivery") {
    // --json prints the messages as they are: no units to look up.
    return RunDeliveryCommand(inv_, channel_, inv_.json ? Catalog() : catalog(), out_, err_);
  }
  if (c == "levels" || absl::StartsWith(c, "admin ")) {
    return RunEmergencyCommand(inv_, channel_, out_, err_);
  }
  err_ << "msx: unknown subcommand '" << c << "'\n";
  return kExitUsage;
}

}  // namespace

namespace {

// Forwards to another stream buffer and counts what went through.
class CountingBuf final : public std::streambuf {
 public:
  explicit CountingBuf(std::streambuf* target) : target_(target) {}
  std::size_t count() const { return count_; }

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    ++count_;
    return target_->sputc(static_cast<char>(c));
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    count_ += static_cast<std::size_t>(n);
    return target_->sputn(s, n);
  }
  int sync() override { return target_->pubsync(); }

 private:
  std::streambuf* target_;
  std::size_t count_ = 0;
};

int RunOne(const Invocation& inv, std::ostream& out, std::ostream& err) {
  auto channel = MakeChannel(inv.connection);
  if (!channel.ok()) {
    err << "msx: " << channel.status().message() << std::endl;
    return kExitLocalFailure;
  }
  Runner runner(inv, *std::move(channel), out, err);
  return runner.Run();
}

}  // namespace

int RunInvocation(const Invocation& inv, std::ostream& out, std::ostream& err) {
  // --server / MSX_SERVER may list several servers (a primary and its hot standbys): a
  // call answered UNAVAILABLE (a standby, a fenced or stopped primary) is made again on
  // the next one, in turn, within the failover window (clients/common/failover.h), as long
  // as it printed nothing yet. A submit keeps its client offer id across the attempts, so
  // a retry is idempotent.
  std::vector<std::string> servers = clients::SplitServerList(inv.connection.server);
  if (servers.size() <= 1) return RunOne(inv, out, err);
  Invocation attempt = inv;
  static const char* const kWithClientId[] = {"submit", "buy", "sell", "lend", "borrow"};
  if (absl::c_linear_search(kWithClientId, attempt.command) && !attempt.args.count("client-id")) {
    attempt.args.insert(
        {"client-id", boost::program_options::variable_value(
                          boost::any(GenerateClientOfferId()), false)});
  }
  struct Outcome {
    int code;
    bool printed;
    std::string err;
  };
  const int unavailable = ExitCodeFor(grpc::StatusCode::UNAVAILABLE);
  clients::ServerFailover failover(std::move(servers));
  Outcome outcome = failover.Run(
      [&](std::size_t index) {
        attempt.connection.server = failover.server(index);
        CountingBuf counted(out.rdbuf());
        std::ostream attempt_out(&counted);
        std::ostringstream attempt_err;
        const int code = RunOne(attempt, attempt_out, attempt_err);
        attempt_out.flush();
        return Outcome{code, counted.count() != 0, attempt_err.str()};
      },
      [&](const Outcome& o) { return o.code == unavailable && !o.printed; });
  err << outcome.err;
  return outcome.code;
}

}  // namespace msx::cli
