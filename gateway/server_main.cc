// msx-server: the MSX exchange process.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <boost/program_options.hpp>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

namespace po = boost::program_options;

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:50051";
  std::string data_dir = "./data";
  std::string port_file;
  po::options_description desc("Usage: msx-server [options]\nOptions");
  desc.add_options()("help,h", "print this help")(
      "listen", po::value(&listen), "HOST:PORT to listen on (default 127.0.0.1:50051; port 0 = any)")(
      "data-dir", po::value(&data_dir), "journal and snapshot directory (default ./data)")(
      "port-file", po::value(&port_file), "write the bound port to this file once serving");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "msx-server: " << e.what() << "\n" << desc;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "msx-server: cannot listen on " << listen << "\n";
    return 1;
  }
  std::string host = listen.substr(0, listen.rfind(':'));
  std::cout << "msx-server: serving on " << host << ":" << port << std::endl;
  if (!port_file.empty()) {
    std::ofstream(port_file) << port << "\n";
  }

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  sigwait(&set, &sig);
  server->Shutdown();
  return 0;
}
