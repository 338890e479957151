// Writes the seed corpus of every fuzz target (tests/fuzz/corpus/<target>/seed-*) from real
// artefacts: a synthetic journal written by the real JournalWriter (msx-drill's traffic
// generator on the embedded default configuration), engine states saved after random
// traffic, the embedded default configuration, the drill example scenario and gateway
// requests as clients send them. Deterministic: a re-run rewrites the same files.
//
// Usage: msx_fuzz_make_corpus SOURCE_DIR   (writes SOURCE_DIR/tests/fuzz/corpus/...)
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "engine/config/config.h"
#include "engine/journal/codec.h"
#include "engine/journal/journal_format.h"
#include "engine/journal/reader.h"
#include "engine/matching/command.h"
#include "engine/matching/engine.h"
#include "engine/matching/event.h"
#include "engine/testing/random_commands.h"
#include "engine/testing/test_universe.h"
#include "engine/testing/traffic_journal.h"
#include "msx/v1/exchange.pb.h"

namespace {

namespace fs = std::filesystem;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "msx_fuzz_make_corpus: %s\n", what.c_str());
  std::exit(1);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path.string());
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class Corpus {
 public:
  explicit Corpus(fs::path root) : root_(std::move(root)) {}
  void Add(const std::string& target, const std::string& name, const std::string& bytes) {
    fs::path dir = root_ / target;
    if (cleaned_.insert({target, true}).second) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
    fs::create_directories(dir);
    std::ofstream out(dir / ("seed-" + name), std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) Die("cannot write " + (dir / name).string());
    ++count_;
  }
  int count() const { return count_; }

 private:
  fs::path root_;
  std::map<std::string, bool> cleaned_;
  int count_ = 0;
};

const char* CommandName(msx::CommandType t) {
  switch (t) {
    case msx::CommandType::kSubmitOffer: return "submit";
    case msx::CommandType::kCancelOffer: return "cancel";
    case msx::CommandType::kReplaceOffer: return "replace";
    case msx::CommandType::kAdvanceTime: return "advance-time";
    case msx::CommandType::kSetHoldings: return "set-holdings";
    case msx::CommandType::kHaltPair: return "halt";
    case msx::CommandType::kResumePair: return "resume";
    case msx::CommandType::kReplaceOfferOpenLots: return "replace-open-lots";
    case msx::CommandType::kSetOfferRetention: return "set-offer-retention";
    case msx::CommandType::kSubmitTermOffer: return "submit-term";
    case msx::CommandType::kCancelTermOffer: return "cancel-term";
    case msx::CommandType::kReplaceTermOffer: return "replace-term";
    case msx::CommandType::kReturnObligation: return "return";
    case msx::CommandType::kRecallObligation: return "recall";
    case msx::CommandType::kPublishReference: return "publish-reference";
    case msx::CommandType::kAdmitMember: return "admit-member";
    case msx::CommandType::kSuspendMember: return "suspend-member";
    case msx::CommandType::kSetEmergencyLevel: return "set-emergency-level";
    case msx::CommandType::kRunAuction: return "run-auction";
    case msx::CommandType::kSubmitOfferWithNeed: return "submit-with-need";
    case msx::CommandType::kConfirmDelivery: return "confirm-delivery";
    case msx::CommandType::kFollowLiveReference: return "follow-live-reference";
  }
  return "unknown";
}

