#include "clients/drill/drill_journal.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/config/config.h"
#include "engine/journal/reader.h"

namespace msx::drill {

absl::StatusOr<DrillJournal> OpenDrillJournal(const std::string& dir) {
  absl::StatusOr<std::optional<std::string>> config = journal::ReadJournalConfig(dir);
  if (!config.ok()) return config.status();
  if (!config->has_value()) {
    return absl::NotFoundError(absl::StrCat("no journal segments in ", dir));
  }
  DrillJournal j;
  j.dir = dir;
  j.config_bytes = **std::move(config);
  if (!j.config.ParseFromString(j.config_bytes)) {
    return absl::DataLossError(
        absl::StrCat(dir, ": the CONFIG record is not a serialized msx.v1.ExchangeConfig"));
  }
  absl::StatusOr<ReferenceData> ref = LoadReferenceData(j.config);
  if (!ref.ok()) {
    return absl::Status(ref.status().code(),
                        absl::StrCat(dir, ": journal configuration: ", ref.status().message()));
  }
  j.ref = std::make_unique<ReferenceData>(*std::move(ref));
  return j;
}

}  // namespace msx::drill
