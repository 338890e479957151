// JSON renderings of journal contents, for `msx-journal dump`, `msx-drill verify` and for
// error messages that must show a command or event. One object per call, no trailing
// newline; field names are those of engine/matching/command.h and engine/matching/event.h in that order,
// enums as their names, integers as exact JSON integers (64-bit values keep every digit).
// Built with nlohmann::json (nlohmann-json3-dev), which escapes every string.
//
// Thread-safety: pure functions.
#ifndef MSX_ENGINE_JOURNAL_JSON_H_
#define MSX_ENGINE_JOURNAL_JSON_H_

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "engine/matching/command.h"
#include "engine/matching/event.h"

namespace msx::journal {

// "SubmitOffer", "Fill", ...; "invalid" for a value outside the enum.
const char* CommandTypeName(CommandType type);
const char* EventTypeName(EventType type);

// {"seq":1,"time":...,"type":"SubmitOffer","agency":0,...}, as a value (fields in the
// order written) to embed in a larger document; include <nlohmann/json.hpp> to use it.
nlohmann::ordered_json CommandJson(const Command& cmd);
// {"seq":1,"time":...,"type":"Fill","fill_id":1,...}
nlohmann::ordered_json EventJson(const Event& event);

// The same, as compact text (JsonText).
std::string CommandToJson(const Command& cmd);
std::string EventToJson(const Event& event);

// `value` as compact JSON text: no spaces, non-ASCII UTF-8 kept as is, control characters,
// quotes and backslashes escaped. Never throws: a string that is not valid UTF-8 (a file
// name can be any bytes) has each bad byte replaced by U+FFFD.
std::string JsonText(const nlohmann::ordered_json& value);

}  // namespace msx::journal

#endif  // MSX_ENGINE_JOURNAL_JSON_H_
