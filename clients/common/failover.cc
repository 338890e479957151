#include "clients/common/failover.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace msx::clients {

std::vector<std::string> SplitServerList(absl::string_view list) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

std::string ChooseServerList(const std::string& flag, const char* env_value,
                             const std::string& fallback) {
  if (!flag.empty()) return flag;
  if (env_value != nullptr && env_value[0] != '\0') return env_value;
  return fallback;
}

ServerFailover::ServerFailover(std::vector<std::string> servers, FailoverPolicy policy)
    : servers_(std::move(servers)), policy_(policy) {}

ServerFailover::Attempt ServerFailover::Start() const {
  Attempt a;
  a.index = current();
  a.not_before = Clock::now();
  return a;
}

bool ServerFailover::OnUnavailable(Attempt* a) {
  const Clock::time_point now = Clock::now();
  if (a->unavailable++ == 0) a->first_unavailable = now;
  if (servers_.size() < 2 || now - a->first_unavailable >= policy_.window) return false;
  const std::size_t failed = a->index;
  a->index = (failed + 1) % servers_.size();
  // Others follow unless someone already moved on (to a server found willing, perhaps).
  std::size_t expected = failed;
  current_.compare_exchange_strong(expected, a->index, std::memory_order_acq_rel);
  failovers_.fetch_add(1, std::memory_order_relaxed);
  // A full turn found nobody willing (a takeover in progress): wait a little.
  a->not_before = a->unavailable % servers_.size() == 0 ? now + policy_.pause : now;
  return true;
}

void ServerFailover::OnAnswered(const Attempt& a) {
  current_.store(a.index, std::memory_order_release);
}

}  // namespace msx::clients
