// MSX operators' view. Plain JavaScript, no dependencies, served by msx-server itself.
// The page reads GET /events (server-sent events over fetch, so that the bearer token
// travels in the Authorization header, never in the URL) and renders the latest state.
// Read-only: it sends no command.
"use strict";

const TOKEN_KEY = "msx-token";  // sessionStorage: gone when the tab closes
const state = { hello: null, status: null, pairs: new Map(), agencies: new Map(),
                selected: null, tape: [], seenTrades: new Set() };
let abort = null;
let renderQueued = false;

function $(id) { return document.getElementById(id); }
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = el("td", c.cls || "", c.text);
    if (c.key) td.dataset.key = c.key;
    tr.appendChild(td);
  }
  return tr;
}
function fmtTime(ns) {
  const d = new Date(Number(ns) / 1e6);
  return d.toISOString().substring(11, 23);
}
function fmtDate(ns) {
  return new Date(Number(ns) / 1e6).toISOString().substring(0, 16).replace("T", " ") + "Z";
}
function fmtDuration(s) {
  s = Math.floor(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + (s % 60) + "s";
}
function fmtBytes(b) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return (i ? b.toFixed(1) : b) + " " + u[i];
}

function setWho(text, cls) {
  const w = $("who");
  w.textContent = text;
  w.className = "who " + (cls || "");
}

// ---- The event stream ----
async function connect(token) {
  if (abort) abort.abort();
  abort = new AbortController();
  const mine = abort;
  setWho("connecting...", "");
  let res;
  try {
    res = await fetch("/events", { headers: { "Authorization": "Bearer " + token },
                                   cache: "no-store", signal: mine.signal });
  } catch (e) {
    if (mine.signal.aborted) return;
    setWho("cannot reach the server; retrying", "error");
    setTimeout(() => connect(token), 2000);
    return;
  }
  if (!res.ok) {
    const why = (await res.text()).trim();
    setWho("refused: " + why, "error");
    if (res.status === 401 || res.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin(true);
    }
    return;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const block = buf.substring(0, end);
        buf = buf.substring(end + 2);
        let kind = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) kind = line.substring(7);
          else if (line.startsWith("data: ")) data += line.substring(6);
        }
        if (data) handle(kind, JSON.parse(data));
      }
    }
  } catch (e) {
    if (mine.signal.aborted) return;
  }
  if (mine.signal.aborted) return;
  setWho("disconnected; reconnecting", "error");
  setTimeout(() => connect(token), 1000);
}

function handle(kind, msg) {
  if (kind === "hello") {
    state.hello = msg;
    state.pairs.clear();
    state.agencies.clear();
    setWho((msg.admin ? "admin " : "agency ") + msg.agency + " \u00b7 live", "live");
  } else if (kind === "status") {
    state.status = msg;
  } else if (kind === "pair") {
    state.pairs.set(msg.pair, msg);
    for (const t of msg.trades) {
      const key = t.seq + "/" + msg.pair + "/" + t.time_ns + "/" + t.price + "/" + t.lots;
      if (state.seenTrades.has(key)) continue;
      state.seenTrades.add(key);
      state.tape.push(Object.assign({ pair: msg.pair, key: key }, t));
    }
    state.tape.sort((a, b) => b.seq - a.seq || b.time_ns - a.time_ns);
    while (state.tape.length > 30) state.seenTrades.delete(state.tape.pop().key);
    if (state.selected === null) state.selected = msg.pair;
  } else if (kind === "agency") {
    state.agencies.set(msg.agency, msg);
  }
  if (!renderQueued) {
    renderQueued = true;
    requestAnimationFrame(render);
  }
}

// ---- Rendering (textContent only: nothing from the server is parsed as HTML) ----
function render() {
  renderQueued = false;
  renderStatus();
  renderPairs();
  renderLadder();
  renderTape();
  renderAgencies();
}

