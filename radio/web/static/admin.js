// The admin page: sign in with the token, then styles (cards), one style's versions and pieces,
// and training jobs. One live feed (/admin/events) keeps all of it in step with the server;
// every action reports in the feedback line beside the control that started it.
import { api, ApiError, clearToken, followFeed, getToken, setToken, Unauthorized } from "./admin-api.js";
import { drawLossChart } from "./admin-chart.js";
import { duration, el, fmt, outcomeText, plural, shortVersion, startText, tickTimes, timeEl } from "./admin-format.js";

const $ = (sel) => document.querySelector(sel);
const FINAL = new Set(["succeeded", "failed", "cancelled"]);
const STATE_WORDS = { queued: "queued", running: "training", succeeded: "done", failed: "failed", cancelled: "cancelled" };

const state = {
  styles: new Map(), // name -> the style as GET /admin/styles gives it
  cards: new Map(), // name -> { node, update(style) }
  jobs: new Map(), // id -> job
  selectedJob: null,
  selectedStyle: null,
  detail: null, // { style, active, playing } of the versions table on screen
  feed: null, // AbortController of the live feed
};

// --- feedback beside a control ---------------------------------------------------------
function tell(node, message, kind = "ok", ...extra) {
  node.dataset.kind = kind;
  node.replaceChildren(message, ...extra);
}

function explain(err) {
  if (err instanceof Unauthorized) {
    signOut("The token was refused; enter it again.");
    return null;
  }
  return err instanceof ApiError ? err.message : `Something went wrong in the page: ${err.message}`;
}

async function attempt(feedback, work) {
  try {
    return await work();
  } catch (err) {
    const message = explain(err);
    if (message !== null) tell(feedback, message, "error");
    return undefined;
  }
}

function busy(button, on) {
  button.disabled = on;
  button.setAttribute("aria-busy", on ? "true" : "false");
}

// --- sign in and the live feed ----------------------------------------------------------
function signOut(message = "") {
  clearToken();
  state.feed?.abort();
  state.feed = null;
  $("#app").hidden = true;
  $("#logout").hidden = true;
  $("#live").hidden = true;
  $("#login").hidden = false;
  tell($("#login-error"), message, "error");
  $("#token").focus();
}

async function signIn() {
  const styles = await api("GET", "/admin/styles"); // throws Unauthorized on a bad token
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#logout").hidden = false;
  $("#live").hidden = false;
  renderStyles(styles);
  await loadLibrary();
  startFeed();
}

function setLive(mode) {
  const live = $("#live");
  live.dataset.state = mode;
  $("#live-text").textContent = mode === "on" ? "live" : "reconnecting…";
  live.title = mode === "on" ? "This page follows the server as things change." : "The live feed dropped; reconnecting.";
}

function startFeed() {
  state.feed?.abort();
  const controller = new AbortController();
  state.feed = controller;
  followFeed("/admin/events", onFeedEvent, {
    signal: controller.signal,
    onState: setLive,
    onUnauthorized: () => signOut("The token was refused; enter it again."),
  });
}

function onFeedEvent(name, data) {
  if (name === "styles") renderStyles(data);
  else if (name === "jobs") {
    state.jobs = new Map(data.map((j) => [j.id, j]));
    renderJobs();
  } else if (name === "job") onJob(data);
}

function onJob(job) {
  const before = state.jobs.get(job.id);
  state.jobs.set(job.id, job);
  renderJobs();
  state.cards.get(job.style)?.job(job);
  if (FINAL.has(job.state) && before && !FINAL.has(before.state)) {
    const card = state.cards.get(job.style);
    if (card) tell(card.feedback, `Training ${STATE_WORDS[job.state]}. ${outcomeText(job)}`, job.state === "succeeded" ? "ok" : "error");
    if (state.selectedStyle === job.style) loadDetail(job.style).catch(() => {});
    loadLibrary().catch(() => {});
  }
}

