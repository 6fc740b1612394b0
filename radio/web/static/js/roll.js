// The live piano roll: time runs right to left past a "now" line at the heard time
// (8 s of history and 2 s ahead on a wide screen, less on a phone).
// After each frame the canvas carries data-notes-drawn (notes painted in that frame) and
// data-heard-time (channel stream time at the "now" line).

import { pitchName } from "./format.js";

export const PAST_SECONDS = 8; // the most history shown (a wide screen); buffers keep this much
const FUTURE_RATIO = 0.25; // seconds ahead shown per second of history
const MIN_PX_PER_SECOND = 60; // a phone shows less time rather than a smear of notes
const MIN_SPAN = 24; // semitones always shown, so a lone melody doesn't fill the height

export class PianoRoll {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.low = 48; // the pitch range eases towards what is playing
    this.high = 84;
    this.hue = 38;
    this.width = 0;
    this.height = 0;
    this.idle = false; // the empty roll is on screen and needs no repainting
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
  }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    const { width, height } = this.canvas.getBoundingClientRect();
    this.width = width;
    this.height = height;
    this.canvas.width = Math.max(1, Math.round(width * ratio));
    this.canvas.height = Math.max(1, Math.round(height * ratio));
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.idle = false;
  }

  setHue(hue) {
    this.hue = hue;
    this.idle = false;
  }

  // heard: channel stream time now sounding (null when nothing plays); notes: NoteBuffer.
  draw(heard, notes) {
    if (heard == null && this.idle) return; // nothing moves while nothing plays
    this.idle = heard == null;
    const { ctx, width: w, height: h } = this;
    ctx.clearRect(0, 0, w, h);
    if (!w || !h) return this.report(0, heard);
    const past = Math.max(3, Math.min(PAST_SECONDS, w / MIN_PX_PER_SECOND / (1 + FUTURE_RATIO)));
    const future = past * FUTURE_RATIO;
    const pxPerSecond = w / (past + future);
    const nowX = past * pxPerSecond;
    if (heard == null) {
      this.drawGrid(w, h);
      return this.report(0, heard);
    }
    const from = heard - past;
    const to = heard + future;
    const visible = notes.between(from, to);
    this.fitRange(visible);
    this.drawGrid(w, h);

    const rowH = h / (this.high - this.low + 1);
    const barH = Math.max(2, Math.min(rowH * 0.8, 14));
    let drawn = 0;
    for (const note of visible) {
      const x0 = nowX + (note.start - heard) * pxPerSecond;
      const x1 = nowX + (note.end - heard) * pxPerSecond;
      const y = h - (note.pitch - this.low + 1) * rowH + (rowH - barH) / 2;
      const sounding = note.start <= heard && note.end > heard;
      const age = Math.max(0, heard - note.end) / past; // 0 = just ended, 1 = leaving
      const ahead = note.start > heard;
      const alpha = sounding ? 1 : ahead ? 0.28 : 0.85 - 0.6 * age;
      const light = sounding ? 78 : 64;
      ctx.fillStyle = `hsla(${this.hue}, 70%, ${light}%, ${alpha})`;
      if (sounding) {
        ctx.shadowColor = `hsla(${this.hue}, 90%, 70%, 0.8)`;
        ctx.shadowBlur = 12;
      }
      roundRect(ctx, x0, y, Math.max(2, x1 - x0 - 1), barH, Math.min(3, barH / 2));
      ctx.shadowBlur = 0;
      drawn += 1;
    }

    // The "now" line: what you hear is what crosses it.
    ctx.fillStyle = `hsla(${this.hue}, 60%, 80%, 0.55)`;
    ctx.fillRect(Math.round(nowX) - 1, 0, 2, h);
    ctx.font = "600 9px system-ui, sans-serif";
    ctx.textAlign = "right";
    ctx.textBaseline = "top";
    ctx.fillText("NOW", nowX - 5, 6);
    ctx.textAlign = "left";
    const fade = ctx.createLinearGradient(nowX, 0, w, 0);
    fade.addColorStop(0, "rgba(14, 17, 22, 0)");
    fade.addColorStop(1, "rgba(14, 17, 22, 0.55)");
    ctx.fillStyle = fade;
    ctx.fillRect(nowX + 1, 0, w - nowX, h);
    this.report(drawn, heard);
  }

  fitRange(visible) {
    if (!visible.length) return;
    let lo = Infinity;
    let hi = -Infinity;
    for (const n of visible) {
      lo = Math.min(lo, n.pitch);
      hi = Math.max(hi, n.pitch);
    }
    lo -= 3;
    hi += 3;
    if (hi - lo < MIN_SPAN) {
      const mid = (hi + lo) / 2;
      lo = mid - MIN_SPAN / 2;
      hi = mid + MIN_SPAN / 2;
    }
    // Ease so the roll doesn't jump when a low bass note enters.
    this.low += (lo - this.low) * 0.05;
    this.high += (hi - this.high) * 0.05;
  }

  drawGrid(w, h) {
    const { ctx } = this;
    const rowH = h / (this.high - this.low + 1);
    ctx.font = "10px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    for (let p = Math.ceil(this.low); p <= this.high; p += 1) {
      if (p % 12 !== 0) continue; // a faint line at each C
      const y = h - (p - this.low + 0.5) * rowH;
      ctx.fillStyle = "rgba(255, 255, 255, 0.05)";
      ctx.fillRect(0, Math.round(y), w, 1);
      ctx.fillStyle = "rgba(255, 255, 255, 0.28)";
      ctx.fillText(pitchName(p), 6, y - 7);
    }
  }

  // What the last frame showed, for tests and the curious: notes painted, and the
  // channel stream time at the "now" line.
  report(drawn, heard) {
    const { dataset } = this.canvas;
    const count = String(drawn);
    const time = heard == null ? "" : heard.toFixed(1);
    if (dataset.notesDrawn !== count) dataset.notesDrawn = count;
    if (dataset.heardTime !== time) dataset.heardTime = time;
  }
}

function roundRect(ctx, x, y, w, h, radius) {
  const r = Math.min(radius, w / 2, h / 2);
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
  ctx.fill();
}
