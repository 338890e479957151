// HTML drill reports: one self-contained document (inline CSS and inline SVG charts, no
// script, nothing fetched: a Content-Security-Policy of default-src 'none' says so to the
// browser) that opens on an air-gapped network.
//
// Every figure comes from the same ReportData / DrillResult as the text and JSON reports
// (report.h): the tables print the JSON's integers with thousands separators, and the
// charts plot them (volume over time from BucketVolume, as the JSON's volume_over_time).
// Table cells that hold a JSON figure carry data-key="<the JSON key>" (and, in the drill
// comparison, data-col="original" / "drill" / "delta"), so tests can match them.
//
// Charts of a report (svg_chart.h):
// - volume swapped over time: one step chart per instrument (units differ per instrument);
// - unfilled demand at the end: one bar chart per unit, a bar per instrument;
// - net positions: one diverging bar chart per instrument in which some agency's net
//   (received - delivered) is not zero, a bar per agency with a holdings row in it;
// - busiest minutes: one bar chart of fills per minute.
// A drill (`run`) draws the drill beside the original on the same axes: two series per
// chart (two busiest-minutes charts), with the comparison tables.
//
// Thread-safety: pure functions.
#ifndef MSX_CLIENTS_DRILL_REPORT_HTML_H_
#define MSX_CLIENTS_DRILL_REPORT_HTML_H_

#include <string>

#include "clients/drill/report.h"
#include "clients/drill/scenario.h"

namespace msx::drill {

// `source` names the journal (its directory), shown escaped.
std::string RenderReportHtml(const std::string& source, const ReportData& r);

// `source` and `scenario` name the original journal and the scenario file.
std::string RenderDrillHtml(const std::string& source, const std::string& scenario,
                            const DrillResult& r);

}  // namespace msx::drill

#endif  // MSX_CLIENTS_DRILL_REPORT_HTML_H_
