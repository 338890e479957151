#include "gateway/replication_node.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "gateway/replication/internal/nats_util.h"

// The replication section of the configuration (server.replication, proto field 50) turned
// into ReplicationOptions, with errors naming the field; and the role names the status call,
// /metrics and the dashboard share. Kept apart from replication_node.cc, which runs the node.

namespace msx::gateway {

const char* RoleName(ReplicationRole role) {
  switch (role) {
    case ReplicationRole::kStandby:
      return "standby";
    case ReplicationRole::kTakingOver:
      return "taking-over";
    case ReplicationRole::kPrimary:
      return "primary";
    case ReplicationRole::kFailed:
      return "failed";
  }
  return "?";
}

absl::StatusOr<ReplicationOptions> ReplicationOptionsFromConfig(const v1::ReplicationConfig& c) {
  ReplicationOptions o;
  for (const std::string& s : c.servers()) {
    for (std::string& url : replication::SplitServerList(s)) o.servers.push_back(url);
  }
  o.standby = c.standby();
  o.node_id = c.node_id();
  o.advertise = c.advertise();
  if (c.lease_ttl_ms() < 0 || (c.lease_ttl_ms() != 0 && c.lease_ttl_ms() < 100) ||
      c.lease_ttl_ms() > 60000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server.replication.lease_ttl_ms: ", c.lease_ttl_ms(), " is not in 100..60000"));
  }
  if (c.lease_ttl_ms() != 0) o.lease_ttl = std::chrono::milliseconds(c.lease_ttl_ms());
  o.lease_renew = o.lease_ttl / 5;
  if (c.lease_renew_ms() < 0 || c.lease_renew_ms() * 2 > o.lease_ttl.count()) {
    return absl::InvalidArgumentError(
        absl::StrCat("server.replication.lease_renew_ms: ", c.lease_renew_ms(),
                     " must be at most half of lease_ttl_ms (", o.lease_ttl.count(), ")"));
  }
  if (c.lease_renew_ms() != 0) o.lease_renew = std::chrono::milliseconds(c.lease_renew_ms());
  if (c.publish_timeout_ms() < 0) {
    return absl::InvalidArgumentError("server.replication.publish_timeout_ms: negative");
  }
  if (c.publish_timeout_ms() != 0) {
    o.publish_timeout = std::chrono::milliseconds(c.publish_timeout_ms());
  }
  if (!c.stream().empty()) o.stream = c.stream();
  if (!c.subject().empty()) o.subject = c.subject();
  if (!c.bucket().empty()) o.bucket = c.bucket();
  if (c.replicas() < 0 || c.replicas() > 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("server.replication.replicas: ", c.replicas(), " is not in 1..5"));
  }
  if (c.replicas() != 0) o.replicas = c.replicas();
  if (c.digest_every_commands() != 0) {
    o.digest_every_commands =
        c.digest_every_commands() < 0 ? 0 : static_cast<std::uint64_t>(c.digest_every_commands());
  }
  if (c.digest_interval_ms() != 0) {
    o.digest_interval = std::chrono::milliseconds(std::max<std::int64_t>(0, c.digest_interval_ms()));
  }
  return o;
}

}  // namespace msx::gateway
