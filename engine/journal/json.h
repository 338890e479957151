// JSON renderings of journal contents, for `msx-journal dump` and for error messages
// that must show a command or event. One object per call, no trailing newline; field names
// are those of engine/command.h and engine/event.h, enums as their names.
//
// Thread-safety: pure functions.
#ifndef MSX_ENGINE_JOURNAL_JSON_H_
#define MSX_ENGINE_JOURNAL_JSON_H_

#include <string>

#include "engine/command.h"
#include "engine/event.h"

namespace msx::journal {

// "SubmitOffer", "Fill", ...; "invalid" for a value outside the enum.
const char* CommandTypeName(CommandType type);
const char* EventTypeName(EventType type);

// {"seq":1,"time":...,"type":"SubmitOffer","agency":0,...}
std::string CommandToJson(const Command& cmd);
// {"seq":1,"time":...,"type":"Fill","fill_id":1,...}
std::string EventToJson(const Event& event);

}  // namespace msx::journal

#endif  // MSX_ENGINE_JOURNAL_JSON_H_
