// meshbus dashboard page: reads the view stream (Server-Sent Events from
// /api/events), draws the graph with a small force layout in SVG and fills
// the details panel. Every string from the view goes through textContent or
// an SVG attribute, never through HTML parsing.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const PALETTE = ["#f2994a", "#56ccf2", "#bb6bd9", "#6fcf97", "#eb5757", "#f2c94c", "#2d9cdb", "#9b51e0"];

const state = {
  view: null,
  selected: null,      // selected local node name
  pos: new Map(),      // vertex id -> {x, y, vx, vy}
  alpha: 1,
  paused: false,
  topology: "",
  els: { vertices: new Map(), conns: new Map(), meshes: new Map(), fanouts: new Map() },
};

function $(id) { return document.getElementById(id); }
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}
function short(id) { return id.length > 6 ? "…" + id.slice(-6) : id; }
function fmt(x, digits) {
  if (x === undefined || x === null) return "";
  if (typeof x !== "number") return String(x);
  if (Number.isInteger(x)) return x.toLocaleString("en-US");
  return x.toFixed(digits === undefined ? 2 : digits);
}
function topicColor(topics, t) { return PALETTE[Math.max(0, topics.indexOf(t)) % PALETTE.length]; }

// ---- stream ----

function connect() {
  const es = new EventSource("api/events");
  es.addEventListener("view", (m) => {
    let v;
    try { v = JSON.parse(m.data); } catch (e) { return; }
    $("status").textContent = "live";
    $("status").className = "good";
    apply(v);
  });
  es.onerror = () => {
    $("status").textContent = "disconnected, retrying…";
    $("status").className = "bad";
  };
}

function apply(v) {
  state.view = v;
  const nodeNames = v.nodes.map((n) => n.name);
  if (!state.selected || !nodeNames.includes(state.selected)) state.selected = nodeNames[0] || null;
  const alive = v.nodes.filter((n) => n.alive).length;
  $("summary").textContent = `${v.nodes.length} node${v.nodes.length === 1 ? "" : "s"} (${alive} up) · ${v.vertices.length} peers · ${v.mesh.length} mesh edges · ${(v.fanout || []).length} fanout edges · view #${v.seq}`;
  document.body.dataset.seq = v.seq;
  drawGraph(v);
  drawNodes(v);
  drawPanel(v);
}

// ---- graph ----

function topicsOf(v) {
  return [...new Set(v.mesh.map((m) => m.topic).concat((v.fanout || []).map((f) => f.topic)))].sort();
}

