"""Browser test of msx-server's dashboard (GET / on --http): starts a real msx-server with
traffic (msx-loadgen on the other pairs), opens the dashboard in headless Chromium, signs in
with a demo token and checks that:
- the page loads nothing from anywhere but msx-server, and the token is in the tab's
  sessionStorage, never in the URL;
- the pair table and the depth ladder show the best bid and ask that the gRPC API
  (GetBook, through `msx book --json`) reports;
- a new trade appears in the trade list (how long after the call that made it returned is
  printed, not asserted: the machine running the test may be loaded);
- an agency token sees only that agency's holdings (the instruments GetHoldings lists),
  and the admin token sees every agency.
Screenshots go to $MSX_BUILD_DIR/test-artifacts/dashboard_browser_test/.

Usage: dashboard_test.py BUILD_DIR SOURCE_DIR (CTest passes both). Exit 77 = skipped
(no Chromium, driver or Selenium).
"""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import msx_browser  # noqa: E402

BUILD = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MSX_BUILD_DIR", "build"))
SERVER = BUILD / "gateway" / "msx-server"
MSX = BUILD / "clients" / "msx" / "msx"
LOADGEN = BUILD / "clients" / "loadgen" / "msx-loadgen"
NAME = "dashboard_browser_test"
PAIR = "GA-4N/CO-99.8"  # KOMIR and JOGMEC may swap it; the load generator leaves it alone
# How long the page may take to show what the test caused: a bound for a broken build only
# (Chromium, msx-server and msx-loadgen share a possibly loaded machine), never a figure
# the test checks.
PATIENCE = 60


# DOM reads in one script each: the page re-renders whole tables, so element handles
# kept across calls go stale.
READ_PAIR_ROW = """
  const row = document.querySelector('tr[data-pair="' + arguments[0] + '"]');
  if (!row) return null;
  return ['bid', 'ask'].map(k => row.querySelector('td[data-key=' + k + ']').textContent);"""
READ_LADDER = """
  if (document.getElementById('ladder').dataset.pair !== arguments[0]) return null;
  const asks = document.querySelectorAll('#ladder tr.ask-row td[data-key=price]');
  const bids = document.querySelectorAll('#ladder tr.bid-row td[data-key=price]');
  if (!asks.length || !bids.length) return null;
  // Asks are listed highest first: the best ask is the row just above the bids.
  return [parseInt(bids[0].textContent), parseInt(asks[asks.length - 1].textContent)];"""
READ_TRADE = """
  const row = document.querySelector('#tape tr[data-seq="' + arguments[0] + '"]');
  if (!row) return null;
  const cell = k => row.querySelector('td[data-key=' + k + ']').textContent;
  return {pair: cell('pair'), price: cell('price'), lots: cell('lots')};"""
READ_AGENCIES = """
  const cards = [...document.querySelectorAll('#agency-list .agency')];
  const names = cards.map(c => c.dataset.agency);
  const holdings = [...document.querySelectorAll(
      '#agency-list .agency table.holdings td[data-key=instrument]')].map(e => e.textContent);
  return [names, holdings];"""
# The rows of the obligations tables (time swaps) on the agency cards, as cell texts.
READ_OBLIGATIONS = """
  return [...document.querySelectorAll('#agency-list .agency table.obligations tbody tr')]
      .map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent));"""
LOAN_BOOK = "CO-99.8@30D"