// --- style cards ------------------------------------------------------------------------
function renderStyles(list) {
  state.styles = new Map(list.map((s) => [s.style, s]));
  const container = $("#style-cards");
  for (const [name, card] of state.cards) {
    if (!state.styles.has(name)) { card.node.remove(); state.cards.delete(name); }
  }
  for (const s of list) {
    let card = state.cards.get(s.style);
    if (!card) {
      card = styleCard(s);
      state.cards.set(s.style, card);
      container.append(card.node);
    }
    card.update(s);
  }
  const like = $("#ns-like");
  const options = list.map((s) => `${s.style}:${s.name}`).join("|");
  if (like.dataset.options !== options) { // rebuilt only when the styles change, not on every update
    const chosen = like.value;
    like.replaceChildren(...list.map((s) => el("option", { value: s.style }, s.name)));
    if (chosen && state.styles.has(chosen)) like.value = chosen;
    like.dataset.options = options;
  }
  const pieces = list.map((s) => s.pieces).join(",");
  if (state.piecesSeen !== undefined && state.piecesSeen !== pieces) loadLibrary().catch(() => {});
  state.piecesSeen = pieces;
  if (state.selectedStyle) refreshDetailHeader(state.styles.get(state.selectedStyle));
}

function styleCard(s) {
  const id = `style-${s.style}`;
  const name = el("h3", { class: "card-name", id: `${id}-name` });
  const badge = el("span", { class: "badge" });
  const desc = el("p", { class: "card-desc" });
  const playing = el("dd", { "data-f": "playing" });
  const pieces = el("dd", { "data-f": "pieces" });
  const jobLine = el("div", { class: "card-job", "data-f": "job", "aria-live": "polite" });
  const feedback = el("p", { class: "feedback", role: "status", "aria-live": "polite", "data-f": "feedback" });

  const minutes = el("input", { id: `${id}-minutes`, name: "minutes", type: "number", min: 0.1, max: 1440, step: "any", value: 5, required: true });
  // No epoch cap unless the admin sets one: a run uses its minutes while it still improves.
  const epochs = el("input", { id: `${id}-epochs`, name: "epochs", type: "number", min: 1, max: 1000, step: 1, placeholder: "no cap" });
  const hidden = el("input", { id: `${id}-hidden`, name: "hidden", type: "number", min: 1, max: 2048, step: 1, placeholder: "256" });
  const force = el("input", { id: `${id}-force`, name: "force", type: "checkbox" });
  const from = el("select", { id: `${id}-start`, name: "start" },
    el("option", { value: "auto", selected: true }, "Auto — recommended"),
    el("option", { value: "base" }, "The base model"),
    el("option", { value: "active" }, "The model on air"),
    el("option", { value: "scratch" }, "Scratch"));
  const start = el("button", { class: "button primary", type: "submit", "data-retrain": s.style }, "Retrain");
  const form = el("form", { class: "retrain", "aria-label": `Retrain ${s.style}`, novalidate: true },
    el("div", { class: "retrain-fields" },
      el("div", { class: "field" }, el("label", { for: minutes.id }, "Time budget, minutes"), minutes),
      el("div", { class: "field" }, el("label", { for: epochs.id }, "Epochs, at most"), epochs),
      start),
    el("details", {},
      el("summary", {}, "More options"),
      el("div", { class: "more" },
        el("div", { class: "field" }, el("label", { for: from.id }, "Start from"), from),
        el("div", { class: "field" }, el("label", { for: hidden.id }, "LSTM units per layer"), hidden),
        el("label", { class: "inline-check", for: force.id }, force, "Put on air even if it scores worse"))),
    feedback);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    retrain(s.style, { minutes, epochs, hidden, force, from, start, feedback });
  });

  const open = el("button", { class: "button small", type: "button", "data-open": s.style, onclick: () => openDetail(s.style) }, "Versions & pieces");
  const node = el("li", { class: "card style-card", "data-style": s.style, "aria-labelledby": name.id },
    el("div", { class: "card-head" }, name, badge),
    desc,
    el("dl", { class: "facts" }, el("dt", {}, "On air"), playing, el("dt", {}, "Pieces"), pieces),
    jobLine,
    form,
    el("div", { class: "card-actions" }, open));

  function update(st) {
    node.style.setProperty("--hue", hueOf(st.style));
    name.replaceChildren(st.name, " ", el("code", { class: "muted" }, st.style));
    badge.className = st.on_air ? "badge on" : "badge";
    badge.textContent = st.on_air ? "on air" : "off air";
    desc.textContent = st.description || "No description yet.";
    desc.classList.toggle("muted", !st.description);
    playing.replaceChildren(...playingFacts(st));
    pieces.replaceChildren(...pieceFacts(st));
    job(st.job && !FINAL.has(st.job.state) ? st.job : null);
  }

  function job(j) {
    if (!j || FINAL.has(j.state)) {
      jobLine.replaceChildren();
      return;
    }
    const pct = Math.round((j.progress || 0) * 100);
    jobLine.replaceChildren(
      j.state === "queued" ? "Queued: waits for the running job." : `Training: epoch ${j.epoch || 0} of at most ${j.epochs ?? "?"} · ${pct}%`,
      el("progress", { max: 1, value: j.progress || 0, "aria-label": `training progress of ${st().style}` }));
  }
  const st = () => state.styles.get(s.style) || s;

  return { node, update, job, feedback };
}

