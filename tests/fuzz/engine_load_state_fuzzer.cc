// Fuzz target: Engine::LoadState (engine/matching/engine.h), which restores the engine from the
// state bytes of a snapshot file, over the engine's small test universe.
//
// Invariants, when LoadState accepts the input:
//   * SaveState then LoadState into a second engine round-trips: the second engine saves
//     the same bytes and has the same digest, last seq and time;
//   * the two engines then answer the same commands (cancel each offer the state holds,
//     a buy and a sell on every pair, an AdvanceTime a day later) with the same events
//     (a restored state is a state the engine can run on, not just one it can print);
// and when it rejects the input, the engine is left empty (as a fresh one).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/matching/command.h"
#include "engine/matching/engine.h"
#include "engine/matching/event.h"
#include "engine/testing/test_universe.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

msx::EngineOptions SmallEngine() {
  msx::EngineOptions options;
  options.expected_offers = 256;
  return options;
}

bool SameEvents(const std::vector<msx::Event>& a, const std::vector<msx::Event>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof a[i]) != 0) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const msx::ReferenceData& ref = msx::testing::TestUniverse();
  static msx::Engine* const engine = new msx::Engine(ref, SmallEngine());
  static msx::Engine* const copy = new msx::Engine(ref, SmallEngine());
  static const std::uint64_t empty_digest = msx::Engine(ref, SmallEngine()).StateDigest();

  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  const absl::Status loaded = engine->LoadState(bytes);
  if (!loaded.ok()) {
    MSX_FUZZ_CHECK(engine->StateDigest() == empty_digest && engine->OpenOfferCount() == 0,
                   "a rejected LoadState left state behind: %s", loaded.ToString().c_str());
    return 0;
  }

  const std::string saved = engine->SaveState();
  const absl::Status reloaded = copy->LoadState(saved);
  MSX_FUZZ_CHECK(reloaded.ok(), "LoadState rejects what SaveState wrote: %s",
                 reloaded.ToString().c_str());
  MSX_FUZZ_CHECK(copy->SaveState() == saved, "SaveState -> LoadState -> SaveState differs");
  MSX_FUZZ_CHECK(copy->StateDigest() == engine->StateDigest(), "digests differ after reload");
  MSX_FUZZ_CHECK(copy->last_seq() == engine->last_seq() &&
                     copy->last_time() == engine->last_time() &&
                     copy->OpenOfferCount() == engine->OpenOfferCount(),
                 "seq, time or open offer count differ after reload");

  // Run both on the same commands, if the state leaves room for more seqs and a day.
  constexpr msx::TimeNs kDay = 86'400'000'000'000;
  if (engine->last_seq() > (std::uint64_t{1} << 62) || engine->last_time() < 0 ||
      engine->last_time() > (msx::TimeNs{1} << 62)) {
    return 0;
  }
  std::vector<msx::Command> commands;
  const std::size_t offers = engine->OpenOfferCount();
  for (msx::OfferId id = 1; id <= 16 && commands.size() < offers; ++id) {
    if (auto info = engine->GetOffer(id); info.has_value()) {
      commands.push_back(msx::testing::Cancel(info->agency, id));
    }
  }
  for (const msx::PairBook& pair : ref.pairs()) {
    commands.push_back(msx::testing::Submit(msx::testing::kA0, pair.id, msx::Side::kBuy, 1,
                                            pair.band_high, 0, msx::TimeInForce::kIoc));
    commands.push_back(msx::testing::Submit(msx::testing::kA1, pair.id, msx::Side::kSell, 1,
                                            pair.band_low, 0, msx::TimeInForce::kIoc));
  }
  commands.push_back(msx::testing::AdvanceTime());
  msx::Seq seq = engine->last_seq();
  msx::TimeNs time = engine->last_time();
  std::vector<msx::Event> a, b;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    msx::Command& c = commands[i];
    c.seq = ++seq;
    c.time = i + 1 == commands.size() ? time + kDay : time;
    a.clear();
    b.clear();
    engine->Apply(c, &a);
    copy->Apply(c, &b);
    MSX_FUZZ_CHECK(!a.empty() || c.type == msx::CommandType::kAdvanceTime,
                   "command %zu produced no event", i);
    MSX_FUZZ_CHECK(SameEvents(a, b), "a restored engine answers command %zu differently", i);
  }
  MSX_FUZZ_CHECK(engine->StateDigest() == copy->StateDigest(), "digests differ after commands");
  return 0;
}
