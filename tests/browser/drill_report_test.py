"""Browser test of msx-drill's HTML reports: writes a journal of synthetic traffic, runs
`msx-drill report --json --html` and `msx-drill run --scenario ... --json --html`, opens
both HTML files in headless Chromium and checks that:
- nothing was fetched (no resource entries; no script, src or href in the file);
- every chart is drawn: the number of SVG charts follows from the JSON, each has a
  title, tick labels and axis labels (units in the volume charts, UTC time on the x axis)
  and a non-empty size on screen;
- every total, table figure, bar value and volume series shown equals the JSON report's.
Screenshots go to $MSX_BUILD_DIR/test-artifacts/drill_report_browser_test/.

Usage: drill_report_test.py BUILD_DIR SOURCE_DIR (CTest passes both). Exit 77 = skipped
(no Chromium, driver or Selenium).
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import msx_browser  # noqa: E402

BUILD = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MSX_BUILD_DIR", "build"))
SOURCE = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else os.environ.get("MSX_SOURCE_DIR", "."))
DRILL = BUILD / "clients" / "drill" / "msx-drill"
TRAFFIC = BUILD / "tests" / "browser" / "msx-test-traffic-journal"
SCENARIO = SOURCE / "clients" / "drill" / "examples" / "cobalt_crisis.textproto"
NAME = "drill_report_browser_test"


def run(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (args, r.returncode, r.stderr))
    return r.stdout


def number(text):
    """'1,234' / '+1,234' / '-5' -> int."""
    return int(text.strip().replace(",", "").replace("+", ""))


def units_in_order(instruments):
    units = []
    for i in instruments:
        if i["unit"] not in units:
            units.append(i["unit"])
    return units


def net_instruments(reports):
    """Instruments (symbols) in which some agency's net is not zero in any of `reports`."""
    out = set()
    for r in reports:
        for a in r["agencies"]:
            for h in a["holdings"]:
                if h["net"] != 0:
                    out.add(h["instrument"])
    return out


class DrillReportBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="msx-drill-html-")
        tmp = pathlib.Path(cls.tmp.name)
        cls.artifacts = msx_browser.artifact_dir(NAME)
        journal = tmp / "journal"
        run(TRAFFIC, journal, 3000, 7)
        cls.report_html = cls.artifacts / "report.html"
        cls.report = json.loads(run(DRILL, "report", journal, "--json", "--html", cls.report_html))
        cls.drill_html = cls.artifacts / "drill.html"
        cls.drill = json.loads(run(DRILL, "run", journal, "--scenario", SCENARIO, "--out",
                                   tmp / "drill", "--json", "--html", cls.drill_html))
        cls.browser = msx_browser.headless_chromium(width=1200, height=900, log_dir=str(cls.artifacts))
        cls.driver = cls.browser.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.browser.__exit__(None, None, None)
        cls.tmp.cleanup()

    # ---- helpers ----

    def open(self, path):
        self.driver.get(msx_browser.file_url(path))
        self.assertEqual(self.driver.execute_script("return document.readyState"), "complete")

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def cells(self, selector):
        """[(data-key, data-col, text)] of the cells matching selector."""
        return self.js(
            "return [...document.querySelectorAll(arguments[0])].map("
            "c => [c.dataset.key, c.dataset.col || null, c.textContent])", selector)

    def row_cells(self, table, attr):
        """{row's data-<attr>: {key(/col): int}} for the rows of a table."""
        rows = self.js(
            "return [...document.querySelectorAll('#' + arguments[0] + ' tbody tr')].map(r => "
            "[r.dataset[arguments[1]] || null, r.dataset.agency || null, "
            "[...r.querySelectorAll('td[data-key]')].map(c => "
            "[c.dataset.key + (c.dataset.col ? '/' + c.dataset.col : ''), c.textContent])])",
            table, attr)
        out = {}
        for name, agency, cells in rows:
            key = (agency, name) if agency else name
            out[key] = {k: number(v) for k, v in cells}
        return out

    def check_static(self, path):
        html = path.read_text(encoding="utf-8")
        self.assertNotIn("<script", html)
        tags = re.sub(r'"[^"]*"', '""', html)  # drop attribute values (escaped data)
        self.assertIsNone(re.search(r"<[^>]*\s(src|href)\s*=", tags), "a tag fetches something")
        self.assertIsNone(re.search(r"\b(NaN|Infinity|inf)\b", html), "a non-finite number")
        self.assertIn("default-src 'none'", html)

    def check_charts(self, expected):
        """Every svg.chart is drawn with a title, ticks and axis labels; returns them."""
        charts = self.js(
            "return [...document.querySelectorAll('svg.chart')].map(s => {"
            " const b = s.getBoundingClientRect();"
            " return {id: s.parentElement.id, role: s.getAttribute('role'),"
            "  title: (s.querySelector('title') || {}).textContent || '',"
            "  desc: (s.querySelector('desc') || {}).textContent || '',"
            "  labels: [...s.querySelectorAll('.axis-label')].map(t => t.textContent),"
            "  ticks: [...s.querySelectorAll('.tick')].map(t => t.textContent),"
            "  bars: [...s.querySelectorAll('rect.bar')].map(r => [r.dataset.series,"
            "    Number(r.dataset.value), r.getBBox().width]),"
            "  series: [...s.querySelectorAll('path.series')].map(p => [p.dataset.series,"
            "    Number(p.dataset.total), p.getTotalLength()]),"
            "  w: b.width, h: b.height}; })")
        self.assertEqual(len(charts), expected, [c["id"] for c in charts])
        for c in charts:
            with self.subTest(chart=c["id"]):
                self.assertEqual(c["role"], "img")
                self.assertTrue(c["title"].strip())
                self.assertTrue(c["desc"].strip())
                self.assertGreater(c["w"], 100)
                self.assertGreater(c["h"], 50)
                self.assertGreaterEqual(len(c["ticks"]), 2)
                self.assertTrue(all(t.strip() for t in c["ticks"]))
                self.assertGreaterEqual(len(c["labels"]), 1)
                self.assertTrue(all(t.strip() for t in c["labels"]))
        return {c["id"]: c for c in charts}

    def check_volume_charts(self, charts, volume, names):
        for i, row in enumerate(volume["instruments"]):
            c = charts["volume-%d" % i]
            self.assertIn(row["instrument"], c["title"])
            self.assertEqual(c["labels"][0], "%s per %d s" % (row["unit"], volume["bucket_seconds"]))
            self.assertTrue(c["labels"][1].startswith("time (UTC) from "), c["labels"])
            self.assertEqual([s[0] for s in c["series"]], names)
            for name, total, length in c["series"]:
                self.assertEqual(total, sum(row[name]), (row["instrument"], name))
                self.assertGreater(length, 0)  # the line is drawn

    # ---- tests ----

    def test_report(self):
        r = self.report
        self.assertGreater(r["fills"], 0)
        self.check_static(self.report_html)
        started = time.monotonic()
        self.open(self.report_html)
        self.assertEqual(self.js("return performance.getEntriesByType('resource').length"), 0)

        volume = r["volume_over_time"]
        units = units_in_order(r["instruments"])
        nets = net_instruments([r])
        charts = self.check_charts(len(volume["instruments"]) + len(units) + len(nets) + 1)
        # The JSON names its volume series "volume"; the chart's series is named so too.
        for row in volume["instruments"]:
            self.assertEqual(len(row["volume"]), volume["buckets"])
        self.check_volume_charts(charts, volume, ["volume"])

        # Totals and tables equal the JSON.
        for key, _, text in self.cells("#totals td[data-key]"):
            self.assertEqual(number(text), r[key], key)
        shown = self.row_cells("instruments", "instrument")
        self.assertEqual(set(shown), {i["instrument"] for i in r["instruments"]})
        for i in r["instruments"]:
            for key in ("fills", "volume", "unfilled_demand"):
                self.assertEqual(shown[i["instrument"]][key], i[key], (i["instrument"], key))
        shown = self.row_cells("net-positions", "instrument")
        expected = {(a["agency"], h["instrument"]): h for a in r["agencies"] for h in a["holdings"]}
        self.assertEqual(set(shown), set(expected))
        for k, h in expected.items():
            for key in ("before", "received", "delivered", "net", "after"):
                self.assertEqual(shown[k][key], h[key], (k, key))
        minutes = self.cells("#busiest-minutes td[data-key=fills]")
        self.assertEqual([number(t) for _, _, t in minutes], [m["fills"] for m in r["busiest_minutes"]])

        # Bars equal the JSON: unfilled demand per instrument, net per agency, fills per minute.
        unfilled = {}
        for u, unit in enumerate(units):
            c = charts["unfilled-%d" % u]
            self.assertIn(unit, c["labels"][0])
            for (_, value, _), i in zip(c["bars"], [i for i in r["instruments"] if i["unit"] == unit]):
                unfilled[i["instrument"]] = value
        self.assertEqual(unfilled, {i["instrument"]: i["unfilled_demand"] for i in r["instruments"]})
        bar_nets = sorted(b[1] for cid, c in charts.items() if cid.startswith("net-") for b in c["bars"])
        json_nets = sorted(h["net"] for a in r["agencies"] for h in a["holdings"]
                           if h["instrument"] in nets)
        self.assertEqual(bar_nets, json_nets)
        self.assertTrue(any(v < 0 for v in bar_nets) and any(v > 0 for v in bar_nets))
        self.assertEqual([b[1] for b in charts["minutes"]["bars"]],
                         [m["fills"] for m in r["busiest_minutes"]])
        self.assertEqual(charts["minutes"]["labels"], ["fills in the minute"])

        msx_browser.save_screenshot(self.driver, self.artifacts / "report.png")
        msx_browser.save_screenshot(self.driver, self.artifacts / "report-top.png", full_page=False)
        print("report: %d charts checked in %.1f s; screenshot %s" %
              (len(charts), time.monotonic() - started, self.artifacts / "report.png"))

    def test_drill_beside_original(self):
        c = self.drill["comparison"]
        self.check_static(self.drill_html)
        self.open(self.drill_html)
        self.assertEqual(self.js("return performance.getEntriesByType('resource').length"), 0)

        volume = c["volume_over_time"]
        units = units_in_order(c["instruments"])
        nets = net_instruments([c["original"], c["drill"]])
        charts = self.check_charts(len(volume["instruments"]) + len(units) + len(nets) + 2)
        self.check_volume_charts(charts, volume, ["original", "drill"])
        for cid, chart in charts.items():
            if cid.startswith(("unfilled-", "net-")):
                self.assertEqual({b[0] for b in chart["bars"]}, {"original", "drill"}, cid)

        for key, col, text in self.cells("#totals td[data-key]"):
            self.assertEqual(number(text), c["totals"][key][col], (key, col))
        self.assertEqual(len(self.cells("#totals td[data-key]")), 3 * len(c["totals"]))
        shown = self.row_cells("instruments", "instrument")
        self.assertEqual(list(shown), [i["instrument"] for i in c["instruments"]])
        for i in c["instruments"]:
            for key in ("fills", "volume", "shortfall"):
                for col in ("original", "drill", "delta"):
                    self.assertEqual(shown[i["instrument"]]["%s/%s" % (key, col)], i[key][col],
                                     (i["instrument"], key, col))
        # The scenario changed something, and the page shows it.
        self.assertNotEqual(c["totals"]["fills"]["original"], c["totals"]["fills"]["drill"])
        edits = self.js("return document.querySelectorAll('#edits tbody tr').length")
        self.assertEqual(edits, len(self.drill["fired"]))
        # Net bars: per series, the nets of that report (0 where the agency has no row).
        for name in ("original", "drill"):
            bars = sorted(b[1] for cid, ch in charts.items() if cid.startswith("net-")
                          for b in ch["bars"] if b[0] == name and b[1] != 0)
            nonzero = sorted(h["net"] for a in c[name]["agencies"] for h in a["holdings"]
                             if h["net"] != 0)
            self.assertEqual(bars, nonzero, name)
        for name in ("original", "drill"):
            self.assertEqual([b[1] for b in charts["minutes-" + name]["bars"]],
                             [m["fills"] for m in c[name]["busiest_minutes"]])

        msx_browser.save_screenshot(self.driver, self.artifacts / "drill.png")
        msx_browser.save_screenshot(self.driver, self.artifacts / "drill-top.png", full_page=False)
        # The charts, drill beside original (clients/drill/docs/drill-report.png is one).
        self.js("document.getElementById('h-volume').scrollIntoView()")
        msx_browser.save_screenshot(self.driver, self.artifacts / "drill-charts.png", full_page=False)


if __name__ == "__main__":
    msx_browser.require_browser()
    for path in (DRILL, TRAFFIC, SCENARIO):
        if not path.exists():
            print("missing %s (build first)" % path)
            sys.exit(1)
    unittest.main(argv=[sys.argv[0], "-v"])