function drawGraph(v) {
  const topics = topicsOf(v);
  const byId = new Map(v.vertices.map((x) => [x.id, x]));
  // Positions: new vertices start on a circle in id order (deterministic).
  const box = $("graph").getBoundingClientRect();
  const cx = box.width / 2, cy = box.height / 2, r0 = Math.min(cx, cy) * 0.6;
  v.vertices.forEach((x, i) => {
    if (!state.pos.has(x.id)) {
      const a = (2 * Math.PI * i) / Math.max(1, v.vertices.length);
      state.pos.set(x.id, { x: cx + r0 * Math.cos(a), y: cy + r0 * Math.sin(a), vx: 0, vy: 0 });
    }
  });
  for (const id of [...state.pos.keys()]) if (!byId.has(id)) state.pos.delete(id);

  // Connections: one line per unordered pair, arrows from the dialer.
  const pairs = new Map();
  for (const c of v.conns) {
    const [a, b] = c.from < c.to ? [c.from, c.to] : [c.to, c.from];
    const key = a + "|" + b;
    const p = pairs.get(key) || { a, b, ab: false, ba: false, direct: false };
    if (c.direct) p.direct = true;
    // outbound: from dialed to; inbound: to dialed from.
    const fromIsA = c.from === a;
    if (c.outbound > 0) { if (fromIsA) p.ab = true; else p.ba = true; }
    if (c.inbound > 0) { if (fromIsA) p.ba = true; else p.ab = true; }
    pairs.set(key, p);
  }
  sync(state.els.conns, $("conns"), pairs, (p) => svg("line", { class: "conn", "data-a": p.a, "data-b": p.b }),
    (e, p) => {
      e.setAttribute("data-dir", p.ab && p.ba ? "both" : p.ab ? "ab" : "ba");
      e.setAttribute("data-direct", p.direct ? "1" : "0");
      e.setAttribute("class", p.direct ? "conn direct" : "conn");
      if (p.ab) e.setAttribute("marker-end", "url(#arrow)"); else e.removeAttribute("marker-end");
      if (p.ba) e.setAttribute("marker-start", "url(#arrow)"); else e.removeAttribute("marker-start");
    });

  // Mesh edges: one lane per directed entry (From has To in its mesh).
  const meshes = new Map();
  for (const m of v.mesh) meshes.set(m.topic + "|" + m.from + "|" + m.to, m);
  sync(state.els.meshes, $("meshes"), meshes,
    (m) => svg("line", { class: "mesh", "data-from": m.from, "data-to": m.to, "data-topic": m.topic }),
    (e, m) => {
      e.setAttribute("stroke", topicColor(topics, m.topic));
      e.setAttribute("data-outbound", m.outbound ? "1" : "0");
      // choked: From choked To, which sends From ids, not messages.
      e.setAttribute("data-choked", m.choked ? "1" : "0");
    });

  // Fanout edges: dashed, one per entry (From publishes to Topic through To).
  const fanouts = new Map();
  for (const f of v.fanout || []) fanouts.set(f.topic + "|" + f.from + "|" + f.to, f);
  sync(state.els.fanouts, $("fanouts"), fanouts,
    (f) => svg("line", { class: "fanout", "data-from": f.from, "data-to": f.to, "data-topic": f.topic, "marker-end": "url(#arrow)" }),
    (e, f) => { e.setAttribute("stroke", topicColor(topics, f.topic)); });

  const verts = new Map(v.vertices.map((x) => [x.id, x]));
  sync(state.els.vertices, $("vertices"), verts, (x) => {
    const g = svg("g", { class: "vertex", "data-id": x.id });
    g.appendChild(svg("circle", { r: 15, class: "ring" }));
    g.appendChild(svg("circle", { r: 9, class: "dot" }));
    const t = svg("text", { x: 13, y: 4 });
    g.appendChild(t);
    const s = svg("text", { x: 13, y: 16, class: "sub" });
    g.appendChild(s);
    const title = svg("title");
    g.appendChild(title);
    g.addEventListener("click", () => {
      const vx = state.view && state.view.vertices.find((y) => y.id === x.id);
      if (vx && vx.node) { state.selected = vx.node; apply(state.view); }
    });
    return g;
  }, (g, x) => {
    const local = x.node !== "";
    g.setAttribute("class", "vertex " + (local ? "local" : "remote") + (x.alive ? "" : " dead") + (local && x.node === state.selected ? " sel" : "") + (x.direct ? " direct" : ""));
    g.setAttribute("data-node", x.node);
    g.setAttribute("data-alive", x.alive ? "1" : "0");
    g.setAttribute("data-direct", x.direct ? "1" : "0");
    g.querySelector("circle.dot").setAttribute("r", local ? 11 : 7);
    g.querySelector("circle.ring").setAttribute("r", local ? 16 : 12);
    const [t, s] = g.querySelectorAll("text");
    t.textContent = local ? x.node : short(x.id);
    s.textContent = local ? short(x.id) : "";
    g.querySelector("title").textContent = x.id + (x.direct ? " (direct peer)" : "");
  });

  const key = v.vertices.map((x) => x.id).join(",") + "#" + [...pairs.keys()].join(",");
  if (key !== state.topology) { state.topology = key; state.alpha = Math.max(state.alpha, 0.8); }

  const leg = $("legend");
  leg.replaceChildren();
  const meshTopics = new Set(v.mesh.map((m) => m.topic));
  const fanTopics = new Set((v.fanout || []).map((f) => f.topic));
  for (const t of topics) {
    const d = el("div");
    const sw = el("span", { class: meshTopics.has(t) ? "sw" : "sw dashed" });
    sw.style.backgroundColor = topicColor(topics, t);
    const kinds = [meshTopics.has(t) ? "mesh" : "", fanTopics.has(t) ? "fanout (dashed)" : ""].filter((k) => k).join(", ");
    d.append(sw, document.createTextNode(kinds + ": " + t));
    leg.appendChild(d);
  }
  if (v.vertices.some((x) => x.direct)) {
    const dd = el("div", {}, "dashed ring, thick light line: direct peer");
    dd.className = "dim";
    leg.appendChild(dd);
  }
  const c = el("div", {}, "grey line: connection, arrow points away from the dialer");
  c.className = "dim";
  leg.appendChild(c);
  const lanes = el("div", {}, "one colored lane per direction: two lanes = both meshes hold each other");
  lanes.className = "dim";
  leg.appendChild(lanes);
  if (v.mesh.some((m) => m.choked)) {
    const ch = el("div", {}, "faint dotted lane: choked (the peer sends ids, not messages)");
    ch.className = "dim";
    leg.appendChild(ch);
  }
  render();
}

