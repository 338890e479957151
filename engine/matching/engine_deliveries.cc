// Deliveries (ENGINE.md "Deliveries"; issue 15 s.3): Engine::Impl's side of the delivery
// ledger (internal/deliveries.h). Apply calls OpenDeliveries after a command only while
// some pair is at WARNING or SERIOUS (any_deliver_by_), so the continuous hot path at the
// lower levels never looks at a fill twice and allocates nothing for it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "engine/matching/engine.h"
#include "engine/matching/internal/engine_impl.h"
#include "engine/matching/reference_data_builder.h"

namespace msx {

void Engine::Impl::RecountDeliverBy() noexcept {
  any_deliver_by_ = std::any_of(books_.begin(), books_.end(), [](const Book& b) {
    return (b.guard & internal::kGuardDeliverBy) != 0;
  });
}

std::optional<std::uint32_t> Engine::Impl::GoverningAgreement(PairId pair, AgencyId a,
                                                              AgencyId b) const {
  const PairBook& pb = ref_.pairs()[pair];
  const MineralId base = ref_.instruments()[pb.base].mineral;
  const MineralId quote = ref_.instruments()[pb.quote].mineral;
  const AgencyMask both = (AgencyMask{1} << a) | (AgencyMask{1} << b);
  const std::vector<Agreement>& agreements = ref_.agreements();
  for (std::uint32_t g = 0; g < agreements.size(); ++g) {
    if ((members_[g] & both) != both) continue;
    const std::vector<MineralId>& m = agreements[g].minerals;
    const bool covers = m.empty() || (std::find(m.begin(), m.end(), base) != m.end() &&
                                      std::find(m.begin(), m.end(), quote) != m.end());
    if (covers) return g;
  }
  return std::nullopt;
}

void Engine::Impl::OpenDeliveries(const Command& cmd, std::size_t first,
                                  std::vector<Event>* out) {
  const std::size_t end = out->size();
  for (std::size_t i = first; i < end; ++i) {
    if ((*out)[i].type != EventType::kFill) continue;
    const FillEvent f = (*out)[i].fill;  // a copy: Open appends to *out
    const Book& b = books_[f.pair];
    if ((b.guard & internal::kGuardDeliverBy) == 0) continue;
    const bool taker_buys = f.aggressor_side == Side::kBuy;
    const AgencyId seller = taker_buys ? f.maker_agency : f.taker_agency;
    const AgencyId buyer = taker_buys ? f.taker_agency : f.maker_agency;
    // A fill needs an eligible pair of agencies, so some agreement governs it; should the
    // table ever disagree, the default window applies under "no agreement" (the count).
    const std::optional<std::uint32_t> g = GoverningAgreement(f.pair, seller, buyer);
    const std::uint32_t agreement =
        g.value_or(static_cast<std::uint32_t>(ref_.agreements().size()));
    const TimeNs window = g ? ref_.agreements()[*g].delivery_window
                            : TimeNs{kDefaultDeliveryWindowDays} * kNsPerDay;
    TimeNs deliver_by;
    if (__builtin_add_overflow(cmd.time, window, &deliver_by)) {
      deliver_by = std::numeric_limits<TimeNs>::max() - 1;  // never overdue
    }
    deliveries_.Open(cmd, f.fill_id, f.pair, b.base, seller, buyer, agreement, f.base_amount,
                     deliver_by, out);
    deliveries_.Open(cmd, f.fill_id, f.pair, b.quote, buyer, seller, agreement,
                     f.quote_amount, deliver_by, out);
  }
}

void Engine::Impl::ConfirmDeliveryCmd(const Command& cmd, std::vector<Event>* out) {
  const ConfirmDelivery& c = cmd.confirm_delivery;
  if (c.agency >= ref_.agencies().size()) {
    return Reject(cmd, RejectReason::kUnknownAgency, c.agency, c.delivery, 0, out);
  }
  const bool admin = ref_.agencies()[c.agency].role == Role::kAdmin;
  const RejectReason r = deliveries_.Confirm(cmd, c.agency, admin, c.delivery, out);
  if (r != RejectReason::kNone) Reject(cmd, r, c.agency, c.delivery, 0, out);
}

std::optional<DeliveryInfo> Engine::GetDelivery(DeliveryId id) const {
  return impl_->deliveries().Get(id);
}

std::vector<DeliveryInfo> Engine::ListDeliveries(std::optional<AgencyId> agency) const {
  return impl_->deliveries().List(agency);
}

}  // namespace msx
