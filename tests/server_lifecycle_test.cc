// End to end: msx-server's start-up and shutdown edges. One server per data directory (a
// LOCK) and per address (no SO_REUSEPORT); bad settings are refused before any journal
// file is created; shutdown always ends the process.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
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
}

}  // namespace
}  // namespace msx
