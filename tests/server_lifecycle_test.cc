// End to end: msx-server's start-up and shutdown edges. One server per data directory (a
// LOCK) and per address (no SO_REUSEPORT); bad settings are refused before any journal
// file is created; shutdown always ends the process.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/text_format.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "gtest/gtest.h"
#include "msx/v1/config.pb.h"
#include "tests/testing/config_files.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

using testing::BuildPath;
using testing::CommandResult;
using testing::MakeTempDir;
using testing::RemoveTree;
using testing::RunCommand;
using testing::ServerProcess;

// A start that must fail fast; a server that starts instead runs until the timeout.
constexpr std::chrono::seconds kFailFast{20};

std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

class ServerLifecycleTest : public ::testing::Test {
 protected:
  ~ServerLifecycleTest() override { RemoveTree(scratch_); }

  CommandResult RunServer(std::vector<std::string> args) {
    args.insert(args.begin(), BuildPath("gateway/msx-server"));
    return RunCommand(args, {}, kFailFast);
  }

  // The default configuration with `edit` applied to its server section, as a file.
  std::string ConfigFile(const std::string& name,
                         const std::function<void(v1::ServerConfig*)>& edit) {
    v1::ExchangeConfig config = testing::WithTokenDigests(DefaultConfig());
    edit(config.mutable_server());
    std::string text;
    EXPECT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
    std::string path = scratch_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // Waits up to `timeout` for `pid` to exit, without reaping it (ServerProcess does).
  static bool ExitsWithin(pid_t pid, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      siginfo_t info{};
      if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::string scratch_ = MakeTempDir("msx-lifecycle");
};

TEST_F(ServerLifecycleTest, SecondServerOnTheSameDataDirectoryIsRefused) {
  ServerProcess first;
  ASSERT_TRUE(first.Start().ok()) << first.Output();
  const std::vector<std::string> before = DirEntries(first.data_dir());

  CommandResult second =
      RunServer({"--listen", "127.0.0.1:0", "--data-dir", first.data_dir()});
  EXPECT_EQ(second.exit_code, 1) << second.out << second.err;
  EXPECT_TRUE(absl::StrContains(second.err, first.data_dir() + " is in use: another msx-server "
                                                               "holds its lock"))
      << second.err;
  EXPECT_EQ(DirEntries(first.data_dir()), before) << "the refused server touched the journal";

  // The first server still owns a sound journal, and its lock goes with it.
  int status = first.Stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << first.Output();
  CommandResult verify =
      RunCommand({BuildPath("clients/journal/msx-journal"), "verify", first.data_dir()});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  ASSERT_TRUE(first.Start().ok()) << first.Output();
}

TEST_F(ServerLifecycleTest, SecondServerOnTheSameAddressIsRefused) {
  ServerProcess first;
  ASSERT_TRUE(first.Start().ok()) << first.Output();
  CommandResult second =
      RunServer({"--listen", first.address(), "--data-dir", scratch_ + "/other"});
  EXPECT_EQ(second.exit_code, 1) << second.out << second.err;
  EXPECT_TRUE(absl::StrContains(second.err, "cannot listen on " + first.address())) << second.err;
  // Only the real error: no shutdown figures of a server that never started.
  EXPECT_FALSE(absl::StrContains(second.err, "drained the queue")) << second.err;
  EXPECT_FALSE(absl::StrContains(second.err, "gRPC stopped")) << second.err;
  EXPECT_FALSE(absl::StrContains(second.err, "group commits")) << second.err;
}

TEST_F(ServerLifecycleTest, OutOfBoundsServerSettingsAreRefusedBeforeAnyFileIsCreated) {
  struct Case {
    const char* name;
    void (*edit)(v1::ServerConfig*);
    const char* error;
  };
  const Case cases[] = {
      // Was std::bad_alloc (abort) after the journal had been created.
      {"queue.textproto", [](v1::ServerConfig* s) { s->set_queue_capacity(1073741824); },
       "server.queue_capacity: must be between 2 and 16777216"},
      // Was a busy-looping tick timer and a SIGTERM that never ended the process.
      {"tick.textproto", [](v1::ServerConfig* s) { s->set_time_tick_ms(9223372036854775807); },
       "server.time_tick_ms: must be between 1 and 3600000"},
      // 12 agencies x 16 = 192 slots of a 64-slot queue: one agency could starve the others.
      {"inflight.textproto",
       [](v1::ServerConfig* s) {
         s->set_queue_capacity(64);
         s->set_max_in_flight_per_agency(16);
       },
       "server.max_in_flight_per_agency: must be between 1 and server.queue_capacity / agencies "
       "(64 / 12 = 5)"},
      {"undurable.textproto", [](v1::ServerConfig* s) { s->set_max_undurable_bytes(1000); },
       "server.max_undurable_bytes: must be between 1048576 and"},
  };
  for (const Case& c : cases) {
    const std::string data = scratch_ + "/data-" + c.name;
    CommandResult r = RunServer({"--config", ConfigFile(c.name, c.edit), "--listen",
                                 "127.0.0.1:0", "--data-dir", data});
    EXPECT_EQ(r.exit_code, 1) << c.name << ": " << r.out << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, c.error)) << r.err;
    EXPECT_FALSE(std::filesystem::exists(data)) << c.name << ": created " << data;
  }
}

