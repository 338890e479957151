#include "gateway/replication/internal/nats_util.h"

#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace msx::replication::internal {

std::string LastErrorText(natsStatus s) {
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  if (text != nullptr && *text != '\0') return text;
  return natsStatus_GetText(s);
}

bool IsTransient(natsStatus s) {
  switch (s) {
    case NATS_TIMEOUT:
    case NATS_NO_RESPONDERS:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_STALE_CONNECTION:
    case NATS_IO_ERROR:
      return true;
    default:
      return false;
  }
}

bool IsTransientJetStream(jsErrCode js_err) {
  switch (js_err) {
    case JSClusterNoPeersErr:
    case JSClusterNotAvailErr:
    case JSClusterNotLeaderErr:
    case JSInsufficientResourcesErr:
      return true;
    default:
      return false;
  }
}

absl::Status RetryWhileUnavailable(std::chrono::milliseconds budget,
                                   absl::FunctionRef<absl::Status()> attempt) {
  constexpr std::chrono::milliseconds kPause{100};
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (;;) {
    absl::Status status = attempt();
    if (!absl::IsUnavailable(status) || std::chrono::steady_clock::now() + kPause >= deadline) {
      return status;
    }
    std::this_thread::sleep_for(kPause);
  }
}

absl::Status ToStatus(natsStatus s, jsErrCode js_err, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ", LastErrorText(s));
  if (js_err != 0) absl::StrAppend(&message, " (JetStream error ", static_cast<int>(js_err), ")");
  if (IsTransient(s) || IsTransientJetStream(js_err)) return absl::UnavailableError(message);
  if (s == NATS_NOT_FOUND) return absl::NotFoundError(message);
  if (s == NATS_INVALID_ARG) return absl::InvalidArgumentError(message);
  return absl::InternalError(message);
}

bool ParseWrongLastSequence(absl::string_view text, uint64_t* actual) {
  constexpr absl::string_view kMarker = "wrong last sequence: ";
  size_t at = text.find(kMarker);
  if (at == absl::string_view::npos) return false;
  absl::string_view rest = text.substr(at + kMarker.size());
  size_t end = 0;
  while (end < rest.size() && rest[end] >= '0' && rest[end] <= '9') ++end;
  return end > 0 && absl::SimpleAtoi(rest.substr(0, end), actual);
}

}  // namespace msx::replication::internal
