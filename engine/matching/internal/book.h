// One pair's book in the engine: the pair's reference data copied for the hot path and,
// per side, the dense level array (from the LevelArena) with its bitmap of non-empty
// levels. TouchedLevel records a level's totals before a command changed them (market
// data).
#ifndef MSX_ENGINE_INTERNAL_BOOK_H_
#define MSX_ENGINE_INTERNAL_BOOK_H_

#include <cstdint>

#include "engine/matching/internal/level_arena.h"
#include "engine/matching/internal/level_bitmap.h"
#include "engine/matching/types.h"

namespace msx::internal {

struct BookSide {
  Level* levels = nullptr;  // num_levels entries from the LevelArena, once allocated
  internal::LevelBitmap bits;
  std::int64_t best = -1;  // index of the best non-empty level, -1 when empty
};

// Book::guard bits: what an instrument's emergency level asks of the pair's offers.
inline constexpr std::uint8_t kGuardCallAuction = 1;  // a level that matches by call auction
inline constexpr std::uint8_t kGuardBaseStock = 2;    // sells kept above mandated base stock
inline constexpr std::uint8_t kGuardQuoteStock = 4;   // buys kept above mandated quote stock
// The pair is at WARNING or SERIOUS: its fills open deliveries (ENGINE.md "Deliveries").
inline constexpr std::uint8_t kGuardDeliverBy = 8;

struct Book {
  Price low = 0;
  Price high = 0;
  Price tick = 0;
  Price floor_price = 0;
  Lots max_lots = 0;
  Amount lot_size = 0;
  InstrumentId base = 0;
  InstrumentId quote = 0;
  std::int64_t num_levels = 0;
  std::int64_t capacity = 0;  // levels allocated per side (>= num_levels once allocated)
  Price reference_price = 0;
  // kGuard* bits from the levels of the pair's instruments: 0 when both are at a level
  // that asks nothing, so that Submit pays one load and compare for emergencies.
  std::uint8_t guard = 0;
  bool halted = false;
  bool allocated = false;
  // The pair left call-auction mode while halted: ResumePair uncrosses it
  // (Engine::Impl::ResumeContinuous) before continuous matching goes on.
  bool uncross_pending = false;
  BookSide bids;
  BookSide asks;
};

struct TouchedLevel {
  PairId pair;
  Side side;
  std::int64_t index;
  Lots prev_lots;
  std::uint32_t prev_count;
};

}  // namespace msx::internal

#endif  // MSX_ENGINE_INTERNAL_BOOK_H_
