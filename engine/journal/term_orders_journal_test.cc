// FOK, minimum fill and replace on term books through the journal (format version 8):
// written, read back and replayed byte for byte; in a segment of an older version the new
// records, and a SubmitTermOffer with FOK or a minimum fill (which an older engine
// rejected, so a replay would differ), are corruption named with the file and offset.
#include <string>
#include <vector>

#include "engine/journal/codec.h"
#include "engine/journal/crc32c.h"
#include "engine/journal/journal_format.h"
#include "engine/journal/journal_test_util.h"
#include "engine/journal/reader.h"
#include "engine/journal/writer.h"
#include "engine/matching/engine.h"
#include "engine/matching/reference_data_builder.h"
#include "gtest/gtest.h"

namespace msx::journal {
namespace {

using testing::ReadAll;
using testing::TempDir;
using testing::WriteAll;

ReferenceData MakeRef() {
  ReferenceDataBuilder b;
  b.AddInstrument({"CO", "cobalt", "metal", "kg", 1000, 33'000'000, 0});
  b.AddAgency({"KOMIR", "k", "KR"});
  b.AddAgency({"JOGMEC", "j", "JP"});
  b.AddAgreement({"CORE", {"KOMIR", "JOGMEC"}, {}});
  b.AddTermBook({"CO", 30, 1000});
  AgreementTermsSpec t;
  t.agreement = "CORE";
  t.default_credit_limit = 1'000'000'000'000'000;
  b.SetAgreementTerms(t);
  absl::StatusOr<ReferenceData> ref = b.Build();
  EXPECT_TRUE(ref.ok()) << ref.status();
  return *std::move(ref);
}

// With `fok`: an unfilled FOK borrow and a met minimum fill; always: a replace that
// crosses, one that keeps priority and one at or below the lent lots.
std::vector<Command> Stream(bool fok) {
  std::vector<Command> v;
  Seq seq = 0;
  TimeNs t = 1'800'000'000'000'000'000;
  auto add = [&](Command c) {
    c.seq = ++seq;
    c.time = (t += 1000);
    v.push_back(c);
  };
  auto term = [&](AgencyId a, Side side, TimeInForce tif, Lots lots, std::int64_t bps,
                  Lots min_fill, ClientOfferId id) {
    Command c{};
    c.type = CommandType::kSubmitTermOffer;
    c.submit = SubmitOffer{a, 0, side, tif, lots, bps, min_fill, 0, 0, 0, id};
    add(c);
  };
  auto replace = [&](AgencyId a, OfferId id, Lots lots, std::int64_t bps) {
    Command c{};
    c.type = CommandType::kReplaceTermOffer;
    c.replace = ReplaceOffer{a, id, lots, bps};
    add(c);
  };
  Command c{};
  c.type = CommandType::kSetHoldings;
  c.set_holdings = {0, 0, 500'000};
  add(c);
  c.set_holdings = {1, 0, 500'000};
  add(c);
  term(0, Side::kSell, TimeInForce::kGtc, 10, 100, 0, 1);  // term offer 1
  if (fok) {
    term(1, Side::kBuy, TimeInForce::kFok, 20, 100, 0, 2);  // 2: unfilled, cancelled
    term(1, Side::kBuy, TimeInForce::kGtc, 12, 100, 5, 3);  // 3: lends 10, rests 2
  } else {
    term(1, Side::kBuy, TimeInForce::kGtc, 12, 100, 0, 2);  // 2: lends 10, rests 2
    term(1, Side::kBuy, TimeInForce::kIoc, 1, 0, 0, 3);     // 3: nothing crosses
  }
  term(0, Side::kSell, TimeInForce::kGtc, 5, 120, 0, 4);  // 4: rests
  replace(0, 4, 5, 100);                                  // crosses: lends 2, rests 3
  replace(0, 4, 4, 100);                                  // 2 open: keeps priority
  replace(0, 4, 2, 100);                                  // at the lent lots: cancelled
  return v;
}

void WriteStream(const ReferenceData& ref, const std::string& dir, bool fok) {
  Engine engine(ref, EngineOptions{.expected_offers = 64});
  WriterOptions wo;
  wo.durability = Durability::kNone;
  wo.config = "term-orders";
  auto writer = JournalWriter::Open(dir, wo);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const Command& c : Stream(fok)) {
    std::vector<Event> ev;
    engine.Apply(c, &ev);
    ASSERT_TRUE((*writer)->Append(c, ev).ok());
  }
  ASSERT_TRUE((*writer)->Close().ok());
  ASSERT_EQ(engine.GetTermOffer(4)->status, OfferStatus::kCancelled);
  ASSERT_EQ(engine.GetTermOffer(4)->filled_lots, 2);
}

// Rewrites the one segment's header as `version`, with a valid CRC: only the records can
// betray it.
void SetVersion(const std::string& seg, std::uint16_t version) {
  std::string bytes = ReadAll(seg);
  ASSERT_EQ(GetFixed16(bytes.data() + kSegmentHeaderVersionOffset), kFormatVersion);
  std::string header = bytes.substr(0, kSegmentHeaderCrcOffset);
  std::string v;
  PutFixed16(&v, version);
  header.replace(kSegmentHeaderVersionOffset, 2, v);
  PutFixed32(&header, crc32c::Mask(crc32c::Value(header.data(), header.size())));
  WriteAll(seg, header + bytes.substr(kSegmentHeaderSize));
}

TEST(TermOrdersJournalTest, FokMinimumFillAndReplacesReplayByteForByte) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WriteStream(ref, dir.path(), true);
  auto reader = JournalReader::Open(dir.path(), ReaderOptions{});
  ASSERT_TRUE(reader.ok()) << reader.status();
  Engine replay(ref, EngineOptions{.expected_offers = 64});
  JournalEntry entry;
  std::size_t n = 0;
  int replaced = 0, fok_unfilled = 0, below_filled = 0;
  while ((*reader)->Next(&entry)) {
    std::vector<Event> ev;
    replay.Apply(entry.command, &ev);
    ASSERT_EQ(entry.events.size(), ev.size()) << "seq " << entry.command.seq;
    for (std::size_t i = 0; i < ev.size(); ++i) {
      std::string a, b;
      EncodeEventPayload(ev[i], 0, &a);
      EncodeEventPayload(entry.events[i], 0, &b);
      ASSERT_EQ(a, b) << "seq " << entry.command.seq << " event " << i;
      replaced += ev[i].type == EventType::kTermReplaced;
      if (ev[i].type == EventType::kTermCancelled) {
        fok_unfilled += ev[i].cancelled.reason == CancelReason::kFokUnfilled;
        below_filled += ev[i].cancelled.reason == CancelReason::kReplaceBelowFilled;
      }
    }
    ++n;
  }
  ASSERT_TRUE((*reader)->status().ok()) << (*reader)->status();
  EXPECT_EQ(n, Stream(true).size());
  EXPECT_EQ(replaced, 2);
  EXPECT_EQ(fok_unfilled, 1);
  EXPECT_EQ(below_filled, 1);
  EXPECT_EQ(replay.GetTermOffer(3)->min_fill, 5);
}

TEST(TermOrdersJournalTest, AFokTermSubmitInAnOlderVersionSegmentIsCorruption) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WriteStream(ref, dir.path(), true);
  SetVersion(dir.file(SegmentFileName(1)), kTermOrdersFormatVersion - 1);
  absl::StatusOr<ReadStats> stats = VerifyJournal(dir.path());
  ASSERT_FALSE(stats.ok());
  EXPECT_TRUE(absl::IsDataLoss(stats.status())) << stats.status();
  EXPECT_NE(stats.status().message().find(
                "term-book order command type 10 (replace, FOK or minimum fill) in a version 7 "
                "segment"),
            std::string::npos)
      << stats.status();
}

TEST(TermOrdersJournalTest, AReplaceTermOfferInAnOlderVersionSegmentIsCorruption) {
  const ReferenceData ref = MakeRef();
  TempDir dir;
  WriteStream(ref, dir.path(), false);
  SetVersion(dir.file(SegmentFileName(1)), kTermOrdersFormatVersion - 1);
  absl::StatusOr<ReadStats> stats = VerifyJournal(dir.path());
  ASSERT_FALSE(stats.ok());
  EXPECT_TRUE(absl::IsDataLoss(stats.status())) << stats.status();
  EXPECT_NE(stats.status().message().find("term-book order command type 14"), std::string::npos)
      << stats.status();
}

TEST(TermOrdersJournalTest, ATermStreamWithoutTheNewTypesStillReadsAsVersionSeven) {
  // GTC, GTD and IOC term offers without a minimum fill mean what they meant in version 7:
  // such a segment reads (and replays) as before.
  const ReferenceData ref = MakeRef();
  TempDir dir;
  Engine engine(ref, EngineOptions{.expected_offers = 64});
  {
    WriterOptions wo;
    wo.durability = Durability::kNone;
    wo.config = "term-orders";
    auto writer = JournalWriter::Open(dir.path(), wo);
    ASSERT_TRUE(writer.ok()) << writer.status();
    std::vector<Command> stream = Stream(false);
    stream.resize(5);  // up to the IOC: no replace yet
    for (const Command& c : stream) {
      std::vector<Event> ev;
      engine.Apply(c, &ev);
      ASSERT_TRUE((*writer)->Append(c, ev).ok());
    }
    ASSERT_TRUE((*writer)->Close().ok());
  }
  SetVersion(dir.file(SegmentFileName(1)), kTermOrdersFormatVersion - 1);
  absl::StatusOr<ReadStats> stats = VerifyJournal(dir.path());
  ASSERT_TRUE(stats.ok()) << stats.status();
}

}  // namespace
}  // namespace msx::journal
