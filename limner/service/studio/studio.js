// Limner studio: a creative session in the browser. It talks only to the service's public job API
// (POST /v1/runs, GET /v1/runs/{id}, its events, /messages, /cancel, /files): a script can do all it does.
"use strict";

const $ = (id) => document.getElementById(id);
const S = { key: sessionStorage.getItem("limner-key") || "", run: null, view: null, boxes: null, changed: false,
            blobs: new Map(), streaming: null, paintOn: null, painted: false, live: new Map() };
const FAILED = new Set(["missing", "wrong_count", "wrong_color", "wrong_place", "unwanted"]);

function say(text) { $("status").textContent = text; }
function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  if (S.key) h["Authorization"] = "Bearer " + S.key;
  return h;
}
async function api(method, path, body) {
  const r = await fetch(path, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.error && data.error.message) || `${r.status} ${r.statusText}`);
  return data;
}
async function blobUrl(url) {  // images go through fetch, so a server with an API key serves them too
  if (S.blobs.has(url)) return S.blobs.get(url);
  const r = await fetch(url, { headers: headers(false) });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  const u = URL.createObjectURL(await r.blob());
  S.blobs.set(url, u);
  return u;
}
function fileUrl(path) { return `/v1/runs/${S.run}/files/${path}`; }
function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}
function svg(tag, attrs = {}) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// ---- sessions --------------------------------------------------------------------------------------------
async function start(brief) {
  say("planning...");
  S.live.clear();
  const per = parseInt($("per-round").value, 10);
  const job = await api("POST", "/v1/runs", { prompt: brief, interactive: true, policy: "chat",
                                             budgets: per > 0 ? { candidates: per } : {} });
  S.run = job.id;
  history.replaceState(null, "", `#${job.id}`);
  listen(job.id);
  await loadSessions();
}
async function open(id) {
  S.run = id; S.boxes = null; S.changed = false; S.live.clear();
  history.replaceState(null, "", `#${id}`);
  await refresh();
  if (!["passed", "best_effort", "unverified", "failed", "cancelled"].includes(S.view.status)) listen(id);
}
async function loadSessions() {
  const page = await api("GET", "/v1/runs?limit=30");
  const ul = $("sessions");
  ul.replaceChildren(...page.data.map((j) => el("li", {}, el("button", {
    type: "button", onclick: () => open(j.id).catch(fail), "aria-label": `open session ${j.id}: ${j.request.prompt}`,
  }, `${j.request.prompt || "(edit)"} · ${j.status}`))));
}

// ---- live events (Server-Sent Events read with fetch, so the API key goes along) ----------------------------
async function listen(id) {
  if (S.streaming === id) return;
  S.streaming = id;
  let last = 0;
  while (S.streaming === id) {
    try {
      const r = await fetch(`/v1/runs/${id}/events?after=${last}`, { headers: headers(false) });
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const chunk = buf.slice(0, cut); buf = buf.slice(cut + 2);
          const data = chunk.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (!data) continue;
          const e = JSON.parse(data);
          last = e.id || last;
          if (S.run === id) await onEvent(e);
          if (e.event === "ended") { S.streaming = null; return; }
        }
      }
    } catch (err) { console.warn("event stream:", err.message); await new Promise((res) => setTimeout(res, 1000)); }
  }
}
async function onEvent(e) {
  if (e.event === "step") {
    $("cancel-btn").disabled = false;
    $("progress").max = e.steps; $("progress").value = e.step;
    $("progress-text").textContent = `round ${e.round}: step ${e.step} of ${e.steps}`;
    $("round-panel").hidden = false;
  } else if (e.event === "candidate") {
    // the event's "id" is its number in the log; the candidate's own id travels as "id_"
    const cid = e.id_ || e.path.split("/").pop().replace(/\.png$/, "");
    S.live.set(cid, e);
    renderCandidates();
  } else if (e.event === "started" || e.event === "message" || e.event === "queued") {
    $("cancel-btn").disabled = false;
    say("working...");
  } else if (e.event === "waiting" || e.event === "ended") {
    // the service logs this event and changes the job's record under one lock: the record read now agrees
    await refresh();
    loadSessions().catch(fail);
  } else if (e.event === "plan" || e.event === "cancelled") {
    await refresh();
  }
}