function renderStatus() {
  const s = state.status;
  const dl = $("status");
  dl.replaceChildren();
  if (!s) return;
  const items = [
    ["state", s.accepting ? "accepting" : "NOT ACCEPTING: " + s.failure, s.accepting ? "" : "ask"],
    ...replicationItems(s),
    ["sequence", s.last_seq + " (durable " + s.durable_seq + ")", ""],
    ["durability", s.durability, ""],
    ["journal", fmtBytes(s.journal_bytes) + " in " + s.journal_segments + " segments", ""],
    ["uptime", fmtDuration(s.uptime_seconds), ""],
    ["commands/s", s.commands_per_second, ""],
    ["queue", s.queue_depth + " / " + s.queue_capacity, ""],
    ["dashboards", s.dashboard_clients, ""],
  ];
  for (const [k, v, cls] of items) {
    dl.appendChild(el("dt", "", k));
    const dd = el("dd", cls, v);
    dd.id = "status-" + k.replace(/[^a-z]/g, "");
    dl.appendChild(dd);
  }
}

// Role, leader and lag. Without replication the server is its own primary.
function replicationItems(s) {
  const r = s.replication;
  if (!r) {
    return [["role", s.role + " (no standby)", ""], ["leader", "this server", ""],
            ["lag", "\u2014", ""]];
  }
  const lag = r.lag_messages + " msgs \u00b7 " + Number(r.lag_seconds).toFixed(3) + " s" +
              (r.no_quorum ? " \u00b7 NO QUORUM" : "");
  return [
    ["role", s.role + (r.node ? " (node " + r.node + ")" : "") +
             (r.failure ? ": " + r.failure : ""), s.role === "failed" ? "ask" : ""],
    ["leader", r.leader ? r.leader + " \u00b7 " + r.leader_address + " \u00b7 epoch " + r.epoch
                        : "unknown", ""],
    ["lag", lag, r.no_quorum || r.lag_seconds >= 1 ? "ask" : ""],
  ];
}

function renderPairs() {
  const body = $("pairs").tBodies[0];
  const names = state.hello ? state.hello.pairs : [];
  body.replaceChildren();
  for (const name of names) {
    const p = state.pairs.get(name);
    const bid = p && p.bids.length ? p.bids[0][0] : "";
    const ask = p && p.asks.length ? p.asks[0][0] : "";
    const last = p && p.trades.length ? p.trades[0].price : "";
    const tr = row([{ text: name, key: "pair" }, { text: bid, cls: "num bid", key: "bid" },
                    { text: ask, cls: "num ask", key: "ask" },
                    { text: last, cls: "num", key: "last" },
                    { text: p ? p.trades.length : "", cls: "num" },
                    { text: p && p.halted ? "HALTED" : "open", cls: p && p.halted ? "halted" : "" },
                    { text: p && p.emergency_level ? p.emergency_level : "\u2014", key: "level",
                      cls: p && p.emergency_level && p.emergency_level !== "NORMAL" ? "alert" : "" }]);
    tr.dataset.pair = name;
    if (name === state.selected) tr.classList.add("selected");
    tr.addEventListener("click", () => { state.selected = name; render(); });
    body.appendChild(tr);
  }
}

function renderLadder() {
  const body = $("ladder").tBodies[0];
  body.replaceChildren();
  const p = state.pairs.get(state.selected);
  $("ladder-pair").textContent = state.selected || "";
  $("ladder").dataset.pair = state.selected || "";
  // The live price band (PublishReference moves it) and the pair's emergency level.
  const band = p && p.band ? p.band : null;
  $("ladder-band").textContent = band
    ? `band ${band.low}\u2013${band.high}, reference ${band.reference}` +
      (band.floor ? `, floor ${band.floor}` : "") +
      (p.emergency_level ? `, ${p.emergency_level}` : "")
    : "";
  if (!p) return;
  for (let i = p.asks.length - 1; i >= 0; i--) {
    const [price, lots, n] = p.asks[i];
    const tr = row([{ text: "" }, { text: "" }, { text: price, cls: "num ask", key: "price" },
                    { text: lots, cls: "num ask", key: "lots" }, { text: n, cls: "num" }]);
    tr.className = "ask-row";
    body.appendChild(tr);
  }
  for (const [price, lots, n] of p.bids) {
    const tr = row([{ text: n, cls: "num" }, { text: lots, cls: "num bid", key: "lots" },
                    { text: price, cls: "num bid", key: "price" }, { text: "" }, { text: "" }]);
    tr.className = "bid-row";
    body.appendChild(tr);
  }
}