// sync makes the children of parent match items (a Map key -> item), reusing
// elements by key.
function sync(cache, parent, items, create, update) {
  for (const [k, e] of cache) if (!items.has(k)) { e.remove(); cache.delete(k); }
  for (const [k, it] of items) {
    let e = cache.get(k);
    if (!e) { e = create(it); cache.set(k, e); parent.appendChild(e); }
    e.__item = it;
    update(e, it);
  }
}

function step() {
  const v = state.view;
  // Tests and screenshots wait for the layout to cool down.
  document.body.dataset.settled = state.alpha < 0.05 ? "1" : "0";
  if (!v || state.paused || state.alpha < 0.005) return;
  const box = $("graph").getBoundingClientRect();
  const cx = box.width / 2, cy = box.height / 2;
  const ids = [...state.pos.keys()];
  const n = ids.length;
  const ideal = Math.max(60, Math.min(box.width, box.height) / (1.6 + Math.sqrt(n)));
  const a = state.alpha;
  for (let i = 0; i < n; i++) {
    const p = state.pos.get(ids[i]);
    for (let j = i + 1; j < n; j++) {
      const q = state.pos.get(ids[j]);
      let dx = p.x - q.x, dy = p.y - q.y;
      let d2 = dx * dx + dy * dy;
      if (d2 < 0.01) { dx = (i - j) * 0.1; dy = 0.1; d2 = 0.02; }
      const f = (ideal * ideal) / d2 * 0.6 * a;
      p.vx += dx * f / 10; p.vy += dy * f / 10; q.vx -= dx * f / 10; q.vy -= dy * f / 10;
    }
  }
  const seen = new Set();
  for (const c of v.conns) {
    const key = c.from < c.to ? c.from + c.to : c.to + c.from;
    if (seen.has(key)) continue;
    seen.add(key);
    const p = state.pos.get(c.from), q = state.pos.get(c.to);
    if (!p || !q) continue;
    const dx = q.x - p.x, dy = q.y - p.y, d = Math.sqrt(dx * dx + dy * dy) || 1;
    const f = (d - ideal) / d * 0.08 * a;
    p.vx += dx * f; p.vy += dy * f; q.vx -= dx * f; q.vy -= dy * f;
  }
  for (const p of state.pos.values()) {
    p.vx += (cx - p.x) * 0.01 * a; p.vy += (cy - p.y) * 0.01 * a;
    p.vx *= 0.6; p.vy *= 0.6;
    p.x = Math.min(box.width - 90, Math.max(40, p.x + p.vx));
    p.y = Math.min(box.height - 40, Math.max(40, p.y + p.vy));
  }
  state.alpha *= 0.985;
  render();
}

function render() {
  for (const [, e] of state.els.vertices) {
    const p = state.pos.get(e.__item.id);
    if (p) e.setAttribute("transform", `translate(${p.x.toFixed(1)},${p.y.toFixed(1)})`);
  }
  for (const [, e] of state.els.conns) {
    const it = e.__item, p = state.pos.get(it.a), q = state.pos.get(it.b);
    if (!p || !q) continue;
    const [x1, y1, x2, y2] = trim(p, q, 12);
    e.setAttribute("x1", x1); e.setAttribute("y1", y1); e.setAttribute("x2", x2); e.setAttribute("y2", y2);
  }
  const topics = state.view ? topicsOf(state.view) : [];
  for (const [, e] of state.els.fanouts) {
    const f = e.__item, p = state.pos.get(f.from), q = state.pos.get(f.to);
    if (!p || !q) continue;
    const dx = q.x - p.x, dy = q.y - p.y, d = Math.sqrt(dx * dx + dy * dy) || 1;
    const off = 3.5 + 4 * Math.max(0, topics.indexOf(f.topic));
    const ox = (-dy / d) * off, oy = (dx / d) * off;
    const [x1, y1, x2, y2] = trim({ x: p.x + ox, y: p.y + oy }, { x: q.x + ox, y: q.y + oy }, 14);
    e.setAttribute("x1", x1); e.setAttribute("y1", y1); e.setAttribute("x2", x2); e.setAttribute("y2", y2);
  }
  for (const [, e] of state.els.meshes) {
    const m = e.__item, p = state.pos.get(m.from), q = state.pos.get(m.to);
    if (!p || !q) continue;
    const dx = q.x - p.x, dy = q.y - p.y, d = Math.sqrt(dx * dx + dy * dy) || 1;
    // Offset to the right of the direction of travel: two directions, two lanes.
    const off = 3.5 + 4 * Math.max(0, topics.indexOf(m.topic));
    const ox = (-dy / d) * off, oy = (dx / d) * off;
    const [x1, y1, x2, y2] = trim({ x: p.x + ox, y: p.y + oy }, { x: q.x + ox, y: q.y + oy }, 12);
    e.setAttribute("x1", x1); e.setAttribute("y1", y1); e.setAttribute("x2", x2); e.setAttribute("y2", y2);
  }
}