// ---- the view ------------------------------------------------------------------------------------------------
async function refresh() {
  if (!S.run) return;
  S.view = await api("GET", `/v1/runs/${S.run}`);
  render();
}
function render() {
  const v = S.view, q = v.question || {};
  const brief = (v.request && v.request.prompt) || "";
  $("brief").value = $("brief").value || brief;
  const ended = !["waiting", "queued", "running"].includes(v.status);
  say(ended ? `${v.status}: ${v.stop_reason || v.error || ""}` : v.status !== "waiting" ? `${v.status}...`
      : q.kind === "plan" ? (q.asks || "approve the plan?") : "your turn: say what to change, pick, undo or accept");
  if (v.status === "waiting" && q.kind === "plan") {
    renderPlan(q.plan);
    $("round-panel").hidden = true;
  } else {
    $("plan-panel").hidden = true;
    if (v.plan) S.plan = v.plan;
  }
  if (q.kind === "round" || v.candidates.length) {
    $("round-panel").hidden = false;
    $("asks").textContent = v.status === "waiting" && q.kind === "round" && q.asks && !q.asks.startsWith("accept,") ? q.asks : "";
    renderCandidates();
    renderHistory(q.history || []);
    renderDownloads(v);
  }
  const waiting = v.status === "waiting";
  for (const b of ["send-btn", "undo-btn", "accept-btn"]) $(b).disabled = !(waiting && q.kind === "round");
  $("cancel-btn").disabled = !["running", "queued"].includes(v.status);
}

// ---- the plan and its layout ---------------------------------------------------------------------------------
function renderPlan(plan) {
  $("plan-panel").hidden = false;
  $("plan-version").textContent = `v${plan.version} (${plan.planner})`;
  $("rewritten").textContent = plan.rewritten_prompt;
  const words = (o) => [...(o.attributes || []), o.color, o.name].filter(Boolean).join(" ");
  $("entities").replaceChildren(...plan.objects.map((o, i) => el("li", {}, `${i}: ${o.count > 1 ? o.count + " x " : ""}${words(o)}`)));
  $("relations").replaceChildren(...(plan.relations || []).map((r) => el("li", {}, `${words(plan.objects[r.subject])} ${r.relation} ${words(plan.objects[r.object])}`)),
    ...(plan.exclusions || []).map((x) => el("li", {}, `no ${words(x)}`)));
  $("checks").replaceChildren(...plan.checks.map((c) => el("li", {}, c.question)));
  if (!S.boxes || S.boxesFor !== plan.version) {
    S.boxes = ((plan.layout || {}).regions || []).filter((r) => r.object !== null && r.object !== undefined)
      .map((r) => ({ object: r.object, phrase: r.phrase, box: r.box.slice() }));
    S.boxesFor = plan.version; S.changed = false;
  }
  drawLayout();
}
function drawLayout() {
  const root = $("layout");
  root.replaceChildren();
  S.boxes.forEach((b, k) => {
    const [x0, y0, x1, y1] = b.box;
    const g = svg("g", { class: "box", tabindex: "0", role: "button", "data-object": b.object,
      "aria-label": `box of ${b.phrase}: ${b.box.map((v) => v.toFixed(2)).join(", ")}` });
    const body = svg("rect", { class: "body", x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
    const handle = svg("rect", { class: "handle", x: x1 - 0.03, y: y1 - 0.03, width: 0.03, height: 0.03 });
    const label = svg("text", { x: x0 + 0.01, y: y0 + 0.05 }); label.textContent = b.phrase;
    const del = svg("text", { class: "del", x: x1 - 0.05, y: y0 + 0.05 }); del.textContent = "×";
    del.addEventListener("click", () => removeBox(k));
    g.append(body, label, del, handle);
    drag(g, body, k, "move"); drag(g, handle, k, "resize");
    g.addEventListener("keydown", (e) => keyBox(e, k));
    root.append(g);
  });
}
function clampBox(b) {
  const w = Math.max(0.06, b[2] - b[0]), h = Math.max(0.06, b[3] - b[1]);
  const x0 = Math.min(Math.max(0, b[0]), 1 - w), y0 = Math.min(Math.max(0, b[1]), 1 - h);
  return [x0, y0, x0 + w, y0 + h].map((v) => Math.round(v * 1000) / 1000);
}
function moveBox(k, dx, dy, mode) {
  const b = S.boxes[k].box;
  S.boxes[k].box = clampBox(mode === "move" ? [b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy] : [b[0], b[1], b[2] + dx, b[3] + dy]);
  S.changed = true;
}
function removeBox(k) {
  S.boxes.splice(k, 1); S.changed = true; drawLayout();
  say("box removed: its object leaves the plan when you approve");
}
function drag(g, handle, k, mode) {
  handle.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    const root = $("layout"), rect = root.getBoundingClientRect();
    let px = e.clientX, py = e.clientY;
    const moveFn = (m) => {
      moveBox(k, (m.clientX - px) / rect.width, (m.clientY - py) / rect.height, mode);
      px = m.clientX; py = m.clientY;
      drawLayout();
    };
    const up = () => { window.removeEventListener("pointermove", moveFn); window.removeEventListener("pointerup", up); };
    window.addEventListener("pointermove", moveFn); window.addEventListener("pointerup", up);
  });
}
function keyBox(e, k) {
  const step = 0.02, dirs = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
  if (dirs[e.key]) {
    e.preventDefault();
    moveBox(k, dirs[e.key][0], dirs[e.key][1], e.shiftKey ? "resize" : "move");
    drawLayout();
    document.querySelectorAll("#layout .box")[k].focus();
  } else if (e.key === "Delete" || e.key === "Backspace") {
    e.preventDefault(); removeBox(k);
  }
}
async function approve() {
  const body = { text: "yes" };
  if (S.changed) body.layout = S.boxes.map((b) => ({ object: b.object, box: b.box }));
  await message(body);
}