class Server:
    """msx-server on free ports with --http, in a fresh data directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="msx-dashboard-")
        self.log = open(os.path.join(self.dir, "server.log"), "w+")
        port_file = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen(
            [str(SERVER), "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--durability",
             "none", "--data-dir", os.path.join(self.dir, "data"), "--port-file", port_file],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + PATIENCE
        while not os.path.exists(port_file):
            if time.time() > deadline or self.proc.poll() is not None:
                raise AssertionError("msx-server did not start: " + self.output())
            time.sleep(0.05)
        self.address = "127.0.0.1:" + open(port_file).read().strip()
        m = re.search(r"operators' view: http://[^ ]*:(\d+)/", self.output())
        if not m:
            raise AssertionError("no HTTP port in the banner: " + self.output())
        self.url = "http://127.0.0.1:%s/" % m.group(1)

    def output(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def msx(server, token, *args):
    """Runs the msx command line with --json; returns the JSON objects it printed."""
    env = dict(os.environ, MSX_TOKEN=token)
    r = subprocess.run([str(MSX), "--server", server.address, "--json"] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=30, env=env)
    if r.returncode != 0:
        raise AssertionError("msx %s exited %d: %s" % (args, r.returncode, r.stderr))
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip().startswith("{")]


def best(levels):
    return int(levels[0]["price"]) if levels else None


class DashboardBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        pairs = msx(cls.server, "demo-admin", "pairs")[0]["pairs"]
        cls.pair = next(p for p in pairs if p["symbol"] == PAIR)
        others = [p["symbol"] for p in pairs if p["symbol"] != PAIR]
        cls.load = subprocess.Popen(
            [str(LOADGEN), "--server", cls.server.address, "--rate", "200", "--duration", "120",
             "--quiet", "--exec-stream", "none", "--pairs", ",".join(others)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.artifacts = msx_browser.artifact_dir(NAME)

    @classmethod
    def tearDownClass(cls):
        cls.load.terminate()
        cls.load.wait(timeout=10)
        cls.server.stop()

    def sign_in(self, driver, token):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        driver.get(self.server.url)
        if driver.find_element(By.ID, "logout").is_displayed():
            driver.find_element(By.ID, "logout").click()
        box = driver.find_element(By.ID, "token")
        box.send_keys(token)
        driver.find_element(By.ID, "connect").click()
        WebDriverWait(driver, PATIENCE).until(
            lambda d: "live" in d.find_element(By.ID, "who").get_attribute("class"))
        self.assertNotIn(token, driver.current_url)
        self.assertEqual(driver.execute_script("return sessionStorage.getItem('msx-token')"), token)

    def wait_for(self, driver, predicate, timeout, what):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = predicate(driver)
            if last:
                return last
            time.sleep(0.02)
        self.fail("%s: not within %.1f s (last %r)" % (what, timeout, last))

    def test_admin_sees_the_grpc_book_and_new_trades_at_once(self):
        from selenium.webdriver.common.by import By
        tick = int(self.pair["tick"])
        fair = int(self.pair["reference_price"]) // tick * tick
        with msx_browser.headless_chromium(width=1500, height=1000) as driver:
            self.sign_in(driver, "demo-admin")
            # A quiet book on PAIR: KOMIR asks above, JOGMEC bids below the fair price.
            msx(self.server, "demo-komir", "submit", "--pair", PAIR, "--side", "sell",
                "--lots", 3, "--price", fair + 2 * tick)
            msx(self.server, "demo-jogmec", "submit", "--pair", PAIR, "--side", "buy",
                "--lots", 2, "--price", fair - 2 * tick)
            book = msx(self.server, "demo-jogmec", "book", PAIR)[0]
            want = (best(book.get("bids", [])), best(book.get("asks", [])))
            self.assertEqual(want, (fair - 2 * tick, fair + 2 * tick))

            def table(d):
                got = d.execute_script(READ_PAIR_ROW, PAIR)
                got = tuple(int(c) if c else None for c in got) if got else None
                return got if got == want else None
            self.wait_for(driver, table, PATIENCE, "pair table shows GetBook's best bid/ask %r" % (want,))
            driver.execute_script(
                "document.querySelector('tr[data-pair=\"' + arguments[0] + '\"]').click()", PAIR)

            def ladder(d):
                got = d.execute_script(READ_LADDER, PAIR)
                return tuple(got) if got and tuple(got) == want else None
            self.wait_for(driver, ladder, PATIENCE, "ladder shows GetBook's best bid/ask %r" % (want,))
            # The pair's emergency level and its live band (ListPairs' figures).
            level = self.wait_for(driver, lambda d: d.execute_script(
                "const r = document.querySelector('tr[data-pair=\"' + arguments[0] + '\"] "
                "td[data-key=level]'); return r && r.textContent", PAIR), PATIENCE, "level cell")
            self.assertEqual(level, "NORMAL")
            band = driver.execute_script("return document.getElementById('ladder-band').textContent")
            self.assertIn("band %s\u2013%s" % (self.pair["band_low"], self.pair["band_high"]), band)

            # A trade: JOGMEC lifts one lot of KOMIR's ask. The trade list shows the newest 30
            # trades of all pairs: under the load generator's traffic on the other pairs a
            # trade leaves it within a fraction of a second, before a loaded machine may have
            # drawn it (the page skips states it had no time to draw, by design), so the load
            # generator is paused (SIGSTOP) while the list is checked: the trade is then the
            # newest and stays.
            self.load.send_signal(signal.SIGSTOP)
            try:
                resp = msx(self.server, "demo-jogmec", "submit", "--pair", PAIR, "--side", "buy",
                           "--lots", 1, "--price", fair + 2 * tick)[0]
                t0 = time.time()
                self.assertTrue(resp.get("fills"), resp)
                seq = int(resp["seq"])
                trade = self.wait_for(driver, lambda d: d.execute_script(READ_TRADE, seq),
                                      PATIENCE, "trade at seq %d in the trade list" % seq)
                elapsed = time.time() - t0
            finally:
                self.load.send_signal(signal.SIGCONT)
            self.assertEqual(trade["pair"], PAIR)
            self.assertEqual(int(trade["price"]), fair + 2 * tick)
            self.assertEqual(int(trade["lots"]), 1)
            print("trade visible %.3f s after the call returned" % elapsed, flush=True)
            # Under traffic again: the pair table shows it as the pair's last trade (only this
            # test trades PAIR).
            last = self.wait_for(driver, lambda d: d.execute_script(
                "const r = document.querySelector('tr[data-pair=\"' + arguments[0] + '\"] "
                "td[data-key=last]'); return r && r.textContent", PAIR), PATIENCE, "last price")
            self.assertEqual(int(last), fair + 2 * tick)

            # The admin sees every agency; the status panel is live.
            cards = set(self.wait_for(driver, lambda d: d.execute_script(READ_AGENCIES)[0], PATIENCE,
                                      "agency cards"))
            self.assertIn("KOMIR", cards)
            self.assertIn("JOGMEC", cards)
            self.wait_for(driver, lambda d: d.execute_script(
                "const e = document.getElementById('status-sequence'); "
                "return e && e.textContent"), PATIENCE, "status panel")
            # Role, leader and lag: a server without replication is its own primary.
            status = driver.execute_script(
                "return ['role', 'leader', 'lag'].map(k => "
                "(document.getElementById('status-' + k) || {}).textContent)")
            self.assertEqual(status, ["primary (no standby)", "this server", "\u2014"])
            # Nothing came from anywhere but msx-server.
            origin = self.server.url.rstrip("/")
            for name in driver.execute_script(
                    "return performance.getEntriesByType('resource').map(e => e.name)"):
                self.assertTrue(name.startswith(origin), name)
            time.sleep(1.0)  # a second of load on the screen
            msx_browser.save_screenshot(driver, self.artifacts / "dashboard-admin.png")

    def test_an_agency_token_sees_only_its_own_holdings(self):
        from selenium.webdriver.common.by import By
        def grpc_holdings():
            holdings = msx(self.server, "demo-komir", "holdings")[0]["holdings"]
            return sorted(h["instrument"] for h in holdings
                          if int(h.get("available", 0)) or int(h.get("reserved", 0)))
        self.assertTrue(grpc_holdings())
        with msx_browser.headless_chromium(width=1500, height=1000) as driver:
            self.sign_in(driver, "demo-komir")

            # The load trades KOMIR's holdings too: compare with GetHoldings read right after.
            def komir_holdings(d):
                names, shown = d.execute_script(READ_AGENCIES)
                want = grpc_holdings()
                return (names, sorted(shown), want) if sorted(shown) == want else None
            names, shown, want = self.wait_for(driver, komir_holdings, PATIENCE,
                                               "KOMIR's holdings = GetHoldings")
            self.assertEqual(names, ["KOMIR"])
            self.assertEqual(shown, want)
            page = driver.find_element(By.ID, "agency-list").text
            for other in ("JOGMEC", "DLA", "KABIL"):
                self.assertNotIn(other + " \u00b7", page)
            # Time swaps: KOMIR lends JOGMEC one lot of cobalt for 30 days; the loan shows
            # on KOMIR's card with its counterparty, and JOGMEC's card is still not there.
            msx(self.server, "demo-komir", "lend", LOAN_BOOK, 1, 150)
            msx(self.server, "demo-jogmec", "borrow", LOAN_BOOK, 1, 150)
            loans = self.wait_for(driver, lambda d: d.execute_script(READ_OBLIGATIONS), PATIENCE,
                                  "KOMIR's loan on its card")
            self.assertEqual(len(loans), 1, loans)
            self.assertEqual(loans[0][1:4], [LOAN_BOOK, "lender", "JOGMEC"])
            self.assertEqual(loans[0][6], "open")
            msx_browser.save_screenshot(driver, self.artifacts / "dashboard-komir.png")


if __name__ == "__main__":
    msx_browser.require_browser()
    unittest.main(argv=[sys.argv[0]], verbosity=2)