TEST_F(ServerLifecycleTest, BadListenAddressIsRefusedBeforeAnyFileIsCreated) {
  const std::pair<const char*, const char*> cases[] = {
      // Was refused by gRPC only after recovery had created a journal and a snapshot.
      {"nonsense", "--listen: expected HOST:PORT"},
      // Was accepted and served on port 99999 % 65536.
      {"127.0.0.1:99999", "--listen: port must be a number between 0 and 65535"},
      {":50051", "--listen: empty host"},
  };
  int i = 0;
  for (const auto& [listen, error] : cases) {
    const std::string data = absl::StrCat(scratch_, "/data-", i++);
    CommandResult r = RunServer({"--listen", listen, "--data-dir", data});
    EXPECT_EQ(r.exit_code, 1) << listen << ": " << r.out << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, error)) << r.err;
    EXPECT_FALSE(std::filesystem::exists(data)) << listen << ": created " << data;
  }
  // The same check applies to server.listen in a configuration file.
  const std::string data = scratch_ + "/data-config";
  CommandResult r = RunServer(
      {"--config",
       ConfigFile("listen.textproto", [](v1::ServerConfig* s) { s->set_listen("127.0.0.1:70000"); }),
       "--data-dir", data});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "server.listen: port must be a number between 0 and 65535"))
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(data));
}

// With server.tls the banner suggests TLS clients (and the suggestion works), never
// -plaintext.
TEST_F(ServerLifecycleTest, TlsBannerSuggestsTlsClients) {
  const std::string openssl = "/usr/bin/openssl";
  if (!std::filesystem::exists(openssl)) GTEST_SKIP() << "no " << openssl;
  const std::string cnf = scratch_ + "/openssl.cnf";
  std::ofstream(cnf) << "[req]\ndistinguished_name = dn\n[dn]\n"
                        "[ca]\nbasicConstraints = critical,CA:TRUE\n"
                        "keyUsage = critical,keyCertSign,cRLSign\n"
                        "[server]\nbasicConstraints = critical,CA:FALSE\n"
                        "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
                        "subjectAltName = IP:127.0.0.1\n";
  auto make = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> argv = {openssl, "req", "-config", cnf, "-x509", "-nodes",
                                     "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                     "-days", "2", "-keyout", scratch_ + "/" + name + ".key",
                                     "-out", scratch_ + "/" + name + ".pem"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    CommandResult r = RunCommand(argv, {}, std::chrono::seconds(30));
    EXPECT_EQ(r.exit_code, 0) << r.err;
  };
  make("ca", {"-subj", "/CN=lifecycle CA", "-extensions", "ca"});
  make("server", {"-subj", "/CN=127.0.0.1", "-extensions", "server", "-CA", scratch_ + "/ca.pem",
                  "-CAkey", scratch_ + "/ca.key", "-set_serial", "2"});
  const std::string config = ConfigFile("tls.textproto", [this](v1::ServerConfig* s) {
    s->mutable_tls()->set_cert_file(scratch_ + "/server.pem");
    s->mutable_tls()->set_key_file(scratch_ + "/server.key");
  });
  std::ifstream ca_in(scratch_ + "/ca.pem");
  std::stringstream ca;
  ca << ca_in.rdbuf();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca.str();
  ServerProcess server;
  ServerProcess::Options o;
  o.extra_args = {"--config", config};
  o.health_credentials = grpc::SslCredentials(ssl);
  ASSERT_TRUE(server.Start(o).ok()) << server.Output();
  const std::string banner = server.Output();
  EXPECT_FALSE(absl::StrContains(banner, "-plaintext")) << banner;
  EXPECT_TRUE(absl::StrContains(banner, "grpcurl -cacert CA.pem")) << banner;
  const std::string suggested =
      absl::StrCat("msx --server ", server.address(), " --tls --ca-file CA.pem pairs");
  EXPECT_TRUE(absl::StrContains(banner, suggested)) << banner;
  EXPECT_TRUE(absl::StrContains(banner, "CA.pem: the CA that issued " + scratch_ + "/server.pem"))
      << banner;
  // A configuration file's tokens are never printed; the token goes in MSX_TOKEN.
  EXPECT_FALSE(absl::StrContains(banner, "demo-")) << banner;
  EXPECT_FALSE(absl::StrContains(banner, "--token")) << banner;
  EXPECT_TRUE(absl::StrContains(banner, "export MSX_TOKEN=<your agency's token>")) << banner;
  // The suggested command, with the real CA file and a token in MSX_TOKEN, works.
  CommandResult pairs = RunCommand({BuildPath("clients/msx/msx"), "--server", server.address(),
                                    "--tls", "--ca-file", scratch_ + "/ca.pem", "pairs"},
                                   {"MSX_TOKEN=demo-komir"});
  EXPECT_EQ(pairs.exit_code, 0) << pairs.out << pairs.err;
}