function renderTape() {
  const body = $("tape").tBodies[0];
  body.replaceChildren();
  for (const t of state.tape) {
    const tr = row([{ text: fmtTime(t.time_ns) }, { text: t.pair, key: "pair" },
                    { text: t.price, cls: "num", key: "price" },
                    { text: t.lots, cls: "num", key: "lots" },
                    { text: t.aggressor, cls: t.aggressor === "buy" ? "bid" : "ask" },
                    { text: t.seq, cls: "num", key: "seq" }]);
    tr.dataset.seq = t.seq;
    body.appendChild(tr);
  }
}

function table(headers, rows) {
  const t = el("table", "grid");
  const hr = document.createElement("tr");
  for (const h of headers) hr.appendChild(el("th", h.num ? "num" : "", h.name));
  t.createTHead().appendChild(hr);
  const b = t.createTBody();
  for (const r of rows) b.appendChild(row(r));
  return t;
}

function renderAgencies() {
  const list = $("agency-list");
  list.replaceChildren();
  const names = state.hello ? state.hello.agencies : [];
  for (const name of names) {
    const a = state.agencies.get(name);
    const card = el("div", "agency");
    card.dataset.agency = name;
    card.appendChild(el("h3", "", name + (a ? " \u00b7 " + a.open_offers + " open offers" : "")));
    if (a) {
      const cols = el("div", "cols");
      const h = table([{ name: "instrument" }, { name: "available", num: true },
                       { name: "reserved", num: true }],
                      a.holdings.map((x) => [{ text: x.instrument, key: "instrument" },
                                             { text: x.available + " " + x.unit, cls: "num" },
                                             { text: x.reserved, cls: "num" }]));
      h.classList.add("holdings");
      cols.appendChild(h);
      cols.appendChild(table([{ name: "offer" }, { name: "pair" }, { name: "side" },
                              { name: "price", num: true }, { name: "open", num: true }],
                             a.offers.slice(0, 15).map((o) => [
                               { text: o.offer_id }, { text: o.pair },
                               { text: o.side, cls: o.side === "buy" ? "bid" : "ask" },
                               { text: o.price, cls: "num" }, { text: o.open_lots, cls: "num" }])));
      cols.appendChild(table([{ name: "time" }, { name: "pair" }, { name: "side" },
                              { name: "lots", num: true }, { name: "price", num: true },
                              { name: "counterparty" }],
                             a.fills.slice(0, 15).map((f) => [
                               { text: fmtTime(f.time_ns) }, { text: f.pair },
                               { text: f.side, cls: f.side === "buy" ? "bid" : "ask" },
                               { text: f.lots, cls: "num" }, { text: f.price, cls: "num" },
                               { text: f.counterparty }])));
      if (a.obligations && a.obligations.length > 0) {
        // Time swaps: the loans this agency made or owes, open or overdue.
        const ob = table([{ name: "loan" }, { name: "book" }, { name: "role" },
                          { name: "counterparty" }, { name: "outstanding", num: true },
                          { name: "due" }, { name: "state" }],
                         a.obligations.map((o) => [
                           { text: o.obligation_id }, { text: o.term_book }, { text: o.role },
                           { text: o.counterparty },
                           { text: o.outstanding + " / " + o.due_amount + " " + o.unit, cls: "num" },
                           { text: fmtDate(o.due_time_ns) + (o.recalled ? " (recalled)" : "") },
                           { text: o.state, cls: o.state === "overdue" ? "ask" : "" }]));
        ob.classList.add("obligations");
        cols.appendChild(ob);
      }
      card.appendChild(cols);
    }
    list.appendChild(card);
  }
}

// ---- Token ----
function showLogin(show) {
  $("login").hidden = !show;
  $("logout").hidden = show;
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    $("token").value = "";
    sessionStorage.setItem(TOKEN_KEY, token);
    showLogin(false);
    connect(token);
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    if (abort) abort.abort();
    state.hello = null;
    state.status = null;
    state.pairs.clear();
    state.agencies.clear();
    state.tape = [];
    state.seenTrades.clear();
    render();
    setWho("not connected", "");
    showLogin(true);
  });
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    showLogin(false);
    connect(saved);
  } else {
    showLogin(true);
  }
});
