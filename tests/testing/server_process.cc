#include "tests/testing/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"

extern char** environ;

namespace msx::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Spawns argv with stdout/stderr redirected to the given files; returns the pid or -1.
pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
            const std::string& out_path, const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (err_path == out_path) {
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  for (const auto& e : extra_env) env_storage.push_back(e);
  std::vector<char*> env;
  for (auto& e : env_storage) env.push_back(e.data());
  env.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

}  // namespace

int HealthState(const std::string& address,
                const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  auto channel = grpc::CreateChannel(
      address, credentials != nullptr ? credentials : grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  return s.ok() ? static_cast<int>(resp.status()) : -1;
}

std::string BuildPath(const std::string& relative) {
  const char* dir = std::getenv("MSX_BUILD_DIR");
  std::string base = dir != nullptr ? dir : "..";
  return base + "/" + relative;
}

std::string MakeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", prefix, "-XXXXXX");
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  char* made = mkdtemp(buf.data());
  return made != nullptr ? std::string(made) : std::string();
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop(SIGKILL);
  if (owns_data_dir_) RemoveTree(data_dir_);
  if (!scratch_dir_.empty()) RemoveTree(scratch_dir_);
}

absl::Status ServerProcess::Start(const Options& options) {
  if (pid_ > 0) return absl::FailedPreconditionError("server already running");
  if (data_dir_.empty()) {
    if (options.data_dir.empty()) {
      data_dir_ = MakeTempDir("msx-data");
      owns_data_dir_ = true;
    } else {
      data_dir_ = options.data_dir;
    }
  }
  // One scratch directory per ServerProcess, removed with it; a restart starts a fresh log.
  if (scratch_dir_.empty()) scratch_dir_ = MakeTempDir("msx-server");
  log_path_ = scratch_dir_ + "/server.log";
  std::string port_file = scratch_dir_ + "/port";
  std::vector<std::string> argv = {BuildPath("gateway/msx-server"), "--listen", "127.0.0.1:0",
                                   "--data-dir", data_dir_, "--port-file", port_file};
  for (const auto& a : options.extra_args) argv.push_back(a);
  pid_ = Spawn(argv, options.extra_env, log_path_, log_path_);
  if (pid_ < 0) return absl::InternalError(absl::StrCat("cannot spawn ", argv[0]));

  auto deadline = std::chrono::steady_clock::now() + options.ready_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("msx-server exited during start: ", Output()));
    }
    if (port_ == 0) {
      std::string text = ReadFile(port_file);
      if (!text.empty() && text.back() == '\n') port_ = std::atoi(text.c_str());
    }
    const int health = port_ != 0 ? HealthState(address(), options.health_credentials) : -1;
    if (health == grpc::health::v1::HealthCheckResponse::SERVING ||
        (!options.wait_serving && health >= 0)) {
      std::filesystem::remove_all(port_file);
      return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("msx-server not serving: ", Output()));
}

int ServerProcess::Stop(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  port_ = 0;
  return status;
}

void ServerProcess::Kill() { Stop(SIGKILL); }

absl::StatusOr<int> ServerProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("server not running");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      port_ = 0;
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError("msx-server still running");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string ServerProcess::Output() const { return ReadFile(log_path_); }

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& extra_env,
                         std::chrono::milliseconds timeout) {
  CommandResult result;
  std::string scratch = MakeTempDir("msx-cmd");
  std::string out_path = scratch + "/out", err_path = scratch + "/err";
  pid_t pid = Spawn(argv, extra_env, out_path, err_path);
  if (pid < 0) {
    result.err = "cannot spawn " + argv[0];
    RemoveTree(scratch);
    return result;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.err = "timed out; ";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out_path);
  result.err += ReadFile(err_path);
  RemoveTree(scratch);
  return result;
}

}  // namespace msx::testing