// Issue 12, defect 4: only the embedded demo configuration prints tokens (saying they are
// demo tokens), and its example keeps the token off the command line (MSX_TOKEN).
TEST_F(ServerLifecycleTest, DemoBannerPrintsDemoTokensAndKeepsThemOffTheCommandLine) {
  ServerProcess server;
  ASSERT_TRUE(server.Start().ok()) << server.Output();
  const std::string banner = server.Output();
  EXPECT_TRUE(absl::StrContains(banner, "demo tokens (public")) << banner;
  EXPECT_TRUE(absl::StrContains(banner, "KOMIR: demo-komir")) << banner;
  EXPECT_TRUE(absl::StrContains(banner, "export MSX_TOKEN=demo-komir")) << banner;
  EXPECT_TRUE(absl::StrContains(banner, "Bearer ${MSX_TOKEN}")) << banner;
  EXPECT_FALSE(absl::StrContains(banner, "--token")) << banner;
  EXPECT_FALSE(absl::StrContains(banner, "Bearer demo-")) << banner;
  CommandResult pairs =
      RunCommand({BuildPath("clients/msx/msx"), "--server", server.address(), "pairs"},
                 {"MSX_TOKEN=demo-komir"});
  EXPECT_EQ(pairs.exit_code, 0) << pairs.out << pairs.err;
}

// A configuration file with plaintext tokens is refused unless --allow-plaintext-tokens,
// and even then a weak token is refused naming agency and field; a strong one is accepted
// with a warning and never printed.
TEST_F(ServerLifecycleTest, PlaintextTokensInAFileNeedTheFlagAndStrength) {
  auto write = [this](const std::string& name, const v1::ExchangeConfig& config) {
    std::string text;
    EXPECT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
    std::string path = scratch_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  };
  const std::string demo_file = write("plain.textproto", DefaultConfig());
  CommandResult r = RunServer({"--config", demo_file, "--listen", "127.0.0.1:0", "--data-dir",
                               scratch_ + "/plain"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "agencies[0] (KOMIR).tokens[0]: plaintext tokens are "
                                       "accepted only"))
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(scratch_ + "/plain"));
  r = RunServer({"--config", demo_file, "--allow-plaintext-tokens", "--listen", "127.0.0.1:0",
                 "--data-dir", scratch_ + "/weak"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "agencies[0] (KOMIR).tokens[0]: weak token")) << r.err;

  v1::ExchangeConfig strong = testing::WithTokenDigests(DefaultConfig());
  const std::string token = "Xq3vN8pL2mR7tY5wK9zB4cF6hJ1sD0gA";
  strong.mutable_agencies(0)->add_tokens(token);
  ServerProcess server;
  ServerProcess::Options o;
  o.extra_args = {"--config", write("strong.textproto", strong), "--allow-plaintext-tokens"};
  ASSERT_TRUE(server.Start(o).ok()) << server.Output();
  EXPECT_TRUE(absl::StrContains(server.Output(), "WARNING: --allow-plaintext-tokens"))
      << server.Output();
  EXPECT_FALSE(absl::StrContains(server.Output(), token)) << server.Output();
  CommandResult pairs =
      RunCommand({BuildPath("clients/msx/msx"), "--server", server.address(), "pairs"},
                 {"MSX_TOKEN=" + token});
  EXPECT_EQ(pairs.exit_code, 0) << pairs.out << pairs.err;
}