function hueOf(name) {
  // The listener page's channel hues, so a style keeps its colour across both pages.
  const known = { baroque: 38, classical: 205, renaissance: 150, medieval: 12, folk: 95 };
  if (name in known) return known[name];
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 360;
  return h;
}

function playingFacts(s) {
  if (!s.on_air) {
    return [el("span", {}, "Not yet."), el("span", { class: "help" }, "A style goes on air once a trained version is activated: retrain it below.")];
  }
  const out = [el("code", {}, shortVersion(s.playing_version)), " ",
    el("span", { class: "muted" }, s.playing_version === s.active_version && s.active_source === "bundled" ? "(bundled model)" : "")];
  if (s.swap?.pending) out.push(el("span", { class: "help swap-note", "data-f": "swap" }, ...swapWords(s.swap)));
  return out;
}

function swapWords(swap) {
  const when = swap.expected_at ? ["listeners hear it ", timeEl(swap.expected_at)] : ["listeners hear it at the next piece"];
  return [`Switching to `, el("code", {}, shortVersion(swap.version)), `: `, ...when,
    swap.deadline === "piece boundary" ? " (at the next piece)" : ""];
}

function pieceFacts(s) {
  const out = [el("span", {}, `${s.pieces} in the library`)];
  if (s.pieces > 0) out.push(el("span", { class: "muted" }, ` · ${s.beats} beats`));
  if (s.pieces === 0 && s.active_source === "bundled" && s.active_trained_on) {
    out.push(el("span", { class: "help" },
      `The bundled model learnt from ${s.active_trained_on} pieces${s.active_heldout_pieces ? ` (and was measured on ${s.active_heldout_pieces} more)` : ""} `
      + `that are not in this library (styles/${s.style}/TRAINING.md lists them). `
      + `To retrain, add at least ${s.pieces_needed} pieces here under Versions & pieces.`));
  } else if (s.pieces < s.pieces_needed) {
    out.push(el("span", { class: "help" }, `Retraining needs at least ${s.pieces_needed}: add pieces under Versions & pieces.`));
  }
  return out;
}

async function retrain(style, f) {
  for (const input of [f.minutes, f.epochs, f.hidden]) {
    if (!input.checkValidity()) {
      const label = input.labels?.[0]?.textContent || input.name;
      tell(f.feedback, `${label}: ${input.validationMessage}`, "error");
      input.focus();
      return;
    }
  }
  const body = { minutes: Number(f.minutes.value) };
  if (f.epochs.value) body.epochs = Number(f.epochs.value);
  if (f.hidden.value) body.hyperparameters = { hidden: Number(f.hidden.value) };
  if (f.force.checked) body.force = true;
  body.start = f.from.value || "auto";
  busy(f.start, true);
  tell(f.feedback, "Starting…", "ok");
  await attempt(f.feedback, async () => {
    try {
      const job = await api("POST", `/admin/styles/${style}/retrain`, body);
      state.jobs.set(job.id, job);
      renderJobs();
      selectJob(job.id);
      const how = job.start?.label ? `, ${job.start.label}` : "";
      const bound = body.epochs ? `at most ${plural(body.epochs, "epoch")} within ${body.minutes} min`
        : `until it stops improving, within ${body.minutes} min`;
      tell(f.feedback, `Training ${job.state === "queued" ? "is queued" : "started"}${how}: ${bound}. Progress shows here and under Training jobs.`, "ok");
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) {
        tell(f.feedback, err.message, "error",
          el("br"), el("button", { class: "button small", type: "button", onclick: () => openDetail(style, { focusUpload: true }) }, "Add pieces now"));
        return;
      }
      throw err;
    }
  });
  busy(f.start, false);
}

