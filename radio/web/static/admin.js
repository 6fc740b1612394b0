// The admin page: sign in with the token, then styles, jobs (live), versions and pieces.
import { api, clearToken, followEvents, getToken, setToken, Unauthorized } from "./admin-api.js";
import { drawLossChart } from "./admin-chart.js";

const $ = (sel) => document.querySelector(sel);
const FINAL = new Set(["succeeded", "failed", "cancelled"]);
const follows = new Map(); // job id -> AbortController of its event stream
let jobs = new Map();
let selectedJob = null;
let selectedStyle = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.flat().map((c) => (c instanceof Node ? c : document.createTextNode(c ?? ""))));
  return node;
}

const fmt = (v, digits = 4) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
const short = (v) => (v ? String(v).slice(0, 12) : "–");

function say(text, isError = false) {
  const status = $("#status");
  status.textContent = text;
  status.className = isError ? "status error" : "status ok";
}

async function guard(work) {
  try {
    return await work();
  } catch (err) {
    if (err instanceof Unauthorized) return signOut("The token was refused; enter it again.");
    say(err.message, true);
  }
}

function signOut(message = "") {
  clearToken();
  for (const c of follows.values()) c.abort();
  follows.clear();
  $("#app").hidden = true;
  $("#logout").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message;
}

async function signIn() {
  await api("GET", "/admin/styles"); // throws Unauthorized on a bad token
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#logout").hidden = false;
  await refresh();
}

async function refresh() {
  await Promise.all([loadStyles(), loadJobs()]);
  if (selectedStyle) await loadStyleDetail(selectedStyle);
}

// --- styles ------------------------------------------------------------------------
async function loadStyles() {
  const styles = await api("GET", "/admin/styles");
  const body = $("#styles tbody");
  body.replaceChildren(...styles.map(styleRow));
  const like = $("#new-style select[name=like]");
  like.replaceChildren(...styles.map((s) => el("option", { value: s.style }, s.name)));
}

function styleRow(s) {
  const epochs = el("input", { type: "number", min: 1, max: 1000, value: 2, title: "epochs", "aria-label": `epochs for ${s.style}` });
  const hidden = el("input", { type: "number", min: 1, max: 2048, placeholder: "256", title: "LSTM units per layer (blank: the trainer's default)", "aria-label": `units for ${s.style}` });
  const force = el("input", { type: "checkbox", title: "activate even if held-out NLL is worse" });
  const start = el("button", { type: "button", "data-retrain": s.style, onclick: () => retrain(s.style, epochs, hidden, force) }, "Retrain");
  return el("tr", {},
    el("td", {}, el("strong", {}, s.name), " ", el("code", {}, s.style)),
    el("td", { class: "num" }, String(s.pieces)),
    el("td", {}, s.on_air ? "yes" : "no"),
    el("td", {}, el("code", {}, short(s.playing_version))),
    el("td", {}, el("code", {}, short(s.active_version))),
    el("td", {}, epochs, " epochs ", hidden, " units ", el("label", {}, force, "force"), " ", start),
    el("td", {}, el("button", { type: "button", onclick: () => guard(() => loadStyleDetail(s.style)) }, "Versions & pieces")),
  );
}

async function retrain(style, epochsInput, hiddenInput, forceInput) {
  await guard(async () => {
    const body = { epochs: Number(epochsInput.value) || 1 };
    if (hiddenInput.value) body.hyperparameters = { hidden: Number(hiddenInput.value) };
    if (forceInput.checked) body.force = true;
    const job = await api("POST", `/admin/styles/${style}/retrain`, body);
    say(`Job ${job.id} for ${style} is ${job.state}.`);
    jobs.set(job.id, job);
    renderJobs();
    selectJob(job.id);
    follow(job.id);
  });
}

$("#new-style").addEventListener("submit", (event) => {
  event.preventDefault();
  guard(async () => {
    const form = new FormData(event.target);
    for (const [k, v] of [...form.entries()]) if (v === "" || (v instanceof File && !v.name)) form.delete(k);
    const report = await api("POST", "/admin/styles", form);
    say(`Created ${report.style}: ${report.accepted.length} pieces added, ${report.rejected.length} rejected. Retrain it to put it on air.`);
    event.target.reset();
    await loadStyles();
    await loadStyleDetail(report.style);
    showRejected(report.rejected);
  });
});

// --- style detail: versions and pieces -----------------------------------------------
async function loadStyleDetail(style) {
  selectedStyle = style;
  const [models, pieces] = await Promise.all([
    api("GET", `/admin/styles/${style}/models`),
    api("GET", `/admin/styles/${style}/pieces`),
  ]);
  $("#style-detail").hidden = false;
  $("#detail-name").textContent = style;
  renderVersions(style, models);
  $("#pieces tbody").replaceChildren(...pieces.map((p) => el("tr", {},
    el("td", {}, p.title || p.id), el("td", {}, p.composer), el("td", {}, p.original_key),
    el("td", { class: "num" }, String(p.beats)), el("td", {}, p.added_at),
    el("td", {}, el("button", { type: "button", onclick: () => deletePiece(p) }, "Delete")),
  )));
}

// The figures compared side by side (the API's "summary" of each version's metrics).
const METRICS = [
  ["unigram_nll", "unigram NLL", 4],
  ["full_nll", "full NLL", 4],
  ["frame_accuracy", "frame acc.", 3],
  ["heldout_pieces", "held-out pieces", 0],
  ["epochs_run", "epochs", 0],
  ["train_seconds", "train s", 1],
];

