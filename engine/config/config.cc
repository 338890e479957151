#include "engine/config/config.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/matching/reference_data_builder.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace msx {
namespace internal {
extern const std::string_view kDefaultConfigText;
}  // namespace internal

namespace {

class CollectFirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!error_.empty()) return;
    error_ = absl::StrCat("config line ", line + 1, ":", column + 1, ": ", message);
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

absl::Status Bad(absl::string_view where, int i, absl::string_view name,
                 absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(where, "[", i, "] (", name, ").", field, ": ", what));
}

// A configured level policy: the level's built-in policy with the given fields replaced.
// Enum values outside the proto's are refused here (the builder checks the numbers).
absl::StatusOr<LevelPolicySpec> LevelPolicyFromConfig(const msx::v1::LevelPolicyConfig& c,
                                                      int i) {
  const int level = c.level();
  if (level < msx::v1::EMERGENCY_LEVEL_NORMAL || level > msx::v1::EMERGENCY_LEVEL_SERIOUS) {
    return Bad("level_policies", i, "?", "level",
               absl::StrCat("must be EMERGENCY_LEVEL_NORMAL, _INTEREST, _CAUTION, _WARNING or "
                            "_SERIOUS, got ",
                            level));
  }
  LevelPolicySpec spec;
  spec.level = static_cast<EmergencyLevel>(level - 1);
  spec.policy = DefaultLevelPolicy(spec.level);
  LevelPolicy& p = spec.policy;
  if (c.has_matching_mode()) {
    switch (c.matching_mode()) {
      case msx::v1::MATCHING_MODE_UNSPECIFIED:
      case msx::v1::MATCHING_MODE_CONTINUOUS:
        p.mode = MatchingMode::kContinuous;
        // The built-in interval of an auction level does not carry over.
        if (!c.has_auction_interval_seconds()) p.auction_interval_seconds = 0;
        break;
      case msx::v1::MATCHING_MODE_CALL_AUCTION:
        p.mode = MatchingMode::kCallAuction;
        break;
      default:
        return Bad("level_policies", i, EmergencyLevelName(spec.level), "matching_mode",
                   absl::StrCat("must be MATCHING_MODE_CONTINUOUS or MATCHING_MODE_CALL_AUCTION, "
                                "got ",
                                static_cast<int>(c.matching_mode())));
    }
  }
  if (c.has_auction_interval_seconds()) p.auction_interval_seconds = c.auction_interval_seconds();
  if (c.has_band_bps()) p.band_bps = c.band_bps();
  if (c.has_agency_cap_bps()) p.agency_cap_bps = c.agency_cap_bps();
  if (c.has_recall_allowed()) p.recall_allowed = c.recall_allowed();
  if (c.has_sales_below_minimum_stock_allowed()) {
    p.sales_below_minimum_stock_allowed = c.sales_below_minimum_stock_allowed();
  }
  return spec;
}

}  // namespace

absl::Status CheckListenAddress(absl::string_view address) {
  const std::size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected HOST:PORT (e.g. 127.0.0.1:50051), got \"", address, "\""));
  }
  absl::string_view host = address.substr(0, colon);
  absl::string_view port = address.substr(colon + 1);
  if (host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("empty host in \"", address, "\""));
  }
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (!bracketed && host.find(':') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an IPv6 host goes in brackets, e.g. [::1]:50051; got \"", address, "\""));
  }
  std::uint32_t value = 0;
  bool digits = !port.empty() && port.size() <= 5;
  for (char c : port) {
    if (c < '0' || c > '9') digits = false;
    if (digits) value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (!digits || value > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "port must be a number between 0 and 65535, got \"", port, "\" in \"", address, "\""));
  }
  return absl::OkStatus();
}