// --- new style ----------------------------------------------------------------------------
async function loadLibrary() {
  const library = await api("GET", "/admin/library");
  const box = $("#ns-library-list");
  const key = JSON.stringify(library.styles);
  if (box.dataset.key === key) return; // unchanged: keep the boxes (and the focus) as they are
  box.dataset.key = key;
  const checked = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  box.replaceChildren(...library.styles.map((s) => el("label", {},
    el("input", { type: "checkbox", name: "from_styles", value: s.style, checked: checked.has(s.style) }),
    s.style, el("span", { class: "muted" }, ` (${plural(s.pieces, "piece")})`))));
  $("#ns-library-empty").hidden = library.styles.length > 0;
}

$("#new-style").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const feedback = $("#new-style-feedback");
  const name = $("#ns-name");
  if (!name.checkValidity()) {
    tell(feedback, name.validity.valueMissing
      ? "Give the style a name, like bach-chorales."
      : `“${name.value}” cannot be a style name: use 1–32 lower-case letters, digits and “-”, like bach-chorales.`, "error");
    name.focus();
    return;
  }
  const data = new FormData();
  for (const key of ["name", "display_name", "description", "like", "composer"]) {
    const value = String(form.elements[key].value || "").trim();
    if (value) data.append(key, value);
  }
  const from = [...form.querySelectorAll("input[name=from_styles]:checked")].map((i) => i.value);
  if (from.length) data.append("from_styles", from.join(","));
  for (const file of $("#ns-files").files) data.append("files", file);
  const button = form.querySelector("button[type=submit]");
  busy(button, true);
  tell(feedback, "Creating…", "ok");
  await attempt(feedback, async () => {
    const report = await api("POST", "/admin/styles", data);
    const summary = [
      `Created ${report.style}.`,
      report.accepted.length ? ` ${plural(report.accepted.length, "piece")} added.` : "",
      report.duplicates?.length ? ` ${plural(report.duplicates.length, "file")} already in the library.` : "",
      report.rejected.length ? ` ${plural(report.rejected.length, "file")} rejected.` : "",
      ` It learns from ${plural(report.pieces, "piece")}`,
      report.pieces >= report.pieces_needed ? ": retrain it on its card to put it on air." : `; add at least ${report.pieces_needed - report.pieces} more before retraining.`,
    ].join("");
    tell(feedback, summary, report.rejected.length ? "warn" : "ok",
      uploadList(report),
      el("button", { class: "button small", type: "button", onclick: () => focusCard(report.style) }, "Go to its card"));
    form.reset();
    await loadLibrary();
  });
  busy(button, false);
});

function focusCard(style) {
  const card = state.cards.get(style);
  if (!card) return;
  card.node.scrollIntoView({ block: "center" });
  card.node.querySelector("button[data-retrain]").focus();
}

// --- one style: versions and pieces ----------------------------------------------------------
async function openDetail(style, { focusUpload = false } = {}) {
  state.selectedStyle = style;
  $("#style-detail").hidden = false;
  $("#upload-report").replaceChildren();
  tell($("#versions-feedback"), "", "ok");
  tell($("#pieces-feedback"), "", "ok");
  await attempt($("#versions-feedback"), () => loadDetail(style));
  $("#style-detail").scrollIntoView({ block: "start" });
  (focusUpload ? $("#upload-files") : $("#detail-heading")).focus();
}

async function loadDetail(style) {
  const [models, pieces] = await Promise.all([
    api("GET", `/admin/styles/${style}/models`),
    api("GET", `/admin/styles/${style}/pieces`),
  ]);
  if (state.selectedStyle !== style) return;
  const s = state.styles.get(style);
  $("#detail-name").textContent = s ? `${s.name} (${style})` : style;
  state.detail = { style, active: models.active_version, playing: models.playing_version };
  renderVersions(style, models);
  renderPieces(pieces, s);
  refreshDetailHeader(s);
}

