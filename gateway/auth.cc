#include "gateway/auth.h"

#include <grpc/grpc_security_constants.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace msx::gateway {
namespace {

std::string Sha256(absl::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

absl::Status Bad(int index, const v1::AgencyConfig& a, absl::string_view field,
                 absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("agencies[", index, "] (", a.id(), ").", field, ": ", what));
}

}  // namespace

std::string TokenSha256Hex(absl::string_view token) {
  return absl::BytesToHexString(Sha256(token));
}

absl::Status CheckTokenStrength(absl::string_view token) {
  bool lower = false, upper = false, digit = false, other = false, hex_only = true;
  absl::flat_hash_set<char> distinct;
  for (char c : token) {
    distinct.insert(c);
    if (absl::ascii_islower(c)) {
      lower = true;
    } else if (absl::ascii_isupper(c)) {
      upper = true;
    } else if (absl::ascii_isdigit(c)) {
      digit = true;
    } else {
      other = true;
    }
    if (!absl::ascii_isxdigit(c)) hex_only = false;
  }
  const int classes = lower + upper + digit + other;
  // Bits if every character were drawn at random from the classes it uses.
  double alphabet = hex_only ? 16 : 26.0 * lower + 26.0 * upper + 10.0 * digit + 32.0 * other;
  const double bits = alphabet > 1 ? static_cast<double>(token.size()) * std::log2(alphabet) : 0;
  const char* hint =
      " (at least 128 bits: 32+ random hex or 22+ random base64 characters; make one with "
      "msx-server --new-token)";
  if (classes < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("weak token: only one character class", hint));
  }
  if (distinct.size() < 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("weak token: only ", distinct.size(), " distinct characters", hint));
  }
  if (bits < 128) {
    return absl::InvalidArgumentError(absl::StrCat("weak token: about ",
                                                   static_cast<int>(bits), " bits", hint));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NewToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return absl::UnavailableError("RAND_bytes failed: no random bytes from the OS");
  }
  std::string token;
  absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes), &token);
  OPENSSL_cleanse(bytes, sizeof bytes);
  return token;
}

absl::StatusOr<TokenTable> TokenTable::Build(const v1::ExchangeConfig& config,
                                             const ReferenceData& ref, const Policy& policy) {
  TokenTable table;
  table.has_cert_names_.assign(ref.agencies().size(), false);
  for (int i = 0; i < config.agencies_size(); ++i) {
    const v1::AgencyConfig& a = config.agencies(i);
    std::optional<AgencyId> id = ref.FindAgency(a.id());
    if (!id) return Bad(i, a, "id", "unknown agency");
    const Caller caller{*id, a.role() == v1::ROLE_ADMIN};
    auto add = [&](const std::string& digest, absl::string_view field) -> absl::Status {
      if (!table.by_digest_.emplace(digest, caller).second) {
        return Bad(i, a, field, "the same token is also listed for another agency or twice");
      }
      return absl::OkStatus();
    };
    for (int t = 0; t < a.tokens_size(); ++t) {
      const std::string field = absl::StrCat("tokens[", t, "]");
      const std::string& token = a.tokens(t);
      if (!policy.allow_plaintext) {
        return Bad(i, a, field,
                   "plaintext tokens are accepted only in the embedded demo configuration or "
                   "with --allow-plaintext-tokens; list token_sha256 digests instead "
                   "(msx-server --new-token or --hash-token)");
      }
      if (token.empty()) return Bad(i, a, field, "must not be empty");
      if (policy.check_strength) {
        if (absl::Status s = CheckTokenStrength(token); !s.ok()) {
          return Bad(i, a, field, s.message());
        }
      }
      if (absl::Status s = add(Sha256(token), field); !s.ok()) return s;
      table.plaintext_.emplace_back(*id, token);
    }
    for (int t = 0; t < a.token_sha256_size(); ++t) {
      const std::string field = absl::StrCat("token_sha256[", t, "]");
      const std::string& hex = a.token_sha256(t);
      bool ok = hex.size() == 2 * SHA256_DIGEST_LENGTH;
      for (char c : hex) ok = ok && absl::ascii_isxdigit(c);
      if (!ok) {
        return Bad(i, a, field,
                   absl::StrCat("expected 64 hex digits (SHA-256 of the token), got ",
                                hex.size(), " characters"));
      }
      if (absl::Status s = add(absl::HexStringToBytes(absl::AsciiStrToLower(hex)), field);
          !s.ok()) {
        return s;
      }
    }
    for (int c = 0; c < a.cert_names_size(); ++c) {
      const std::string field = absl::StrCat("cert_names[", c, "]");
      if (a.cert_names(c).empty()) return Bad(i, a, field, "must not be empty");
      if (config.server().tls().client_ca_file().empty()) {
        return Bad(i, a, field,
                   "needs client certificates: set server.tls.client_ca_file (mutual TLS)");
      }
      auto [it, inserted] = table.cert_owner_.emplace(a.cert_names(c), *id);
      if (!inserted && it->second != *id) {
        return Bad(i, a, field,
                   absl::StrCat("certificate name \"", a.cert_names(c),
                                "\" already belongs to agency ", ref.agencies()[it->second].code));
      }
      table.has_cert_names_[*id] = true;
    }
  }
  return table;
}

