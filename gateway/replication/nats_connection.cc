#include "gateway/replication/nats_connection.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gateway/replication/internal/nats_util.h"

namespace msx::replication {

using internal::OptionsPtr;
using internal::ToStatus;

std::vector<std::string> SplitServerList(const std::string& list) {
  std::vector<std::string> urls;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) urls.emplace_back(part);
  }
  return urls;
}

absl::StatusOr<std::unique_ptr<NatsConnection>> NatsConnection::Connect(
    const ConnectionOptions& options, const jsOptions* js_options) {
  if (options.servers.empty()) {
    return absl::InvalidArgumentError("replication: no NATS server URL given");
  }
  natsOptions* raw_opts = nullptr;
  natsStatus s = natsOptions_Create(&raw_opts);
  if (s != NATS_OK) return ToStatus(s, "nats options");
  OptionsPtr opts(raw_opts);

  std::vector<const char*> urls;
  for (const auto& u : options.servers) urls.push_back(u.c_str());
  s = natsOptions_SetServers(opts.get(), urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetName(opts.get(), options.name.c_str());
  // Never give up reconnecting: a standby or primary outlives any one NATS server.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.get(), -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts.get(), options.reconnect_wait.count());
  if (s == NATS_OK) s = natsOptions_SetReconnectJitter(opts.get(), 0, 0);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts.get(), options.connect_timeout.count());
  if (s == NATS_OK) s = natsOptions_SetPingInterval(opts.get(), options.ping_interval.count());
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts.get(), 2);
  if (s == NATS_OK) s = natsOptions_SetSendAsap(opts.get(), options.send_asap);
  if (s == NATS_OK) s = natsOptions_SetNoRandomize(opts.get(), options.no_randomize);
  // Requests in flight when the connection drops fail at once (UNAVAILABLE) instead of
  // waiting out their timeout; callers retry on the new connection.
  if (s == NATS_OK) s = natsOptions_SetFailRequestsOnDisconnect(opts.get(), true);
  if (s != NATS_OK) return ToStatus(s, "nats options");

  natsConnection* conn = nullptr;
  s = natsConnection_Connect(&conn, opts.get());
  if (s != NATS_OK) {
    return ToStatus(s, absl::StrCat("connect to NATS [", absl::StrJoin(options.servers, ","), "]"));
  }
  jsOptions jo;
  if (js_options != nullptr) {
    jo = *js_options;
  } else {
    jsOptions_Init(&jo);
  }
  if (jo.Wait == 0) jo.Wait = options.api_timeout.count();
  jsCtx* js = nullptr;
  s = natsConnection_JetStream(&js, conn, &jo);
  if (s != NATS_OK) {
    absl::Status status = ToStatus(s, "JetStream context");
    natsConnection_Destroy(conn);
    return status;
  }
  return std::unique_ptr<NatsConnection>(new NatsConnection(options, conn, js));
}

NatsConnection::~NatsConnection() {
  jsCtx_Destroy(js_);
  natsConnection_Close(conn_);
  natsConnection_Destroy(conn_);
}

std::string NatsConnection::ConnectedUrl() const {
  char buf[256] = {0};
  if (natsConnection_GetConnectedUrl(conn_, buf, sizeof(buf)) != NATS_OK) return "";
  return buf;
}

}  // namespace msx::replication