// Follows the feed: what plays and a pending swap change without anyone clicking.
function refreshDetailHeader(s) {
  if (!s || !state.detail || state.detail.style !== s.style) return;
  const note = $("#swap-now");
  if (s.swap?.pending) {
    note.hidden = false;
    note.replaceChildren(...swapWords(s.swap));
  } else {
    note.hidden = true;
  }
  if (s.active_version !== state.detail.active || s.playing_version !== state.detail.playing) {
    state.detail.active = s.active_version; // one reload per change
    state.detail.playing = s.playing_version;
    loadDetail(s.style).catch(() => {});
  }
}

function renderVersions(style, models) {
  const present = models.metrics.filter((m) => models.versions.some((v) => Number.isFinite(v.figures?.[m.key])));
  const head = el("tr", {},
    el("th", { scope: "col" }, "Version"),
    el("th", { scope: "col" }, "Created"),
    ...present.map((m) => el("th", { scope: "col", class: "num", title: m.help },
      m.label, el("span", { class: "dir" }, m.better ? `${m.better} is better` : "reference"))),
    el("th", { scope: "col" }, "Held-out set"),
    el("th", { scope: "col" }, "Training"),
    el("th", { scope: "col" }, "Against the active version"),
    el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Actions")));
  $("#versions thead").replaceChildren(head);
  const labels = ["Version", "Created", ...present.map((m) => `${m.label} (${m.better ? `${m.better} is better` : "reference"})`),
    "Held-out set", "Training", "Against the active version", ""];
  $("#versions tbody").replaceChildren(...models.versions.map((v) => versionRow(style, models, v, present, labels)));
  $("#metrics-legend").replaceChildren(el("dl", {},
    ...present.flatMap((m) => [el("dt", {}, m.label), el("dd", {}, legendWords(m))]),
    el("dt", {}, "Held-out set"), el("dd", {}, "The pieces kept out of training to measure a version. A retrain also scores the model on air on the new version's own held-out pieces: those two figures compare fairly (\"same pieces\"), and only such a comparison puts a version on air by itself. Figures measured on different held-out sets are not a fair comparison."),
    el("dt", {}, "On air"), el("dd", {}, "The version listeners hear now. Active: the version the station plays from now on.")));
}

// A table cell whose content is one element, so that on a phone (stacked rows) it sits
// beside its label as a whole.
function td(label, cls, ...content) {
  return el("td", { "data-label": label, class: cls || null }, el("span", { class: "cell" }, ...content));
}

function legendWords(m) {
  const parts = [m.help.replace(/\.$/, "")];
  if (m.unit) parts.push(`in ${m.unit}`);
  if (m.better) parts.push(`${m.better} is better`);
  return `${parts.join("; ")}.`;
}

function versionRow(style, models, v, present, labels) {
  const onAir = v.version === models.playing_version;
  const badges = [
    onAir ? el("span", { class: "badge on" }, "on air") : null,
    v.active && !onAir ? el("span", { class: "badge warn" }, models.playing_version ? "active, swapping in" : "active") : null,
    v.active && onAir ? el("span", { class: "badge ok" }, "active") : null,
    v.source === "bundled" ? el("span", { class: "badge" }, "bundled") : null,
  ].filter(Boolean);
  const held = v.heldout || {};
  const t = v.training || {};
  const cells = [
    [el("code", {}, shortVersion(v.version)), " ", ...badges.flatMap((b) => [b, " "])],
    [timeEl(v.created_at)],
    ...present.map((m) => [fmt(v.figures?.[m.key])]),
    [held.pieces != null ? `${plural(held.pieces, "piece")}${held.beats != null ? ` · ${held.beats} beats` : ""}` : "not recorded"],
    [trainingWords(t)],
    [comparisonCell(v.comparison, v.metrics?.compared)],
  ];
  const feedback = el("div", { class: "row-feedback" });
  const action = v.active ? "" : el("button", {
    class: "button small", type: "button", "data-activate": v.version,
    onclick: () => askActivate(style, v, models, feedback),
  }, v.source === "bundled" ? "Roll back to this" : "Put on air");
  const tds = cells.map((c, i) => td(labels[i], i >= 2 && i < 2 + present.length ? "num" : "", ...c));
  tds.push(el("td", { "data-label": "" }, action, feedback));
  return el("tr", { class: v.active ? "is-active" : "", "data-version": v.version }, ...tds);
}

function trainingWords(t) {
  if (!t.epochs_run) return el("span", { class: "muted" }, "—");
  const how = { "early stopping": "stopped early", "time budget": "budget ran out" }[t.stopped_by] || "";
  return `${plural(t.epochs_run, "epoch")}${how ? `, ${how}` : ""}${t.pieces ? ` · ${plural(t.pieces, "piece")}` : ""}`;
}

function comparisonCell(c, compared) {
  if (!c) return el("span", { class: "muted" }, "—");
  const parts = [];
  if (c.verdict === "better" || c.verdict === "worse") {
    parts.push(el("span", { class: `cmp ${c.verdict}` }, `${c.verdict} by ${fmt(Math.abs(c.delta))}`));
  } else if (c.verdict === "same") {
    parts.push(el("span", { class: "cmp" }, "the same"));
  } else {
    parts.push(el("span", { class: "muted" }, "no common figure"));
  }
  if (c.same_heldout === false) {
    parts.push(el("span", { class: "cmp unreliable", "data-unreliable": "" }, "⚠ different held-out sets: not a fair comparison"));
  }
  if (c.same_measure === false) {
    parts.push(el("span", { class: "cmp unreliable", "data-unreliable": "" }, "⚠ measured differently (one model has no struck/held figure)"));
  }
  if (c.basis === "same pieces") {
    parts.push(el("span", { class: "help", "data-fair": "" }, `on its ${plural(c.pieces ?? "?", "held-out piece")}, the active version scored on the same ones`));
  } else if (c.why_not && compared) {
    parts.push(el("span", { class: "help", "data-why-not": "" }, `Not compared on the same pieces (active version ${shortVersion(c.against)}): ${c.why_not}.`));
  }
  return el("span", {}, ...parts);
}

function swapBody() {
  const within = document.querySelector("input[name=swap-when]:checked")?.value === "within";
  if (!within) return undefined;
  const seconds = Number($("#swap-seconds").value);
  return { within_seconds: Number.isFinite(seconds) && seconds >= 0 ? seconds : 0 };
}

function askActivate(style, v, models, feedback) {
  const c = v.comparison;
  if (c?.verdict !== "worse") return activate(style, v, feedback);
  const active = models.versions.find((x) => x.active);
  const metric = models.metrics.find((m) => m.key === c.metric);
  const keep = el("button", { class: "button small", type: "button" }, `Keep ${shortVersion(active?.version)}`);
  const go = el("button", { class: "button small danger", type: "button" }, "Put it on air anyway");
  const box = el("div", { class: "confirm", role: "alertdialog", "aria-label": "Confirm a worse version" },
    el("p", {}, `This version scores worse than the active one: ${metric?.label || c.metric} ${fmt(c.value)} against ${fmt(c.base_value)} (lower is better).`
      + (c.same_heldout === false ? " They were measured on different held-out sets, so the gap is not reliable either way." : "")
      + (c.same_measure === false ? " One of them has no struck/held figure, so they were not measured the same way." : "")
      + " Put it on air anyway?"),
    go, " ", keep);
  const close = () => { box.remove(); feedback.parentElement.querySelector("[data-activate]")?.focus(); };
  keep.addEventListener("click", () => { close(); tell($("#versions-feedback"), `Kept ${shortVersion(active?.version)} on air.`, "ok"); });
  go.addEventListener("click", () => { box.remove(); activate(style, v, feedback); });
  box.addEventListener("keydown", (e) => { if (e.key === "Escape") keep.click(); });
  feedback.replaceChildren(box);
  go.focus();
}

async function activate(style, v, feedback) {
  const out = $("#versions-feedback");
  tell(out, `Activating ${shortVersion(v.version)}…`, "ok");
  await attempt(out, async () => {
    const r = await api("POST", `/admin/styles/${style}/models/${v.version}/activate`, swapBody());
    const eta = r.swap_state?.pending && Number.isFinite(r.swap_state.eta_seconds)
      ? ` Listeners hear it in about ${duration(r.swap_state.eta_seconds)}.`
      : r.swap === "already playing" ? " It is already playing." : r.swap === "a new channel" ? " The style is on air now." : "";
    tell(out, `${shortVersion(r.version)} is now the active version of ${style}.${eta}`, "ok");
    await loadDetail(style);
  });
  feedback.replaceChildren();
}

function renderPieces(pieces, s) {
  const needed = s?.pieces_needed ?? 2;
  $("#pieces-note").textContent = pieces.length >= needed
    ? `${plural(pieces.length, "piece")} to learn from. Retraining uses all of them; about one in ten is held out to measure the result.`
    : `${plural(pieces.length, "piece")}: retraining needs at least ${needed}. Upload MIDI files (.mid) here.`;
  const labels = ["Title", "Composer", "Key", "Beats", "Added", ""];
  $("#pieces tbody").replaceChildren(...pieces.map((p) => {
    const cell = el("td", { "data-label": "" });
    const remove = el("button", { class: "button small ghost", type: "button", onclick: () => askDelete(p, cell, remove) }, "Delete");
    cell.append(remove);
    return el("tr", { "data-piece": p.id },
      ...[p.title || p.id, p.composer || "—", p.original_key || "—"].map((t, i) => td(labels[i], "", t)),
      td(labels[3], "num", String(p.beats)),
      td(labels[4], "", timeEl(p.added_at)),
      cell);
  }));
}

function askDelete(piece, cell, button) {
  const title = piece.title || piece.id;
  const yes = el("button", { class: "button small danger", type: "button" }, "Delete it");
  const no = el("button", { class: "button small", type: "button" }, "Keep");
  const box = el("div", { class: "confirm", role: "alertdialog", "aria-label": `Delete ${title}?` },
    el("p", {}, `Delete “${title}” from the library? Versions already trained keep what they learnt.`), yes, " ", no);
  no.addEventListener("click", () => { box.remove(); button.hidden = false; button.focus(); });
  box.addEventListener("keydown", (e) => { if (e.key === "Escape") no.click(); });
  yes.addEventListener("click", async () => {
    await attempt($("#pieces-feedback"), async () => {
      await api("DELETE", `/admin/pieces/${piece.id}`);
      tell($("#pieces-feedback"), `Deleted “${title}”.`, "ok");
      await loadDetail(state.selectedStyle);
      $("#pieces-heading").focus?.();
    });
  });
  button.hidden = true;
  cell.append(box);
  no.focus();
}

function uploadList(report) {
  const items = [
    ...report.accepted.map((a) => el("li", { class: "added", "data-result": "added" }, `${a.filename}: added`)),
    ...(report.duplicates || []).map((d) => el("li", { class: "duplicate", "data-result": "duplicate" },
      `${d.filename}: ${d.reason}${d.counts_here ? "" : ". That style's pieces are not part of this one"}`)),
    ...report.rejected.map((r) => el("li", { class: "rejected", "data-result": "rejected" }, `${r.filename}: rejected, ${r.reason}`)),
  ];
  return items.length ? el("ul", {}, ...items) : "";
}

$("#upload").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const out = $("#upload-report");
  if (!$("#upload-files").files.length) {
    out.replaceChildren(el("p", { class: "feedback", "data-kind": "error" }, "Choose one or more MIDI files first."));
    $("#upload-files").focus();
    return;
  }
  const style = state.selectedStyle;
  const button = form.querySelector("button[type=submit]");
  busy(button, true);
  const line = el("p", { class: "feedback", "data-kind": "ok" }, "Uploading…");
  out.replaceChildren(line);
  await attempt(line, async () => {
    const report = await api("POST", `/admin/styles/${style}/pieces`, new FormData(form));
    const dup = report.duplicates?.length || 0;
    const words = [
      `${plural(report.accepted.length, "file")} added`,
      `${dup} already in the library`,
      `${report.rejected.length} rejected`,
    ].join(", ");
    tell(line, `${words}.`, report.rejected.length ? (report.accepted.length ? "warn" : "error") : "ok");
    out.replaceChildren(line, uploadList(report));
    form.reset();
    await loadDetail(style);
  });
  busy(button, false);
});