function renderVersions(style, models) {
  const cols = METRICS.filter(([key]) => models.versions.some((v) => Number.isFinite(v.summary?.[key])));
  $("#versions thead").replaceChildren(el("tr", {},
    ["Version", "Source", "Created", "Held-out NLL", ...cols.map(([, label]) => label), "", ""].map((h) => el("th", {}, h))));
  $("#versions tbody").replaceChildren(...models.versions.map((v) => el("tr", { class: v.active ? "active" : "" },
    el("td", {}, el("code", {}, v.version), v.version === models.playing_version ? " ♪" : ""),
    el("td", {}, v.source), el("td", {}, v.created_at ? v.created_at.slice(0, 16).replace("T", " ") : "–"),
    el("td", { class: "num" }, fmt(v.heldout_nll)),
    ...cols.map(([key, , digits]) => el("td", { class: "num" }, fmt(v.summary?.[key], digits))),
    el("td", {}, v.active ? "active" : ""),
    el("td", {}, v.active ? "" : el("button", {
      type: "button", "data-activate": v.version, onclick: () => activate(style, v.version),
    }, v.source === "bundled" ? "Roll back" : "Activate")),
  )));
}

async function activate(style, version) {
  await guard(async () => {
    const r = await api("POST", `/admin/styles/${style}/models/${version}/activate`);
    say(`${style}: version ${r.version} activated (${r.swap}).`);
    await refresh();
  });
}

async function deletePiece(piece) {
  if (!confirm(`Delete “${piece.title || piece.id}” from the library?`)) return;
  await guard(async () => {
    await api("DELETE", `/admin/pieces/${piece.id}`);
    say(`Deleted ${piece.title || piece.id}.`);
    await refresh();
  });
}

function showRejected(rejected) {
  $("#upload-report").replaceChildren(...rejected.map((r) => el("li", { class: "error" }, `${r.filename}: ${r.reason}`)));
}

$("#upload").addEventListener("submit", (event) => {
  event.preventDefault();
  guard(async () => {
    const report = await api("POST", `/admin/styles/${selectedStyle}/pieces`, new FormData(event.target));
    say(`${report.accepted.length} accepted, ${report.rejected.length} rejected.`, !report.accepted.length);
    showRejected(report.rejected);
    event.target.reset();
    await refresh();
  });
});

// --- jobs --------------------------------------------------------------------------
async function loadJobs() {
  const list = await api("GET", "/admin/jobs");
  jobs = new Map(list.map((j) => [j.id, j]));
  renderJobs();
  for (const j of list) if (!FINAL.has(j.state)) follow(j.id);
}

function renderJobs() {
  const rows = [...jobs.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  $("#jobs tbody").replaceChildren(...rows.map((j) => el("tr", { "data-job": j.id, class: j.id === selectedJob ? "active" : "" },
    el("td", {}, el("button", { type: "button", onclick: () => selectJob(j.id) }, j.id)),
    el("td", {}, j.style),
    el("td", { class: `state-${j.state}` }, j.state),
    el("td", {}, el("progress", { max: 1, value: j.progress || 0 }), ` ${Math.round((j.progress || 0) * 100)}%`),
    el("td", { class: "num" }, j.epochs ? `${j.epoch}/${j.epochs}` : String(j.epoch || 0)),
    el("td", { class: "num" }, `${fmt(j.loss, 3)} / ${fmt(j.val_loss, 3)}`),
    el("td", {}, el("code", {}, short(j.model_version)), j.activated ? " (active)" : ""),
    el("td", {}, FINAL.has(j.state) ? "" : el("button", { type: "button", onclick: () => cancel(j.id) }, "Cancel")),
  )));
  renderJobDetail();
}

function selectJob(id) {
  selectedJob = id;
  renderJobs();
}

function renderJobDetail() {
  const job = jobs.get(selectedJob);
  $("#job-detail").hidden = !job;
  if (!job) return;
  $("#job-title").textContent = `${job.id} · ${job.style} · ${job.state}`;
  drawLossChart($("#loss-chart"), job.history || []);
  $("#job-error").textContent = job.error || "";
  $("#job-reason").textContent = job.activation_reason ? `Activation: ${job.activation_reason}` : "";
  $("#job-log").textContent = (job.log_tail || []).join("\n");
}

function follow(id) {
  if (follows.has(id)) return;
  const controller = new AbortController();
  follows.set(id, controller);
  followEvents(`/admin/jobs/${id}/events`, (name, job) => {
    jobs.set(job.id, job);
    renderJobs();
    if (FINAL.has(job.state)) {
      say(`Job ${job.id} ${job.state}${job.error ? ": " + job.error : ""}.`, job.state !== "succeeded");
      loadStyles().catch(() => {});
      if (selectedStyle === job.style) loadStyleDetail(job.style).catch(() => {});
    }
  }, controller.signal)
    .catch((err) => { if (err.name !== "AbortError") guard(() => Promise.reject(err)); })
    .finally(() => follows.delete(id));
}

async function cancel(id) {
  await guard(async () => {
    const job = await api("DELETE", `/admin/jobs/${id}`);
    jobs.set(job.id, job);
    renderJobs();
  });
}

// --- sign in -------------------------------------------------------------------------
$("#login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setToken($("#token").value.trim());
  $("#token").value = "";
  signIn().catch((err) => signOut(err instanceof Unauthorized ? "That token was refused." : err.message));
});
$("#logout").addEventListener("click", () => signOut());

if (getToken()) signIn().catch((err) => signOut(err instanceof Unauthorized ? "" : err.message));
