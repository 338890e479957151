#include "clients/drill/live.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "clients/common/failover.h"
#include "clients/drill/drill_journal.h"
#include "clients/drill/format.h"
#include "clients/drill/live_fills.h"
#include "engine/journal/reader.h"
#include "msx/v1/exchange.grpc.pb.h"

namespace msx::drill {

absl::StatusOr<Speed> ParseSpeed(absl::string_view text) {
  Speed s;
  if (text == "max") return s;
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "--speed: \"", text, "\" is neither \"max\" nor a positive decimal like 2 or 0.5"));
  };
  const std::size_t dot = text.find('.');
  absl::string_view whole = text.substr(0, dot);
  absl::string_view frac = dot == absl::string_view::npos ? "" : text.substr(dot + 1);
  if (frac.size() > 6 || (whole.empty() && frac.empty())) return bad();
  for (char c : whole) {
    if (c < '0' || c > '9') return bad();
  }
  for (char c : frac) {
    if (c < '0' || c > '9') return bad();
  }
  std::int64_t w = 0, f = 0, den = 1;
  if (!whole.empty() && (whole.size() > 9 || !absl::SimpleAtoi(whole, &w))) return bad();
  if (!frac.empty() && !absl::SimpleAtoi(frac, &f)) return bad();
  for (std::size_t i = 0; i < frac.size(); ++i) den *= 10;
  s.max = false;
  s.numerator = w * den + f;
  s.denominator = den;
  if (s.numerator <= 0) return bad();
  return s;
}

void TokensFromConfig(const msx::v1::ExchangeConfig& config, LiveOptions* options) {
  for (const msx::v1::AgencyConfig& a : config.agencies()) {
    if (a.tokens_size() == 0) continue;
    if (a.role() == msx::v1::ROLE_ADMIN) {
      if (options->config_admin_token.empty()) options->config_admin_token = a.tokens(0);
    } else {
      options->config_tokens.emplace(a.id(), a.tokens(0));
    }
  }
}

std::string TokenEnvName(const std::string& agency_code) {
  std::string name = "MSX_TOKEN_";
  for (char c : agency_code) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    name.push_back((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_');
  }
  return name;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& who, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(who, ": cannot read ", path));
  std::string line;
  std::getline(in, line);
  const std::string token(absl::StripAsciiWhitespace(line));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(who, ": ", path, " holds no token"));
  }
  return token;
}

namespace {

// The token of one agency (or, with code empty, of the admin) from the first source that
// has one (live.h); empty if none does.
std::string ResolveToken(const LiveOptions& o, const std::string& code) {
  const bool admin = code.empty();
  if (admin ? !o.admin_token.empty() : o.tokens.count(code) != 0) {
    return admin ? o.admin_token : o.tokens.at(code);
  }
  if (o.getenv) {
    const char* v = o.getenv(admin ? kAdminTokenEnv : TokenEnvName(code).c_str());
    if (v != nullptr && v[0] != '\0') return v;
  }
  if (admin) return o.config_admin_token;
  auto it = o.config_tokens.find(code);
  return it == o.config_tokens.end() ? std::string() : it->second;
}

// The agency whose token a journaled command is sent with; -1 for the admin's commands,
// -2 for commands that are never sent.
int Sender(const Command& cmd) {
  switch (cmd.type) {
    case CommandType::kSubmitOffer:
    case CommandType::kSubmitOfferWithNeed:
      return static_cast<int>(SubmitBody(cmd).agency);
    case CommandType::kCancelOffer:
      return static_cast<int>(cmd.cancel.agency);
    case CommandType::kReplaceOffer:
    case CommandType::kReplaceOfferOpenLots:
      return static_cast<int>(cmd.replace.agency);
    case CommandType::kSubmitTermOffer:
      return static_cast<int>(cmd.submit.agency);
    case CommandType::kCancelTermOffer:
      return static_cast<int>(cmd.cancel.agency);
    case CommandType::kReplaceTermOffer:
      return static_cast<int>(cmd.replace.agency);
    case CommandType::kReturnObligation:
    case CommandType::kRecallObligation:
      return static_cast<int>(cmd.obligation.agency);
    case CommandType::kConfirmDelivery:  // the receiver, or an admin agency (the admin token)
      return static_cast<int>(cmd.confirm_delivery.agency);
    case CommandType::kSetHoldings:
    case CommandType::kHaltPair:
    case CommandType::kResumePair:
    case CommandType::kPublishReference:
    case CommandType::kAdmitMember:
    case CommandType::kSuspendMember:
    case CommandType::kSetEmergencyLevel:
      return -1;
    case CommandType::kAdvanceTime:
    case CommandType::kSetOfferRetention:  // the live server keeps its own window
    // Allocation auctions: the live server runs its own ticks.
    case CommandType::kRunAuction:
    // The live server journaled its own when it started its exchange (a new one follows).
    case CommandType::kFollowLiveReference:
      return -2;
  }
  return -2;
}

}  // namespace

