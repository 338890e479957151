// Helpers for journal tests: synthetic command groups (no engine needed), temporary
// directories, and file corruption (flip a byte, truncate, zero a range, cut and splice).
#ifndef MSX_ENGINE_JOURNAL_JOURNAL_TEST_UTIL_H_
#define MSX_ENGINE_JOURNAL_JOURNAL_TEST_UTIL_H_

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/matching/command.h"
#include "engine/matching/event.h"
#include "engine/journal/crc32c.h"
#include "gtest/gtest.h"

namespace msx::journal::testing {

// A fresh directory under $TMPDIR, removed on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/msx-journal-test-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline void FlipByte(const std::string& path, std::uint64_t offset) {
  std::string d = ReadAll(path);
  ASSERT_LT(offset, d.size());
  d[offset] ^= 0x5a;
  WriteAll(path, d);
}

inline void TruncateTo(const std::string& path, std::uint64_t size) {
  std::filesystem::resize_file(path, size);
}

inline void ZeroRange(const std::string& path, std::uint64_t offset, std::uint64_t n) {
  std::string d = ReadAll(path);
  ASSERT_LE(offset + n, d.size());
  for (std::uint64_t i = 0; i < n; ++i) d[offset + i] = 0;
  WriteAll(path, d);
}

// Copies bytes [from, to) and inserts the copy at `at`.
inline void DuplicateRange(const std::string& path, std::uint64_t from, std::uint64_t to,
                           std::uint64_t at) {
  std::string d = ReadAll(path);
  std::string piece = d.substr(from, to - from);
  d.insert(at, piece);
  WriteAll(path, d);
}

// Removes bytes [from, to).
inline void RemoveRange(const std::string& path, std::uint64_t from, std::uint64_t to) {
  std::string d = ReadAll(path);
  d.erase(from, to - from);
  WriteAll(path, d);
}

// Recomputes the CRC of the record at `offset` after its payload was edited on purpose, so
// that only the higher-level checks (sequence, replay) can catch the change.
inline void FixRecordCrc(const std::string& path, std::uint64_t offset) {
  std::string d = ReadAll(path);
  std::uint32_t length;
  std::memcpy(&length, d.data() + offset + 4, 4);
  std::uint32_t crc = crc32c::Mask(crc32c::Value(d.data() + offset + 8, 1 + length));
  std::memcpy(d.data() + offset, &crc, 4);
  WriteAll(path, d);
}

inline std::uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

// Appends `n` zero bytes: the space a preallocating writer keeps ahead of its data.
inline void AppendZeros(const std::string& path, std::uint64_t n) {
  std::ofstream f(path, std::ios::binary | std::ios::app);
  const std::string zeros(n, '\0');
  f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
}

// A deterministic stream of plausible command groups: submits (accepted, sometimes a
// fill or two), cancels, holdings, halts, with a book-level event that the journal drops.
class GroupGenerator {
 public:
  explicit GroupGenerator(std::uint64_t seed) : rng_(seed) {}

