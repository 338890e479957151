#include "clients/msx/call.h"

#include <chrono>

#include <google/protobuf/util/json_util.h>

namespace msx::cli {

void PrepareContext(const ConnectionOptions& c, bool stream, grpc::ClientContext* ctx) {
  if (!c.token.empty()) ctx->AddMetadata("authorization", "Bearer " + c.token);
  std::int64_t ms = c.deadline_ms;
  if (ms == 0 && !stream) ms = kDefaultUnaryDeadlineMs;
  if (ms > 0) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
  }
}

int FailCall(const grpc::Status& s, std::ostream& err, const std::string& suffix) {
  std::string message = s.error_message();
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';  // the error stays on one line
  }
  err << "msx: " << GrpcCodeName(s.error_code()) << ": " << message << suffix << std::endl;
  return ExitCodeFor(s.error_code());
}

void PrintJson(const google::protobuf::Message& m, std::ostream& out) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  std::string json;
  auto st = google::protobuf::util::MessageToJsonString(m, &json, opts);
  if (!st.ok()) json = "{\"error\":\"cannot print message\"}";
  out << json << "\n" << std::flush;
}

}  // namespace msx::cli