absl::Status CheckLiveTokens(const std::string& dir, const LiveOptions& options) {
  if (options.skip_agencies_without_token) return absl::OkStatus();
  absl::StatusOr<DrillJournal> j = OpenDrillJournal(dir);
  if (!j.ok()) return j.status();
  const ReferenceData& ref = *j->ref;
  std::vector<bool> has_token(ref.agencies().size());
  for (const Agency& a : ref.agencies()) {
    has_token[a.id] = !ResolveToken(options, std::string(a.code)).empty();
  }
  const bool has_admin_token = !ResolveToken(options, "").empty();
  absl::StatusOr<std::unique_ptr<journal::JournalReader>> reader =
      journal::JournalReader::Open(dir, journal::ReaderOptions{});
  if (!reader.ok()) return reader.status();
  journal::JournalEntry entry;
  while ((*reader)->Next(&entry)) {
    int sender = Sender(entry.command);
    // An admin agency's confirmation of a delivery goes with the admin token.
    if (sender >= 0 && static_cast<std::size_t>(sender) < has_token.size() &&
        ref.agencies()[static_cast<std::size_t>(sender)].role == Role::kAdmin) {
      sender = -1;
    }
    if (sender == -1 && !has_admin_token) {
      return absl::InvalidArgumentError(absl::StrCat(
          "no admin token for the journal's admin commands (SetHoldings, HaltPair, "
          "ResumePair, PublishReference, AdmitMember, SuspendMember, SetEmergencyLevel, "
          "ConfirmDelivery by an admin agency; the first at seq ",
          entry.command.seq, "): give --admin-token-file FILE or set ", kAdminTokenEnv,
          " (a configuration with token_sha256 digests holds no token), or "
          "--skip-agencies-without-token"));
    }
    if (sender >= 0 && static_cast<std::size_t>(sender) < has_token.size() &&
        !has_token[static_cast<std::size_t>(sender)]) {
      const std::string code(ref.agencies()[static_cast<std::size_t>(sender)].code);
      return absl::InvalidArgumentError(absl::StrCat(
          "no token for agency ", code, ", whose commands the journal holds (the first at seq ",
          entry.command.seq, "): give --token-file ", code, "=FILE or set ", TokenEnvName(code),
          " (a configuration with token_sha256 digests holds no token), or "
          "--skip-agencies-without-token"));
    }
  }
  return (*reader)->status();
}

namespace {

bool IsReject(const grpc::Status& status) {
  // A tier the agency may not declare (a journaled reject, like the codes below); other
  // PERMISSION_DENIED answers (a token or certificate of the wrong kind) are failures.
  if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
    return absl::StartsWith(status.error_message(), "REJECT_REASON_TIER_NOT_ALLOWED") ||
           absl::StartsWith(status.error_message(), "REJECT_REASON_NOT_DELIVERY_PARTY");
  }
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::OUT_OF_RANGE:
      return true;
    default:
      return false;
  }
}

msx::v1::Side ToProto(Side s) { return s == Side::kBuy ? msx::v1::SIDE_BUY : msx::v1::SIDE_SELL; }

msx::v1::TimeInForce ToProto(TimeInForce t) {
  switch (t) {
    case TimeInForce::kGtc:
      return msx::v1::TIME_IN_FORCE_GTC;
    case TimeInForce::kGtd:
      return msx::v1::TIME_IN_FORCE_GTD;
    case TimeInForce::kIoc:
      return msx::v1::TIME_IN_FORCE_IOC;
    case TimeInForce::kFok:
      return msx::v1::TIME_IN_FORCE_FOK;
  }
  return msx::v1::TIME_IN_FORCE_UNSPECIFIED;
}

// Scales a journal time difference by 1/speed, exactly (128-bit intermediate).
std::int64_t Scale(std::int64_t ns, const Speed& speed) {
  if (speed.max) return 0;
  return static_cast<std::int64_t>(static_cast<__int128>(ns) * speed.denominator / speed.numerator);
}

}  // namespace

