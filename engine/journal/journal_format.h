// Constants of the journal file format. engine/journal/FORMAT.md is the specification;
// every number here is stated there and checked below, so the two cannot drift apart
// silently.
#ifndef MSX_ENGINE_JOURNAL_JOURNAL_FORMAT_H_
#define MSX_ENGINE_JOURNAL_JOURNAL_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace msx::journal {

enum class RecordType : std::uint8_t {
  kConfig = 1,   // opaque reference-data configuration; first record of every segment
  kCommand = 2,  // one sequenced command and the number of its events
  kEvent = 3,    // one event of the preceding command
};

// Segment format version written by this code, and the oldest one it reads (FORMAT.md,
// "Versioning rule": version 2 added command type 8, ReplaceOffer by total lots, and
// cancel reason 7; version 3 command type 9, SetOfferRetention; version 4 the time-swap
// command types 10..13 and event types 11..15; version 5 the emergency command types
// 20..23, event types 20..24 and cancel reasons 40..41; version 6 the collateral event
// type 16 and reject reason 28; version 7 the allocation-auction command types 30..31
// and event type 30; version 8 the term-book command type 14, ReplaceTermOffer, event type
// 17, TermReplaced, and FOK or a minimum fill in SubmitTermOffer; version 9 the delivery
// command type 24, ConfirmDelivery, and event type 25, Delivery; version 10 the command
// type 25, FollowLiveReference; older segments hold the same layouts without them).
inline constexpr std::uint16_t kFormatVersion = 10;
// The first version whose segments may hold time-swap records.
inline constexpr std::uint16_t kTimeSwapsFormatVersion = 4;
// The first version whose segments may hold emergency records (issue 15).
inline constexpr std::uint16_t kEmergencyFormatVersion = 5;
// The first version whose segments may hold collateral records (time swaps, issue 14):
// event type 16 (reject reason 28 came with it).
inline constexpr std::uint16_t kCollateralFormatVersion = 6;
// The first version whose segments may hold allocation-auction records (issue 15 s.3).
inline constexpr std::uint16_t kAuctionFormatVersion = 7;
// The first version whose segments may hold term-book order types (issue 14): command type
// 14, event type 17, and a SubmitTermOffer (10) with tif FOK or a minimum fill.
inline constexpr std::uint16_t kTermOrdersFormatVersion = 8;
// The first version whose segments may hold delivery records (issue 15 s.3, deliver-by):
// command type 24 and event type 25.
inline constexpr std::uint16_t kDeliveryFormatVersion = 9;
// The first version whose segments may hold the switch of term books to live reference
// data (ENGINE.md "Time swaps", "Live reference data"): command type 25.
inline constexpr std::uint16_t kLiveTermsFormatVersion = 10;
inline constexpr std::uint16_t kOldestFormatVersion = 1;
// Version of the snapshot file framing (header and CRC; not of the engine state inside it,
// which Engine::LoadState versions itself).
inline constexpr std::uint16_t kSnapshotFormatVersion = 1;

// Segment header: magic[8] version:u16 header_size:u16 reserved:u32 first_seq:u64
// reserved:u32 header_crc:u32.
inline constexpr char kSegmentMagic[8] = {'M', 'S', 'X', 'J', 'R', 'N', 'L', '\0'};
inline constexpr std::size_t kSegmentHeaderSize = 32;
inline constexpr std::size_t kSegmentHeaderVersionOffset = 8;
inline constexpr std::size_t kSegmentHeaderSizeOffset = 10;
inline constexpr std::size_t kSegmentHeaderFirstSeqOffset = 16;
inline constexpr std::size_t kSegmentHeaderCrcOffset = 28;
static_assert(kSegmentHeaderCrcOffset + 4 == kSegmentHeaderSize);
static_assert(kSegmentHeaderFirstSeqOffset + 8 + 4 == kSegmentHeaderCrcOffset);