// msx-server --hash-token reads the token from stdin (not argv), refuses a weak one, and
// prints the configuration line; --new-token makes a strong token and its digest.
TEST_F(ServerLifecycleTest, HashTokenAndNewTokenMakeDigests) {
  CommandResult made = RunServer({"--new-token"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::size_t at = made.out.find("stored anywhere): ");
  ASSERT_NE(at, std::string::npos) << made.out;
  const std::string token = made.out.substr(at + 18, made.out.find('\n', at) - at - 18);
  EXPECT_EQ(token.size(), 43u) << made.out;
  EXPECT_TRUE(absl::StrContains(made.out, absl::StrCat("token_sha256: \"",
                                                       testing::TokenSha256Hex(token), "\"")))
      << made.out;
  const std::string in = scratch_ + "/token.txt";
  std::ofstream(in) << token << "\n";
  CommandResult hashed = RunCommand({"/bin/sh", "-c",
                                     BuildPath("gateway/msx-server") + " --hash-token < " + in});
  EXPECT_EQ(hashed.exit_code, 0) << hashed.err;
  EXPECT_EQ(hashed.out, absl::StrCat("token_sha256: \"", testing::TokenSha256Hex(token), "\"\n"));
  std::ofstream(in) << "demo-komir\n";
  CommandResult weak = RunCommand({"/bin/sh", "-c",
                                   BuildPath("gateway/msx-server") + " --hash-token < " + in});
  EXPECT_EQ(weak.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(weak.err, "weak token")) << weak.err;
}

// --truncate-at-corruption (msx-journal's name for it) and its old name
// --truncate-corrupt-tail both cut a damaged journal and start, keeping the cut bytes in a
// side file; never below a snapshot (it proves those commands were durable, and new ones
// would reuse their seqs): the operator has to move the snapshot away first.
TEST_F(ServerLifecycleTest, TruncateAtCorruptionKeepsTheCutBytesAndNeverCutsBelowASnapshot) {
  for (const char* flag : {"--truncate-at-corruption", "--truncate-corrupt-tail"}) {
    SCOPED_TRACE(flag);
    ServerProcess server;
    ServerProcess::Options o;
    o.data_dir = absl::StrCat(scratch_, "/data", flag);
    ASSERT_TRUE(server.Start(o).ok()) << server.Output();
    int status = server.Stop(SIGTERM);  // snapshot at the last seq (the initial holdings)
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.Output();

    // The last command record, from msx-journal dump.
    CommandResult dump =
        RunCommand({BuildPath("clients/journal/msx-journal"), "dump", o.data_dir});
    ASSERT_EQ(dump.exit_code, 0) << dump.err;
    const std::size_t line = dump.out.rfind("{\"record\":\"command\"");
    ASSERT_NE(line, std::string::npos) << dump.out;
    const std::string rec = dump.out.substr(line, dump.out.find('\n', line) - line);
    const std::size_t f = rec.find("\"file\":\"") + 8;
    const std::string file = rec.substr(f, rec.find('"', f) - f);
    const std::uint64_t offset = std::stoull(rec.substr(rec.find("\"offset\":") + 9));
    const std::size_t s = rec.find("\"seq\":") + 6;
    const std::uint64_t seq = std::stoull(rec.substr(s));
    const std::string snapshot =
        absl::StrCat(o.data_dir, "/snapshot-", std::string(20 - std::to_string(seq).size(), '0'),
                     seq, ".msxs");
    ASSERT_TRUE(std::filesystem::exists(snapshot)) << snapshot;
    {
      std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
      io.seekg(static_cast<std::streamoff>(offset + 9));
      char c = 0;
      io.read(&c, 1);
      c = static_cast<char>(c ^ 0x20);
      io.seekp(static_cast<std::streamoff>(offset + 9));
      io.write(&c, 1);
    }

    CommandResult refused = RunServer({"--listen", "127.0.0.1:0", "--data-dir", o.data_dir});
    EXPECT_EQ(refused.exit_code, 1) << refused.err;
    EXPECT_TRUE(absl::StrContains(refused.err, absl::StrCat(file, ":", offset, ": ")))
        << refused.err;

    o.extra_args = {flag};
    CommandResult below_snapshot =
        RunServer({"--listen", "127.0.0.1:0", "--data-dir", o.data_dir, flag});
    EXPECT_EQ(below_snapshot.exit_code, 1) << below_snapshot.err;
    EXPECT_TRUE(absl::StrContains(below_snapshot.err, absl::StrCat(file, ":", offset, ": ")))
        << below_snapshot.err;
    EXPECT_TRUE(absl::StrContains(below_snapshot.err, snapshot)) << below_snapshot.err;
    ASSERT_TRUE(std::filesystem::exists(snapshot));
    std::filesystem::rename(snapshot, snapshot + ".moved-by-operator");

    ASSERT_TRUE(server.Start(o).ok()) << server.Output();
    EXPECT_TRUE(absl::StrContains(server.Output(),
                                  absl::StrCat("CUT AT CORRUPTION ", file, ":", offset)))
        << server.Output();
    EXPECT_TRUE(absl::StrContains(server.Output(), "journal: last seq " + std::to_string(seq - 1)))
        << server.Output();
    EXPECT_TRUE(std::filesystem::exists(absl::StrCat(file, ".cut-", offset))) << server.Output();
    status = server.Stop(SIGTERM);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.Output();
    CommandResult verify = RunCommand(
        {BuildPath("clients/journal/msx-journal"), "verify", o.data_dir, "--replay"});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  }
}

TEST_F(ServerLifecycleTest, SigtermEndsTheProcessWhileTheTickTimerIsBusy) {
  // A 1 ms tick keeps a tick handler queued or running most of the time, so the signal
  // often lands while one is pending; shutdown must end the process every time.
  const std::string config =
      ConfigFile("fast-tick.textproto", [](v1::ServerConfig* s) { s->set_time_tick_ms(1); });
  ServerProcess server;
  for (int round = 0; round < 5; ++round) {
    ServerProcess::Options o;
    o.extra_args = {"--config", config};
    ASSERT_TRUE(server.Start(o).ok()) << server.Output();
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + 37 * round));
    ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
    ASSERT_TRUE(ExitsWithin(server.pid(), std::chrono::seconds(15)))
        << "round " << round << ": still running after SIGTERM: " << server.Output();
    int status = server.Stop(SIGTERM);  // reaps it
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.Output();
    EXPECT_TRUE(absl::StrContains(server.Output(), "bye")) << server.Output();
  }
}

