// Small pure helpers for the admin page: building elements, times in the reader's locale,
// numbers, and the sentences that explain a job's outcome.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
  return node;
}

export const shortVersion = (v) => (v ? String(v).slice(0, 12) : "—");

export function fmt(value, digits = 3) {
  return Number.isFinite(value) ? value.toFixed(digits) : "—";
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

export function duration(seconds) {
  if (!Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60 ? `${s % 60} s` : ""}`.trim();
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

// --- times: <time> elements that say "3 min ago" in the reader's language, and keep saying it --------
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function relativeText(date, now = Date.now()) {
  const seconds = (date.getTime() - now) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 45) return relative.format(Math.round(seconds), "second");
  if (abs < 45 * 60) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 22 * 3600) return relative.format(Math.round(seconds / 3600), "hour");
  return relative.format(Math.round(seconds / 86400), "day");
}

export function timeEl(iso) {
  if (!iso) return el("span", { class: "muted" }, "—");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return el("span", {}, iso);
  const node = el("time", { datetime: date.toISOString(), title: absolute.format(date), "data-rel": "" },
    relativeText(date));
  return node;
}

// Keeps every relative time on the page current.
export function tickTimes(root = document) {
  for (const node of root.querySelectorAll("time[data-rel]")) {
    node.textContent = relativeText(new Date(node.getAttribute("datetime")));
  }
}

// --- a job in words ------------------------------------------------------------------------
const REASONS = [
  [/^no active version yet$/, () => "the style had no active version before"],
  [/^force=true$/, () => "you asked for it to go on air even if it scored worse"],
  [/^identical to the active version$/, () => "it is the very model already active"],
  [/^held-out NLL ([\d.]+) <= ([\d.]+) of (\w+)$/, (m) => `its held-out NLL ${m[1]} is no worse than ${m[2]} of the version before (lower is better)`],
  [/^held-out NLL ([\d.]+) > ([\d.]+) of the active (\w+)$/, (m) => `its held-out NLL ${m[1]} is worse than ${m[2]} of the active version ${m[3]} (lower is better)`],
];

export function reasonText(reason) {
  if (!reason) return "";
  for (const [pattern, say] of REASONS) {
    const m = reason.match(pattern);
    if (m) return say(m);
  }
  return reason;
}

// How training ended, in one sentence (null while it runs).
export function stopText(job) {
  const ran = job.epochs_run ?? job.epoch;
  const best = job.best_epoch && job.best_epoch !== ran ? ` The weights of epoch ${job.best_epoch}, the best on validation, were kept.` : "";
  switch (job.stopped_by) {
    case "early stopping":
      return `Stopped early at epoch ${ran} of at most ${job.epochs ?? "?"}: validation loss stopped improving.${best}`;
    case "time budget":
      return `Stopped at epoch ${ran}: the ${job.options?.minutes ?? "?"}-minute budget ran out.${best}`;
    case "epochs":
      return `Ran all ${plural(ran, "epoch")}.${best}`;
    default:
      return ran ? `Ran ${plural(ran, "epoch")}.` : "";
  }
}

// Where a job's training started (the model on air, the base model, or scratch), in one sentence.
const START_WORDS = { auto: "chosen automatically", active: "as asked", base: "as asked", scratch: "as asked" };

export function startText(job) {
  const s = job.start;
  if (!s) return "";
  const queued = job.state === "queued";
  const label = queued ? `Planned: ${s.label}` : (s.label ? s.label[0].toUpperCase() + s.label.slice(1) : "");
  const notes = [START_WORDS[s.requested] || s.requested];
  if (s.requested === "auto" && s.passed_over?.length) notes.push(`passed over ${s.passed_over.join("; ")}`);
  if (queued) notes.push("checked again when it starts");
  const compared = s.compare_with ? ` The version on air, ${s.compare_with}, is scored on the new version's own held-out pieces for a fair comparison.` : "";
  return `${label} (${notes.join("; ")}).${compared}`;
}

export function outcomeText(job) {
  switch (job.state) {
    case "queued":
      return "Waiting: one training job runs at a time, and this one starts when the running one ends.";
    case "running": {
      const elapsed = job.history?.length ? job.history[job.history.length - 1].elapsed_s : null;
      const budget = job.options?.minutes ? ` within a ${job.options.minutes}-minute budget` : "";
      return `Training${budget}: epoch ${job.epoch || 0} of at most ${job.epochs ?? "?"}`
        + (Number.isFinite(elapsed) ? `, ${duration(elapsed)} so far.` : ".")
        + " It may stop sooner, once validation loss stops improving.";
    }
    case "succeeded": {
      const version = shortVersion(job.model_version);
      const result = job.activated
        ? `Version ${version} is on air: ${reasonText(job.activation_reason)}.`
        : `Version ${version} was kept off air: ${reasonText(job.activation_reason)}. Compare it under the style's versions and activate it there if you want it.`;
      return `${stopText(job)} ${result}`.trim();
    }
    case "failed":
      return `Failed: ${job.error || "the trainer stopped without saying why"}. Nothing changed on air.`;
    case "cancelled":
      return `Cancelled${job.error && job.error !== "cancelled by an admin" ? ` (${job.error})` : ""}. Nothing changed on air.`;
    default:
      return job.state;
  }
}