$("#detail-close").addEventListener("click", () => {
  const style = state.selectedStyle;
  state.selectedStyle = null;
  state.detail = null;
  $("#style-detail").hidden = true;
  state.cards.get(style)?.node.querySelector("[data-open]")?.focus();
});

// --- jobs ------------------------------------------------------------------------------------
function renderJobs() {
  const rows = [...state.jobs.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
  $("#jobs").hidden = rows.length === 0;
  $("#jobs-empty").hidden = rows.length > 0;
  const labels = ["Started", "Style", "State", "Progress", "Epoch", "Loss / validation", "Result", ""];
  $("#jobs tbody").replaceChildren(...rows.map((j) => {
    const pct = Math.round((j.progress || 0) * 100);
    const result = j.model_version
      ? [el("code", {}, shortVersion(j.model_version)), " ", el("span", { class: j.activated ? "badge on" : "badge" }, j.activated ? "put on air" : "kept off air")]
      : [j.state === "failed" ? el("span", { class: "muted" }, "nothing") : el("span", { class: "muted" }, "—")];
    const actions = [el("button", { class: "button small ghost", type: "button", "data-details": j.id, "aria-pressed": j.id === state.selectedJob ? "true" : "false", onclick: () => selectJob(j.id) }, "Details")];
    if (!FINAL.has(j.state)) {
      actions.push(" ", el("button", { class: "button small danger", type: "button", onclick: (e) => cancel(j.id, e.target) }, "Cancel"));
    }
    const cells = [
      [timeEl(j.started_at || j.created_at)],
      [j.style],
      [el("span", { class: `state state-${j.state}` }, STATE_WORDS[j.state] || j.state)],
      [el("progress", { max: 1, value: j.progress || 0, "aria-label": `job ${j.id} progress` }), ` ${pct}%`],
      [j.epochs ? `${j.epoch}/${j.epochs}` : String(j.epoch || 0)],
      [`${fmt(j.loss)} / ${fmt(j.val_loss)}`],
      result,
      actions,
    ];
    return el("tr", { "data-job": j.id, class: j.id === state.selectedJob ? "is-selected" : "" },
      ...cells.map((c, i) => td(labels[i], i === 4 || i === 5 ? "num" : "", ...c)));
  }));
  renderJobDetail();
}

function selectJob(id) {
  state.selectedJob = id;
  renderJobs();
}

function renderJobDetail() {
  const job = state.jobs.get(state.selectedJob);
  $("#job-detail").hidden = !job;
  if (!job) return;
  $("#job-title").replaceChildren(`Training ${job.style} `, el("span", { class: `state state-${job.state}` }, STATE_WORDS[job.state] || job.state),
    el("span", { class: "muted" }, " · started "), timeEl(job.started_at || job.created_at));
  $("#job-outcome").replaceChildren(outcomeText(job));
  $("#job-start").textContent = startText(job);
  $("#job-start").hidden = !job.start;
  $("#job-outcome").dataset.state = job.state;
  drawLossChart($("#loss-chart"), job.history || [], { bestEpoch: job.stopped_by && job.best_epoch !== job.epochs_run ? job.best_epoch : null });
  const log = $("#job-log");
  const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.textContent = (job.log_tail || []).join("\n") || "No output yet.";
  if (atEnd) log.scrollTop = log.scrollHeight;
}

async function cancel(id, button) {
  const job = state.jobs.get(id);
  const feedback = state.cards.get(job?.style)?.feedback || $("#versions-feedback");
  busy(button, true);
  await attempt(feedback, async () => {
    const j = await api("DELETE", `/admin/jobs/${id}`);
    state.jobs.set(j.id, j);
    renderJobs();
  });
}

window.addEventListener("resize", () => renderJobDetail());
setInterval(() => tickTimes(), 1000);

// --- sign in ---------------------------------------------------------------------------------
$("#login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setToken($("#token").value.trim());
  $("#token").value = "";
  signIn().catch((err) => signOut(err instanceof Unauthorized ? "That token was refused." : explain(err)));
});
$("#logout").addEventListener("click", () => signOut());

if (getToken()) signIn().catch((err) => signOut(err instanceof Unauthorized ? "" : explain(err)));