// Journal segments, their record payloads (codec) and reader inputs.
void JournalSeeds(Corpus* corpus, const fs::path& tmp) {
  const fs::path dir = tmp / "journal";
  msx::testing::TrafficOptions options;
  options.commands = 400;
  options.seed = 5;
  options.segment_bytes = 48 << 10;  // a few small segments
  auto stats = msx::testing::WriteTrafficJournal(dir.string(), msx::DefaultConfig(), options);
  if (!stats.ok()) Die(stats.status().ToString());
  auto segments = msx::journal::ListSegments(dir.string());
  if (!segments.ok() || segments->size() < 2) Die("expected several segments");

  // The first segment (seq 1: setup holdings) and the second (trading).
  std::map<std::string, std::string> payloads;  // one per command and event type
  for (std::size_t i = 0; i < 2; ++i) {
    std::string bytes = ReadFile((*segments)[i].path);
    // Trim to keep seeds small: the header, CONFIG and the first ~60 records.
    msx::journal::internal::SegmentParser parser(bytes);
    msx::Seq first = 0;
    if (!parser.ReadHeader(&first).ok()) Die("bad header in generated journal");
    msx::journal::internal::SegmentParser::Record rec;
    std::string error;
    std::uint64_t cut = bytes.size();
    int records = 0;
    std::vector<std::uint64_t> commands;  // offsets of the COMMAND records kept
    while (parser.Next(&rec, &error) == msx::journal::internal::SegmentParser::Result::kRecord) {
      ++records;
      if (rec.type == msx::journal::RecordType::kCommand) {
        msx::Command c;
        std::uint32_t n;
        if (msx::journal::DecodeCommandPayload(rec.payload, &c, &n).ok()) {
          payloads.emplace(std::string("command-") + CommandName(c.type), std::string(rec.payload));
        }
        if (records > 60) {
          cut = rec.offset;  // end the segment before this group
          break;
        }
        commands.push_back(rec.offset);
      } else if (rec.type == msx::journal::RecordType::kEvent) {
        msx::Event e;
        std::uint32_t idx;
        if (msx::journal::DecodeEventPayload(rec.payload, &e, &idx).ok()) {
          payloads.emplace("event-" + std::to_string(static_cast<int>(e.type)),
                           std::string(rec.payload));
        }
      }
    }
    bytes.resize(cut);
    const std::string name = "segment-" + std::to_string(first);
    corpus->Add("segment_parser", name, bytes);
    corpus->Add("journal_reader", name, std::string(1, '\0') + bytes);
    if (i == 0) {
      // A torn tail (the last group cut short) read with truncation, a preallocated zero
      // tail, and a bad CRC mid-segment read with the operator's truncate_at_corruption.
      std::string torn = bytes.substr(0, bytes.size() - 7);
      corpus->Add("segment_parser", name + "-torn", torn);
      corpus->Add("journal_reader", name + "-torn-truncate", std::string(1, '\1') + torn);
      std::string zeros = bytes + std::string(msx::journal::kMinZeroTail, '\0');
      corpus->Add("segment_parser", name + "-zero-tail", zeros);
      corpus->Add("journal_reader", name + "-zero-tail-truncate", std::string(1, '\1') + zeros);
      if (commands.size() < 2) Die("expected several command groups");
      std::string flipped = bytes;  // a payload byte of a command in the middle
      flipped[commands[commands.size() / 2] + msx::journal::kRecordHeaderSize + 3] ^= 0x20;
      corpus->Add("segment_parser", name + "-bad-crc", flipped);
      corpus->Add("journal_reader", name + "-bad-crc", std::string(1, '\0') + flipped);
      corpus->Add("journal_reader", name + "-bad-crc-truncate", std::string(1, '\2') + flipped);
    }
  }
  // The allocation-auction records (format version 6), which the traffic journal does not
  // hold: a tick, a buy with a declared need, and an auction's summary event.
  {
    msx::Command c{};
    c.seq = 401;
    c.time = 1'800'000'000'000'000'000;
    c.type = msx::CommandType::kRunAuction;
    c.run_auction.instrument = 2;
    std::string payload;
    msx::journal::EncodeCommandPayload(c, 3, &payload);
    payloads.emplace(std::string("command-") + CommandName(c.type), payload);
    c.type = msx::CommandType::kSubmitOfferWithNeed;
    c.submit_need.offer = {1, 0, msx::Side::kBuy, msx::TimeInForce::kGtc, 40, 101, 0, 0, 0, 0,
                           77};
    c.submit_need.need = 400;
    c.submit_need.tier = msx::PriorityTier::kEssential;
    payload.clear();
    msx::journal::EncodeCommandPayload(c, 1, &payload);
    payloads.emplace(std::string("command-") + CommandName(c.type), payload);
    msx::Event e{};
    e.seq = 401;
    e.time = c.time;
    e.type = msx::EventType::kAuction;
    e.auction = {0, true, 100, 40, 38, 40, 55, 16};
    payload.clear();
    msx::journal::EncodeEventPayload(e, 0, &payload);
    payloads.emplace("event-" + std::to_string(static_cast<int>(e.type)), payload);
  }
  // The term-book order records (format version 8): a replace of a term offer (new total
  // lots and premium) and its TermReplaced event.
  {
    msx::Command c{};
    c.seq = 402;
    c.time = 1'800'000'000'000'000'001;
    c.type = msx::CommandType::kReplaceTermOffer;
    c.replace = {1, 3, 12, 150};
    std::string payload;
    msx::journal::EncodeCommandPayload(c, 1, &payload);
    payloads.emplace(std::string("command-") + CommandName(c.type), payload);
    msx::Event e{};
    e.seq = 402;
    e.time = c.time;
    e.type = msx::EventType::kTermReplaced;
    e.replaced = {3, 1, 9, 150, false};
    payload.clear();
    msx::journal::EncodeEventPayload(e, 0, &payload);
    payloads.emplace("event-" + std::to_string(static_cast<int>(e.type)), payload);
  }
  // The delivery records (format version 9; ENGINE.md "Deliveries"): a confirmation and a
  // delivery event.
  {
    msx::Command c{};
    c.seq = 402;
    c.time = 1'800'000'000'000'000'000;
    c.type = msx::CommandType::kConfirmDelivery;
    c.confirm_delivery = {1, 2};
    std::string payload;
    msx::journal::EncodeCommandPayload(c, 1, &payload);
    payloads.emplace(std::string("command-") + CommandName(c.type), payload);
    msx::Event e{};
    e.seq = 402;
    e.time = c.time;
    e.type = msx::EventType::kDelivery;
    e.delivery.delivery = 2;
    e.delivery.fill_id = 7;
    e.delivery.kind = msx::DeliveryEventKind::kConfirmed;
    e.delivery.state = msx::DeliveryState::kConfirmed;
    e.delivery.instrument = 1;
    e.delivery.deliverer = 0;
    e.delivery.receiver = 1;
    e.delivery.by = 1;
    e.delivery.amount = 40'000;
    e.delivery.deliver_by = c.time + 3 * msx::kNsPerDay;
    payload.clear();
    msx::journal::EncodeEventPayload(e, 0, &payload);
    payloads.emplace("event-" + std::to_string(static_cast<int>(e.type)), payload);
  }
  // The switch of term books to live reference data (format version 10): no body.
  {
    msx::Command c{};
    c.seq = 16;
    c.time = 1'800'000'000'000'000'000;
    c.type = msx::CommandType::kFollowLiveReference;
    std::string payload;
    msx::journal::EncodeCommandPayload(c, 0, &payload);
    payloads.emplace(std::string("command-") + CommandName(c.type), payload);
  }
  for (const auto& [name, payload] : payloads) corpus->Add("codec", name, payload);
}

