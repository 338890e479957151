// Bearer-token authentication: the configuration maps token digests to agencies, and
// (with mutual TLS) client-certificate identities to agencies.
//
// Every call carries `authorization: Bearer <token>` metadata. The server keeps only the
// SHA-256 digest of each token: a presented token is hashed, looked up by digest and the
// digests compared with CRYPTO_memcmp (constant time). A missing or unknown token is
// UNAUTHENTICATED; the table never reveals which agencies exist. A call whose verified
// client certificate belongs to another agency than its token (AgencyConfig.cert_names),
// or that lacks its agency's certificate when the agency lists some, is PERMISSION_DENIED.
//
// Where it runs: every handler calls Authenticate (unary_service.cc, the stream
// reactors), the one function that decides. Not a grpc::AuthMetadataProcessor, because on
// gRPC 1.51 (1) plaintext servers cannot have one
// (InsecureServerCredentials::SetAuthMetadataProcessor is unsupported:
// grpc/grpc#24278), and (2) on TLS servers the processor is handed the connection's
// AuthContext, shared by every call on that connection (src/core/.../server_auth_filter.cc
// passes the channel's auth_context), so a property it adds for one call's token is seen
// by every later call on the connection: it cannot carry a per-call identity, only refuse
// calls, and the handler would still have to derive the agency again.
//
// Plaintext `tokens` are accepted from the embedded demo configuration (public demo
// credentials, printed in the banner) or, with Policy::allow_plaintext, from a file, where
// each must be strong (CheckTokenStrength). Digests cannot be checked for strength; the
// tool that makes them (msx-server --new-token / --hash-token) does.
//
// Thread-safety: immutable after Build; safe from any thread.
#ifndef MSX_GATEWAY_AUTH_H_
#define MSX_GATEWAY_AUTH_H_

#include <string>
#include <utility>
#include <vector>

#include <grpcpp/security/auth_context.h>
#include <grpcpp/server_context.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/matching/reference_data.h"
#include "engine/matching/types.h"
#include "msx/v1/config.pb.h"

namespace msx::gateway {

struct Caller {
  AgencyId agency = 0;
  bool admin = false;
};

// SHA-256 of `token`, 64 lower-case hex digits (the AgencyConfig.token_sha256 format).
std::string TokenSha256Hex(absl::string_view token);
// OK, or InvalidArgument saying why `token` is too weak to be a bearer token: under about
// 128 bits (fewer than 32 hex or 22 base64 characters), one character class only, or
// fewer than 8 distinct characters. The message names no field; callers prefix it.
absl::Status CheckTokenStrength(absl::string_view token);
// A fresh random token: 32 bytes from the OS CSPRNG (RAND_bytes), base64url, 43 characters.
absl::StatusOr<std::string> NewToken();

class TokenTable {
 public:
  struct Policy {
    // Plaintext AgencyConfig.tokens are accepted (else refused, naming the field).
    bool allow_plaintext = false;
    // Plaintext tokens must pass CheckTokenStrength (off for the embedded demo tokens).
    bool check_strength = true;
  };

  // Fails with InvalidArgument naming the agency and field ("agencies[0] (KOMIR).
  // token_sha256[1]: ...") when a digest is not 64 hex digits, a token is empty, weak or
  // not allowed, a token or certificate name is used by two agencies.
  static absl::StatusOr<TokenTable> Build(const v1::ExchangeConfig& config,
                                          const ReferenceData& ref, const Policy& policy);

  // Authenticates a call from its `authorization` metadata and, with TLS, the client
  // certificate of its connection: UNAUTHENTICATED when the token is missing, malformed
  // or unknown; PERMISSION_DENIED when the certificate does not belong to the token's
  // agency (see the file comment).
  absl::StatusOr<Caller> Authenticate(const grpc::CallbackServerContext& ctx) const;
  // The same for a header value and the connection's certificate identities (subject
  // alternative names and common name; empty = no client certificate).
  absl::StatusOr<Caller> AuthenticateHeader(absl::string_view header,
                                            const std::vector<std::string>& cert_names) const;

  // Plaintext tokens (agency, token), in configuration order: for the demo banner.
  const std::vector<std::pair<AgencyId, std::string>>& plaintext_tokens() const {
    return plaintext_;
  }
  std::size_t digest_count() const { return by_digest_.size(); }

 private:
  absl::flat_hash_map<std::string, Caller> by_digest_;  // raw 32-byte SHA-256 -> caller
  absl::flat_hash_map<std::string, AgencyId> cert_owner_;
  std::vector<bool> has_cert_names_;  // by agency id
  std::vector<std::pair<AgencyId, std::string>> plaintext_;
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_AUTH_H_
