// msx-echo-server: a bare gRPC server with one unary Echo of a SubmitOfferRequest, the
// floor against which msx-server's SubmitOffer latency is judged (msx-loadgen --echo).
//
// Two server APIs, chosen with --api: "async" (completion queues, one polling thread per
// queue, the classic greeter_async_server state machine) and "callback" (gRPC's callback
// API, handlers run on gRPC's own threads). Neither does any work beyond copying the
// request into the response.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/program_options.hpp>
#include <grpcpp/grpcpp.h>

#include "msx/bench/echo.grpc.pb.h"

namespace po = boost::program_options;

namespace msx::bench {
namespace {

class CallbackEcho final : public Echo::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx,
                                 const v1::SubmitOfferRequest* request,
                                 v1::SubmitOfferRequest* response) override {
    *response = *request;
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// One in-flight Echo on the async API. Owns itself: deletes itself once finished.
class AsyncCall {
 public:
  AsyncCall(Echo::AsyncService* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq), responder_(&ctx_) {
    service_->RequestEcho(&ctx_, &request_, &responder_, cq_, cq_, this);
  }

  // Called from the queue's thread when this call's pending operation completes.
  void Proceed(bool ok) {
    if (!finishing_) {
      if (!ok) {  // the server is shutting down; no call arrived
        delete this;
        return;
      }
      new AsyncCall(service_, cq_);  // keep one request outstanding per queue
      finishing_ = true;
      responder_.Finish(request_, grpc::Status::OK, this);
    } else {
      delete this;
    }
  }

 private:
  Echo::AsyncService* service_;
  grpc::ServerCompletionQueue* cq_;
  grpc::ServerContext ctx_;
  v1::SubmitOfferRequest request_;
  grpc::ServerAsyncResponseWriter<v1::SubmitOfferRequest> responder_;
  bool finishing_ = false;
};

}  // namespace
}  // namespace msx::bench

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  std::string api = "async";
  int threads = 2;
  po::options_description desc(
      "Usage: msx-echo-server [options]\n"
      "A bare gRPC echo of a SubmitOfferRequest: the latency floor for msx-loadgen --echo.\n"
      "Options");
  desc.add_options()("help,h", "print this help")(
      "listen", po::value(&listen), "HOST:PORT to listen on (default 127.0.0.1:0 = any port)")(
      "port-file", po::value(&port_file), "write the bound port to this file once serving")(
      "api", po::value(&api), "server API: async (completion queues, default) or callback")(
      "threads", po::value(&threads), "async API: completion queues, one thread each (default 2)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "msx-echo-server: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (api != "async" && api != "callback") {
    std::cerr << "msx-echo-server: --api must be async or callback\n";
    return 2;
  }
  if (threads < 1 || threads > 64) {
    std::cerr << "msx-echo-server: --threads must be in 1..64\n";
    return 2;
  }

  // Stop signals go to the main thread's sigwait only; block them before gRPC threads start.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  msx::bench::CallbackEcho callback_service;
  msx::bench::Echo::AsyncService async_service;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
  if (api == "callback") {
    builder.RegisterService(&callback_service);
  } else {
    builder.RegisterService(&async_service);
    for (int i = 0; i < threads; ++i) cqs.push_back(builder.AddCompletionQueue());
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "msx-echo-server: cannot listen on " << listen << "\n";
    return 1;
  }
  std::vector<std::thread> pollers;
  for (auto& cq : cqs) {
    grpc::ServerCompletionQueue* q = cq.get();
    pollers.emplace_back([&async_service, q] {
      new msx::bench::AsyncCall(&async_service, q);
      void* tag;
      bool ok;
      while (q->Next(&tag, &ok)) static_cast<msx::bench::AsyncCall*>(tag)->Proceed(ok);
    });
  }
  std::cout << "msx-echo-server: serving on " << listen.substr(0, listen.rfind(':')) << ":"
            << port << " (" << api << " API)" << std::endl;
  if (!port_file.empty()) std::ofstream(port_file) << port << "\n";

  int sig = 0;
  sigwait(&set, &sig);
  server->Shutdown();
  for (auto& cq : cqs) cq->Shutdown();
  for (auto& t : pollers) t.join();
  return 0;
}