void EngineSeeds(Corpus* corpus) {
  for (int commands : {0, 40, 400}) {
    msx::EngineOptions options;
    options.expected_offers = 1024;
    msx::Engine engine(msx::testing::TestUniverse(), options);
    msx::testing::RandomCommands gen(commands + 1);
    std::vector<msx::Event> events;
    for (int i = 0; i < commands; ++i) {
      const std::size_t from = events.size();
      engine.Apply(gen.Next(), &events);
      gen.Observe(events, from);
    }
    corpus->Add("engine_load_state", "state-after-" + std::to_string(commands),
                engine.SaveState());
  }
  // With retention windows: purged ids, retained finished offers and a purge queue.
  msx::EngineOptions options;
  options.expected_offers = 1024;
  msx::Engine engine(msx::testing::TestUniverse(), options);
  msx::testing::RandomCommands::Options gen_options;
  gen_options.set_retention = 2;
  msx::testing::RandomCommands gen(401, gen_options);
  std::vector<msx::Event> events;
  for (int i = 0; i < 400; ++i) {
    const std::size_t from = events.size();
    engine.Apply(gen.Next(), &events);
    gen.Observe(events, from);
  }
  if (engine.offer_retention() <= 0 || engine.PurgedOfferCount() == 0) {
    Die("the retention seed purged nothing");
  }
  corpus->Add("engine_load_state", "state-after-400-retention", engine.SaveState());

  // With the delivery ledger (image version 8): AAA at WARNING (a call auction under a
  // price control), one auction fill, one delivery confirmed, the other overdue.
  {
    msx::Engine e(msx::testing::TestUniverse(), options);
    std::vector<msx::Command> cmds;
    for (msx::AgencyId a : {msx::testing::kA0, msx::testing::kA1}) {
      for (msx::InstrumentId i : {msx::testing::kAaa, msx::testing::kBbb}) {
        cmds.push_back(msx::testing::SetHolding(a, i, 1'000'000));
      }
    }
    msx::Command level{};
    level.type = msx::CommandType::kSetEmergencyLevel;
    level.set_level.instrument = msx::testing::kAaa;
    level.set_level.level = msx::EmergencyLevel::kWarning;
    cmds.push_back(level);
    cmds.push_back(msx::testing::Submit(msx::testing::kA1, msx::testing::kAaaBbb,
                                        msx::Side::kSell, 5, 100, 1));
    msx::Command need{};
    need.type = msx::CommandType::kSubmitOfferWithNeed;
    need.submit_need.offer = {msx::testing::kA0, msx::testing::kAaaBbb, msx::Side::kBuy,
                              msx::TimeInForce::kGtc, 5, 100, 0, 0, 0, 0, 2};
    need.submit_need.need = 50;
    need.submit_need.tier = msx::PriorityTier::kGeneral;
    cmds.push_back(need);
    msx::Command tick{};
    tick.type = msx::CommandType::kRunAuction;
    tick.run_auction.instrument = msx::testing::kAaa;
    cmds.push_back(tick);
    msx::Command confirm{};
    confirm.type = msx::CommandType::kConfirmDelivery;
    confirm.confirm_delivery = {msx::testing::kA0, 1};
    cmds.push_back(confirm);
    cmds.push_back(msx::testing::AdvanceTime());
    std::vector<msx::Event> ev;
    msx::TimeNs t = 1'800'000'000'000'000'000;
    for (std::size_t k = 0; k < cmds.size(); ++k) {
      cmds[k].seq = k + 1;
      t += k + 1 == cmds.size() ? 9 * msx::kNsPerDay : 1'000'000'000;
      cmds[k].time = t;
      e.Apply(cmds[k], &ev);
    }
    if (e.ListDeliveries(std::nullopt).size() != 2 ||
        e.GetDelivery(2)->state != msx::DeliveryState::kOverdue) {
      Die("the delivery seed opened no overdue delivery");
    }
    corpus->Add("engine_load_state", "state-deliveries", e.SaveState());
  }

  // Term books on live reference data (image version 10): the switch, then a new
  // reference value.
  {
    msx::Engine e(msx::testing::TestUniverse(), options);
    std::vector<msx::Event> ev;
    msx::Command follow = msx::testing::FollowLiveReference();
    follow.seq = 1;
    follow.time = 1'800'000'000'000'000'000;
    e.Apply(follow, &ev);
    const msx::Instrument& aaa = msx::testing::TestUniverse().instruments()[msx::testing::kAaa];
    msx::Command publish =
        msx::testing::PublishReference(msx::testing::kAaa, aaa.reference_value + 1, aaa.floor);
    publish.seq = 2;
    publish.time = follow.time + 1;
    e.Apply(publish, &ev);
    if (!e.TermsFollowLive()) Die("the live-terms seed does not follow");
    corpus->Add("engine_load_state", "state-live-terms", e.SaveState());
  }
}