absl::StatusOr<Caller> TokenTable::AuthenticateHeader(
    absl::string_view header, const std::vector<std::string>& cert_names) const {
  header = absl::StripAsciiWhitespace(header);
  constexpr absl::string_view kBearer = "bearer ";
  if (header.size() <= kBearer.size() || !absl::StartsWithIgnoreCase(header, kBearer)) {
    return absl::UnauthenticatedError(
        "authorization: expected metadata \"authorization: Bearer <token>\"");
  }
  absl::string_view token = absl::StripAsciiWhitespace(header.substr(kBearer.size()));
  const std::string digest = Sha256(token);
  auto it = by_digest_.find(digest);
  // The map compared digests, not tokens; compare again in constant time so that the
  // decision never rests on an early-exit comparison.
  if (it == by_digest_.end() ||
      CRYPTO_memcmp(it->first.data(), digest.data(), SHA256_DIGEST_LENGTH) != 0) {
    return absl::UnauthenticatedError("authorization: unknown token");
  }
  const Caller caller = it->second;
  // The client certificate (mutual TLS) must not belong to another agency, and an agency
  // that lists certificate names authenticates only with one of them.
  bool own_cert = false;
  for (const std::string& name : cert_names) {
    auto owner = cert_owner_.find(name);
    if (owner == cert_owner_.end()) continue;
    if (owner->second != caller.agency) {
      return absl::PermissionDeniedError(
          "authorization: the client certificate belongs to another agency than the token");
    }
    own_cert = true;
  }
  if (caller.agency < has_cert_names_.size() && has_cert_names_[caller.agency] && !own_cert) {
    return absl::PermissionDeniedError(
        "authorization: this token is valid only with a client certificate of its agency "
        "(AgencyConfig.cert_names)");
  }
  return caller;
}

absl::StatusOr<Caller> TokenTable::Authenticate(const grpc::CallbackServerContext& ctx) const {
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return absl::UnauthenticatedError(
        "authorization: missing; send metadata \"authorization: Bearer <token>\"");
  }
  std::vector<std::string> cert_names;
  if (!cert_owner_.empty()) {
    // Only a verified client certificate populates these (gRPC's SSL handshaker).
    std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
    if (auth != nullptr) {
      for (const char* property : {GRPC_X509_SAN_PROPERTY_NAME, GRPC_X509_CN_PROPERTY_NAME}) {
        for (const grpc::string_ref& v : auth->FindPropertyValues(property)) {
          cert_names.emplace_back(v.data(), v.size());
        }
      }
    }
  }
  return AuthenticateHeader(absl::string_view(it->second.data(), it->second.size()), cert_names);
}

}  // namespace msx::gateway
