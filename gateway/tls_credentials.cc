#include "gateway/tls_credentials.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace msx::gateway {

namespace {

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const v1::TlsConfig& tls) {
  if (tls.cert_file().empty()) return grpc::InsecureServerCredentials();
  // Errors name the configuration field and the file. A file without the expected PEM block
  // is refused here: gRPC would only fail when binding the port, with a message that names
  // neither ("cannot listen on ...").
  auto read_pem = [](absl::string_view field, const std::string& path,
                     absl::string_view label) -> absl::StatusOr<std::string> {
    absl::StatusOr<std::string> pem = ReadText(path);
    if (!pem.ok()) {
      return absl::Status(pem.status().code(),
                          absl::StrCat("server.tls.", field, ": ", pem.status().message()));
    }
    if (pem->find("-----BEGIN ") == std::string::npos ||
        pem->find(absl::StrCat(label, "-----")) == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("server.tls.", field, ": ", path, ": no PEM ", label, " block"));
    }
    return pem;
  };
  grpc::SslServerCredentialsOptions opts;
  absl::StatusOr<std::string> cert = read_pem("cert_file", tls.cert_file(), "CERTIFICATE");
  if (!cert.ok()) return cert.status();
  // "PRIVATE KEY-----" also ends "EC PRIVATE KEY-----" and "RSA PRIVATE KEY-----".
  absl::StatusOr<std::string> key = read_pem("key_file", tls.key_file(), "PRIVATE KEY");
  if (!key.ok()) return key.status();
  opts.pem_key_cert_pairs.push_back({*key, *cert});
  if (!tls.client_ca_file().empty()) {
    absl::StatusOr<std::string> ca =
        read_pem("client_ca_file", tls.client_ca_file(), "CERTIFICATE");
    if (!ca.ok()) return ca.status();
    opts.pem_root_certs = *ca;
    opts.client_certificate_request =
        tls.require_client_cert() ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                  : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  } else if (tls.require_client_cert()) {
    return absl::InvalidArgumentError("server.tls.client_ca_file: required for mutual TLS");
  }
  return grpc::SslServerCredentials(opts);
}

}  // namespace msx::gateway
