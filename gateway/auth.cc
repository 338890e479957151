#include "gateway/auth.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace msx::gateway {

absl::StatusOr<TokenTable> TokenTable::Build(const v1::ExchangeConfig& config,
                                             const ReferenceData& ref) {
  TokenTable table;
  for (const v1::AgencyConfig& a : config.agencies()) {
    std::optional<AgencyId> id = ref.FindAgency(a.id());
    if (!id) return absl::InvalidArgumentError(absl::StrCat("agencies: unknown id ", a.id()));
    for (const std::string& token : a.tokens()) {
      if (token.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("agencies[", a.id(), "].tokens: empty token"));
      }
      Caller caller{*id, a.role() == v1::ROLE_ADMIN};
      if (!table.by_token_.emplace(token, caller).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("agencies[", a.id(), "].tokens: token used by two agencies"));
      }
    }
  }
  return table;
}

absl::StatusOr<Caller> TokenTable::AuthenticateHeader(absl::string_view header) const {
  header = absl::StripAsciiWhitespace(header);
  constexpr absl::string_view kBearer = "bearer ";
  if (header.size() <= kBearer.size() || !absl::StartsWithIgnoreCase(header, kBearer)) {
    return absl::UnauthenticatedError(
        "authorization: expected metadata \"authorization: Bearer <token>\"");
  }
  absl::string_view token = absl::StripAsciiWhitespace(header.substr(kBearer.size()));
  auto it = by_token_.find(token);
  if (it == by_token_.end()) return absl::UnauthenticatedError("authorization: unknown token");
  return it->second;
}

absl::StatusOr<Caller> TokenTable::Authenticate(const grpc::CallbackServerContext& ctx) const {
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return absl::UnauthenticatedError(
        "authorization: missing; send metadata \"authorization: Bearer <token>\"");
  }
  return AuthenticateHeader(absl::string_view(it->second.data(), it->second.size()));
}

std::string TokenTable::AnyTokenOf(AgencyId agency) const {
  std::string best;
  for (const auto& [token, caller] : by_token_) {
    if (caller.agency == agency && (best.empty() || token < best)) best = token;
  }
  return best;
}

}  // namespace msx::gateway