// ---- candidates ----------------------------------------------------------------------------------------------
function checksOf(c) {
  const out = [];
  for (const s of Object.values(c.scores || {})) for (const q of ((s.detail || {}).questions || [])) out.push(q);
  return out;
}
function failBoxes(c) {
  const boxes = [];
  for (const s of Object.values(c.scores || {})) {
    for (const f of ((s.detail || {}).findings || [])) if (FAILED.has(f.status) && f.box) boxes.push(f.box);
    const p = (s.detail || {}).preservation;
    if (p && !p.passed && p.worst_box) boxes.push(p.worst_box);
  }
  return boxes;
}
async function renderCandidates() {
  const v = S.view || { candidates: [] };
  const known = new Map(v.candidates.map((c) => [c.id, c]));
  for (const [id, e] of S.live) if (!known.has(id)) known.set(id, { id, path: e.path, score: e.score, live: true });
  const head = (v.question && v.question.best_id) || (v.best && v.best.id);
  const brief = (v.request && v.request.prompt) || "the brief";
  const cards = [];
  for (const c of [...known.values()].reverse()) {
    const pic = el("div", { class: "pic" });
    const img = el("img", { alt: `${brief}: candidate ${c.id}, score ${(+c.score).toFixed(3)}` });
    blobUrl(fileUrl(c.path)).then((u) => { img.src = u; }).catch(() => {});
    const over = svg("svg", { viewBox: "0 0 1 1", "aria-hidden": "true" });
    for (const b of failBoxes(c)) over.append(svg("rect", { x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1] }));
    pic.append(img, over);
    const checks = el("ul", {}, ...checksOf(c).map((q) => el("li", {
      class: q.counted === null || q.counted === undefined ? "none" : q.passed ? "ok" : "bad" },
      `${q.counted === null || q.counted === undefined ? "?" : q.passed ? "✓" : "✗"} ${q.question}`)));
    const waiting = S.view && S.view.status === "waiting" && S.view.question && S.view.question.kind === "round";
    const actions = el("div", { class: "actions" },
      el("button", { type: "button", disabled: waiting ? null : "", onclick: () => message({ text: `pick ${c.id}` }) }, "Pick"),
      el("button", { type: "button", disabled: waiting ? null : "", onclick: () => message({ text: `back to ${c.id}` }) }, "Branch"),
      el("button", { type: "button", disabled: waiting ? null : "", onclick: () => paint(c) }, "Paint"),
      el("button", { type: "button", onclick: () => download(c) }, "Download"),
      el("a", { href: "#", onclick: (e) => { e.preventDefault(); download(c, true); } }, "Provenance"));
    cards.push(el("article", { class: "cand" + (c.id === head ? " head" : ""), "data-id": c.id, tabindex: "0",
      "aria-label": `candidate ${c.id}${c.id === head ? " (current)" : ""}` },
      pic, el("div", { class: "meta" }, `${c.id} · ${c.score === null || c.score === undefined ? "…" : (+c.score).toFixed(3)}${c.id === head ? " · current" : ""}`),
      checks, actions));
  }
  $("candidates").replaceChildren(...cards);
}
async function download(c, provenance) {
  const path = provenance ? c.path.replace(/\.png$/, ".json") : c.path;
  const a = el("a", { href: await blobUrl(fileUrl(path)), download: `${S.run}-${path.split("/").pop()}` });
  document.body.append(a); a.click(); a.remove();
}
function renderHistory(tree) {
  $("history").replaceChildren(...tree.map((t) => el("li", { class: t.undone ? "undone" : "" },
    `“${t.answer}” — ${t.kind || t.action}: ${t.from || "-"} → ${t.head || (t.made.length ? t.made.join(", ") : "-")}${t.undone ? " (undone)" : ""}`,
    ...(t.head ? [" ", el("button", { type: "button", onclick: () => message({ text: `back to ${t.head}` }) }, "go here")] : []))));
}
function renderDownloads(v) {
  const links = [];
  for (const [name, url] of Object.entries(v.files || {})) {
    links.push(el("button", { type: "button", onclick: async () => {
      const a = el("a", { href: await blobUrl(url), download: `${S.run}-${url.split("/").pop()}` });
      document.body.append(a); a.click(); a.remove();
    } }, `Download ${name}`), " ");
  }
  $("downloads").replaceChildren(...links);
}