absl::StatusOr<LiveResult> LiveReplay(const std::string& dir, const LiveOptions& options) {
  if (absl::Status s = CheckLiveTokens(dir, options); !s.ok()) return s;
  absl::StatusOr<DrillJournal> j = OpenDrillJournal(dir);
  if (!j.ok()) return j.status();
  const ReferenceData& ref = *j->ref;
  absl::StatusOr<std::unique_ptr<journal::JournalReader>> reader =
      journal::JournalReader::Open(dir, journal::ReaderOptions{});
  if (!reader.ok()) return reader.status();

  std::vector<std::string> servers = clients::SplitServerList(options.server);
  if (servers.empty()) return absl::InvalidArgumentError("--server: no server given");
  std::vector<std::unique_ptr<msx::v1::Exchange::Stub>> exchanges;
  std::vector<std::unique_ptr<msx::v1::Admin::Stub>> admins;
  for (const std::string& server : servers) {
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
    exchanges.push_back(msx::v1::Exchange::NewStub(channel));
    admins.push_back(msx::v1::Admin::NewStub(channel));
  }
  clients::ServerFailover failover(std::move(servers));
  // One call, made again on the next server while the answer is UNAVAILABLE.
  const auto call = [&](auto&& rpc) -> grpc::Status {
    return failover.Run(
        [&](std::size_t i) { return rpc(exchanges[i].get(), admins[i].get()); },
        [](const grpc::Status& s) { return s.error_code() == grpc::StatusCode::UNAVAILABLE; });
  };

  // Tokens by agency id.
  std::vector<std::string> token(ref.agencies().size());
  for (const Agency& a : ref.agencies()) token[a.id] = ResolveToken(options, std::string(a.code));
  const std::string admin_token = ResolveToken(options, "");
  auto agencies_of = [&](AgencyMask mask, google::protobuf::RepeatedPtrField<std::string>* out) {
    for (const Agency& a : ref.agencies()) {
      if (mask & (AgencyMask{1} << a.id)) out->Add(std::string(a.code));
    }
  };

  LiveResult result;
  std::vector<std::uint64_t> live_offer;  // journal offer id -> live offer id (0 = none)
  std::vector<std::uint64_t> live_term;   // journal term offer id -> live id (0 = none)
  std::vector<std::uint64_t> live_loan;   // journal obligation id -> live id (0 = none)
  std::vector<std::uint64_t> live_fill;   // journal fill id -> live fill id (0 = none)
  // Deliveries (ENGINE.md "Deliveries"): each one the journal opened, by journal id, and
  // the live delivery of the same fill and instrument (0 = not yet looked up).
  std::vector<DeliveryEvent> journal_delivery(1);
  std::vector<std::uint64_t> live_delivery;
  // Live deliveries listed so far (ListDeliveries): (live fill id, instrument) -> live id.
  std::map<std::pair<std::uint64_t, std::string>, std::uint64_t> listed_delivery;
  std::uint64_t events_read = 0;
  std::uint64_t journal_obligations = 0;  // the highest obligation id the journal made
  JournalDeliveryFills delivery_fills;  // the journal's fills that opened deliveries
  // Execution streams of the parties of auction fills, opened when first needed.
  std::map<AgencyId, std::unique_ptr<LiveFillStream>> fill_streams;
  // Records journal id -> live id in an id map. Journal ids are dense from 1 and each is
  // made by an event, so one above the events read so far is not a journal's (a corrupt
  // id): refused rather than grown into. Gaps (ids the live server never made) stay 0.
  const auto remember = [&events_read](std::vector<std::uint64_t>* map,
                                       std::uint64_t journal_id, std::uint64_t live) {
    if (journal_id == 0 || journal_id > events_read) return;
    if (journal_id >= map->size()) map->resize(journal_id + 1, 0);
    (*map)[journal_id] = live;
  };
  const auto lookup = [](const std::vector<std::uint64_t>& map, std::uint64_t journal_id) {
    return journal_id < map.size() ? map[journal_id] : std::uint64_t{0};
  };
  journal::JournalEntry entry;
  const auto start = std::chrono::steady_clock::now();
  TimeNs t0 = 0;
  bool first = true;
  absl::Status failure;

  while (failure.ok() && (*reader)->Next(&entry)) {
    const Command& cmd = entry.command;
    ++result.commands;
    events_read += entry.events.size();
    delivery_fills.Add(entry.events, events_read);
    for (const Event& e : entry.events) {
      if (e.type == EventType::kDelivery && e.delivery.kind == DeliveryEventKind::kOpened &&
          e.delivery.delivery == journal_delivery.size()) {
        journal_delivery.push_back(e.delivery);
      }
      if (e.type == EventType::kLoanFill) {
        journal_obligations = std::max<std::uint64_t>(journal_obligations, e.loan_fill.obligation);
      }
    }
    if (first) {
      t0 = cmd.time;
      first = false;
    }
    const auto due = start + std::chrono::nanoseconds(Scale(cmd.time - t0, options.speed));
    if (!options.speed.max) std::this_thread::sleep_until(due);

    auto context = [&](const std::string& tok) {
      auto ctx = std::make_unique<grpc::ClientContext>();
      ctx->AddMetadata("authorization", "Bearer " + tok);
      ctx->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(options.rpc_timeout_ms));
      return ctx;
    };
    auto account = [&](const grpc::Status& s) {
      ++result.sent;
      if (s.ok()) {
        ++result.ok;
      } else if (IsReject(s)) {
        ++result.rejected;
      } else {
        failure = absl::Status(
            static_cast<absl::StatusCode>(s.error_code()),
            absl::StrCat(failover.server(failover.current()), ": seq ", cmd.seq, ": ",
                         s.error_message()));
      }
      if (!options.speed.max) {
        const auto lag = std::chrono::steady_clock::now() - due;
        result.max_lag_ns = std::max<std::int64_t>(
            result.max_lag_ns, std::chrono::duration_cast<std::chrono::nanoseconds>(lag).count());
      }
    };
    // A journal time after the command's, as a live wall-clock time the same (scaled)
    // distance ahead: a GTD expiry, an effective time.
    auto live_time = [&](TimeNs at) -> std::int64_t {
      const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
      return now + std::max<std::int64_t>(
                       1, options.speed.max ? at - cmd.time : Scale(at - cmd.time, options.speed));
    };
    auto admin_call = [&](auto&& rpc) {
      msx::v1::AdminCommandResponse resp;
      account(call([&](msx::v1::Exchange::Stub*, msx::v1::Admin::Stub* admin) {
        return rpc(admin, context(admin_token).get(), &resp);
      }));
    };
    auto live_id = [&](OfferId journal_id) -> std::uint64_t {
      return journal_id < live_offer.size() ? live_offer[journal_id] : 0;
    };
    // After a term submit or replace whose offer is `live` on the server: a loan of the
    // journal's command is the same obligation as the live one the response shows between
    // the same two term offers (the resting one's live id learned when it was sent).
    auto map_loans = [&](std::uint64_t live,
                         const google::protobuf::RepeatedPtrField<msx::v1::Obligation>& made) {
      for (const Event& e : entry.events) {
        if (e.type != EventType::kLoanFill) continue;
        const std::uint64_t maker = lookup(live_term, e.loan_fill.maker_offer);
        for (const msx::v1::Obligation& ob : made) {
          if (maker != 0 && (ob.lend_offer_id() == maker || ob.borrow_offer_id() == maker) &&
              (ob.lend_offer_id() == live || ob.borrow_offer_id() == live)) {
            remember(&live_loan, e.loan_fill.obligation, ob.obligation_id());
          }
        }
      }
    };
    // After a submit or replace of the journal's offer `journal_offer`, live `live_offer`:
    // the k-th fill the journal's command made with it as the taker is the same fill as
    // the k-th one the response reports for the live offer, when both have the same
    // counterparty, lots and price (otherwise the live book differed: no live fill).
    auto map_fills = [&](OfferId journal_offer, std::uint64_t live_offer_id,
                         const google::protobuf::RepeatedPtrField<msx::v1::Fill>& fills) {
      if (journal_offer == 0) return;
      int k = 0;
      for (const Event& e : entry.events) {
        if (e.type != EventType::kFill || e.fill.taker_offer != journal_offer) continue;
        while (k < fills.size() && fills[k].offer_id() != live_offer_id) ++k;
        if (k == fills.size()) return;
        const msx::v1::Fill& f = fills[k++];
        const FillEvent& jf = e.fill;
        if (jf.maker_agency < ref.agencies().size() &&
            f.counterparty() == ref.agencies()[jf.maker_agency].code && f.lots() == jf.lots &&
            f.price() == jf.price) {
          remember(&live_fill, jf.fill_id, f.fill_id());
        }
      }
    };
    // A journal fill no response reported (an auction's, made on the server's own tick):
    // the live fill in the same place on the execution stream of one of its parties (the
    // receiver first), the k-th fill of that party's live offer, when it has the same
    // counterparty, lots and price. 0 if none comes.
    auto stream_fill = [&](std::uint64_t journal_fill, AgencyId first,
                           AgencyId second) -> std::uint64_t {
      const JournalFill* jf = delivery_fills.Find(journal_fill);
      if (jf == nullptr) return 0;
      const JournalFill& f = *jf;
      for (AgencyId party : {first, second}) {
        if (party >= token.size() || token[party].empty()) continue;
        const int side = f.agency[1] == party ? 1 : 0;
        if (f.agency[side] != party || f.agency[1 - side] >= ref.agencies().size()) continue;
        const std::uint64_t live = lookup(live_offer, f.offer[side]);
        if (live == 0) continue;
        std::unique_ptr<LiveFillStream>& stream = fill_streams[party];
        if (!stream) {
          stream = std::make_unique<LiveFillStream>(exchanges[failover.current()].get(),
                                                    token[party]);
        }
        const std::optional<msx::v1::Fill> got = stream->Find(
            live, f.nth[side], std::chrono::milliseconds(options.fill_wait_ms));
        if (got && got->counterparty() == ref.agencies()[f.agency[1 - side]].code &&
            got->lots() == f.lots && got->price() == f.price) {
          remember(&live_fill, journal_fill, got->fill_id());
          return got->fill_id();
        }
        return 0;
      }
      return 0;
    };

    switch (cmd.type) {
      case CommandType::kSubmitOffer:
      case CommandType::kSubmitOfferWithNeed: {  // a buy with a declared need and tier
        const SubmitOffer& s = SubmitBody(cmd);
        if (s.agency >= token.size() || token[s.agency].empty() || s.pair >= ref.pairs().size()) {
          ++result.skipped;
          break;
        }
        msx::v1::SubmitOfferRequest req;
        req.set_client_offer_id(s.client_id + options.client_id_offset);
        req.set_pair(ref.pairs()[s.pair].symbol);
        req.set_side(ToProto(s.side));
        req.set_lots(s.lots);
        req.set_price(s.price);
        req.set_time_in_force(ToProto(s.tif));
        if (s.tif == TimeInForce::kGtd) req.set_expire_time_ns(live_time(s.expiry));
        req.set_min_fill_lots(s.min_fill);
        agencies_of(s.allow, req.mutable_allow_counterparties());
        agencies_of(s.deny, req.mutable_deny_counterparties());
        if (cmd.type == CommandType::kSubmitOfferWithNeed) {
          req.set_declared_need(cmd.submit_need.need);
          req.set_priority_tier(static_cast<msx::v1::PriorityTier>(cmd.submit_need.tier));
        }
        msx::v1::SubmitOfferResponse resp;
        grpc::Status st = call([&](msx::v1::Exchange::Stub* exchange, msx::v1::Admin::Stub*) {
          resp.Clear();
          return exchange->SubmitOffer(context(token[s.agency]).get(), req, &resp);
        });
        account(st);
        if (!st.ok()) break;
        result.fills += static_cast<std::uint64_t>(resp.fills_size());
        OfferId journal_offer = 0;
        for (const Event& e : entry.events) {
          if (e.type != EventType::kAccepted) continue;
          journal_offer = e.accepted.offer;
          remember(&live_offer, e.accepted.offer, resp.offer().offer_id());
        }
        map_fills(journal_offer, resp.offer().offer_id(), resp.fills());
        break;
      }
      case CommandType::kCancelOffer: {
        const CancelOffer& c = cmd.cancel;
        const std::uint64_t id = live_id(c.offer);
        if (c.agency >= token.size() || token[c.agency].empty() || id == 0) {
          ++result.skipped;
          break;
        }
        msx::v1::CancelOfferRequest req;
        req.set_offer_id(id);
        msx::v1::CancelOfferResponse resp;
        account(call([&](msx::v1::Exchange::Stub* exchange, msx::v1::Admin::Stub*) {
          return exchange->CancelOffer(context(token[c.agency]).get(), req, &resp);
        }));
        break;
      }
      case CommandType::kReplaceOffer:
      case CommandType::kReplaceOfferOpenLots: {
        const ReplaceOffer& r = cmd.replace;
        const std::uint64_t id = live_id(r.offer);
        if (r.agency >= token.size() || token[r.agency].empty() || id == 0) {
          ++result.skipped;
          break;
        }
        Lots lots = r.lots;
        if (cmd.type == CommandType::kReplaceOfferOpenLots) {
          // A journal from before ReplaceOffer took the total: the server's ReplaceOffer
          // takes total lots, so add what the live offer has filled.
          msx::v1::GetOfferRequest get;
          get.set_offer_id(id);
          msx::v1::Offer live;
          if (call([&](msx::v1::Exchange::Stub* exchange, msx::v1::Admin::Stub*) {
                return exchange->GetOffer(context(token[r.agency]).get(), get, &live);
              }).ok()) {
            lots += live.filled_lots();
          }
        }
        msx::v1::ReplaceOfferRequest req;
        req.set_offer_id(id);
        req.set_lots(lots);
        req.set_price(r.price);
        msx::v1::ReplaceOfferResponse resp;
        grpc::Status st = call([&](msx::v1::Exchange::Stub* exchange, msx::v1::Admin::Stub*) {
          resp.Clear();
          return exchange->ReplaceOffer(context(token[r.agency]).get(), req, &resp);
        });
        account(st);
        // A replace at a crossing price takes liquidity: its fills as a submit's.
        if (st.ok()) map_fills(r.offer, id, resp.fills());
        break;
      }
      case CommandType::kSetHoldings: {
        const SetHoldings& h = cmd.set_holdings;
        if (admin_token.empty() || h.agency >= ref.agencies().size() ||
            h.instrument >= ref.instruments().size()) {
          ++result.skipped;
          break;
        }
        msx::v1::SetHoldingsRequest req;
        req.set_agency(ref.agencies()[h.agency].code);
        req.set_instrument(ref.instruments()[h.instrument].symbol);
        req.set_total(h.total);
        msx::v1::SetHoldingsResponse resp;
        account(call([&](msx::v1::Exchange::Stub*, msx::v1::Admin::Stub* admin) {
          return admin->SetHoldings(context(admin_token).get(), req, &resp);
        }));
        break;
      }
      case CommandType::kHaltPair:
      case CommandType::kResumePair: {
        if (admin_token.empty() || cmd.pair.pair >= ref.pairs().size()) {
          ++result.skipped;
          break;
        }
        const std::string& symbol = ref.pairs()[cmd.pair.pair].symbol;
        if (cmd.type == CommandType::kHaltPair) {
          msx::v1::HaltPairRequest req;
          req.set_pair(symbol);
          msx::v1::HaltPairResponse resp;
          account(call([&](msx::v1::Exchange::Stub*, msx::v1::Admin::Stub* admin) {
            return admin->HaltPair(context(admin_token).get(), req, &resp);
          }));
        } else {
          msx::v1::ResumePairRequest req;
          req.set_pair(symbol);
          msx::v1::ResumePairResponse resp;
          account(call([&](msx::v1::Exchange::Stub*, msx::v1::Admin::Stub* admin) {
            return admin->ResumePair(context(admin_token).get(), req, &resp);
          }));
        }
        break;
      }
      case CommandType::kSubmitTermOffer: {
        const SubmitOffer& s = cmd.submit;
        if (s.agency >= token.size() || token[s.agency].empty() ||
            s.pair >= ref.term_books().size()) {
          ++result.skipped;
          break;
        }
        msx::v1::SubmitTermOfferRequest req;
        req.set_client_offer_id(s.client_id + options.client_id_offset);
        req.set_book(ref.term_books()[s.pair].symbol);
        req.set_side(s.side == Side::kSell ? msx::v1::TERM_SIDE_LEND : msx::v1::TERM_SIDE_BORROW);
        req.set_lots(s.lots);
        req.set_premium_bps(s.price);
        req.set_time_in_force(ToProto(s.tif));
        req.set_min_fill_lots(s.min_fill);
        if (s.tif == TimeInForce::kGtd) req.set_expire_time_ns(live_time(s.expiry));
        agencies_of(s.allow, req.mutable_allow_counterparties());
        agencies_of(s.deny, req.mutable_deny_counterparties());
        msx::v1::SubmitTermOfferResponse resp;
        grpc::Status st = call([&](msx::v1::Exchange::Stub* exchange, msx::v1::Admin::Stub*) {
          resp.Clear();
          return exchange->SubmitTermOffer(context(token[s.agency]).get(), req, &resp);
        });
        account(st);
        if (!st.ok()) break;
        const std::uint64_t live = resp.offer().offer_id();
        for (const Event& e : entry.events) {
          if (e.type == EventType::kTermAccepted) remember(&live_term, e.accepted.offer, live);
        }
        map_loans(live, resp.obligations());
        break;
      }
      case CommandType::kReplaceTermOffer: {
        // The journal's body is the new total (lent + open) and premium, as the RPC's.
        const ReplaceOffer& r = cmd.replace;
        const std::uint64_t id = lookup(live_term, r.offer);
        if (r.agency >= token.size() || token[r.agency].empty() || id == 0) {
          ++result.skipped;
          break;
        }
        msx::v1::ReplaceTermOfferRequest req;
        req.set_offer_id(id);
        req.set_lots(r.lots);
        req.set_premium_bps(r.price);
        msx::v1::ReplaceTermOfferResponse resp;
        grpc::Status st = call([&](msx::v1::Exchange::Stub* exchange, msx::v1::Admin::Stub*) {
          resp.Clear();
          return exchange->ReplaceTermOffer(context(token[r.agency]).get(), req, &resp);
        });
        account(st);
        // A replace that re-entered at a new premium may have lent or borrowed as the taker.
        if (st.ok()) map_loans(id, resp.obligations());
        break;
      }
      case CommandType::kCancelTermOffer: {
        const CancelOffer& c = cmd.cancel;
        const std::uint64_t id = lookup(live_term, c.offer);
        if (c.agency >= token.size() || token[c.agency].empty() || id == 0) {
          ++result.skipped;
          break;
        }
        msx::v1::CancelTermOfferRequest req;
        req.set_offer_id(id);
        msx::v1::CancelTermOfferResponse resp;
        account(call([&](msx::v1::Exchange::Stub* exchange, msx::v1::Admin::Stub*) {
          return exchange->CancelTermOffer(context(token[c.agency]).get(), req, &resp);
        }));
        break;
      }
      case CommandType::kReturnObligation:
      case CommandType::kRecallObligation: {
        const ObligationCommand& o = cmd.obligation;
        const std::uint64_t id = lookup(live_loan, o.obligation);
        if (o.agency >= token.size() || token[o.agency].empty() || id == 0) {
          ++result.skipped;
          // A loan the journal made but the live server did not (a journaled reject of an
          // unknown id is not one): named in the summary, as unmatched deliveries are.
          if (id == 0 && o.agency < token.size() && !token[o.agency].empty() &&
              o.obligation != 0 && o.obligation <= journal_obligations &&
              std::find(result.unmatched_obligations.begin(),
                        result.unmatched_obligations.end(),
                        o.obligation) == result.unmatched_obligations.end()) {
            result.unmatched_obligations.push_back(o.obligation);
          }
          break;
        }
        if (cmd.type == CommandType::kReturnObligation) {
          msx::v1::ReturnObligationRequest req;
          req.set_obligation_id(id);
          req.set_amount(o.amount);
          msx::v1::ReturnObligationResponse resp;
          account(call([&](msx::v1::Exchange::Stub* exchange, msx::v1::Admin::Stub*) {
            return exchange->ReturnObligation(context(token[o.agency]).get(), req, &resp);
          }));
        } else {
          msx::v1::RecallObligationRequest req;
          req.set_obligation_id(id);
          msx::v1::RecallObligationResponse resp;
          account(call([&](msx::v1::Exchange::Stub* exchange, msx::v1::Admin::Stub*) {
            return exchange->RecallObligation(context(token[o.agency]).get(), req, &resp);
          }));
        }
        break;
      }
      case CommandType::kPublishReference: {
        const PublishReference& p = cmd.publish_reference;
        if (admin_token.empty() || p.instrument >= ref.instruments().size()) {
          ++result.skipped;
          break;
        }
        msx::v1::PublishReferenceRequest req;
        req.set_instrument(ref.instruments()[p.instrument].symbol);
        req.set_reference_value_micro_usd(p.reference_value);
        req.set_floor_micro_usd(p.floor);
        // At once when it was at once in the journal; else as far ahead (scaled).
        req.set_effective_time_ns(p.effective_time <= cmd.time ? 0 : live_time(p.effective_time));
        admin_call([&](msx::v1::Admin::Stub* admin, grpc::ClientContext* ctx,
                       msx::v1::AdminCommandResponse* resp) {
          return admin->PublishReference(ctx, req, resp);
        });
        break;
      }
      case CommandType::kAdmitMember:
      case CommandType::kSuspendMember: {
        const MemberCommand& m = cmd.member;
        if (admin_token.empty() || m.agreement >= ref.agreements().size() ||
            m.agency >= ref.agencies().size()) {
          ++result.skipped;
          break;
        }
        msx::v1::MemberRequest req;
        req.set_agreement(ref.agreements()[m.agreement].name);
        req.set_agency(ref.agencies()[m.agency].code);
        const bool admit = cmd.type == CommandType::kAdmitMember;
        admin_call([&](msx::v1::Admin::Stub* admin, grpc::ClientContext* ctx,
                       msx::v1::AdminCommandResponse* resp) {
          return admit ? admin->AdmitMember(ctx, req, resp) : admin->SuspendMember(ctx, req, resp);
        });
        break;
      }
      case CommandType::kSetEmergencyLevel: {
        const SetEmergencyLevel& l = cmd.set_level;
        if (admin_token.empty() || l.instrument >= ref.instruments().size()) {
          ++result.skipped;
          break;
        }
        msx::v1::SetEmergencyLevelRequest req;
        req.set_instrument(ref.instruments()[l.instrument].symbol);
        // config.proto numbers the levels from 1 (UNSPECIFIED = 0); the engine from 0.
        req.set_level(static_cast<msx::v1::EmergencyLevel>(static_cast<int>(l.level) + 1));
        req.set_reason(std::string(l.reason, std::min<std::size_t>(l.reason_size,
                                                                   kMaxLevelReasonBytes)));
        admin_call([&](msx::v1::Admin::Stub* admin, grpc::ClientContext* ctx,
                       msx::v1::AdminCommandResponse* resp) {
          return admin->SetEmergencyLevel(ctx, req, resp);
        });
        break;
      }
      case CommandType::kConfirmDelivery: {
        // The live server numbers its deliveries itself: the journal's delivery is the live
        // one opened by the same fill (the live fill id learned from the response of the
        // submit or replace that made it) for the same instrument (its base or quote leg),
        // looked up with ListDeliveries (again only when a live fill's are not listed yet).
        const ConfirmDelivery& c = cmd.confirm_delivery;
        if (c.agency >= ref.agencies().size() || c.delivery == 0 ||
            c.delivery >= journal_delivery.size()) {
          ++result.skipped;  // a journaled reject of an unknown delivery
          break;
        }
        const std::string& tok =
            ref.agencies()[c.agency].role == Role::kAdmin ? admin_token : token[c.agency];
        if (tok.empty()) {
          ++result.skipped;
          break;
        }
        const DeliveryEvent& jd = journal_delivery[c.delivery];
        std::uint64_t id = lookup(live_delivery, c.delivery);
        std::uint64_t fill = lookup(live_fill, jd.fill_id);
        if (id == 0 && fill == 0) fill = stream_fill(jd.fill_id, jd.receiver, jd.deliverer);
        if (id == 0 && fill != 0 && jd.instrument < ref.instruments().size() &&
            jd.receiver < ref.agencies().size()) {
          const std::pair<std::uint64_t, std::string> key(
              fill, std::string(ref.instruments()[jd.instrument].symbol));
          if (listed_delivery.count(key) == 0) {
            // The admin sees every agency's (asked for the receiver's); otherwise the
            // confirming agency, the receiver, its own.
            msx::v1::ListDeliveriesRequest list;
            if (!admin_token.empty()) {
              list.set_agency(std::string(ref.agencies()[jd.receiver].code));
            }
            msx::v1::ListDeliveriesResponse listed;
            const std::string& list_tok = admin_token.empty() ? tok : admin_token;
            if (call([&](msx::v1::Exchange::Stub* exchange, msx::v1::Admin::Stub*) {
                  listed.Clear();
                  return exchange->ListDeliveries(context(list_tok).get(), list, &listed);
                }).ok()) {
              for (const msx::v1::Delivery& d : listed.deliveries()) {
                listed_delivery[{d.fill_id(), d.instrument()}] = d.delivery_id();
              }
            }
          }
          if (auto it = listed_delivery.find(key); it != listed_delivery.end()) {
            id = it->second;
            remember(&live_delivery, c.delivery, id);
          }
        }
        if (id == 0) {
          // The live server made no such fill (or not as the journal's command did): the
          // confirmation is not sent to some other delivery. Named in the summary.
          ++result.skipped;
          if (std::find(result.unmatched_deliveries.begin(), result.unmatched_deliveries.end(),
                        c.delivery) == result.unmatched_deliveries.end()) {
            result.unmatched_deliveries.push_back(c.delivery);
          }
          break;
        }
        msx::v1::ConfirmDeliveryRequest req;
        req.set_delivery_id(id);
        msx::v1::ConfirmDeliveryResponse resp;
        account(call([&](msx::v1::Exchange::Stub* exchange, msx::v1::Admin::Stub*) {
          return exchange->ConfirmDelivery(context(tok).get(), req, &resp);
        }));
        break;
      }
      case CommandType::kAdvanceTime:
      case CommandType::kSetOfferRetention:  // the live server keeps its own window
      case CommandType::kRunAuction:
      case CommandType::kFollowLiveReference:  // the live server started its own
        ++result.skipped;
        break;
    }
  }
  result.failovers = failover.failovers();
  if (!failure.ok()) return failure;
  if (!(*reader)->status().ok()) return (*reader)->status();
  return result;
}

