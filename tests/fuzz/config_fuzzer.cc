// Fuzz target: the configuration loader (engine/config/config.h): the text a server
// operator hands to msx-server --config, and the text every journal's CONFIG record holds.
//
// The input is a configuration in protobuf text format. Invariants:
//   * what parses prints back (TextFormat) to text that parses to an equal message;
//   * ValidateConfig and LoadReferenceData agree; errors are INVALID_ARGUMENT with a
//     message (naming the entry and field);
//   * a configuration that validates yields its initial holdings as SetHoldings commands
//     with ids inside the reference data and amounts >= 0, one per declared holding;
//   * pair books have a non-empty band of at most kMaxPriceLevels ticks inside (0, max];
//   * an engine built from it accepts every initial holding (no reject), and one lot at
//     the band's edges on every pair is answered with events (the books it allocates are
//     bounded by the validation above);
//   * the server section with defaults filled in has no zero field the server would use.
#include <cstdint>
#include <string>
#include <vector>

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/matching/command.h"
#include "engine/config/config.h"
#include "engine/matching/engine.h"
#include "engine/matching/event.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/reference_data_builder.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<msx::v1::ExchangeConfig> config = msx::ParseConfigText(text);
  if (!config.ok()) {
    MSX_FUZZ_CHECK(absl::IsInvalidArgument(config.status()) && !config.status().message().empty(),
                   "parse error %s", config.status().ToString().c_str());
    return 0;
  }
  std::string printed;
  MSX_FUZZ_CHECK(google::protobuf::TextFormat::PrintToString(*config, &printed), "print failed");
  absl::StatusOr<msx::v1::ExchangeConfig> reparsed = msx::ParseConfigText(printed);
  MSX_FUZZ_CHECK(reparsed.ok(), "printed config does not parse: %s",
                 reparsed.status().ToString().c_str());
  MSX_FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(*config, *reparsed),
                 "printed config parses to a different message");

  const absl::Status valid = msx::ValidateConfig(*config);
  absl::StatusOr<msx::ReferenceData> ref = msx::LoadReferenceData(*config);
  MSX_FUZZ_CHECK(valid.ok() == ref.ok(), "ValidateConfig %s but LoadReferenceData %s",
                 valid.ToString().c_str(), ref.status().ToString().c_str());
  if (!ref.ok()) {
    MSX_FUZZ_CHECK(absl::IsInvalidArgument(ref.status()) && !ref.status().message().empty(),
                   "load error %s", ref.status().ToString().c_str());
    return 0;
  }

  for (const msx::PairBook& p : ref->pairs()) {
    MSX_FUZZ_CHECK(p.tick > 0 && p.band_low > 0 && p.band_low <= p.band_high &&
                       (p.band_high - p.band_low) % p.tick == 0 &&
                       (p.band_high - p.band_low) / p.tick + 1 <= msx::kMaxPriceLevels &&
                       p.max_lots > 0 && p.base < ref->instruments().size() &&
                       p.quote < ref->instruments().size(),
                   "pair %s: band %lld..%lld tick %lld", p.symbol.c_str(),
                   static_cast<long long>(p.band_low), static_cast<long long>(p.band_high),
                   static_cast<long long>(p.tick));
  }

  absl::StatusOr<std::vector<msx::Command>> holdings = msx::InitialHoldingCommands(*config, *ref);
  MSX_FUZZ_CHECK(holdings.ok(), "valid config, but initial holdings fail: %s",
                 holdings.status().ToString().c_str());
  std::size_t declared = 0;
  for (const auto& a : config->agencies()) declared += a.holdings_size();
  MSX_FUZZ_CHECK(holdings->size() == declared, "%zu holding commands for %zu holdings",
                 holdings->size(), declared);

  msx::EngineOptions options;
  options.expected_offers = 64;
  msx::Engine engine(*ref, options);
  std::vector<msx::Event> events;
  msx::Seq seq = 0;
  constexpr msx::TimeNs kTime = 1'790'000'000'000'000'000;
  for (msx::Command c : *holdings) {
    MSX_FUZZ_CHECK(c.type == msx::CommandType::kSetHoldings &&
                       c.set_holdings.agency < ref->agencies().size() &&
                       c.set_holdings.instrument < ref->instruments().size() &&
                       c.set_holdings.total >= 0,
                   "initial holding out of domain");
    c.seq = ++seq;
    c.time = kTime;
    events.clear();
    engine.Apply(c, &events);
    for (const msx::Event& e : events) {
      MSX_FUZZ_CHECK(e.type != msx::EventType::kRejected,
                     "the engine rejects initial holding %llu (reason %d)",
                     static_cast<unsigned long long>(c.seq), static_cast<int>(e.rejected.reason));
    }
  }
  if (!ref->agencies().empty()) {
    for (const msx::PairBook& p : ref->pairs()) {
      for (msx::Side side : {msx::Side::kBuy, msx::Side::kSell}) {
        msx::Command c{};
        c.type = msx::CommandType::kSubmitOffer;
        c.seq = ++seq;
        c.time = kTime;
        c.submit.agency = 0;
        c.submit.pair = p.id;
        c.submit.side = side;
        c.submit.tif = msx::TimeInForce::kGtc;
        c.submit.lots = 1;
        c.submit.price = side == msx::Side::kBuy ? p.band_low : p.band_high;
        c.submit.client_id = seq;
        events.clear();
        engine.Apply(c, &events);
        MSX_FUZZ_CHECK(!events.empty(), "a submit produced no event");
      }
    }
  }

  const msx::v1::ServerConfig server = msx::ServerConfigWithDefaults(config->server());
  MSX_FUZZ_CHECK(!server.listen().empty() && !server.data_dir().empty() &&
                     server.journal_segment_bytes() > 0 && server.snapshot_every_records() > 0 &&
                     server.queue_capacity() > 0 && server.time_tick_ms() > 0,
                 "server defaults leave a zero field");
  MSX_FUZZ_CHECK(msx::CheckListenAddress(server.listen()).ok(), "listen address %s",
                 server.listen().c_str());
  return 0;
}
