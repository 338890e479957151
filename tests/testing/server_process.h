// ServerProcess: starts a real msx-server on 127.0.0.1 with a free port and a fresh data
// directory, for end-to-end tests; stops it when destroyed. Also runs client binaries.
#ifndef MSX_TESTS_TESTING_SERVER_PROCESS_H_
#define MSX_TESTS_TESTING_SERVER_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/security/credentials.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace msx::testing {

// Path of a binary built by this project, e.g. BuildPath("gateway/msx-server").
// Uses $MSX_BUILD_DIR (set by CTest); falls back to the current directory's parent.
std::string BuildPath(const std::string& relative);

// A fresh empty directory under $TMPDIR (or /tmp), removed by RemoveTree.
std::string MakeTempDir(const std::string& prefix);
void RemoveTree(const std::string& path);

// The gRPC health check's answer at `address`: SERVING / NOT_SERVING as an int, or -1 when it
// does not answer within 500 ms. Null credentials mean plaintext.
int HealthState(const std::string& address,
                const std::shared_ptr<grpc::ChannelCredentials>& credentials = nullptr);

class ServerProcess {
 public:
  struct Options {
    std::string data_dir;             // empty = a fresh temp dir (removed on destruction)
    std::vector<std::string> extra_args;
    // Added to the server's environment ("NAME=value"), e.g. an LD_PRELOAD shim.
    std::vector<std::string> extra_env;
    // Bounds a broken build only: a loaded machine (or a sanitizer build) may take long.
    std::chrono::milliseconds ready_timeout{60000};
    // Credentials of the readiness health check; null = plaintext. A server with TLS in its
    // --config (server.tls) needs ones that trust its certificate, plus a client
    // certificate when it requires one (grpc::SslCredentials).
    std::shared_ptr<grpc::ChannelCredentials> health_credentials;
    // Wait for SERVING (default), or only for the health check to answer at all (a hot
    // standby answers NOT_SERVING until it leads).
    bool wait_serving = true;
  };

  ServerProcess() = default;
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts msx-server on 127.0.0.1:0 and waits until it reports its port and answers the
  // gRPC health check (over options.health_credentials) as SERVING (or at all, see
  // Options::wait_serving).
  absl::Status Start(const Options& options);
  absl::Status Start() { return Start(Options{}); }

  // Sends `signal` and waits for exit; returns the exit status as from waitpid.
  int Stop(int signal);
  // SIGKILL, no cleanup: the crash case.
  void Kill();
  // Waits up to `timeout` for the server to exit by itself; returns the status as from
  // waitpid, or DeadlineExceeded (the server still runs).
  absl::StatusOr<int> WaitExit(std::chrono::milliseconds timeout);
  bool running() const { return pid_ > 0; }
  // Process id of the running server (-1 when not running), e.g. for prlimit(2).
  pid_t pid() const { return pid_; }

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& data_dir() const { return data_dir_; }
  // Everything the server wrote to stdout and stderr so far.
  std::string Output() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string data_dir_;
  bool owns_data_dir_ = false;
  std::string scratch_dir_;  // the server's log and port file; one per ServerProcess
  std::string log_path_;
};

// Runs a program to completion with the given arguments and environment additions;
// returns its exit code and captured stdout/stderr.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& extra_env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace msx::testing

#endif  // MSX_TESTS_TESTING_SERVER_PROCESS_H_