void ConfigSeeds(Corpus* corpus) {
  corpus->Add("config", "default", std::string(msx::DefaultConfigText()));
  corpus->Add("config", "small", R"(server { listen: "127.0.0.1:0" data_dir: "d" }
instruments { symbol: "CO-99.8" mineral: "cobalt" unit: "kg" lot_size: 1000
  reference_value_micro_usd: 33000000 floor_micro_usd: 20000000 }
instruments { symbol: "GA-4N" mineral: "gallium" unit: "g" lot_size: 100000
  reference_value_micro_usd: 700000 }
pairs { base: "GA-4N" quote: "CO-99.8" tick: 1 band_bps: 1500 max_lots: 200 }
agencies { id: "KOMIR" country: "KR" role: ROLE_AGENCY tokens: "demo-komir"
  holdings { instrument: "CO-99.8" amount: 2000000 } }
agencies { id: "JOGMEC" country: "JP" role: ROLE_AGENCY tokens: "demo-jogmec"
  holdings { instrument: "GA-4N" amount: 100000000 } }
agreements { name: "BI" members: ["KOMIR", "JOGMEC"] minerals: ["cobalt", "gallium"] }
)");
}

void ScenarioSeeds(Corpus* corpus, const fs::path& source) {
  corpus->Add("drill_scenario", "cobalt-crisis",
              ReadFile(source / "clients/drill/examples/cobalt_crisis.textproto"));
  corpus->Add("drill_scenario", "by-time", R"(name: "by time"
edits { at_time_ns: 1790000100000000000 supply_shock { agency: "JOGMEC" instrument: "GA-4N" numerator: 0 denominator: 1 } }
edits { at_time_ns: 1790000200000000000 export_ban { agency: "KOMIR" mineral: "nickel" } }
)");
  corpus->Add("drill_scenario", "inject-ioc", R"(edits { at_seq: 250 inject_offer {
  agency: "KOMIR" pair: "GA-4N/CO-99.8" side: SIDE_BUY lots: 5 price: 2200 min_fill_lots: 2
  time_in_force: TIME_IN_FORCE_IOC client_offer_id: 77 } }
)");
  corpus->Add("drill_scenario", "supply-loss", R"(edits { at_seq: 100 set_level {
  instrument: "GA-4N" level: "WARNING" reason: "export ban" } }
