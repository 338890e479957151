// Opening a journal for a drill: its CONFIG record becomes the reference data that a fresh
// engine is built from, so a journal directory is all msx-drill needs.
//
// Thread-safety: a DrillJournal is immutable after Open and may be read from any thread.
#ifndef MSX_CLIENTS_DRILL_DRILL_JOURNAL_H_
#define MSX_CLIENTS_DRILL_DRILL_JOURNAL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/matching/reference_data.h"
#include "msx/v1/config.pb.h"

namespace msx::drill {

struct DrillJournal {
  std::string dir;
  std::string config_bytes;            // the CONFIG payload, verbatim
  msx::v1::ExchangeConfig config;      // parsed from config_bytes
  std::unique_ptr<ReferenceData> ref;  // built from config; never null after Open
};

// Reads the CONFIG record of `dir`'s first segment and loads the reference data.
// Fails with: NotFound if `dir` does not exist or holds no complete segment ("no journal
// segments in DIR"); DataLossError "<path>:<offset>: ..." if that segment's header or
// CONFIG record is damaged, or the CONFIG is not an msx.v1.ExchangeConfig; the config
// loader's InvalidArgument (naming the entry and field) prefixed with the directory.
absl::StatusOr<DrillJournal> OpenDrillJournal(const std::string& dir);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_DRILL_JOURNAL_H_
