// NatsCluster: starts N real nats-server processes with JetStream, clustered over routes on
// free 127.0.0.1 ports, each with its own temporary store directory; for end-to-end tests
// of gateway/replication. Never binds anything but loopback.
//
// Thread-safety: a NatsCluster is driven by one test thread; its methods are not
// thread-safe. Destruction SIGKILLs every server still running and removes the stores.
#ifndef MSX_TESTS_TESTING_NATS_CLUSTER_H_
#define MSX_TESTS_TESTING_NATS_CLUSTER_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace msx::testing {

class NatsCluster {
 public:
  struct Options {
    int size = 3;
    std::string cluster_name = "msx-test";
    // How long Start() and Restart() wait for every running server to report healthy (a
    // bound for a broken build: a loaded machine may take long).
    std::chrono::milliseconds ready_timeout{60000};
    // false: Start() returns once the processes are spawned, before the servers listen or
    // have elected a JetStream meta leader (the cold-start case).
    bool wait_until_healthy = true;
  };

  NatsCluster() = default;
  ~NatsCluster();
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  // Picks the ports, writes one configuration file per server, starts them all and waits
  // until each answers /healthz with 200 (in nats-server 2.9 that means JetStream is
  // enabled, a meta leader is known and the server is current with it).
  absl::Status Start(const Options& options);
  absl::Status Start() { return Start(Options{}); }

  int size() const { return static_cast<int>(servers_.size()); }
  // "nats://127.0.0.1:<port>" of server i, and all of them comma-separated / as a list.
  std::string Url(int i) const;
  std::vector<std::string> Urls() const;
  std::string UrlList() const;
  // The server_name of server i ("n0", "n1", ...), as JetStream reports leaders.
  std::string Name(int i) const;

  // SIGKILL (no cleanup: the crash case) and reap. No-op when not running.
  void Kill(int i);
  // SIGSTOP / SIGCONT: the stalled-server case. Pause returns once the server is stopped.
  void Pause(int i);
  void Resume(int i);
  // Starts server i again with the same ports and store directory; waits until healthy.
  absl::Status Restart(int i);
  // Starts every stopped server again, then waits until all are healthy (after all of
  // them died, none is healthy before a quorum of them runs).
  absl::Status RestartAll();
  bool running(int i) const { return servers_[i].pid > 0; }
  pid_t pid(int i) const { return servers_[i].pid; }
  // Index of the server whose server_name is `name`, or -1.
  int IndexOf(const std::string& name) const;

  // Waits until server i answers /healthz with 200 or `timeout` passes.
  absl::Status WaitHealthy(int i, std::chrono::milliseconds timeout);
  // Everything server i logged so far (its -l log file).
  std::string Log(int i) const;

 private:
  struct Server {
    std::string name;
    int client_port = 0;
    int cluster_port = 0;
    int http_port = 0;
    std::string store_dir;
    std::string config_path;
    std::string log_path;
    pid_t pid = -1;
    bool paused = false;
  };
  absl::Status Spawn(int i);

  Options options_;
  std::string root_dir_;  // holds every server's config, log and store
  std::vector<Server> servers_;
};

}  // namespace msx::testing

#endif  // MSX_TESTS_TESTING_NATS_CLUSTER_H_
