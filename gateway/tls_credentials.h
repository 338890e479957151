// The gRPC server credentials of a `server.tls` section (config.proto): plaintext when it
// names no certificate, TLS otherwise, mutual TLS with a client CA.
#ifndef MSX_GATEWAY_TLS_CREDENTIALS_H_
#define MSX_GATEWAY_TLS_CREDENTIALS_H_

#include <memory>

#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "msx/v1/config.pb.h"

namespace msx::gateway {

// Reads the PEM files `tls` names. Errors name the configuration field and the file:
// NotFoundError for a file that cannot be read, InvalidArgumentError for a file without the
// expected PEM block (gRPC itself would only fail later, binding the port, naming neither)
// or require_client_cert without client_ca_file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const v1::TlsConfig& tls);

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_TLS_CREDENTIALS_H_