edits { at_seq: 110 external_supply_loss { agency: "KOMIR" instrument: "GA-4N" units: 250000 } }
edits { at_seq: 120 external_supply_loss { agency: "DLA" instrument: "GA-4N" units: 70
  tier: PRIORITY_TIER_DEFENCE pair: "GA-4N/CO-99.8" } }
)");
}

void TranslateSeeds(Corpus* corpus) {
  auto add = [&](const std::string& name, int selector, int agency,
                 const google::protobuf::Message& m) {
    corpus->Add("translate", name,
                std::string(1, static_cast<char>(selector)) +
                    std::string(1, static_cast<char>(agency)) + m.SerializeAsString());
  };
  msx::v1::SubmitOfferRequest submit;
  submit.set_client_offer_id(1);
  submit.set_pair("GA-4N/CO-99.8");
  submit.set_side(msx::v1::SIDE_SELL);
  submit.set_lots(10);
  submit.set_price(2100);
  add("submit-gtc", 0, 1, submit);
  submit.set_side(msx::v1::SIDE_BUY);
  submit.set_time_in_force(msx::v1::TIME_IN_FORCE_GTD);
  submit.set_expire_time_ns(1'790'000'100'000'000'000);
  submit.set_min_fill_lots(2);
  submit.add_allow_counterparties("JOGMEC");
  submit.add_deny_counterparties("DLA");
  add("submit-gtd-allow-deny", 0, 0, submit);
  msx::v1::CancelOfferRequest cancel;
  cancel.set_offer_id(1);
  add("cancel", 1, 0, cancel);
  msx::v1::ReplaceOfferRequest replace;
  replace.set_offer_id(1);
  replace.set_lots(4);
  replace.set_price(2110);
  add("replace", 2, 0, replace);
  msx::v1::SetHoldingsRequest holdings;
  holdings.set_agency("KOMIR");
  holdings.set_instrument("CO-99.8");
  holdings.set_total(5000);
  add("set-holdings", 3, 7, holdings);
  msx::v1::HaltPairRequest halt;
  halt.set_pair("GA-4N/CO-99.8");
  add("halt", 4, 7, halt);
  add("resume", 5, 7, halt);
  add("lookup-agency", 6, 0, holdings);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) Die("usage: msx_fuzz_make_corpus SOURCE_DIR");
  const fs::path source(argv[1]);
  const fs::path root = source / "tests/fuzz/corpus";
  char tmpl[] = "/tmp/msx-fuzz-corpus-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) Die("mkdtemp failed");
  const fs::path tmp(tmpl);
  Corpus corpus(root);
  JournalSeeds(&corpus, tmp);
  EngineSeeds(&corpus);
  ConfigSeeds(&corpus);
  ScenarioSeeds(&corpus, source);
  TranslateSeeds(&corpus);
  std::error_code ec;
  fs::remove_all(tmp, ec);
  std::printf("wrote %d seeds under %s\n", corpus.count(), root.c_str());
  return 0;
}
