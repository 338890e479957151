// TokenTable: digests only, constant-time lookup by digest, weak and plaintext tokens
// refused at load naming agency and field, and client certificates bound to agencies.
#include "gateway/auth.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "engine/config/config.h"
#include "gtest/gtest.h"

namespace msx::gateway {
namespace {

constexpr char kStrong[] = "GoPFZdzpsoELYw2sD3ZezYoXojLmdNv5w099fUNi5zA";  // --new-token
constexpr char kStrongHex[] = "3f9a1c0b7e2d4a6f8b1c3e5d7f9a0b2c";

v1::ExchangeConfig DigestConfig() {
  v1::ExchangeConfig config = DefaultConfig();
  for (v1::AgencyConfig& a : *config.mutable_agencies()) {
    for (const std::string& t : a.tokens()) a.add_token_sha256(TokenSha256Hex(t));
    a.clear_tokens();
  }
  return config;
}

absl::StatusOr<TokenTable> Build(const v1::ExchangeConfig& config, bool allow_plaintext,
                                 bool check_strength = true) {
  static const ReferenceData* ref = new ReferenceData(*LoadReferenceData(DefaultConfig()));
  TokenTable::Policy policy;
  policy.allow_plaintext = allow_plaintext;
  policy.check_strength = check_strength;
  return TokenTable::Build(config, *ref, policy);
}

AgencyId Id(const std::string& code) {
  return *LoadReferenceData(DefaultConfig())->FindAgency(code);
}

TEST(TokenStrengthTest, DemoAndShortTokensAreWeakRandomOnesAreNot) {
  for (const char* weak : {"demo-komir", "t1", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                           "0123456789012345678901234567890123456789",  // digits only
                           "3f9a1c0b7e2d4a6f8b1c3e5d7f9a0b",            // 30 hex: 120 bits
                           "abababababababababababababab12121212"}) {  // 4 distinct
    absl::Status s = CheckTokenStrength(weak);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << weak;
    EXPECT_TRUE(absl::StrContains(s.message(), "weak token")) << s;
  }
  EXPECT_TRUE(CheckTokenStrength(kStrong).ok());
  EXPECT_TRUE(CheckTokenStrength(kStrongHex).ok());
  absl::StatusOr<std::string> fresh = NewToken();
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->size(), 43u);
  EXPECT_TRUE(CheckTokenStrength(*fresh).ok()) << *fresh;
  EXPECT_NE(*fresh, *NewToken());
}

TEST(TokenSha256Test, MatchesTheFipsVector) {
  EXPECT_EQ(TokenSha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TokenTableTest, DigestsAuthenticateTheirAgencyAndNothingElse) {
  absl::StatusOr<TokenTable> table = Build(DigestConfig(), /*allow_plaintext=*/false);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_TRUE(table->plaintext_tokens().empty());
  absl::StatusOr<Caller> komir = table->AuthenticateHeader("Bearer demo-komir", {});
  ASSERT_TRUE(komir.ok()) << komir.status();
  EXPECT_EQ(komir->agency, Id("KOMIR"));
  EXPECT_FALSE(komir->admin);
  absl::StatusOr<Caller> admin = table->AuthenticateHeader("bearer  demo-admin ", {});
  ASSERT_TRUE(admin.ok());
  EXPECT_TRUE(admin->admin);
  for (const char* bad : {"Bearer demo-komi", "Bearer demo-komirx", "demo-komir", "Bearer ",
                          "Basic demo-komir"}) {
    EXPECT_TRUE(absl::IsUnauthenticated(table->AuthenticateHeader(bad, {}).status())) << bad;
  }
  // The digest itself is not a token.
  EXPECT_TRUE(absl::IsUnauthenticated(
      table->AuthenticateHeader("Bearer " + TokenSha256Hex("demo-komir"), {}).status()));
}

TEST(TokenTableTest, PlaintextTokensNeedThePolicyAndStrengthNamingAgencyAndField) {
  v1::ExchangeConfig config = DefaultConfig();
  absl::Status refused = Build(config, /*allow_plaintext=*/false).status();
  EXPECT_TRUE(absl::IsInvalidArgument(refused));
  EXPECT_TRUE(absl::StrContains(refused.message(), "agencies[0] (KOMIR).tokens[0]: plaintext"))
      << refused;
  absl::Status weak = Build(config, /*allow_plaintext=*/true).status();
  EXPECT_TRUE(absl::StrContains(weak.message(), "agencies[0] (KOMIR).tokens[0]: weak token"))
      << weak;
  // The embedded demo configuration: accepted as is, and listed for its banner.
  absl::StatusOr<TokenTable> demo = Build(config, true, /*check_strength=*/false);
  ASSERT_TRUE(demo.ok()) << demo.status();
  EXPECT_EQ(demo->plaintext_tokens().size(), static_cast<std::size_t>(config.agencies_size()));
  // A strong plaintext token with the flag works.
  v1::ExchangeConfig strong = DigestConfig();
  strong.mutable_agencies(1)->add_tokens(kStrong);
  absl::StatusOr<TokenTable> table = Build(strong, true);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->AuthenticateHeader(std::string("Bearer ") + kStrong, {})->agency,
            Id("JOGMEC"));
}

TEST(TokenTableTest, BadOrSharedDigestsAreRefusedNamingTheField) {
  v1::ExchangeConfig config = DigestConfig();
  config.mutable_agencies(1)->add_token_sha256("abc123");
  absl::Status s = Build(config, false).status();
  EXPECT_TRUE(absl::StrContains(s.message(),
                                "agencies[1] (JOGMEC).token_sha256[1]: expected 64 hex digits"))
      << s;
  config = DigestConfig();
  config.mutable_agencies(1)->add_token_sha256(TokenSha256Hex("demo-komir"));
  s = Build(config, false).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "agencies[1] (JOGMEC).token_sha256[1]: the same"))
      << s;
  // Upper-case hex is the same digest.
  config = DigestConfig();
  std::string upper = TokenSha256Hex(kStrong);
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  config.mutable_agencies(2)->add_token_sha256(upper);
  absl::StatusOr<TokenTable> table = Build(config, false);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_TRUE(table->AuthenticateHeader(std::string("Bearer ") + kStrong, {}).ok());
}

