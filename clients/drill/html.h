// HTML text for msx-drill's reports: escaping and a few element helpers. Every string that
// comes from data (agency codes, instrument symbols, paths, scenario descriptions) goes
// through HtmlEscape before it is placed in an HTML or SVG document.
//
// Thread-safety: pure functions.
#ifndef MSX_CLIENTS_DRILL_HTML_H_
#define MSX_CLIENTS_DRILL_HTML_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace msx::drill {

// Escapes `text` for an HTML (or inline SVG) text node or a quoted attribute value:
// & < > " ' become character references; NUL, the other C0 controls except tab, line
// feed and carriage return, DEL, and every byte that is not part of valid UTF-8 become
// U+FFFD (the replacement character), so that the output is valid UTF-8 with no control
// character a parser would reject. Valid UTF-8 text (é, 漢字, emoji) passes through.
std::string HtmlEscape(absl::string_view text);

// The number of Unicode code points of valid UTF-8 `text` (invalid bytes count one each):
// used to size label margins.
std::size_t CodePoints(absl::string_view text);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_HTML_H_