  // Fills *cmd and *events for sequence number `seq`.
  void Make(Seq seq, Command* cmd, std::vector<Event>* events) {
    *cmd = Command{};
    events->clear();
    cmd->seq = seq;
    cmd->time = 1'700'000'000'000'000'000 + static_cast<TimeNs>(seq) * 1000;
    auto ev = [&](EventType t) -> Event& {
      events->push_back(Event{});
      Event& e = events->back();
      e.seq = seq;
      e.time = cmd->time;
      e.type = t;
      return e;
    };
    switch (rng_() % 5) {
      case 0:
      case 1: {
        cmd->type = CommandType::kSubmitOffer;
        SubmitOffer& s = cmd->submit;
        s.agency = rng_() % 8;
        s.pair = rng_() % 4;
        s.side = rng_() % 2 ? Side::kBuy : Side::kSell;
        s.tif = TimeInForce::kGtc;
        s.lots = 1 + rng_() % 100;
        s.price = 1000 + rng_() % 100;
        s.client_id = seq;
        Event& a = ev(EventType::kAccepted);
        a.accepted.offer = seq;
        a.accepted.agency = s.agency;
        a.accepted.pair = s.pair;
        a.accepted.side = s.side;
        a.accepted.tif = s.tif;
        a.accepted.lots = s.lots;
        a.accepted.price = s.price;
        a.accepted.client_id = s.client_id;
        for (std::uint64_t k = rng_() % 3; k > 0; --k) {
          Event& f = ev(EventType::kFill);
          f.fill.fill_id = ++fills_;
          f.fill.pair = s.pair;
          f.fill.aggressor_side = s.side;
          f.fill.maker_offer = seq > 1 ? seq - 1 : 1;
          f.fill.taker_offer = seq;
          f.fill.maker_agency = (s.agency + 1) % 8;
          f.fill.taker_agency = s.agency;
          f.fill.lots = 1;
          f.fill.price = s.price;
          f.fill.base_amount = 10;
          f.fill.quote_amount = s.price;
          f.fill.maker_open = static_cast<Lots>(rng_() % 10);
          f.fill.taker_open = s.lots - 1;
        }
        Event& b = ev(EventType::kBookLevel);
        b.book_level.pair = s.pair;
        b.book_level.side = s.side;
        b.book_level.price = s.price;
        b.book_level.lots = s.lots;
        b.book_level.offer_count = 1;
        break;
      }
      case 2: {
        cmd->type = CommandType::kCancelOffer;
        cmd->cancel.agency = rng_() % 8;
        cmd->cancel.offer = 1 + rng_() % seq;
        Event& c = ev(EventType::kCancelled);
        c.cancelled.offer = cmd->cancel.offer;
        c.cancelled.agency = cmd->cancel.agency;
        c.cancelled.reason = CancelReason::kRequested;
        c.cancelled.lots = 5;
        break;
      }
      case 3: {
        cmd->type = CommandType::kSetHoldings;
        cmd->set_holdings.agency = rng_() % 8;
        cmd->set_holdings.instrument = rng_() % 6;
        cmd->set_holdings.total = static_cast<Amount>(rng_() % 1'000'000);
        Event& h = ev(EventType::kHoldingsSet);
        h.holdings_set.agency = cmd->set_holdings.agency;
        h.holdings_set.instrument = cmd->set_holdings.instrument;
        h.holdings_set.available = cmd->set_holdings.total;
        break;
      }
      default: {
        cmd->type = CommandType::kAdvanceTime;
        break;  // no events
      }
    }
  }

 private:
  std::mt19937_64 rng_;
  std::uint64_t fills_ = 0;
};

// Lowers this process's file-size limit (RLIMIT_FSIZE) to `bytes`, so that a write beyond
// it fails with EFBIG (SIGXFSZ is ignored meanwhile): a disk that refuses writes, for
// fail-closed tests. Restore() (or the destructor) puts the limit and the signal back.
class ScopedFileSizeLimit {
 public:
  explicit ScopedFileSizeLimit(rlim_t bytes) {
    if (getrlimit(RLIMIT_FSIZE, &old_) != 0) return;
    old_handler_ = signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old_;
    small.rlim_cur = bytes;
    ok_ = setrlimit(RLIMIT_FSIZE, &small) == 0;
  }
  ~ScopedFileSizeLimit() { Restore(); }
  ScopedFileSizeLimit(const ScopedFileSizeLimit&) = delete;
  ScopedFileSizeLimit& operator=(const ScopedFileSizeLimit&) = delete;

  // Whether the limit is in force.
  bool ok() const { return ok_; }
  // Puts the old limit back; false if that failed.
  bool Restore() {
    if (!ok_) return true;
    ok_ = false;
    signal(SIGXFSZ, old_handler_);
    return setrlimit(RLIMIT_FSIZE, &old_) == 0;
  }

 private:
  struct rlimit old_ {};
  sighandler_t old_handler_ = SIG_DFL;
  bool ok_ = false;
};

}  // namespace msx::journal::testing

#endif  // MSX_ENGINE_JOURNAL_JOURNAL_TEST_UTIL_H_
