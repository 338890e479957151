// The foundation's end-to-end promise: msx-server starts on its embedded default and
// answers the standard gRPC health check and server reflection.
#include <signal.h>
#include <sys/wait.h>

#include <grpcpp/grpcpp.h>

#include "gtest/gtest.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/testing/server_process.h"

namespace msx {
namespace {

TEST(ServerHealthTest, ServesHealthCheckAsServing) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start().ok()) << server.Output();
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(stub->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(ServerHealthTest, ExitsCleanlyOnSigterm) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start().ok()) << server.Output();
  int status = server.Stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << server.Output();
  EXPECT_EQ(WEXITSTATUS(status), 0) << server.Output();
}

TEST(ServerHealthTest, HelpDescribesEveryFlag) {
  auto result = testing::RunCommand({testing::BuildPath("gateway/msx-server"), "--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("--listen"), std::string::npos);
  EXPECT_NE(result.out.find("--data-dir"), std::string::npos);
}

TEST(ServerHealthTest, UnknownFlagIsAnErrorNotACrash) {
  auto result = testing::RunCommand({testing::BuildPath("gateway/msx-server"), "--bogus"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("bogus"), std::string::npos);
}

}  // namespace
}  // namespace msx