// Record framing: crc:u32 length:u32 type:u8 payload[length].
inline constexpr std::size_t kRecordHeaderSize = 9;
inline constexpr std::size_t kRecordCrcOffset = 0;
inline constexpr std::size_t kRecordLengthOffset = 4;
inline constexpr std::size_t kRecordTypeOffset = 8;
static_assert(kRecordTypeOffset + 1 == kRecordHeaderSize);
inline constexpr std::uint32_t kMaxPayload = 64u << 20;
// Preallocation (FORMAT.md "Torn tail"): a writer that writes into pre-zeroed space leaves
// at least kMinZeroTail zero bytes after every such write, so a segment ending in fewer
// zero bytes (a valid record ends in at most ~90) was not preallocated there.
inline constexpr std::uint64_t kMinZeroTail = 4096;
// The most bytes a writer may have written but not yet fdatasync'd (FORMAT.md "Torn
// tail"): the MSX writer syncs after at most this many bytes of whole records (a single
// record larger than this is written and synced on its own). A power cut can only damage
// unsynced bytes, so a tear starts at a record that begins at most this far before the
// last non-zero byte of the segment; damage further back is corruption.
inline constexpr std::uint64_t kMaxUnsyncedBytes = 1u << 20;
// Storage writes a sector whole or not at all: a record that fails its checksum although
// none of the sectors it spans (after its first) is all zero was written whole and then
// damaged, so it is corruption, never a tear.
inline constexpr std::uint64_t kSectorSize = 512;
static_assert(kMaxUnsyncedBytes % kSectorSize == 0 && kMinZeroTail % kSectorSize == 0);
// Name of the side file that keeps the bytes a truncation cut from a segment:
// "<segment>.cut-<offset>" (offset in the segment where the cut bytes began).
inline constexpr char kCutSuffix[] = ".cut-";

// COMMAND payload prefix: seq:u64 time:i64 command_type:u8 event_count:u32.
inline constexpr std::size_t kCommandPrefixSize = 8 + 8 + 1 + 4;
static_assert(kCommandPrefixSize == 21);
// EVENT payload prefix: seq:u64 index:u32 time:i64 event_type:u8.
inline constexpr std::size_t kEventPrefixSize = 8 + 4 + 8 + 1;
static_assert(kEventPrefixSize == 21);

// Body sizes by command type (index = msx::CommandType value; 0 unused).
inline constexpr std::size_t kSubmitOfferBodySize = 4 + 4 + 1 + 1 + 8 * 4 + 8 * 3;
inline constexpr std::size_t kCancelOfferBodySize = 4 + 8;
inline constexpr std::size_t kReplaceOfferBodySize = 4 + 8 + 8 + 8;
inline constexpr std::size_t kAdvanceTimeBodySize = 0;
inline constexpr std::size_t kSetHoldingsBodySize = 4 + 4 + 8;
inline constexpr std::size_t kPairCommandBodySize = 4;
inline constexpr std::size_t kSetOfferRetentionBodySize = 8;
static_assert(kSubmitOfferBodySize == 66);
static_assert(kCancelOfferBodySize == 12);
static_assert(kReplaceOfferBodySize == 28);
static_assert(kSetHoldingsBodySize == 16);
// kReturnObligation, kRecallObligation: agency:u32 obligation:u64 amount:i64. (The term
// offer commands 10 and 11 share the bodies of 1 and 2.)
inline constexpr std::size_t kObligationCommandBodySize = 4 + 8 + 8;
static_assert(kObligationCommandBodySize == 20);
// Emergencies (version 5; engine/matching/command.h).
inline constexpr std::size_t kPublishReferenceBodySize = 4 + 8 + 8 + 8;
inline constexpr std::size_t kMemberBodySize = 4 + 4;
inline constexpr std::size_t kLevelReasonBytes = 60;  // msx::kMaxLevelReasonBytes
inline constexpr std::size_t kSetEmergencyLevelBodySize = 4 + 1 + 1 + kLevelReasonBytes;
static_assert(kPublishReferenceBodySize == 28);
static_assert(kMemberBodySize == 8);
static_assert(kSetEmergencyLevelBodySize == 66);
// Allocation auctions (version 6). SubmitOfferWithNeed: the SubmitOffer body, then
// need:i64 tier:u8.
inline constexpr std::size_t kRunAuctionBodySize = 4;
inline constexpr std::size_t kSubmitOfferWithNeedBodySize = kSubmitOfferBodySize + 8 + 1;
static_assert(kRunAuctionBodySize == 4);
static_assert(kSubmitOfferWithNeedBodySize == 75);
// Deliveries (version 9). ConfirmDelivery: agency:u32 delivery:u64.
inline constexpr std::size_t kConfirmDeliveryBodySize = 4 + 8;
static_assert(kConfirmDeliveryBodySize == 12);
// Term books on live reference data (version 10). FollowLiveReference: no body.
inline constexpr std::size_t kFollowLiveReferenceBodySize = 0;

