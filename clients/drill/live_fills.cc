#include "clients/drill/live_fills.h"

#include <algorithm>

namespace msx::drill {

void JournalDeliveryFills::Add(const std::vector<Event>& events, std::uint64_t events_read) {
  command_.clear();
  for (const Event& e : events) {
    if (e.type == EventType::kFill) {
      JournalFill f;
      f.offer[0] = e.fill.maker_offer;
      f.offer[1] = e.fill.taker_offer;
      f.agency[0] = e.fill.maker_agency;
      f.agency[1] = e.fill.taker_agency;
      f.lots = e.fill.lots;
      f.price = e.fill.price;
      for (int side = 0; side < 2; ++side) {
        const OfferId o = f.offer[side];
        if (o == 0 || o > events_read) continue;  // not an engine's id
        if (o >= offer_fills_.size()) offer_fills_.resize(o + 1, 0);
        f.nth[side] = offer_fills_[o]++;
      }
      command_.emplace_back(e.fill.fill_id, f);
    } else if (e.type == EventType::kDelivery && e.delivery.kind == DeliveryEventKind::kOpened) {
      // Its fill comes before it in the same command (ENGINE.md "Deliveries").
      for (const auto& [id, f] : command_) {
        if (id == e.delivery.fill_id) fills_[id] = f;
      }
    }
  }
}

const JournalFill* JournalDeliveryFills::Find(std::uint64_t fill_id) const {
  auto it = fills_.find(fill_id);
  return it == fills_.end() ? nullptr : &it->second;
}

LiveFillStream::LiveFillStream(msx::v1::Exchange::Stub* stub, const std::string& token) {
  ctx_.AddMetadata("authorization", "Bearer " + token);
  reader_ = stub->StreamExecutions(&ctx_, msx::v1::StreamExecutionsRequest());
  last_report_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] { Read(); });
}

LiveFillStream::~LiveFillStream() {
  ctx_.TryCancel();
  thread_.join();
}

std::optional<msx::v1::Fill> LiveFillStream::Find(std::uint64_t offer, std::size_t k,
                                                  std::chrono::milliseconds quiet) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (auto it = fills_.find(offer); it != fills_.end() && k < it->second.size()) {
      return it->second[k];
    }
    if (done_ || std::chrono::steady_clock::now() - std::max(start, last_report_) >= quiet) {
      return std::nullopt;
    }
    cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
}

void LiveFillStream::Read() {
  msx::v1::ExecutionReport report;
  while (reader_->Read(&report)) {
    std::lock_guard<std::mutex> lock(mu_);
    last_report_ = std::chrono::steady_clock::now();
    if (report.has_fill()) fills_[report.fill().offer_id()].push_back(report.fill());
    cv_.notify_all();
  }
  reader_->Finish();  // cancelled, or the server went away: Find gives up at once
  std::lock_guard<std::mutex> lock(mu_);
  done_ = true;
  cv_.notify_all();
}

}  // namespace msx::drill
