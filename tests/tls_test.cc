// End to end over TLS: msx-server with server.tls from its --config, once with TLS and once
// with mutual TLS (require_client_cert), against gRPC clients and the `msx` command line.
// The certificates are made at test time by the `openssl` command line (Debian package
// openssl, installed by scripts/setup.sh) in a temp dir: a throwaway CA, a server
// certificate for 127.0.0.1 and localhost, a client certificate of that CA, and a second
// CA with its own client certificate that the servers must not trust. EC P-256 keys.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/config/config.h"
#include "gtest/gtest.h"
#include "msx/v1/config.pb.h"
#include "msx/v1/exchange.grpc.pb.h"
#include "tests/testing/config_files.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::BuildPath;
using testing::CommandResult;
using testing::RunCommand;

constexpr char kGaCo[] = "GA-4N/CO-99.8";  // KOMIR holds GA-4N (default configuration)
constexpr int kExitUnavailable = 24;       // `msx --help`: exit 11 + gRPC code

// Full path of a program on $PATH (RunCommand spawns without a PATH search), or "".
std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (const auto& dir : absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The extensions of each kind of certificate, from this file only (no dependence on the
// system's openssl.cnf defaults, which would mark every `req -x509` certificate a CA).
constexpr char kOpensslConfig[] = R"([req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
)";

// A throwaway public-key infrastructure in a temp dir: `<name>.pem` and `<name>.key`.
class Pki {
 public:
  explicit Pki(std::string dir) : dir_(std::move(dir)) {}

  std::string Pem(const std::string& name) const { return dir_ + "/" + name + ".pem"; }
  std::string Key(const std::string& name) const { return dir_ + "/" + name + ".key"; }

  // Self-signed CA `name`.
  absl::Status MakeCa(const std::string& name) {
    return Openssl({"-subj", "/CN=MSX test " + name, "-extensions", "ca"}, name);
  }
  // Certificate `name` of kind "server" or "client" (a section of kOpensslConfig),
  // signed by CA `ca`.
  absl::Status MakeLeaf(const std::string& name, const std::string& kind, const std::string& ca) {
    return Openssl({"-subj", "/CN=" + name, "-extensions", kind, "-CA", Pem(ca), "-CAkey", Key(ca),
                    "-set_serial", std::to_string(++serial_)},
                   name);
  }

 private:
  // One `openssl req -x509` run: a new EC P-256 key and its certificate (OpenSSL >= 3.0
  // signs with -CA/-CAkey directly, no CSR round trip).
  absl::Status Openssl(const std::vector<std::string>& args, const std::string& name) {
    static const std::string openssl = FindProgram("openssl");
    if (openssl.empty()) {
      return absl::FailedPreconditionError(
          "openssl not found on PATH (Debian package openssl; scripts/setup.sh installs it)");
    }
    const std::string config = dir_ + "/openssl.cnf";
    if (!std::filesystem::exists(config)) std::ofstream(config) << kOpensslConfig;
    std::vector<std::string> argv = {openssl, "req", "-config", config, "-x509", "-nodes"};
    argv.insert(argv.end(), {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"});
    argv.insert(argv.end(), {"-days", "2", "-keyout", Key(name), "-out", Pem(name)});
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = RunCommand(argv, {}, std::chrono::seconds(30));
    if (r.exit_code != 0) {
      return absl::InternalError(
          absl::StrCat("openssl for ", name, " exited ", r.exit_code, ": ", r.err));
    }
    return absl::OkStatus();
  }

  std::string dir_;
  int serial_ = 1;
};

// The default configuration (demo agencies and tokens) with `tls` as server.tls, written
// to `path`.
std::string WriteTlsConfig(const v1::TlsConfig& tls, const std::string& path) {
  v1::ExchangeConfig config = testing::WithTokenDigests(DefaultConfig());
  // Under mutual TLS the certificate "client" is KOMIR's and "jogmec-client" JOGMEC's.
  for (v1::AgencyConfig& a : *config.mutable_agencies()) {
    if (tls.client_ca_file().empty()) break;
    if (a.id() == "KOMIR") a.add_cert_names("client");
    if (a.id() == "JOGMEC") a.add_cert_names("jogmec-client");
  }
  *config.mutable_server()->mutable_tls() = tls;
  config.mutable_server()->set_durability(v1::DURABILITY_NONE);
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  std::ofstream(path) << text;
  return path;
}

// Client credentials trusting CA `ca`, with the client certificate `cert` when not empty.
std::shared_ptr<grpc::ChannelCredentials> TlsCredentials(const Pki& pki, const std::string& ca,
                                                         const std::string& cert = "") {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(pki.Pem(ca));
  if (!cert.empty()) {
    ssl.pem_cert_chain = ReadFile(pki.Pem(cert));
    ssl.pem_private_key = ReadFile(pki.Key(cert));
  }
  return grpc::SslCredentials(ssl);
}

// One agency's stub on a channel with the given credentials.
class Client {
 public:
  Client(const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& creds,
         std::string token)
      : stub_(v1::Exchange::NewStub(grpc::CreateChannel(target, creds))),
        token_(std::move(token)) {}

  grpc::Status ListPairs(v1::ListPairsResponse* resp) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    return stub_->ListPairs(&ctx, v1::ListPairsRequest(), resp);
  }
  // A one-lot GTC sell of `pair` at its reference price (rounded to the tick, inside the
  // band), looked up over the same channel.
  grpc::Status SellOneLot(const std::string& pair, std::uint64_t client_id,
                          v1::SubmitOfferResponse* resp) {
    v1::ListPairsResponse pairs;
    grpc::Status s = ListPairs(&pairs);
    if (!s.ok()) return s;
    v1::SubmitOfferRequest req;
    for (const v1::Pair& p : pairs.pairs()) {
      if (p.symbol() != pair) continue;
      std::int64_t price = p.reference_price() / p.tick() * p.tick();
      req.set_price(price < p.band_low() ? p.band_low() : price);
    }
    req.set_client_offer_id(client_id);
    req.set_pair(pair);
    req.set_side(v1::SIDE_SELL);
    req.set_lots(1);
    req.set_time_in_force(v1::TIME_IN_FORCE_GTC);
    grpc::ClientContext ctx;
    Prepare(&ctx);
    return stub_->SubmitOffer(&ctx, req, resp);
  }
  grpc::Status GetOffer(std::uint64_t offer_id, v1::Offer* resp) {
    v1::GetOfferRequest req;
    req.set_offer_id(offer_id);
    grpc::ClientContext ctx;
    Prepare(&ctx);
    return stub_->GetOffer(&ctx, req, resp);
  }

 private:
  void Prepare(grpc::ClientContext* ctx) const {
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
    // A refused handshake fails at once (no wait_for_ready); the deadline only bounds a hang.
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  std::unique_ptr<v1::Exchange::Stub> stub_;
  std::string token_;
};

bool HasPair(const v1::ListPairsResponse& resp, const std::string& symbol) {
  for (const v1::Pair& p : resp.pairs()) {
    if (p.symbol() == symbol) return true;
  }
  return false;
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::MakeTempDir("msx-tls"));
    ASSERT_FALSE(dir_->empty());
    pki_ = new Pki(*dir_);
    for (absl::Status made : {pki_->MakeCa("ca"), pki_->MakeLeaf("server", "server", "ca"),
                              pki_->MakeLeaf("client", "client", "ca"),
                              pki_->MakeLeaf("jogmec-client", "client", "ca"),
                              pki_->MakeLeaf("dla-client", "client", "ca"), pki_->MakeCa("rogue-ca"),
                              pki_->MakeLeaf("rogue-client", "client", "rogue-ca")}) {
      ASSERT_TRUE(made.ok()) << made;
    }

    v1::TlsConfig tls;
    tls.set_cert_file(pki_->Pem("server"));
    tls.set_key_file(pki_->Key("server"));
    tls_ = new testing::ServerProcess;
    testing::ServerProcess::Options options;
    absl::Status s;
    options.extra_args = {"--config", WriteTlsConfig(tls, *dir_ + "/tls.textproto")};
    options.health_credentials = TlsCredentials(*pki_, "ca");
    s = tls_->Start(options);
    ASSERT_TRUE(s.ok()) << s << tls_->Output();

    tls.set_client_ca_file(pki_->Pem("ca"));
    tls.set_require_client_cert(true);
    mtls_ = new testing::ServerProcess;
    options.extra_args = {"--config", WriteTlsConfig(tls, *dir_ + "/mtls.textproto")};
    options.health_credentials = TlsCredentials(*pki_, "ca", "client");
    s = mtls_->Start(options);
    ASSERT_TRUE(s.ok()) << s << mtls_->Output();
  }
  static void TearDownTestSuite() {
    delete tls_;
    delete mtls_;
    delete pki_;
    if (dir_ != nullptr) testing::RemoveTree(*dir_);
    delete dir_;
    tls_ = mtls_ = nullptr;
    pki_ = nullptr;
    dir_ = nullptr;
  }

  // Runs msx with `args` and MSX_SERVER/MSX_TOKEN of `server` and KOMIR.
  static CommandResult Msx(const testing::ServerProcess& server, std::vector<std::string> args) {
    std::vector<std::string> argv = {BuildPath("clients/msx/msx")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {"MSX_SERVER=" + server.address(), "MSX_TOKEN=demo-komir"},
                      std::chrono::seconds(20));
  }

  static std::string* dir_;
  static Pki* pki_;
  static testing::ServerProcess* tls_;
  static testing::ServerProcess* mtls_;
};

std::string* TlsTest::dir_ = nullptr;
Pki* TlsTest::pki_ = nullptr;
testing::ServerProcess* TlsTest::tls_ = nullptr;
testing::ServerProcess* TlsTest::mtls_ = nullptr;

TEST_F(TlsTest, BannerSaysTls) {
  EXPECT_TRUE(absl::StrContains(tls_->Output(), "(TLS)")) << tls_->Output();
  EXPECT_TRUE(absl::StrContains(mtls_->Output(), "(TLS)")) << mtls_->Output();
}

TEST_F(TlsTest, ClientTrustingTheCaListsPairsAndSubmitsWithItsToken) {
  Client komir(tls_->address(), TlsCredentials(*pki_, "ca"), "demo-komir");
  v1::ListPairsResponse pairs;
  grpc::Status s = komir.ListPairs(&pairs);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(HasPair(pairs, kGaCo));

  v1::SubmitOfferResponse submitted;
  s = komir.SellOneLot(kGaCo, 101, &submitted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_NE(submitted.offer().offer_id(), 0u);
  v1::Offer offer;
  s = komir.GetOffer(submitted.offer().offer_id(), &offer);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(offer.client_offer_id(), 101u);
  EXPECT_EQ(offer.agency(), "KOMIR");
  EXPECT_EQ(offer.original_lots(), 1);
}

TEST_F(TlsTest, CertificateAlsoMatchesLocalhost) {
  Client komir("localhost:" + std::to_string(tls_->port()), TlsCredentials(*pki_, "ca"),
               "demo-komir");
  v1::ListPairsResponse pairs;
  grpc::Status s = komir.ListPairs(&pairs);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(HasPair(pairs, kGaCo));
}

TEST_F(TlsTest, TlsDoesNotReplaceTheBearerToken) {
  Client anonymous(tls_->address(), TlsCredentials(*pki_, "ca"), "");
  v1::ListPairsResponse pairs;
  EXPECT_EQ(anonymous.ListPairs(&pairs).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(TlsTest, PlaintextClientIsUnavailable) {
  Client plain(tls_->address(), grpc::InsecureChannelCredentials(), "demo-komir");
  v1::ListPairsResponse pairs;
  grpc::Status s = plain.ListPairs(&pairs);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(pairs.pairs_size(), 0);
}

TEST_F(TlsTest, ClientThatDoesNotTrustTheServerCaIsUnavailable) {
  Client wrong_ca(tls_->address(), TlsCredentials(*pki_, "rogue-ca"), "demo-komir");
  v1::ListPairsResponse pairs;
  grpc::Status s = wrong_ca.ListPairs(&pairs);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(TlsTest, MutualTlsAcceptsAClientCertificateOfItsCa) {
  Client komir(mtls_->address(), TlsCredentials(*pki_, "ca", "client"), "demo-komir");
  v1::SubmitOfferResponse submitted;
  grpc::Status s = komir.SellOneLot(kGaCo, 201, &submitted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(submitted.offer().offer_id(), 0u);
}

// Issue 12, defect 4: under mutual TLS the client certificate is tied to its agency
// (AgencyConfig.cert_names: "client" is KOMIR's, "jogmec-client" JOGMEC's): a token
// presented over another agency's certificate is refused with PERMISSION_DENIED, also
// when both certificates are on one channel's calls in turn.
TEST_F(TlsTest, MutualTlsRefusesATokenOverAnotherAgencysCertificate) {
  Client jogmec_on_komir_cert(mtls_->address(), TlsCredentials(*pki_, "ca", "client"),
                              "demo-jogmec");
  v1::ListPairsResponse pairs;
  grpc::Status s = jogmec_on_komir_cert.ListPairs(&pairs);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  Client komir_on_jogmec_cert(mtls_->address(), TlsCredentials(*pki_, "ca", "jogmec-client"),
                              "demo-komir");
  v1::SubmitOfferResponse submitted;
  s = komir_on_jogmec_cert.SellOneLot(kGaCo, 301, &submitted);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  // KOMIR lists a certificate: its token over a certificate of nobody is refused too ...
  Client komir_on_dla_cert(mtls_->address(), TlsCredentials(*pki_, "ca", "dla-client"),
                           "demo-komir");
  EXPECT_EQ(komir_on_dla_cert.ListPairs(&pairs).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // ... while DLA, which lists none, may use that certificate; and JOGMEC its own.
  Client dla(mtls_->address(), TlsCredentials(*pki_, "ca", "dla-client"), "demo-dla");
  s = dla.ListPairs(&pairs);
  EXPECT_TRUE(s.ok()) << s.error_message();
  Client jogmec(mtls_->address(), TlsCredentials(*pki_, "ca", "jogmec-client"), "demo-jogmec");
  s = jogmec.SellOneLot(kGaCo, 302, &submitted);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(TlsTest, MutualTlsRefusesAClientWithoutCertificate) {
  Client komir(mtls_->address(), TlsCredentials(*pki_, "ca"), "demo-komir");
  v1::ListPairsResponse pairs;
  grpc::Status s = komir.ListPairs(&pairs);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(pairs.pairs_size(), 0);
}

TEST_F(TlsTest, MutualTlsRefusesAClientCertificateOfAnotherCa) {
  Client rogue(mtls_->address(), TlsCredentials(*pki_, "ca", "rogue-client"), "demo-komir");
  v1::ListPairsResponse pairs;
  grpc::Status s = rogue.ListPairs(&pairs);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(pairs.pairs_size(), 0);
}

TEST_F(TlsTest, MsxCliWithTlsAndCaFileListsPairs) {
  CommandResult r = Msx(*tls_, {"--tls", "--ca-file", pki_->Pem("ca"), "pairs", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::ListPairsResponse pairs;
  auto parsed = google::protobuf::util::JsonStringToMessage(r.out, &pairs);
  ASSERT_TRUE(parsed.ok()) << parsed.ToString() << " in: " << r.out;
  EXPECT_TRUE(HasPair(pairs, kGaCo));

  CommandResult plain = Msx(*tls_, {"pairs", "--json"});
  EXPECT_EQ(plain.exit_code, kExitUnavailable) << plain.err;
  EXPECT_TRUE(absl::StartsWith(plain.err, "msx: UNAVAILABLE: ")) << plain.err;
  EXPECT_TRUE(plain.out.empty()) << plain.out;
}

TEST_F(TlsTest, MsxCliWithClientCertificateListsPairsOnMutualTls) {
  CommandResult r =
      Msx(*mtls_, {"--tls", "--ca-file", pki_->Pem("ca"), "--cert-file", pki_->Pem("client"),
                   "--key-file", pki_->Key("client"), "pairs", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::ListPairsResponse pairs;
  auto parsed = google::protobuf::util::JsonStringToMessage(r.out, &pairs);
  ASSERT_TRUE(parsed.ok()) << parsed.ToString() << " in: " << r.out;
  EXPECT_TRUE(HasPair(pairs, kGaCo));

  CommandResult no_cert = Msx(*mtls_, {"--tls", "--ca-file", pki_->Pem("ca"), "pairs", "--json"});
  EXPECT_EQ(no_cert.exit_code, kExitUnavailable) << no_cert.err;
  EXPECT_TRUE(no_cert.out.empty()) << no_cert.out;
}

// msx-server refuses to start on an unusable TLS file and says which field and file.
TEST_F(TlsTest, UnusableTlsFileStopsTheServerNamingFieldAndFile) {
  struct Case {
    std::string field;  // in server.tls
    std::string file;
  };
  const std::string missing = *dir_ + "/no-such-dir/server.pem";
  const std::string not_pem = *dir_ + "/openssl.cnf";
  for (const Case& c : {Case{"cert_file", missing}, Case{"key_file", missing},
                        Case{"client_ca_file", missing}, Case{"cert_file", not_pem}}) {
    SCOPED_TRACE(c.field + " = " + c.file);
    v1::TlsConfig tls;
    tls.set_cert_file(c.field == "cert_file" ? c.file : pki_->Pem("server"));
    tls.set_key_file(c.field == "key_file" ? c.file : pki_->Key("server"));
    if (c.field == "client_ca_file") tls.set_client_ca_file(c.file);
    const std::string data = testing::MakeTempDir("msx-tls-data");
    CommandResult r = RunCommand(
        {BuildPath("gateway/msx-server"), "--config", WriteTlsConfig(tls, *dir_ + "/bad.textproto"),
         "--listen", "127.0.0.1:0", "--data-dir", data},
        {}, std::chrono::seconds(20));
    testing::RemoveTree(data);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, "msx-server: server.tls." + c.field + ": " + c.file))
        << r.err;
  }
}

}  // namespace
}  // namespace msx