// Body sizes by event type.
inline constexpr std::size_t kAcceptedBodySize = 8 + 4 + 4 + 1 + 1 + 8 + 8 + 8;
inline constexpr std::size_t kRejectedBodySize = 1 + 1 + 4 + 8 + 8;
inline constexpr std::size_t kFillBodySize = 8 + 4 + 1 + 8 + 8 + 4 + 4 + 8 * 6;
inline constexpr std::size_t kCancelledBodySize = 8 + 4 + 1 + 8;
inline constexpr std::size_t kReplacedBodySize = 8 + 4 + 8 + 8 + 1;
inline constexpr std::size_t kExpiredBodySize = 8 + 4 + 8;
inline constexpr std::size_t kBookLevelBodySize = 4 + 1 + 8 + 8 + 4;
inline constexpr std::size_t kHoldingsSetBodySize = 4 + 4 + 8 + 8;
inline constexpr std::size_t kPairEventBodySize = 4;
static_assert(kAcceptedBodySize == 42);
static_assert(kRejectedBodySize == 22);
static_assert(kFillBodySize == 85);
static_assert(kCancelledBodySize == 21);
static_assert(kReplacedBodySize == 29);
static_assert(kExpiredBodySize == 20);
static_assert(kBookLevelBodySize == 25);
static_assert(kHoldingsSetBodySize == 24);
// Time swaps (version 4). TermAccepted/TermCancelled/TermExpired share the bodies of
// Accepted/Cancelled/Expired.
inline constexpr std::size_t kLoanFillBodySize = 8 + 4 + 4 + 8 + 8 + 4 + 4 + 8 * 5 + 1;
inline constexpr std::size_t kObligationEventBodySize = 8 + 1 + 1 + 4 + 4 + 4 + 8 * 3;
static_assert(kLoanFillBodySize == 81);
static_assert(kObligationEventBodySize == 46);
// Collateral (version 6; engine/matching/event.h CollateralEvent).
inline constexpr std::size_t kCollateralEventBodySize = 8 + 1 + 1 + 4 + 4 + 4 + 8 * 3;
static_assert(kCollateralEventBodySize == 46);
// Emergencies (version 5; engine/matching/event.h). ReferencePublished shares the body of
// command PublishReference, MemberAdmitted/MemberSuspended that of the member commands.
inline constexpr std::size_t kReferencePublishedBodySize = kPublishReferenceBodySize;
inline constexpr std::size_t kPairBandChangedBodySize = 4 + 8 * 4;
inline constexpr std::size_t kMemberEventBodySize = kMemberBodySize;
inline constexpr std::size_t kEmergencyLevelSetBodySize = 4 + 1 + 1 + 1 + kLevelReasonBytes;
static_assert(kPairBandChangedBodySize == 36);
static_assert(kEmergencyLevelSetBodySize == 67);
// Allocation auctions (version 6).
inline constexpr std::size_t kAuctionBodySize = 4 + 1 + 8 * 6;
static_assert(kAuctionBodySize == 53);
// Deliveries (version 9): delivery:u64 fill_id:u64 kind:u8 state:u8 pair:u32
// instrument:u32 deliverer:u32 receiver:u32 agreement:u32 by:u32 amount:i64 deliver_by:i64.
inline constexpr std::size_t kDeliveryBodySize = 8 + 8 + 1 + 1 + 4 * 6 + 8 + 8;
static_assert(kDeliveryBodySize == 58);

// Largest payloads, for buffer sizing.
inline constexpr std::size_t kMaxCommandPayload =
    kCommandPrefixSize + kSubmitOfferWithNeedBodySize;
inline constexpr std::size_t kMaxEventPayload = kEventPrefixSize + kFillBodySize;

// Snapshot header: magic[8] version:u16 header_size:u16 reserved:u32 seq:u64
// state_length:u64 state_crc:u32 header_crc:u32.
inline constexpr char kSnapshotMagic[8] = {'M', 'S', 'X', 'S', 'N', 'A', 'P', '\0'};
inline constexpr std::size_t kSnapshotHeaderSize = 40;
inline constexpr std::size_t kSnapshotHeaderCrcOffset = 36;
static_assert(8 + 2 + 2 + 4 + 8 + 8 + 4 + 4 == kSnapshotHeaderSize);

// File names: 20 zero-padded decimal digits hold any u64 and sort in numeric order.
inline constexpr int kSeqDigits = 20;
inline constexpr char kSegmentSuffix[] = ".msxj";
inline constexpr char kSnapshotPrefix[] = "snapshot-";
inline constexpr char kSnapshotSuffix[] = ".msxs";

inline constexpr std::uint64_t kDefaultSegmentBytes = 64u << 20;
// Zero bytes a writer keeps ahead of its data by default (WriterOptions::preallocate_bytes).
inline constexpr std::uint64_t kDefaultPreallocateBytes = 1u << 20;

}  // namespace msx::journal

#endif  // MSX_ENGINE_JOURNAL_JOURNAL_FORMAT_H_