TEST_F(ServerLifecycleTest, SigtermUnderSwapTrafficEndsTheProcess) {
  // The signal lands while replies are waiting for their group commit: the journal thread
  // then releases the last of them after the publisher thread was told to stop, and the
  // publisher must still notice that nothing is left (it used to sleep forever).
  ServerProcess server;
  for (int round = 0; round < 4; ++round) {
    ASSERT_TRUE(server.Start().ok()) << server.Output();
    // msx-loadgen keeps ~2000 swap offers/s in flight from four agencies, with their
    // execution streams open; its own outcome does not matter here (it sees the shutdown).
    std::thread traffic([&server] {
      (void)RunCommand({BuildPath("clients/loadgen/msx-loadgen"), "--server", server.address(),
                        "--rate", "2000", "--duration", "2", "--quiet", "--json"},
                       {}, std::chrono::seconds(30));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + 97 * round));
    ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
    const bool exited = ExitsWithin(server.pid(), std::chrono::seconds(15));
    if (!exited) server.Kill();  // lets the load generator finish
    traffic.join();
    ASSERT_TRUE(exited) << "round " << round << ": still running after SIGTERM under traffic: "
                        << server.Output();
    int status = server.Stop(SIGTERM);  // reaps it
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.Output();
  }
}

}  // namespace
}  // namespace msx
