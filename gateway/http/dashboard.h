// Dashboard: the operators' live view behind GET /events (gateway/http/README.md).
//
// Where the data comes from: the same publication path as the gRPC streams. While at
// least one browser is connected, the dashboard subscribes to every pair of the BookHub
// (a snapshot query on the sequencer thread at seq L, then the book updates with seq > L:
// levels, trades, halts; exactly as StreamBook) and to every agency of the ExecHub (fills).
// Holdings, open offers, obligations and each pair's emergency level and live band are
// read by a query on the sequencer thread twice a second.
// With no browser connected nothing is subscribed and the sequencer builds no extra
// messages.
//
// Coalescing: the hubs hand messages to an inbox (a vector under a mutex, bounded; past
// the bound it is dropped and the books are subscribed again from a fresh snapshot). The
// HTTP thread drains it every tick into the current state, made of sections (the status,
// one per pair, one per agency), each with a version; a busy pair's or agency's section
// is rebuilt at most every kPairSectionEveryNs / kAgencySectionEveryNs. A client holds only the versions it
// was sent (ClientCursor): when its previous write has finished, it is sent the sections
// that changed since, in their latest form. A slow browser therefore costs one message
// buffer, never a queue: what it missed while its socket was full is replaced by the
// newest state.
//
// Thread-safety: everything runs on the HTTP thread (the io_context's), except the sinks
// and query Works, which only touch the inbox and mailboxes under their own mutexes.
#ifndef MSX_GATEWAY_HTTP_DASHBOARD_H_
#define MSX_GATEWAY_HTTP_DASHBOARD_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/matching/reference_data.h"
#include "gateway/auth.h"
#include "gateway/hubs.h"
#include "gateway/reports.h"
#include "gateway/sequencer.h"

namespace msx::gateway::http {

// Which versions of the dashboard's sections one client has been sent. The state the
// server keeps per client: O(sections), whatever the traffic.
class ClientCursor {
 public:
  explicit ClientCursor(std::size_t sections) : sent_(sections, 0) {}
  // Whether `section` at `version` is newer than what this client has (and marks it sent).
  bool Take(std::size_t section, std::uint64_t version) {
    if (sent_[section] >= version) return false;
    sent_[section] = version;
    return true;
  }
  std::size_t sections() const { return sent_.size(); }

 private:
  std::vector<std::uint64_t> sent_;
};

// What the status section shows that the dashboard cannot see itself.
struct StatusSource {
  // Returns the status fields as a JSON object's members (no braces), e.g.
  // "\"last_seq\":12,...". Called on the HTTP thread once per tick.
  std::function<std::string()> status_json;
};

class Dashboard {
 public:
  static constexpr std::size_t kLadderLevels = 10;   // per side, shown
  static constexpr std::size_t kTrades = 20;         // last trades per pair
  static constexpr std::size_t kFills = 50;          // last fills per agency
  static constexpr std::size_t kOffers = 50;         // open offers listed per agency
  static constexpr std::size_t kObligations = 50;    // open/overdue obligations per agency
  static constexpr std::size_t kMaxInbox = 1 << 16;  // hub messages between two ticks
  // A pair's or an agency's section is built again at most this often, however busy it
  // is (the status every tick). Under load every book and agency changes at every tick,
  // and each is sent whole to every browser that may see it: this bounds the bytes per
  // browser (and the HTTP thread's writes) by the number of sections, not the traffic. A
  // new trade still shows within a pair interval plus a tick.
  static constexpr std::int64_t kPairSectionEveryNs = 250'000'000;
  static constexpr std::int64_t kAgencySectionEveryNs = 500'000'000;  // holdings: 2 Hz too

  // REQUIRES: everything outlives the dashboard.
  Dashboard(const ReferenceData& ref, Sequencer* sequencer, const Reports* reports,
            ExecHub* exec_hub, BookHub* book_hub, StatusSource status);
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // A browser connected (or left). The first one subscribes, the last one unsubscribes.
  void AddClient();
  void RemoveClient();
  int clients() const { return clients_; }

  // HTTP thread, every tick: drains the inbox and the query results into the sections,
  // and starts the periodic holdings query.
  void Tick(std::int64_t now_ns);

  // The SSE message a client with `cursor` should get now (empty: nothing new): every
  // section that changed since, as `event: <kind>\ndata: <json>\n\n`. `caller` decides
  // which agency sections it may see (its own; all for the admin).
  std::string NextMessage(const Caller& caller, ClientCursor* cursor) const;
  // The first message of a stream: who the caller is, the pairs and agencies it will see.
  std::string HelloMessage(const Caller& caller) const;
  std::size_t sections() const { return sections_.size(); }

  // For metrics and tests.
  std::uint64_t resubscriptions() const { return resubscriptions_; }
  std::uint64_t inbox_overflows() const { return inbox_overflows_; }

  // Implementation (dashboard.cc): the hub subscription and the holdings query.
  struct Subscription;
  struct AgencyQuery;

 private:
  struct Level {
    std::int64_t lots = 0;
    std::int32_t offers = 0;
  };
  struct Trade {
    std::uint64_t seq = 0;
    std::int64_t time_ns = 0;
    std::int64_t price = 0;
    std::int64_t lots = 0;
    int side = 0;  // v1::Side of the aggressor
  };
  struct PairState {
    std::map<std::int64_t, Level, std::greater<>> bids;
    std::map<std::int64_t, Level> asks;
    std::deque<Trade> trades;
    bool halted = false;
    std::uint64_t seq = 0;
    // The pair's emergency level (the more severe of its instruments') and its live price
    // band, as the periodic query last read them from the engine.
    std::string level = "NORMAL";
    PairBand band;
    bool dirty = true;
    std::int64_t built_ns = 0;  // when its section was last built (Tick's clock)
  };
  struct AgencyState {
    std::string holdings_json = "[]";
    std::string offers_json = "[]";
    std::int64_t open_offers = 0;
    std::string obligations_json = "[]";
    std::deque<std::string> fills;  // JSON objects, newest last
    bool dirty = true;
    std::int64_t built_ns = 0;
  };
  struct Section {
    std::uint64_t version = 0;
    std::string message;  // "event: ...\ndata: ...\n\n"
  };

  void Subscribe();
  void Unsubscribe();
  void ApplyBookUpdate(std::size_t pair, const v1::BookUpdate& u);
  void SetSection(std::size_t index, const std::string& kind, const std::string& json);
  std::string PairJson(std::size_t pair) const;
  std::string AgencyJson(std::size_t agency) const;

  const ReferenceData& ref_;
  Sequencer* const sequencer_;
  const Reports* const reports_;
  ExecHub* const exec_hub_;
  BookHub* const book_hub_;
  StatusSource status_;
  int clients_ = 0;
  std::shared_ptr<Subscription> subscription_;
  std::shared_ptr<AgencyQuery> agency_query_;  // in flight, or null
  std::int64_t last_agency_query_ns_ = 0;
  std::vector<PairState> pairs_;
  std::vector<AgencyState> agencies_;
  // sections_[0] = status, [1 .. pairs] = pairs, then the agencies.
  std::vector<Section> sections_;
  std::uint64_t version_ = 0;
  std::uint64_t resubscriptions_ = 0;
  std::uint64_t inbox_overflows_ = 0;
};

}  // namespace msx::gateway::http

#endif  // MSX_GATEWAY_HTTP_DASHBOARD_H_
