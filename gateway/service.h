// The msx.v1.Exchange and msx.v1.Admin services on gRPC's callback API.
//
// Every handler authenticates (TokenTable), validates and translates on the gRPC thread,
// then hands a Work to the Sequencer and returns without blocking; the call is finished
// by the publisher thread once the journal holds the command (or at once with an error:
// UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED,
// UNAVAILABLE). Streams (StreamExecutions, StreamBook, OrderEntry) are reactors that own
// their lifetime (shared ownership between gRPC, the hubs and queued work; released in
// OnDone).
//
// Thread-safety: the services are stateless beyond their (thread-safe) collaborators.
#ifndef MSX_GATEWAY_SERVICE_H_
#define MSX_GATEWAY_SERVICE_H_

#include <string>

#include "gateway/admission.h"
#include "gateway/auth.h"
#include "gateway/hubs.h"
#include "gateway/sequencer.h"
#include "msx/v1/exchange.grpc.pb.h"

namespace msx::gateway {

struct ServiceContext {
  const ReferenceData* ref;
  const TokenTable* tokens;
  Sequencer* sequencer;
  ExecHub* exec_hub;
  BookHub* book_hub;
  std::string durability;  // "sync" or "none", for GetExchangeStatus
  std::string data_dir;
  // Per-agency in-flight limit of the unary calls and OrderEntry requests; null = none.
  Admission* admission = nullptr;
};

// Most requests an OrderEntry (or OrderEntryBatches) stream may have in flight before
// further ones are turned down with RESOURCE_EXHAUSTED.
inline constexpr int kMaxOrderEntryInFlight = 4096;
// Most messages queued for one slow stream before it is closed with RESOURCE_EXHAUSTED.
inline constexpr std::size_t kMaxQueuedStreamMessages = 1 << 16;
// StreamExecutionBatches: at most this many reports per message (~50 KB).
inline constexpr std::size_t kMaxBatchMessages = 256;

class ExchangeService final : public v1::Exchange::CallbackService {
 public:
  explicit ExchangeService(ServiceContext ctx) : ctx_(std::move(ctx)) {}

  grpc::ServerUnaryReactor* SubmitOffer(grpc::CallbackServerContext* context,
                                        const v1::SubmitOfferRequest* request,
                                        v1::SubmitOfferResponse* response) override;
  grpc::ServerUnaryReactor* CancelOffer(grpc::CallbackServerContext* context,
                                        const v1::CancelOfferRequest* request,
                                        v1::CancelOfferResponse* response) override;
  grpc::ServerUnaryReactor* ReplaceOffer(grpc::CallbackServerContext* context,
                                         const v1::ReplaceOfferRequest* request,
                                         v1::ReplaceOfferResponse* response) override;
  grpc::ServerUnaryReactor* GetOffer(grpc::CallbackServerContext* context,
                                     const v1::GetOfferRequest* request,
                                     v1::Offer* response) override;
  grpc::ServerUnaryReactor* ListOffers(grpc::CallbackServerContext* context,
                                       const v1::ListOffersRequest* request,
                                       v1::ListOffersResponse* response) override;
  grpc::ServerUnaryReactor* GetHoldings(grpc::CallbackServerContext* context,
                                        const v1::GetHoldingsRequest* request,
                                        v1::GetHoldingsResponse* response) override;
  grpc::ServerUnaryReactor* ListInstruments(grpc::CallbackServerContext* context,
                                            const v1::ListInstrumentsRequest* request,
                                            v1::ListInstrumentsResponse* response) override;
  grpc::ServerUnaryReactor* ListPairs(grpc::CallbackServerContext* context,
                                      const v1::ListPairsRequest* request,
                                      v1::ListPairsResponse* response) override;
  grpc::ServerUnaryReactor* GetBook(grpc::CallbackServerContext* context,
                                    const v1::GetBookRequest* request,
                                    v1::BookSnapshot* response) override;
  grpc::ServerWriteReactor<v1::ExecutionReport>* StreamExecutions(
      grpc::CallbackServerContext* context, const v1::StreamExecutionsRequest* request) override;
  // StreamExecutions, several reports per message (one write per group of ready reports).
  grpc::ServerWriteReactor<v1::ExecutionReportBatch>* StreamExecutionBatches(
      grpc::CallbackServerContext* context, const v1::StreamExecutionsRequest* request) override;
  grpc::ServerWriteReactor<v1::BookUpdate>* StreamBook(
      grpc::CallbackServerContext* context, const v1::StreamBookRequest* request) override;
  grpc::ServerBidiReactor<v1::OrderEntryRequest, v1::OrderEntryResponse>* OrderEntry(
      grpc::CallbackServerContext* context) override;
  // OrderEntry with several requests / responses per message (same semantics).
  grpc::ServerBidiReactor<v1::OrderEntryRequestBatch, v1::OrderEntryResponseBatch>*
  OrderEntryBatches(grpc::CallbackServerContext* context) override;

 private:
  ServiceContext ctx_;
};

class AdminService final : public v1::Admin::CallbackService {
 public:
  explicit AdminService(ServiceContext ctx) : ctx_(std::move(ctx)) {}

  grpc::ServerUnaryReactor* SetHoldings(grpc::CallbackServerContext* context,
                                        const v1::SetHoldingsRequest* request,
                                        v1::SetHoldingsResponse* response) override;
  grpc::ServerUnaryReactor* HaltPair(grpc::CallbackServerContext* context,
                                     const v1::HaltPairRequest* request,
                                     v1::HaltPairResponse* response) override;
  grpc::ServerUnaryReactor* ResumePair(grpc::CallbackServerContext* context,
                                       const v1::ResumePairRequest* request,
                                       v1::ResumePairResponse* response) override;
  grpc::ServerUnaryReactor* GetExchangeStatus(grpc::CallbackServerContext* context,
                                              const v1::GetExchangeStatusRequest* request,
                                              v1::GetExchangeStatusResponse* response) override;
  grpc::ServerUnaryReactor* GetAgencyHoldings(grpc::CallbackServerContext* context,
                                              const v1::GetAgencyHoldingsRequest* request,
                                              v1::GetHoldingsResponse* response) override;

 private:
  ServiceContext ctx_;
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_SERVICE_H_