namespace {

absl::Status ValidateExtras(const msx::v1::ExchangeConfig& config) {
  absl::flat_hash_map<std::string, std::string> token_owner;
  absl::flat_hash_set<std::string> instruments;
  for (const auto& inst : config.instruments()) instruments.insert(inst.symbol());
  for (int i = 0; i < config.agencies_size(); ++i) {
    const msx::v1::AgencyConfig& a = config.agencies(i);
    if (a.role() != msx::v1::ROLE_UNSPECIFIED && a.role() != msx::v1::ROLE_AGENCY &&
        a.role() != msx::v1::ROLE_ADMIN) {
      return Bad("agencies", i, a.id(), "role", "unknown role");
    }
    for (int t = 0; t < a.tokens_size(); ++t) {
      const std::string field = absl::StrCat("tokens[", t, "]");
      if (a.tokens(t).empty()) return Bad("agencies", i, a.id(), field, "must not be empty");
      auto [it, inserted] = token_owner.emplace(a.tokens(t), a.id());
      if (!inserted) {
        return Bad("agencies", i, a.id(), field,
                   absl::StrCat("token already belongs to agency ", it->second));
      }
    }
    absl::flat_hash_set<std::string> seen;
    for (int h = 0; h < a.holdings_size(); ++h) {
      const msx::v1::InitialHolding& hold = a.holdings(h);
      const std::string prefix = absl::StrCat("holdings[", h, "].");
      if (!instruments.contains(hold.instrument())) {
        return Bad("agencies", i, a.id(), prefix + "instrument",
                   absl::StrCat("unknown instrument \"", hold.instrument(), "\""));
      }
      if (!seen.insert(hold.instrument()).second) {
        return Bad("agencies", i, a.id(), prefix + "instrument",
                   absl::StrCat("instrument \"", hold.instrument(), "\" listed twice"));
      }
      if (hold.amount() < 0) return Bad("agencies", i, a.id(), prefix + "amount", "must be >= 0");
    }
  }
  const msx::v1::ServerConfig& s = config.server();
  auto server_bad = [](absl::string_view field, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("server.", field, ": ", what));
  };
  if (!s.listen().empty()) {
    if (absl::Status l = CheckListenAddress(s.listen()); !l.ok()) {
      return server_bad("listen", l.message());
    }
  }
  if (s.durability() != msx::v1::DURABILITY_UNSPECIFIED &&
      s.durability() != msx::v1::DURABILITY_SYNC && s.durability() != msx::v1::DURABILITY_NONE) {
    return server_bad("durability", "unknown value");
  }
  // Every number is bounded: the server allocates (queue), sizes files (segments) and arms
  // timers (tick) from them, and a huge value must be refused here, before any journal
  // file exists, not crash or spin later. 0 selects the default.
  auto in_range = [&server_bad](absl::string_view field, std::int64_t v, std::int64_t lo,
                                std::int64_t hi, std::int64_t dflt) -> absl::Status {
    if (v == 0 || (v >= lo && v <= hi)) return absl::OkStatus();
    return server_bad(field, absl::StrCat("must be between ", lo, " and ", hi, " (or 0 for ",
                                          dflt, "), got ", v));
  };
  if (absl::Status b = in_range("journal_segment_bytes", s.journal_segment_bytes(),
                                kMinSegmentBytes, kMaxSegmentBytes, kDefaultSegmentBytes);
      !b.ok()) {
    return b;
  }
  if (absl::Status b = in_range("snapshot_every_records", s.snapshot_every_records(), 1,
                                kMaxSnapshotEveryRecords, kDefaultSnapshotEveryRecords);
      !b.ok()) {
    return b;
  }
  if (absl::Status b = in_range("queue_capacity", s.queue_capacity(), 2, kMaxQueueCapacity,
                                kDefaultQueueCapacity);
      !b.ok()) {
    return b;
  }
  if ((s.queue_capacity() & (s.queue_capacity() - 1)) != 0) {
    return server_bad("queue_capacity", absl::StrCat("must be a power of two, got ",
                                                     s.queue_capacity()));
  }
  if (absl::Status b = in_range("time_tick_ms", s.time_tick_ms(), 1, kMaxTimeTickMs,
                                kDefaultTimeTickMs);
      !b.ok()) {
    return b;
  }
  if (const std::int64_t r = s.offer_retention_seconds();
      r < -1 || r > kMaxOfferRetentionSeconds) {
    return server_bad("offer_retention_seconds",
                      absl::StrCat("must be between 1 and ", kMaxOfferRetentionSeconds,
                                   " (or 0 for ", kDefaultOfferRetentionSeconds,
                                   ", -1 to keep every offer forever), got ", r));
  }
  if (absl::Status b = in_range("max_undurable_commands", s.max_undurable_commands(), 1,
                                kMaxUndurableCommands, kDefaultMaxUndurableCommands);
      !b.ok()) {
    return b;
  }
  if (absl::Status b = in_range("max_undurable_bytes", s.max_undurable_bytes(),
                                kMinUndurableBytes, kMaxUndurableBytes, kDefaultMaxUndurableBytes);
      !b.ok()) {
    return b;
  }
  if (absl::Status b = in_range("max_concurrent_streams", s.max_concurrent_streams(), 1,
                                kMaxConcurrentStreams, kDefaultMaxConcurrentStreams);
      !b.ok()) {
    return b;
  }
  if (absl::Status b = in_range("grpc_memory_bytes", s.grpc_memory_bytes(), kMinGrpcMemoryBytes,
                                kMaxGrpcMemoryBytes, kDefaultGrpcMemoryBytes);
      !b.ok()) {
    return b;
  }
  if (s.max_in_flight_per_agency() != 0) {
    // Fair admission: every agency's share of the queue is reserved, so one agency's flood
    // can never leave another without a slot.
    const std::int64_t capacity =
        s.queue_capacity() == 0 ? kDefaultQueueCapacity : s.queue_capacity();
    const std::int64_t agencies = config.agencies_size();
    if (s.max_in_flight_per_agency() < 1 ||
        static_cast<std::int64_t>(s.max_in_flight_per_agency()) * agencies > capacity) {
      return server_bad(
          "max_in_flight_per_agency",
          absl::StrCat("must be between 1 and server.queue_capacity / agencies (", capacity,
                       " / ", agencies, " = ", capacity / std::max<std::int64_t>(1, agencies),
                       "), or 0 for queue_capacity / (agencies + 1); got ",
                       s.max_in_flight_per_agency()));
    }
  }
  if (absl::Status b = in_range("max_streams_per_agency", s.max_streams_per_agency(), 1,
                                kMaxMaxStreamsPerAgency, kDefaultMaxStreamsPerAgency);
      !b.ok()) {
    return b;
  }
  if (absl::Status b = in_range("stream_max_queued_messages", s.stream_max_queued_messages(), 1,
                                kMaxStreamMaxQueuedMessages, kDefaultStreamMaxQueuedMessages);
      !b.ok()) {
    return b;
  }
  if (absl::Status b = in_range("stream_max_queued_bytes", s.stream_max_queued_bytes(),
                                kMinStreamMaxQueuedBytes, kMaxStreamMaxQueuedBytes,
                                kDefaultStreamMaxQueuedBytes);
      !b.ok()) {
    return b;
  }
  if (s.tls().cert_file().empty() != s.tls().key_file().empty()) {
    return server_bad("tls", "cert_file and key_file must be given together");
  }
  if (s.tls().require_client_cert() && s.tls().client_ca_file().empty()) {
    return server_bad("tls.client_ca_file", "required when require_client_cert is set");
  }
  if (!s.http().listen().empty()) {
    if (absl::Status l = CheckListenAddress(s.http().listen()); !l.ok()) {
      return server_bad("http.listen", l.message());
    }
  }
  if (absl::Status b = in_range("http.max_connections", s.http().max_connections(), 1,
                                kMaxHttpConnections, kDefaultHttpConnections);
      !b.ok()) {
    return b;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<msx::v1::ExchangeConfig> ParseConfigText(absl::string_view text) {
  msx::v1::ExchangeConfig config;
  google::protobuf::TextFormat::Parser parser;
  CollectFirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(errors.error().empty() ? std::string("config: parse error")
                                                             : errors.error());
  }
  return config;
}

absl::StatusOr<msx::v1::ExchangeConfig> ReadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open config file"));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  absl::StatusOr<msx::v1::ExchangeConfig> config = ParseConfigText(ss.str());
  if (!config.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

absl::StatusOr<ReferenceData> LoadReferenceData(const msx::v1::ExchangeConfig& config) {
  ReferenceDataBuilder b;
  for (const auto& i : config.instruments()) {
    b.AddInstrument({i.symbol(), i.mineral(), i.form(), i.unit(), i.lot_size(),
                     i.reference_value_micro_usd(), i.floor_micro_usd()});
  }
  for (const auto& p : config.pairs()) {
    b.AddPair({p.base(), p.quote(), p.tick(), p.band_bps(), p.max_lots()});
  }
  for (int i = 0; i < config.agencies_size(); ++i) {
    const msx::v1::AgencyConfig& a = config.agencies(i);
    AgencySpec spec{a.id(), a.name(), a.country(),
                    a.role() == msx::v1::ROLE_ADMIN ? Role::kAdmin : Role::kAgency};
    for (const auto& m : a.mandated_minimum_stock()) {
      spec.mandated_minimum_stock.push_back({m.instrument(), m.amount()});
    }
    for (int t = 0; t < a.priority_tiers_size(); ++t) {
      const int v = a.priority_tiers(t);
      if (v < msx::v1::PRIORITY_TIER_DEFENCE || v > msx::v1::PRIORITY_TIER_GENERAL) {
        return Bad("agencies", i, a.id(), absl::StrCat("priority_tiers[", t, "]"),
                   absl::StrCat("must be PRIORITY_TIER_DEFENCE, PRIORITY_TIER_ESSENTIAL or "
                                "PRIORITY_TIER_GENERAL, got ", v));
      }
      spec.priority_tiers.push_back(static_cast<PriorityTier>(v));  // same numbering
    }
    b.AddAgency(std::move(spec));
  }
  b.SetQuoteFloorsCapPrice(config.quote_floors_cap_price());
  for (int i = 0; i < config.level_policies_size(); ++i) {
    absl::StatusOr<LevelPolicySpec> spec = LevelPolicyFromConfig(config.level_policies(i), i);
    if (!spec.ok()) return spec.status();
    b.AddLevelPolicy(*spec);
  }
  for (const auto& g : config.agreements()) {
    b.AddAgreement({g.name(), {g.members().begin(), g.members().end()},
                    {g.minerals().begin(), g.minerals().end()}});
  }
  // Time swaps. The instrument's term fields are checked here so that errors name the
  // configuration field (instruments[i] (SYM).term_tenor_days[j]); the builder names the
  // agreement fields the way the configuration spells them.
  for (int i = 0; i < config.instruments_size(); ++i) {
    const msx::v1::InstrumentConfig& inst = config.instruments(i);
    std::vector<std::int32_t> seen;
    for (int j = 0; j < inst.term_tenor_days_size(); ++j) {
      const std::int32_t days = inst.term_tenor_days(j);
      const std::string field = absl::StrCat("term_tenor_days[", j, "]");
      if (days < 1 || days > kMaxTenorDays) {
        return Bad("instruments", i, inst.symbol(), field,
                   absl::StrCat("must be between 1 and ", kMaxTenorDays, " days, got ", days));
      }
      if (std::find(seen.begin(), seen.end(), days) != seen.end()) {
        return Bad("instruments", i, inst.symbol(), field,
                   absl::StrCat("tenor ", days, " listed twice"));
      }
      seen.push_back(days);
    }
    if (inst.term_tenor_days_size() > 0 && inst.term_max_lots() <= 0) {
      return Bad("instruments", i, inst.symbol(), "term_max_lots",
                 "must be > 0 when term_tenor_days is set");
    }
    if (inst.term_tenor_days_size() == 0 && inst.term_max_lots() != 0) {
      return Bad("instruments", i, inst.symbol(), "term_max_lots",
                 "set without term_tenor_days");
    }
    for (std::int32_t days : inst.term_tenor_days()) {
      b.AddTermBook({inst.symbol(), days, inst.term_max_lots()});
    }
  }
  for (const auto& g : config.agreements()) {
    AgreementTermsSpec t;
    t.agreement = g.name();
    for (const auto& c : g.credit_limits()) t.credit_limits.emplace_back(c.borrower(), c.limit_micro_usd());
    t.default_credit_limit = g.default_credit_limit_micro_usd();
    t.recall_allowed = g.recall_allowed();
    t.recall_notice_days = g.recall_notice_days();
    t.grace_days = g.grace_days();
    t.delivery_window_days = g.delivery_window_days();
    t.collateral_bps = g.collateral_bps();
    t.collateral_instruments.assign(g.collateral_instruments().begin(),
                                    g.collateral_instruments().end());
    b.SetAgreementTerms(std::move(t));
  }
  absl::StatusOr<ReferenceData> ref = b.Build();
  if (!ref.ok()) return ref.status();
  absl::Status extras = ValidateExtras(config);
  if (!extras.ok()) return extras;
  return ref;
}

absl::Status ValidateConfig(const msx::v1::ExchangeConfig& config) {
  return LoadReferenceData(config).status();
}

absl::StatusOr<std::vector<Command>> InitialHoldingCommands(const msx::v1::ExchangeConfig& config,
                                                            const ReferenceData& ref) {
  std::vector<Command> commands;
  for (int i = 0; i < config.agencies_size(); ++i) {
    const msx::v1::AgencyConfig& a = config.agencies(i);
    auto agency = ref.FindAgency(a.id());
    if (!agency) return Bad("agencies", i, a.id(), "id", "not in the reference data");
    for (int h = 0; h < a.holdings_size(); ++h) {
      auto inst = ref.FindInstrument(a.holdings(h).instrument());
      if (!inst) {
        return Bad("agencies", i, a.id(), absl::StrCat("holdings[", h, "].instrument"),
                   "not in the reference data");
      }
      Command c{};
      c.type = CommandType::kSetHoldings;
      c.set_holdings.agency = *agency;
      c.set_holdings.instrument = *inst;
      c.set_holdings.total = a.holdings(h).amount();
      commands.push_back(c);
    }
  }
  return commands;
}

std::string_view DefaultConfigText() { return internal::kDefaultConfigText; }

const msx::v1::ExchangeConfig& DefaultConfig() {
  static const msx::v1::ExchangeConfig* const config = [] {
    absl::StatusOr<msx::v1::ExchangeConfig> parsed = ParseConfigText(
        absl::string_view(internal::kDefaultConfigText.data(), internal::kDefaultConfigText.size()));
    // The default is tested (config_test); an invalid one is a build defect.
    if (!parsed.ok()) return new msx::v1::ExchangeConfig();
    return new msx::v1::ExchangeConfig(*std::move(parsed));
  }();
  return *config;
}

msx::v1::ServerConfig ServerConfigWithDefaults(const msx::v1::ServerConfig& server) {
  msx::v1::ServerConfig s = server;
  if (s.listen().empty()) s.set_listen("127.0.0.1:50051");
  if (s.data_dir().empty()) s.set_data_dir("./data");
  if (s.durability() == msx::v1::DURABILITY_UNSPECIFIED) s.set_durability(msx::v1::DURABILITY_SYNC);
  if (s.journal_segment_bytes() == 0) s.set_journal_segment_bytes(kDefaultSegmentBytes);
  if (s.snapshot_every_records() == 0) s.set_snapshot_every_records(kDefaultSnapshotEveryRecords);
  if (s.queue_capacity() == 0) s.set_queue_capacity(kDefaultQueueCapacity);
  if (s.time_tick_ms() == 0) s.set_time_tick_ms(kDefaultTimeTickMs);
  if (s.max_undurable_commands() == 0) s.set_max_undurable_commands(kDefaultMaxUndurableCommands);
  if (s.max_undurable_bytes() == 0) s.set_max_undurable_bytes(kDefaultMaxUndurableBytes);
  if (s.max_concurrent_streams() == 0) {
    s.set_max_concurrent_streams(static_cast<std::int32_t>(kDefaultMaxConcurrentStreams));
  }
  if (s.grpc_memory_bytes() == 0) s.set_grpc_memory_bytes(kDefaultGrpcMemoryBytes);
  if (s.max_streams_per_agency() == 0) {
    s.set_max_streams_per_agency(static_cast<std::int32_t>(kDefaultMaxStreamsPerAgency));
  }
  if (s.stream_max_queued_messages() == 0) {
    s.set_stream_max_queued_messages(static_cast<std::int32_t>(kDefaultStreamMaxQueuedMessages));
  }
  if (s.stream_max_queued_bytes() == 0) s.set_stream_max_queued_bytes(kDefaultStreamMaxQueuedBytes);
  if (s.offer_retention_seconds() == 0) s.set_offer_retention_seconds(kDefaultOfferRetentionSeconds);
  if (s.http().max_connections() == 0) {
    s.mutable_http()->set_max_connections(static_cast<std::int32_t>(kDefaultHttpConnections));
  }
  return s;
}

std::int64_t OfferRetentionNs(const msx::v1::ServerConfig& server) {
  const std::int64_t seconds = ServerConfigWithDefaults(server).offer_retention_seconds();
  return seconds <= 0 ? 0 : seconds * 1'000'000'000;  // <= 100 years: no overflow
}

}  // namespace msx