TEST(TokenTableTest, ClientCertificateOfAnotherAgencyIsRefused) {
  v1::ExchangeConfig config = DigestConfig();
  config.mutable_agencies(0)->add_cert_names("komir.desk.example");  // KOMIR
  // Without client certificates a certificate name could never match: refused at load.
  absl::Status no_mtls = Build(config, false).status();
  EXPECT_TRUE(absl::StrContains(no_mtls.message(),
                                "agencies[0] (KOMIR).cert_names[0]: needs client certificates"))
      << no_mtls;
  config.mutable_server()->mutable_tls()->set_client_ca_file("agency-ca.pem");
  config.mutable_agencies(1)->add_cert_names("jogmec.desk.example");  // JOGMEC
  absl::StatusOr<TokenTable> table = Build(config, false);
  ASSERT_TRUE(table.ok()) << table.status();
  const std::vector<std::string> komir_cert = {"komir.desk.example", "KOMIR desk"};
  const std::vector<std::string> jogmec_cert = {"jogmec.desk.example"};
  const std::vector<std::string> nobodys_cert = {"someone.example"};
  EXPECT_TRUE(table->AuthenticateHeader("Bearer demo-komir", komir_cert).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      table->AuthenticateHeader("Bearer demo-jogmec", komir_cert).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(
      table->AuthenticateHeader("Bearer demo-komir", jogmec_cert).status()));
  // KOMIR lists certificates: its token needs one of them.
  EXPECT_TRUE(absl::IsPermissionDenied(
      table->AuthenticateHeader("Bearer demo-komir", nobodys_cert).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(table->AuthenticateHeader("Bearer demo-komir", {}).status()));
  // DLA lists none: any (or no) certificate that belongs to no other agency.
  EXPECT_TRUE(table->AuthenticateHeader("Bearer demo-dla", nobodys_cert).ok());
  EXPECT_TRUE(table->AuthenticateHeader("Bearer demo-dla", {}).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      table->AuthenticateHeader("Bearer demo-dla", komir_cert).status()));
  // One certificate name, two agencies: refused at load.
  config.mutable_agencies(2)->add_cert_names("komir.desk.example");
  absl::Status s = Build(config, false).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "agencies[2] (DLA).cert_names[0]: certificate name "
                                             "\"komir.desk.example\" already belongs to agency KOMIR"))
      << s;
}

}  // namespace
}  // namespace msx::gateway