// ---- the brush mask ------------------------------------------------------------------------------------------
async function paint(c) {
  S.paintOn = c.id; S.painted = false;
  $("paint").hidden = false;
  $("paint-on").textContent = `on ${c.id}`;
  const img = $("paint-img");
  img.alt = `candidate ${c.id}, to paint on`;
  img.src = await blobUrl(fileUrl(c.path));
  await img.decode();
  const cv = $("paint-canvas");
  cv.width = img.naturalWidth; cv.height = img.naturalHeight;
  cv.getContext("2d").clearRect(0, 0, cv.width, cv.height);
  $("turn").focus();
  say(`paint the part of ${c.id} to change, then say what to do there`);
}
function setupBrush() {
  const cv = $("paint-canvas");
  let down = false;
  const dot = (e) => {
    const r = cv.getBoundingClientRect();
    const x = (e.clientX - r.left) * cv.width / r.width, y = (e.clientY - r.top) * cv.height / r.height;
    const ctx = cv.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.beginPath(); ctx.arc(x, y, (+$("brush").value) * cv.width / 256, 0, Math.PI * 2); ctx.fill();
    S.painted = true;
  };
  cv.addEventListener("pointerdown", (e) => { down = true; cv.setPointerCapture(e.pointerId); dot(e); });
  cv.addEventListener("pointermove", (e) => { if (down) dot(e); });
  cv.addEventListener("pointerup", () => { down = false; });
  $("clear-mask-btn").addEventListener("click", () => { cv.getContext("2d").clearRect(0, 0, cv.width, cv.height); S.painted = false; });
  $("close-paint-btn").addEventListener("click", closePaint);
}
function closePaint() { $("paint").hidden = true; S.paintOn = null; S.painted = false; }
function maskData() {  // white where painted, black elsewhere, at the image's own size
  const cv = $("paint-canvas"), out = document.createElement("canvas");
  out.width = cv.width; out.height = cv.height;
  const ctx = out.getContext("2d");
  ctx.fillStyle = "#000"; ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(cv, 0, 0);
  return out.toDataURL("image/png").split(",")[1];
}

// ---- turns ---------------------------------------------------------------------------------------------------
async function message(body) {
  if (!S.run) return;
  await api("POST", `/v1/runs/${S.run}/messages`, body);
  S.live.clear();
  say(`sent: ${body.text}`);
  for (const b of ["send-btn", "undo-btn", "accept-btn"]) $(b).disabled = true;
  listen(S.run);
}
async function sendTurn() {
  const text = $("turn").value.trim();
  if (!text) return;
  const body = { text };
  if (S.paintOn && S.painted) { body.mask = maskData(); body.candidate = S.paintOn; }
  await message(body);
  $("turn").value = "";
  closePaint();
}
function fail(err) { say(`error: ${err.message}`); }

// ---- wiring --------------------------------------------------------------------------------------------------
$("brief-form").addEventListener("submit", (e) => { e.preventDefault(); start($("brief").value.trim()).catch(fail); });
$("approve-btn").addEventListener("click", () => approve().catch(fail));
$("reset-layout-btn").addEventListener("click", () => { S.boxes = null; render(); });
$("turn-form").addEventListener("submit", (e) => { e.preventDefault(); sendTurn().catch(fail); });
$("undo-btn").addEventListener("click", () => message({ text: "undo" }).catch(fail));
$("accept-btn").addEventListener("click", () => message({ text: "accept" }).catch(fail));
$("cancel-btn").addEventListener("click", () => api("POST", `/v1/runs/${S.run}/cancel`).then(refresh).catch(fail));
$("refresh-sessions").addEventListener("click", () => loadSessions().catch(fail));
$("key-btn").addEventListener("click", () => {
  const k = prompt("API key of this server (kept for this tab only)", S.key);
  if (k !== null) { S.key = k.trim(); sessionStorage.setItem("limner-key", S.key); loadSessions().catch(fail); }
});
setupBrush();
loadSessions().catch(fail);
if (location.hash.length > 1) open(location.hash.slice(1)).catch(fail);
