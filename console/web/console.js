// Handrail console: renders a run's view and follows it live with
// server-sent events. Everything is built with textContent: no markup from
// the server is ever interpreted.
(function () {
  "use strict";
  var body = document.body;
  var runID = body.dataset.run;
  var csrf = body.dataset.csrf || "";
  var state = JSON.parse(document.getElementById("state").textContent);
  var skew = 0; // server clock minus ours
  var results = {}; // node -> last reply shown on its card
  var comments = {}; // node -> comment being typed

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function now() { return Date.now() + skew; }
  function t(s) { return s ? Date.parse(s) : 0; }
  function dur(ms) {
    if (ms < 0) ms = 0;
    var s = Math.floor(ms / 1000);
    if (s < 60) return s + "." + Math.floor((ms % 1000) / 100) + "s";
    var m = Math.floor(s / 60); s = s % 60;
    if (m < 60) return m + "m" + (s < 10 ? "0" : "") + s + "s";
    var h = Math.floor(m / 60); m = m % 60;
    return h + "h" + (m < 10 ? "0" : "") + m + "m";
  }
  function clock(ms) {
    if (ms < 0) ms = 0;
    var s = Math.ceil(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    s = s % 60;
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return (h ? h + ":" : "") + p(m) + ":" + p(s);
  }
  function fmtTime(s) { var d = new Date(t(s)); return d.toLocaleTimeString([], { hour12: false }); }
  function fmtNum(v) {
    if (v === undefined || v === null) return "—";
    var a = Math.abs(v);
    if (a !== 0 && (a < 0.001 || a >= 1e6)) return v.toExponential(2);
    return String(Math.round(v * 1000) / 1000);
  }

  function renderSummary() {
    var s = $("summary");
    s.textContent = "";
    s.appendChild(el("span", "title", state.runbook || "run"));
    var status = state.status;
    if (state.rollback && state.live) status = "rolling_back";
    var pill = el("span", "pill s-" + status, (state.live ? "● " : "") + status.replace(/_/g, " "));
    pill.id = "status";
    s.appendChild(pill);
    var facts = el("span", "facts");
    function fact(label, value, id) {
      var f = el("span", "", label + " ");
      var b = el("b", "", value);
      if (id) b.id = id;
      f.appendChild(b);
      facts.appendChild(f);
    }
    fact("run", state.id);
    fact("plan", (state.plan_hash || "").slice(0, 12));
    if (state.started_by) fact("started by", state.started_by);
    fact("elapsed", "", "elapsed");
    if (state.budget_ms) fact("budget", dur(state.budget_ms));
    s.appendChild(facts);
    if (state.error) s.appendChild(el("div", "cause", state.error));
  }

  function bounds() {
    var start = t(state.started) || now(), end = state.live ? now() : (t(state.last) || now());
    var budgetEnd = start + (state.budget_ms || 0);
    return { start: start, end: Math.max(end, budgetEnd, start + 1000) };
  }

  function renderTimeline() {
    var tl = $("timeline");
    tl.textContent = "";
    var b = bounds(), span = b.end - b.start, phase = null;
    state.nodes.forEach(function (n) {
      if (n.kind === "guard" && n.status === "pending") return;
      if ((n.phase || "") !== phase) {
        phase = n.phase || "";
        if (phase) tl.appendChild(el("div", "phase", phase));
      }
      var row = el("div", "node n-" + n.status + (n.undo ? " u-" + n.undo : ""));
      row.dataset.node = n.name;
      row.appendChild(el("span", "dot"));
      var name = el("span", "name", n.name);
      name.title = n.name;
      name.appendChild(el("span", "kind", n.kind === "step" ? "" : n.kind));
      row.appendChild(name);
      var track = el("div", "track");
      var st = t(n.started);
      if (st) {
        var left = (st - b.start) / span * 100;
        if (n.budget_ms) {
          var bb = el("span", "bar-budget");
          bb.style.left = left + "%";
          bb.style.width = Math.max(0.5, n.budget_ms / span * 100) + "%";
          track.appendChild(bb);
        }
        var ba = el("span", "bar-actual");
        var en = t(n.ended) || (n.status === "running" ? now() : st);
        ba.style.left = left + "%";
        ba.style.width = Math.max(0.6, (en - st) / span * 100) + "%";
        ba.dataset.start = st;
        if (n.status === "running") ba.dataset.live = "1";
        track.appendChild(ba);
      }
      row.appendChild(track);
      var time = el("span", "time");
      if (n.deadline) {
        time.className = "time count";
        time.dataset.deadline = t(n.deadline);
        time.title = "time left";
      } else if (st) {
        time.dataset.start = st;
        if (n.ended) time.dataset.end = t(n.ended);
      }
      row.appendChild(time);
      if (n.error && (n.status === "failed" || n.status === "warned" || n.status === "cancelled")) row.appendChild(el("div", "err", n.error));
      if (n.undo) row.appendChild(el("div", "undo-tag", "↶ " + n.undo));
      if (n.checks && n.checks.some(function (c) { return c.samples.length > 0; })) {
        var charts = el("div", "charts");
        n.checks.forEach(function (c) { charts.appendChild(chart(n, c)); });
        row.appendChild(charts);
      }
      tl.appendChild(row);
    });
  }

  // chart plots a check's samples against its threshold; the failing side
  // of the limit is shaded.
  function chart(n, c) {
    var box = el("div", "chart");
    box.dataset.check = n.name + "/" + c.name;
    var cap = el("div", "cap");
    cap.appendChild(el("span", "", c.name + (c.threshold ? "  want " + c.threshold : "")));
    var last = c.samples.length ? c.samples[c.samples.length - 1] : null;
    var lastText = last ? (last.v !== undefined ? fmtNum(last.v) : (last.text || "—")) + " · " + last.verdict : "";
    var lt = el("span", "last", lastText);
    lt.dataset.samples = String(c.samples.length);
    cap.appendChild(lt);
    box.appendChild(cap);
    var W = 300, H = 70, P = 4;
    var g = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img" });
    g.appendChild(svg("title", {})).textContent = c.name + " samples";
    var vals = c.samples.filter(function (s) { return s.v !== undefined; }).map(function (s) { return s.v; });
    var lo = Math.min.apply(null, vals.concat(c.limit !== undefined ? [c.limit] : [])),
        hi = Math.max.apply(null, vals.concat(c.limit !== undefined ? [c.limit] : []));
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi === lo) { hi = lo + 1; lo = lo - (lo === 0 ? 0 : 0.1 * Math.abs(lo)); }
    var pad = (hi - lo) * 0.15; lo -= pad; hi += pad;
    var t0 = t(n.started) || t(c.samples[0].t), t1 = Math.max(t0 + 1, n.deadline ? t(n.deadline) : 0, t(n.ended) || 0, now());
    if (n.budget_ms) t1 = Math.max(t1, t0 + n.budget_ms);
    function x(ts) { return P + (ts - t0) / (t1 - t0) * (W - 2 * P); }
    function y(v) { return H - P - (v - lo) / (hi - lo) * (H - 2 * P); }
    if (c.limit !== undefined) {
      var ly = y(c.limit);
      g.appendChild(c.upper ? svg("rect", { "class": "zone", x: 0, y: 0, width: W, height: Math.max(0, ly) })
                            : svg("rect", { "class": "zone", x: 0, y: ly, width: W, height: Math.max(0, H - ly) }));
      g.appendChild(svg("line", { "class": "limit", x1: 0, x2: W, y1: ly, y2: ly }));
    }
    var pts = c.samples.filter(function (s) { return s.v !== undefined; }).map(function (s) { return x(t(s.t)).toFixed(1) + "," + y(s.v).toFixed(1); });
    if (pts.length > 1) g.appendChild(svg("polyline", { "class": "line", points: pts.join(" ") }));
    c.samples.forEach(function (s) {
      if (s.v === undefined) return;
      var cls = s.verdict === "pass" ? "pt-pass" : s.verdict === "fail" ? "pt-fail" : "pt-other";
      g.appendChild(svg("circle", { "class": cls + " sample", cx: x(t(s.t)).toFixed(1), cy: y(s.v).toFixed(1), r: 2.6 }));
    });
    box.appendChild(g);
    if (c.why) box.appendChild(el("div", "why", c.why));
    return box;
  }

  var askKey = "";
  function renderAsks() {
    var box = $("asks");
    var asks = (state.asks || []).filter(function (a) { return a.waiting; });
    var key = JSON.stringify([asks.map(function (a) { return [a.request.node, (a.request.votes || []).length, (a.refusals || []).length, a.evidence_digest]; }), state.me, state.can_approve, results]);
    if (key === askKey) return;
    askKey = key;
    box.textContent = "";
    box.hidden = asks.length === 0;
    if (!asks.length) return;
    box.appendChild(el("h2", "", "Waiting for a decision"));
    asks.forEach(function (a) {
      var r = a.request, card = el("div", "ask");
      card.dataset.node = r.node;
      card.appendChild(el("div", "", r.node)).className = "name";
      card.appendChild(el("p", "message", r.message));
      var meta = el("div", "meta");
      if (r.approvers && r.approvers.length) meta.appendChild(el("span", "", "approvers: " + r.approvers.join(", ")));
      if (r.separate_from) meta.appendChild(el("span", "", "not " + (r.started_by || "the starter") + " (started the run)"));
      if (r.deadline) {
        var cd = el("span", "");
        cd.appendChild(document.createTextNode((r.on_timeout ? "approves" : "denies") + " itself in "));
        var c = el("span", "countdown");
        c.dataset.deadline = t(r.deadline);
        cd.appendChild(c);
        meta.appendChild(cd);
      }
      meta.appendChild(el("span", "", "plan " + (r.plan_hash || "").slice(0, 12)));
      card.appendChild(meta);
      var q = r.quorum || 1;
      if (q > 1 || (r.votes && r.votes.length)) {
        var votes = el("div", "votes");
        votes.title = (r.votes || []).length + " of " + q + " approvals";
        for (var i = 0; i < q; i++) votes.appendChild(el("span", "vote" + (i < (r.votes || []).length ? " on" : "")));
        card.appendChild(votes);
        var who = (r.votes || []).map(function (v) { return v.by; });
        card.appendChild(el("div", "muted quorum", (r.votes || []).length + " of " + q + " approvals" + (who.length ? " (" + who.join(", ") + ")" : "")));
      }
      (a.refusals || []).slice(-3).forEach(function (f) { card.appendChild(el("div", "refusal", "Refused: " + f.replace(/^runbook: decision refused: /, ""))); });
      var ev = el("ul", "evidence");
      (r.evidence || []).forEach(function (e) { ev.appendChild(el("li", "", e)); });
      (r.samples || []).slice(-8).forEach(function (s) {
        ev.appendChild(el("li", "", s.gate + "/" + s.check + " #" + s.seq + " = " + (s.value === undefined ? "—" : s.value) + " (" + s.verdict + ")" + (s.threshold ? " want " + s.threshold : "")));
      });
      if (ev.children.length) { card.appendChild(el("h3", "", "Evidence")); card.appendChild(ev); }
      if (state.me && state.can_approve) {
        var form = el("form", "answer");
        var ta = el("textarea");
        ta.name = "comment"; ta.placeholder = "Comment (journaled)";
        ta.value = comments[r.node] || "";
        ta.addEventListener("input", function () { comments[r.node] = ta.value; });
        form.appendChild(ta);
        var btns = el("div", "buttons");
        var choices = r.choices && r.choices.length ? r.choices : ["approve", "deny"];
        choices.forEach(function (ch) {
          var bt = el("button", ch === "deny" || ch === "compensate" ? "danger" : "primary", ch === "approve" ? "Approve" : ch === "deny" ? "Deny" : ch);
          bt.type = "button";
          bt.dataset.answer = ch;
          bt.addEventListener("click", function () { send(a, ch, ta.value, card); });
          btns.appendChild(bt);
        });
        form.appendChild(btns);
        card.appendChild(form);
      } else if (state.me) {
        card.appendChild(el("p", "error", "This connection cannot carry an approval (plain HTTP from another machine)."));
      } else {
        var p = el("p", "muted");
        var link = el("a", "", "Sign in");
        link.href = "/signin?next=" + encodeURIComponent(location.pathname);
        p.appendChild(link);
        p.appendChild(document.createTextNode(" to answer."));
        card.appendChild(p);
      }
      var res = el("p", "result", results[r.node] ? results[r.node].message : "");
      if (results[r.node]) res.className = "result " + (results[r.node].ok ? "ok" : "error");
      card.appendChild(res);
      box.appendChild(card);
    });
  }

  function send(a, answer, comment, card) {
    var b = new URLSearchParams();
    b.set("csrf", csrf); b.set("node", a.request.node); b.set("plan", a.request.plan_hash || "");
    b.set("evidence", a.evidence_digest); b.set("answer", answer); b.set("comment", comment || "");
    card.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
    flash({ ok: true, message: "Sending…" });
    fetch("/runs/" + encodeURIComponent(runID) + "/answer", { method: "POST", body: b, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (j) { results[a.request.node] = j; if (j.ok) delete comments[a.request.node]; flash(j); askKey = ""; renderAsks(); })
      .catch(function (e) { var j = { ok: false, message: String(e) }; results[a.request.node] = j; flash(j); askKey = ""; renderAsks(); });
  }

  // flash shows the console's last reply above everything: the card it
  // answered may be gone already (the answer decided the gate).
  function flash(j) {
    var f = $("flash");
    f.hidden = false;
    f.textContent = j.message;
    f.className = "flash " + (j.message === "Sending…" ? "" : j.ok ? "ok" : "error");
  }

  function renderRollback() {
    var box = $("rollback");
    box.textContent = "";
    var rb = state.rollback;
    box.hidden = !rb;
    if (!rb) return;
    box.appendChild(el("h2", "", "Rollback path"));
    if (rb.reason) box.appendChild(el("div", "reason", rb.reason));
    var ol = el("ol", "path");
    ol.id = "path";
    (rb.steps || []).forEach(function (s) {
      var li = el("li", s.status);
      li.dataset.step = s.name;
      li.appendChild(el("span", "", s.name));
      li.appendChild(el("span", "st", s.status));
      if (s.error) li.title = s.error;
      ol.appendChild(li);
    });
    if (!(rb.steps || []).length) ol.appendChild(el("li", "muted", "nothing to undo"));
    box.appendChild(ol);
  }

  function renderUndo() {
    var ol = $("undo");
    ol.textContent = "";
    (state.left_to_undo || []).forEach(function (n) { ol.appendChild(el("li", "", n)); });
    if (!(state.left_to_undo || []).length) ol.appendChild(el("li", "muted", "nothing"));
  }

  function renderDecisions() {
    var ds = state.decisions || [];
    $("decisions-card").hidden = ds.length === 0;
    var ul = $("decisions");
    ul.textContent = "";
    ds.slice().reverse().forEach(function (d) {
      var x = d.decision, li = el("li");
      var verdict = x.refused ? "refused" : x.approved ? "approved" : "denied";
      li.appendChild(el("span", x.refused ? "ref" : x.approved ? "ok" : "no", verdict));
      li.appendChild(document.createTextNode(" " + d.node + " by " + (x.by || "?") + (x.via ? " via " + x.via : "") + (x.from ? " from " + x.from : "") + " at " + fmtTime(x.at)));
      if (x.comment) li.appendChild(el("div", "muted", "“" + x.comment + "”"));
      if (x.refused) li.appendChild(el("div", "refusal", x.refused.replace(/^runbook: decision refused: /, "")));
      ul.appendChild(li);
    });
  }

  function render() {
    renderSummary(); renderTimeline(); renderAsks(); renderRollback(); renderUndo(); renderDecisions(); tick();
    body.dataset.seq = state.seq;
  }

  // tick moves the clocks and running bars between events.
  function tick() {
    var n = now();
    var e = $("elapsed");
    if (e) e.textContent = dur((state.live ? n : t(state.last)) - t(state.started));
    document.querySelectorAll("[data-deadline]").forEach(function (x) { x.textContent = clock(Number(x.dataset.deadline) - n); });
    document.querySelectorAll(".time[data-start]").forEach(function (x) {
      x.textContent = dur((x.dataset.end ? Number(x.dataset.end) : (state.live ? n : t(state.last))) - Number(x.dataset.start));
    });
  }

  function accept(s) {
    state = s;
    skew = t(s.now) - Date.now();
    render();
  }
  accept(state);
  setInterval(tick, 250);
  if (state.live && window.EventSource) {
    var es = new EventSource("/runs/" + encodeURIComponent(runID) + "/events");
    es.addEventListener("state", function (ev) { accept(JSON.parse(ev.data)); });
  }
})();
