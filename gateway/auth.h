// Bearer-token authentication: the configuration maps tokens to agencies.
//
// Every call carries `authorization: Bearer <token>` metadata. A missing or unknown token
// is UNAUTHENTICATED; the table never reveals which agencies exist.
//
// Thread-safety: immutable after Build; safe from any thread.
#ifndef MSX_GATEWAY_AUTH_H_
#define MSX_GATEWAY_AUTH_H_

#include <string>

#include <grpcpp/server_context.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/reference_data.h"
#include "engine/types.h"
#include "msx/v1/config.pb.h"

namespace msx::gateway {

struct Caller {
  AgencyId agency = 0;
  bool admin = false;
};

class TokenTable {
 public:
  // Fails with InvalidArgument naming the agency when a token is empty or used twice.
  static absl::StatusOr<TokenTable> Build(const v1::ExchangeConfig& config,
                                          const ReferenceData& ref);

  // Looks up the `authorization` metadata of a call: UNAUTHENTICATED when it is missing,
  // not of the form "Bearer <token>", or the token is unknown.
  absl::StatusOr<Caller> Authenticate(const grpc::CallbackServerContext& ctx) const;
  // The same for a header value (tests, tools).
  absl::StatusOr<Caller> AuthenticateHeader(absl::string_view header) const;

  // Some token of `agency` (for the start-up banner), or "" if it has none.
  std::string AnyTokenOf(AgencyId agency) const;

 private:
  absl::flat_hash_map<std::string, Caller> by_token_;
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_AUTH_H_
