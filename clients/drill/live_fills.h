// Live replay (live.h): which live fill is a journal's fill, for fills no response of the
// replay reports (an allocation auction the live server ran on its own tick), so that a
// journaled ConfirmDelivery goes to the live delivery of the same fill.
//
// - JournalDeliveryFills remembers, of the journal's fills that opened deliveries, their
//   two offers and agencies, lots and price, and their place among the fills of each offer
//   (the k-th, from 0). Memory: one entry per such fill, 4 bytes per journal offer.
// - LiveFillStream reads one agency's execution stream (StreamExecutions from the start)
//   on a thread of its own and keeps its fills by the agency's live offer, in stream order:
//   the k-th fill of the live offer of the same journal offer is the candidate (live.cc
//   checks counterparty, lots and price).
//
// Thread-safety: JournalDeliveryFills is used by one thread. LiveFillStream's Find may be
// called from one thread while its own thread reads; the destructor cancels the stream and
// joins that thread.
#ifndef MSX_CLIENTS_DRILL_LIVE_FILLS_H_
#define MSX_CLIENTS_DRILL_LIVE_FILLS_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/matching/event.h"
#include "engine/matching/types.h"
#include "msx/v1/exchange.grpc.pb.h"

namespace msx::drill {

// A journal fill that opened deliveries. Index 0 = the maker (an auction's sell), 1 = the
// taker (an auction's buy).
struct JournalFill {
  OfferId offer[2] = {0, 0};
  AgencyId agency[2] = {0, 0};
  std::uint32_t nth[2] = {0, 0};  // its place among the fills of offer[i], from 0
  Lots lots = 0;
  Price price = 0;
};

class JournalDeliveryFills {
 public:
  // The events of the next journal command, in order; `events_read` = every event read so
  // far, this command's included (no id made by an event can exceed it).
  void Add(const std::vector<Event>& events, std::uint64_t events_read);
  // The fill with this journal id if it opened deliveries; nullptr otherwise.
  const JournalFill* Find(std::uint64_t fill_id) const;

 private:
  std::map<std::uint64_t, JournalFill> fills_;  // by journal fill id
  std::vector<std::uint32_t> offer_fills_;      // fills so far, by journal offer id
  std::vector<std::pair<std::uint64_t, JournalFill>> command_;  // the command's fills
};

class LiveFillStream {
 public:
  // Opens `token`'s execution stream from the start. REQUIRES: `stub` outlives this.
  LiveFillStream(msx::v1::Exchange::Stub* stub, const std::string& token);
  LiveFillStream(const LiveFillStream&) = delete;
  LiveFillStream& operator=(const LiveFillStream&) = delete;
  ~LiveFillStream();

  // The k-th fill (from 0) of live offer `offer` on the stream. Waits while the stream
  // still brings reports (it replays the agency's history first); nullopt once it has been
  // quiet for `quiet` (the fill has not happened live, or never will), or has ended.
  std::optional<msx::v1::Fill> Find(
      std::uint64_t offer, std::size_t k,
      std::chrono::milliseconds quiet = std::chrono::milliseconds(300));

 private:
  void Read();

  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<msx::v1::ExecutionReport>> reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::uint64_t, std::vector<msx::v1::Fill>> fills_;  // guarded by mu_
  std::chrono::steady_clock::time_point last_report_;          // guarded by mu_
  bool done_ = false;                                          // guarded by mu_
  std::thread thread_;  // last: started once everything it uses exists
};

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_LIVE_FILLS_H_
