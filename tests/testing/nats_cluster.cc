#include "tests/testing/nats_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace msx::testing {
namespace {

// nats-server as Debian installs it; $MSX_NATS_SERVER overrides (e.g. another build).
std::string NatsServerBinary() {
  const char* env = std::getenv("MSX_NATS_SERVER");
  if (env != nullptr && *env != '\0') return env;
  for (const char* candidate : {"/usr/sbin/nats-server", "/usr/bin/nats-server"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return "nats-server";
}

std::string TempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", prefix, "-XXXXXX");
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  char* made = mkdtemp(buf.data());
  return made != nullptr ? std::string(made) : std::string();
}

// Reserves `count` distinct free TCP ports on 127.0.0.1 by binding them all at once (so the
// kernel cannot hand out one twice), then releases them for the servers to bind.
absl::Status FreePorts(int count, std::vector<int>* ports) {
  std::vector<int> fds;
  absl::Status status;
  for (int i = 0; i < count && status.ok(); ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      status = absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
      break;
    }
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      status = absl::InternalError(absl::StrCat("bind 127.0.0.1:0: ", std::strerror(errno)));
      break;
    }
    ports->push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) close(fd);
  return status;
}

// HTTP status code of GET <path> on 127.0.0.1:<port>, or -1 when it cannot be had.
int HttpGetStatus(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{0, 500 * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  int code = -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[64] = {0};
      ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
      // "HTTP/1.1 200 OK"
      if (n >= 12 && std::strncmp(buf, "HTTP/1.", 7) == 0) code = std::atoi(buf + 9);
    }
  }
  close(fd);
  return code;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

NatsCluster::~NatsCluster() {
  for (int i = 0; i < size(); ++i) Kill(i);
  if (!root_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(root_dir_, ec);
  }
}