function trim(p, q, r) {
  const dx = q.x - p.x, dy = q.y - p.y, d = Math.sqrt(dx * dx + dy * dy) || 1;
  const ux = dx / d, uy = dy / d;
  return [p.x + ux * r, p.y + uy * r, q.x - ux * r, q.y - uy * r].map((x) => x.toFixed(1));
}

function loop() { step(); requestAnimationFrame(loop); }

// ---- panel ----

function drawNodes(v) {
  const box = $("nodes");
  box.replaceChildren();
  v.nodes.forEach((n, i) => {
    const b = el("button", { "data-node": n.name, title: n.id }, (i < 9 ? i + 1 + " " : "") + n.name);
    b.className = (n.name === state.selected ? "sel " : "") + (n.alive ? "" : "dead");
    b.addEventListener("click", () => { state.selected = n.name; apply(state.view); });
    box.appendChild(b);
  });
}

function table(headers, rows) {
  const t = el("table");
  const hr = el("tr");
  for (const h of headers) hr.appendChild(el("th", {}, h));
  t.appendChild(hr);
  for (const r of rows) {
    const tr = el("tr");
    for (const c of r) {
      if (c instanceof Node) { const td = el("td"); td.appendChild(c); tr.appendChild(td); }
      else tr.appendChild(el("td", {}, c === undefined ? "" : String(c)));
    }
    t.appendChild(tr);
  }
  return t;
}
function span(cls, text) { const s = el("span", {}, text); s.className = cls; return s; }
function counts(list) { return list && list.length ? list.map((c) => `${c.name} ${c.count}`).join(", ") : "–"; }
function num(x, digits) {
  const s = span(x < 0 ? "neg" : x > 0 ? "pos" : "dim", fmt(x, digits));
  return s;
}

