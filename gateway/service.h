// The msx.v1.Exchange and msx.v1.Admin services on gRPC's callback API.
//
// Every handler authenticates (TokenTable), validates and translates on the gRPC thread,
// then hands a Work to the Sequencer and returns without blocking; the call is finished
// by the thread that releases its group commit once the journal holds the command (or at
// once with an error: UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, NOT_FOUND,
// RESOURCE_EXHAUSTED, UNAVAILABLE). Streams (StreamExecutions, StreamBook, OrderEntry)
// are reactors that own their lifetime (shared ownership between gRPC, the hubs and
// queued work; released in OnDone).
//
// Where the methods are: unary_service.cc (every unary method), execution_stream.cc,
// book_stream.cc, order_entry_stream.cc; what they share is in internal/.
//
// Thread-safety: the services are stateless beyond their (thread-safe) collaborators.
#ifndef MSX_GATEWAY_SERVICE_H_
#define MSX_GATEWAY_SERVICE_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "gateway/admission.h"
#include "gateway/auth.h"
#include "gateway/history_reader.h"
#include "gateway/hubs.h"
#include "gateway/reports.h"
#include "gateway/sequencer.h"
#include "msx/v1/exchange.grpc.pb.h"

namespace msx::gateway {

// Limits of the subscription streams (server config: stream_max_queued_messages,
// stream_max_queued_bytes, max_streams_per_agency). A stream whose live queue (messages
// published but not yet written, because the client reads slower than they come) would
// exceed either cap is ended with RESOURCE_EXHAUSTED naming the cap; the client resumes
// with after_seq. History being replayed to a resuming stream is paged and never counts.
struct StreamLimits {
  std::size_t max_queued_messages = 1 << 16;
  std::size_t max_queued_bytes = 16 << 20;
  int max_streams_per_agency = 64;  // StreamExecutions + StreamExecutionBatches + StreamBook
};

// Open subscription streams per agency. Thread-safe.
class StreamCounts {
 public:
  explicit StreamCounts(std::size_t agencies) : open_(agencies) {
    for (auto& n : open_) n.store(0, std::memory_order_relaxed);
  }
  StreamCounts(const StreamCounts&) = delete;
  StreamCounts& operator=(const StreamCounts&) = delete;

  // Counts one more stream of `agency` unless it has `max` open already.
  bool TryOpen(AgencyId agency, int max) {
    if (open_[agency].fetch_add(1, std::memory_order_acq_rel) >= max) {
      open_[agency].fetch_sub(1, std::memory_order_acq_rel);
      return false;
    }
    return true;
  }
  void Release(AgencyId agency) { open_[agency].fetch_sub(1, std::memory_order_acq_rel); }
  int open(AgencyId agency) const { return open_[agency].load(std::memory_order_acquire); }

 private:
  std::vector<std::atomic<int>> open_;
};

struct ServiceContext {
  const ReferenceData* ref;
  const TokenTable* tokens;
  Sequencer* sequencer;
  ExecHub* exec_hub;
  BookHub* book_hub;
  Reports* reports;        // execution history and book snapshots (sequencer thread)
  std::string durability;  // "sync" or "none", for GetExchangeStatus
  std::string data_dir;    // also the journal's directory (execution history)
  // Per-agency in-flight limit of the unary calls and OrderEntry requests; null = none.
  Admission* admission = nullptr;
  HistoryReader* history = nullptr;
  StreamCounts* stream_counts = nullptr;
  StreamLimits stream_limits;
  // Adds the replication fields to a GetExchangeStatus answer (any thread); empty = no
  // replication.
  std::function<void(v1::GetExchangeStatusResponse*)> replication_status;
  // server.allow_clock_advance: Admin.AdvanceClock is allowed (drills and tests).
  bool allow_clock_advance = false;
};

// Most requests an OrderEntry (or OrderEntryBatches) stream may have in flight before
// further ones are turned down with RESOURCE_EXHAUSTED.
inline constexpr int kMaxOrderEntryInFlight = 4096;
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
  // Time swaps (unary_service.cc).
  grpc::ServerUnaryReactor* SubmitTermOffer(grpc::CallbackServerContext* context,
                                            const v1::SubmitTermOfferRequest* request,
                                            v1::SubmitTermOfferResponse* response) override;
  grpc::ServerUnaryReactor* CancelTermOffer(grpc::CallbackServerContext* context,
                                            const v1::CancelTermOfferRequest* request,
                                            v1::CancelTermOfferResponse* response) override;
  grpc::ServerUnaryReactor* ReplaceTermOffer(grpc::CallbackServerContext* context,
                                             const v1::ReplaceTermOfferRequest* request,
                                             v1::ReplaceTermOfferResponse* response) override;
  grpc::ServerUnaryReactor* GetTermOffer(grpc::CallbackServerContext* context,
                                         const v1::GetTermOfferRequest* request,
                                         v1::TermOffer* response) override;
  grpc::ServerUnaryReactor* ListObligations(grpc::CallbackServerContext* context,
                                            const v1::ListObligationsRequest* request,
                                            v1::ListObligationsResponse* response) override;
  grpc::ServerUnaryReactor* GetObligation(grpc::CallbackServerContext* context,
                                          const v1::GetObligationRequest* request,
                                          v1::Obligation* response) override;
  grpc::ServerUnaryReactor* ReturnObligation(grpc::CallbackServerContext* context,
                                             const v1::ReturnObligationRequest* request,
                                             v1::ReturnObligationResponse* response) override;
  grpc::ServerUnaryReactor* RecallObligation(grpc::CallbackServerContext* context,
                                             const v1::RecallObligationRequest* request,
                                             v1::RecallObligationResponse* response) override;
  // Emergencies (unary_service.cc).
  grpc::ServerUnaryReactor* GetLevels(grpc::CallbackServerContext* context,
                                      const v1::GetLevelsRequest* request,
                                      v1::GetLevelsResponse* response) override;
  // Deliveries (engine/matching/ENGINE.md "Deliveries").
  grpc::ServerUnaryReactor* ConfirmDelivery(grpc::CallbackServerContext* context,
                                            const v1::ConfirmDeliveryRequest* request,
                                            v1::ConfirmDeliveryResponse* response) override;
  grpc::ServerUnaryReactor* ListDeliveries(grpc::CallbackServerContext* context,
                                           const v1::ListDeliveriesRequest* request,
                                           v1::ListDeliveriesResponse* response) override;
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
  grpc::ServerUnaryReactor* AdvanceClock(grpc::CallbackServerContext* context,
                                         const v1::AdvanceClockRequest* request,
                                         v1::AdvanceClockResponse* response) override;
  // Emergencies (unary_service.cc).
  grpc::ServerUnaryReactor* PublishReference(grpc::CallbackServerContext* context,
                                             const v1::PublishReferenceRequest* request,
                                             v1::AdminCommandResponse* response) override;
  grpc::ServerUnaryReactor* AdmitMember(grpc::CallbackServerContext* context,
                                        const v1::MemberRequest* request,
                                        v1::AdminCommandResponse* response) override;
  grpc::ServerUnaryReactor* SuspendMember(grpc::CallbackServerContext* context,
                                          const v1::MemberRequest* request,
                                          v1::AdminCommandResponse* response) override;
  grpc::ServerUnaryReactor* SetEmergencyLevel(grpc::CallbackServerContext* context,
                                              const v1::SetEmergencyLevelRequest* request,
                                              v1::AdminCommandResponse* response) override;

 private:
  ServiceContext ctx_;
};

}  // namespace msx::gateway

#endif  // MSX_GATEWAY_SERVICE_H_
