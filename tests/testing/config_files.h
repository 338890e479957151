// Configuration files for end-to-end tests. msx-server refuses plaintext bearer tokens in a
// --config file (only the embedded demo configuration, or --allow-plaintext-tokens, may have
// them), so a test that writes a variant of the default configuration stores the demo
// tokens' SHA-256 digests (AgencyConfig.token_sha256), as an operator's file would; clients
// keep presenting the demo tokens.
#ifndef MSX_TESTS_TESTING_CONFIG_FILES_H_
#define MSX_TESTS_TESTING_CONFIG_FILES_H_

#include <openssl/sha.h>

#include <string>

#include "absl/strings/escaping.h"
#include "msx/v1/config.pb.h"

namespace msx::testing {

inline std::string TokenSha256Hex(const std::string& token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

// `config` with every plaintext token replaced by its digest.
inline v1::ExchangeConfig WithTokenDigests(v1::ExchangeConfig config) {
  for (v1::AgencyConfig& a : *config.mutable_agencies()) {
    for (const std::string& token : a.tokens()) a.add_token_sha256(TokenSha256Hex(token));
    a.clear_tokens();
  }
  return config;
}

}  // namespace msx::testing

#endif  // MSX_TESTS_TESTING_CONFIG_FILES_H_