absl::Status NatsCluster::Start(const Options& options) {
  if (!servers_.empty()) return absl::FailedPreconditionError("cluster already started");
  if (options.size < 1) return absl::InvalidArgumentError("cluster size must be >= 1");
  options_ = options;
  root_dir_ = TempDir("msx-nats");
  if (root_dir_.empty()) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  }
  std::vector<int> ports;
  absl::Status status = FreePorts(3 * options.size, &ports);
  if (!status.ok()) return status;
  servers_.resize(options.size);
  for (int i = 0; i < options.size; ++i) {
    Server& s = servers_[i];
    s.name = absl::StrCat("n", i);
    s.client_port = ports[3 * i];
    s.cluster_port = ports[3 * i + 1];
    s.http_port = ports[3 * i + 2];
    std::string dir = absl::StrCat(root_dir_, "/", s.name);
    std::filesystem::create_directories(dir + "/store");
    s.store_dir = dir + "/store";
    s.config_path = dir + "/nats.conf";
    s.log_path = dir + "/nats.log";
  }
  for (int i = 0; i < options.size; ++i) {
    Server& s = servers_[i];
    std::vector<std::string> routes;
    for (int j = 0; j < options.size; ++j) {
      if (j != i)
        routes.push_back(absl::StrCat("nats-route://127.0.0.1:", servers_[j].cluster_port));
    }
    std::ofstream conf(s.config_path);
    conf << "server_name: " << s.name << "\n"
         << "listen: 127.0.0.1:" << s.client_port << "\n"
         << "http: 127.0.0.1:" << s.http_port << "\n"
         << "jetstream {\n  store_dir: \"" << s.store_dir << "\"\n"
         << "  max_memory_store: 256MB\n  max_file_store: 2GB\n}\n";
    if (options.size > 1) {
      conf << "cluster {\n  name: " << options.cluster_name << "\n"
           << "  listen: 127.0.0.1:" << s.cluster_port << "\n"
           << "  routes: [" << absl::StrJoin(routes, ", ") << "]\n}\n";
    }
    if (!conf.good()) return absl::InternalError("cannot write " + s.config_path);
  }
  for (int i = 0; i < options.size; ++i) {
    status = Spawn(i);
    if (!status.ok()) return status;
  }
  for (int i = 0; options.wait_until_healthy && i < options.size; ++i) {
    status = WaitHealthy(i, options.ready_timeout);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status NatsCluster::Spawn(int i) {
  Server& s = servers_[i];
  const std::string binary = NatsServerBinary();
  std::vector<std::string> argv = {binary, "-c", s.config_path};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. Die with the test process so a
    // crashed test never leaves servers behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int in = open("/dev/null", O_RDONLY);
    int out = open(s.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  s.pid = pid;
  s.paused = false;
  return absl::OkStatus();
}

absl::Status NatsCluster::WaitHealthy(int i, std::chrono::milliseconds timeout) {
  Server& s = servers_[i];
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (s.pid > 0 && waitpid(s.pid, &status, WNOHANG) == s.pid) {
      s.pid = -1;
      return absl::InternalError(
          absl::StrCat("nats-server ", s.name, " exited during start: ", Log(i)));
    }
    if (s.pid <= 0) return absl::FailedPreconditionError(s.name + " is not running");
    if (HttpGetStatus(s.http_port, "/healthz") == 200) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(absl::StrCat("nats-server ", s.name, " not healthy after ",
                                                  timeout.count(), " ms: ", Log(i)));
}

std::string NatsCluster::Url(int i) const {
  return absl::StrCat("nats://127.0.0.1:", servers_[i].client_port);
}

std::vector<std::string> NatsCluster::Urls() const {
  std::vector<std::string> urls;
  for (int i = 0; i < size(); ++i) urls.push_back(Url(i));
  return urls;
}

std::string NatsCluster::UrlList() const { return absl::StrJoin(Urls(), ","); }

std::string NatsCluster::Name(int i) const { return servers_[i].name; }

int NatsCluster::IndexOf(const std::string& name) const {
  for (int i = 0; i < size(); ++i) {
    if (servers_[i].name == name) return i;
  }
  return -1;
}

void NatsCluster::Kill(int i) {
  Server& s = servers_[i];
  if (s.pid <= 0) return;
  kill(s.pid, SIGKILL);
  int status = 0;
  waitpid(s.pid, &status, 0);
  s.pid = -1;
  s.paused = false;
}

void NatsCluster::Pause(int i) {
  Server& s = servers_[i];
  if (s.pid <= 0 || s.paused) return;
  kill(s.pid, SIGSTOP);
  // kill() returns before the stop takes effect: the group stop begins when one of the
  // server's threads takes the signal, and on a loaded machine its other threads may go on
  // serving meanwhile (seen: publishes acknowledged after "every server was stopped").
  // Wait until the process is reported stopped.
  int status = 0;
  while (waitpid(s.pid, &status, WUNTRACED) < 0 && errno == EINTR) {
  }
  s.paused = true;
}

void NatsCluster::Resume(int i) {
  Server& s = servers_[i];
  if (s.pid <= 0 || !s.paused) return;
  kill(s.pid, SIGCONT);
  s.paused = false;
}

absl::Status NatsCluster::Restart(int i) {
  if (servers_[i].pid > 0) {
    return absl::FailedPreconditionError(servers_[i].name + " is still running");
  }
  absl::Status status = Spawn(i);
  if (!status.ok()) return status;
  return WaitHealthy(i, options_.ready_timeout);
}

absl::Status NatsCluster::RestartAll() {
  for (int i = 0; i < size(); ++i) {
    if (servers_[i].pid > 0) continue;
    if (absl::Status status = Spawn(i); !status.ok()) return status;
  }
  for (int i = 0; i < size(); ++i) {
    if (absl::Status status = WaitHealthy(i, options_.ready_timeout); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

std::string NatsCluster::Log(int i) const { return ReadFile(servers_[i].log_path); }

}  // namespace msx::testing
