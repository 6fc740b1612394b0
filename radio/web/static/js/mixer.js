// The mixer: a slider per style; the blend is asked for by URL (/stream/mix.mp3?baroque=0.7&folk=0.3).
// The weights are normalised and rounded to tenths here exactly as the server does, so the
// name shown before playing ("Baroque 70% · Folk 30%") is the channel one will hear.
// Models blend only when they are of one kind (the same encoding), so a mix of kinds is
// refused here, with the reason, before the server would answer 409.

import { postJSON } from "./api.js";

const STEPS = 10;
const MAX_PARENTS = 3;

// Largest-remainder rounding to tenths; the same rule as radio/station/blends.py's quantise().
export function quantise(weights) {
  const entries = Object.entries(weights).filter(([, w]) => w > 0);
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  if (!total) return [];
  const exact = entries.map(([name, w]) => ({ name, x: (w / total) * STEPS }));
  for (const e of exact) e.t = Math.floor(e.x);
  let left = STEPS - exact.reduce((sum, e) => sum + e.t, 0);
  const order = [...exact].sort((a, b) => b.x - b.t - (a.x - a.t) || b.x - a.x || (a.name < b.name ? -1 : 1));
  for (const e of order) {
    if (left <= 0) break;
    e.t += 1;
    left -= 1;
  }
  return exact.filter((e) => e.t > 0).sort((a, b) => b.t - a.t || (a.name < b.name ? -1 : 1));
}

export class Mixer {
  constructor(root, { onPlay, onError }) {
    this.root = root;
    this.rows = root.querySelector(".mix-rows");
    this.preview = root.querySelector(".mix-name");
    this.button = root.querySelector(".mix-play");
    this.onPlay = onPlay;
    this.onError = onError;
    this.sliders = new Map(); // style -> input
    this.names = new Map();
    this.kinds = new Map(); // style -> its model's kind ("token", "continuo"), or null if unknown
    this.button.addEventListener("click", () => this.play());
  }

  update(channels) {
    for (const channel of channels) {
      this.names.set(channel.style, channel.name || channel.style);
      this.kinds.set(channel.style, channel.model_kind ?? null);
      if (this.sliders.has(channel.style)) continue;
      const row = document.createElement("label");
      row.className = "mix-row";
      row.innerHTML = `<span class="mix-style"></span><input type="range" min="0" max="10" step="1" value="0"><output>0%</output>`;
      row.querySelector(".mix-style").textContent = channel.name || channel.style;
      const input = row.querySelector("input");
      input.dataset.style = channel.style;
      input.setAttribute("aria-label", `${channel.name || channel.style} in the mix`);
      input.addEventListener("input", () => this.render());
      this.sliders.set(channel.style, input);
      this.rows.append(row);
    }
    this.render();
  }

  weights() {
    const out = {};
    for (const [style, input] of this.sliders) out[style] = Number(input.value);
    return out;
  }

  render() {
    const parts = quantise(this.weights());
    for (const [style, input] of this.sliders) {
      const part = parts.find((p) => p.name === style);
      input.parentElement.querySelector("output").textContent = `${part ? part.t * 10 : 0}%`;
    }
    let text = "Move two or three sliders to mix styles.";
    let ok = false;
    if (parts.length === 1) text = `That is just ${this.names.get(parts[0].name)}: add another style.`;
    else if (parts.length > MAX_PARENTS) text = `A mix takes at most ${MAX_PARENTS} styles.`;
    else if (parts.length > 1) {
      const kinds = [...new Set(parts.map((p) => this.kinds.get(p.name)).filter((k) => k))];
      if (kinds.length > 1) {
        const names = parts.map((p) => this.names.get(p.name));
        text = `${names.slice(0, -1).join(", ")} and ${names.at(-1)} cannot be mixed: their models are of ` +
          `different kinds (${parts.map((p) => `${this.names.get(p.name)}: ${this.kinds.get(p.name)}`).join(", ")}).`;
      } else {
        text = parts.map((p) => `${this.names.get(p.name)} ${p.t * 10}%`).join(" · ");
        ok = true;
      }
    }
    this.preview.textContent = text;
    this.button.disabled = !ok;
    return ok ? parts : null;
  }

  query() {
    const parts = this.render();
    return parts ? parts.map((p) => `${encodeURIComponent(p.name)}=${p.t / STEPS}`).join("&") : null;
  }

  async play() {
    const query = this.query();
    if (!query) return;
    this.button.disabled = true;
    try {
      const channel = await postJSON(`/api/mix?${query}`);
      this.onPlay(channel);
    } catch (error) {
      this.onError(error.message);
    } finally {
      this.render();
    }
  }
}