function drawPanel(v) {
  const p = $("nodepanel");
  const n = v.nodes.find((x) => x.name === state.selected);
  p.replaceChildren();
  if (!n) { p.appendChild(el("p", { class: "hint" }, "no node attached")); return; }

  const h = el("h2", {}, n.name + " ");
  h.appendChild(span("mono dim", n.id));
  p.appendChild(h);
  const line = el("div");
  line.appendChild(span(n.alive ? "pill ok" : "pill", n.alive ? "up" : "stopped"));
  line.appendChild(span(n.dropped > 0 ? "pill" : "pill ok", `dashboard dropped ${fmt(n.dropped)} events` + (n.resyncs ? `, resynced ${n.resyncs}×` : "")));
  if (n.killable) {
    const k = el("button", { "data-kill": n.name }, "kill " + n.name);
    k.className = "kill";
    k.addEventListener("click", () => kill(n.name));
    line.appendChild(k);
  }
  p.appendChild(line);

  p.appendChild(el("h3", {}, "topics"));
  p.appendChild(n.topics.length ? table(["topic", "mesh", "fanout", "msg/s", "published", "delivered", "duplicates", "rejected", "grafts", "prunes"],
    n.topics.map((t) => [t.topic + (t.joined ? "" : t.fanout ? " (publish only)" : " (not joined)"), t.mesh, t.fanout || "–", fmt(t.rate, 1), fmt(t.published), fmt(t.delivered), fmt(t.dups), counts(t.rejected), fmt(t.grafts), counts(t.prunes)]))
    : el("p", { class: "hint" }, "no topic yet"));

  p.appendChild(el("h3", {}, "peer scores (P1–P4 summed over topics, raw; P5 app, P6 colocation, P7 behaviour)"));
  if (n.peers.length) {
    p.appendChild(table(["peer", "score", "P1", "P2", "P3", "P3b", "P4", "P5", "P6", "P7", "below", "penalties"],
      n.peers.map((x) => {
        const t = x.terms || {};
        const below = el("span");
        // Under accept_px or opportunistic_graft is the normal state of a
        // new peer; under gossip, publish or graylist is a penalty.
        for (const b of x.below) below.appendChild(span(["gossip", "publish", "graylist"].includes(b) ? "pill" : "pill dim", b));
        return [span("mono", short(x.id)), num(x.score), fmt(t.p1), fmt(t.p2), fmt(t.p3), fmt(t.p3b), fmt(t.p4), fmt(t.p5), fmt(t.p6), fmt(t.p7), below, counts(x.penalties)];
      })));
  } else p.appendChild(el("p", { class: "hint" }, "no scored peer yet"));
  const th = n.thresholds;
  p.appendChild(el("div", { class: "dim" }, `thresholds: gossip ${th.gossip} · publish ${th.publish} · graylist ${th.graylist} · accept PX ${th.acceptPX} · opportunistic graft ${th.opportunisticGraft}`));
  if (n.crossings.length) {
    const log = el("div", { class: "log" });
    for (const c of n.crossings.slice().reverse()) {
      log.appendChild(el("div", {}, `${new Date(c.at).toLocaleTimeString()} ${short(c.peer)} ${c.below ? "fell below" : "rose above"} ${c.threshold} (${fmt(c.score)})`));
    }
    p.appendChild(log);
  }

  p.appendChild(el("h3", {}, "bus subscriptions"));
  const maxQ = Math.max(1, ...n.subs.map((s) => s.queued));
  p.appendChild(table(["name", "policy", "buffer", "queued", "delivered", "dropped", "types"],
    n.subs.map((s) => {
      const q = el("span", {}, fmt(s.queued));
      const bar = el("span");
      bar.className = "bar";
      bar.style.width = Math.round((40 * s.queued) / maxQ) + "px";
      if (s.queued > 0) q.appendChild(bar);
      const types = s.wildcard ? "all (wildcard)" : s.types.map((t) => t.replace(/^events?\./, "")).join(", ");
      const td = el("span", { title: types }, types.length > 34 ? types.slice(0, 33) + "…" : types);
      td.className = "dim";
      return [span(s.self ? "mono hot" : "mono", s.name + (s.self ? " (this page)" : "")), s.policy, fmt(s.bufSize), q, fmt(s.delivered), span(s.dropped > 0 ? "hot" : "dim", fmt(s.dropped)), td];
    })));

  p.appendChild(el("h3", {}, "peer manager"));
  const pm = n.peermgr;
  p.appendChild(table(["discovered", "dials", "succeeded", "failed", "backoffs", "backed off now", "evictions", "records refused"],
    [[fmt(pm.discovered), fmt(pm.dials), fmt(pm.dialsOK), counts(pm.dialFailures), fmt(pm.backoffs), fmt(pm.backedOffNow), counts(pm.evictions), fmt(pm.recordsRefused)]]));
  if (pm.recent.length) {
    const log = el("div", { class: "log" });
    for (const l of pm.recent.slice().reverse()) log.appendChild(el("div", {}, `${new Date(l.at).toLocaleTimeString()} ${l.text}`));
    p.appendChild(log);
  }

  p.appendChild(el("h3", {}, "events seen by type"));
  p.appendChild(el("div", { class: "mono dim" }, counts(n.eventTypes.map((t) => ({ name: t.name.replace(/^events\./, ""), count: t.count })))));
}

function kill(name) {
  fetch("api/nodes/" + encodeURIComponent(name) + "/kill", { method: "POST", headers: { "X-Meshbus-Dashboard": "kill" } })
    .then((r) => { if (!r.ok) r.text().then((t) => alert("kill " + name + ": " + r.status + " " + t)); });
}

document.addEventListener("keydown", (e) => {
  if (!state.view || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key >= "1" && e.key <= "9") {
    const n = state.view.nodes[Number(e.key) - 1];
    if (n) { state.selected = n.name; apply(state.view); }
  } else if (e.key === "k") {
    const n = state.view.nodes.find((x) => x.name === state.selected);
    if (n && n.killable) kill(n.name);
  } else if (e.key === " ") {
    state.paused = !state.paused;
    e.preventDefault();
  }
});

window.addEventListener("resize", () => { state.alpha = Math.max(state.alpha, 0.3); });
connect();
requestAnimationFrame(loop);