namespace {

// "3, 7, 9" (at most the first 20, then "... (N more)").
std::string IdList(const std::vector<std::uint64_t>& ids) {
  constexpr std::size_t kShown = 20;
  std::string out;
  for (std::size_t i = 0; i < ids.size() && i < kShown; ++i) {
    absl::StrAppend(&out, i ? ", " : "", ids[i]);
  }
  if (ids.size() > kShown) absl::StrAppend(&out, ", ... (", ids.size() - kShown, " more)");
  return out;
}

}  // namespace

std::string RenderLiveText(const LiveResult& r) {
  std::string unmatched;
  if (!r.unmatched_deliveries.empty()) {
    absl::StrAppend(&unmatched, "Unmatched: ", ThousandsU(r.unmatched_deliveries.size()),
                    " journal deliveries confirmed in the journal have no live counterpart "
                    "(the live server made no such fill); their confirmations were not sent: "
                    "journal delivery ids ",
                    IdList(r.unmatched_deliveries), "\n");
  }
  if (!r.unmatched_obligations.empty()) {
    absl::StrAppend(&unmatched, "Unmatched: ", ThousandsU(r.unmatched_obligations.size()),
                    " journal loans returned or recalled in the journal have no live "
                    "counterpart (the live server made no such loan); not sent: journal "
                    "obligation ids ",
                    IdList(r.unmatched_obligations), "\n");
  }
  return absl::StrCat("Live replay: ", ThousandsU(r.commands), " journal commands, ",
                      ThousandsU(r.sent), " sent (", ThousandsU(r.ok), " ok, ",
                      ThousandsU(r.rejected), " rejected), ", ThousandsU(r.skipped), " skipped, ",
                      ThousandsU(r.fills), " fills; worst lag behind schedule ",
                      Duration(r.max_lag_ns),
                      r.failovers == 0
                          ? ""
                          : absl::StrCat("; ", ThousandsU(r.failovers),
                                         " calls moved on to the next server (UNAVAILABLE)"),
                      "\n", unmatched);
}

}  // namespace msx::drill
