// A loss-per-epoch line chart on a canvas (no libraries, no CDN). The colours match the
// caption's keys in admin.html; the epoch whose weights were kept is marked.

const SERIES = [
  { key: "loss", label: "training", color: "#7fb2e5" },
  { key: "val_loss", label: "validation", color: "#f0a35e" },
];

export function drawLossChart(canvas, history, { bestEpoch = null } = {}) {
  // Draw at the screen's resolution, at whatever width the layout gives the canvas.
  const ratio = window.devicePixelRatio || 1;
  const cssWidth = canvas.clientWidth || canvas.width;
  const cssHeight = Math.round(Math.min(240, Math.max(160, cssWidth * 0.36)));
  canvas.width = Math.round(cssWidth * ratio);
  canvas.height = Math.round(cssHeight * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  const width = cssWidth, height = cssHeight;
  const pad = { left: 52, right: 16, top: 28, bottom: 30 };
  ctx.clearRect(0, 0, width, height);
  const ink = getComputedStyle(canvas).color || "#8891a0";
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = ink;
  const values = history.flatMap((h) => SERIES.map((s) => h[s.key])).filter(Number.isFinite);
  if (!values.length) {
    ctx.fillText("The first epoch's losses will appear here.", pad.left, height / 2);
    return;
  }
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
  const margin = (hi - lo) * 0.08;
  lo -= margin; hi += margin;
  const epochs = history.map((h) => h.epoch);
  const e0 = Math.min(...epochs), e1 = Math.max(...epochs, e0 + 1);
  const x = (e) => pad.left + ((e - e0) / (e1 - e0)) * (width - pad.left - pad.right);
  const y = (v) => pad.top + (1 - (v - lo) / (hi - lo)) * (height - pad.top - pad.bottom);

  ctx.strokeStyle = "rgba(255,255,255,0.14)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(pad.left, pad.top);
  ctx.lineTo(pad.left, height - pad.bottom);
  ctx.lineTo(width - pad.right, height - pad.bottom);
  ctx.stroke();
  ctx.fillText(hi.toFixed(2), 6, pad.top + 4);
  ctx.fillText(lo.toFixed(2), 6, height - pad.bottom);
  ctx.fillText(`epoch ${e0}`, pad.left, height - 10);
  const last = `${e1}`;
  ctx.fillText(last, width - pad.right - ctx.measureText(last).width, height - 10);

  if (Number.isFinite(bestEpoch) && bestEpoch >= e0 && bestEpoch <= e1) {
    ctx.save();
    ctx.setLineDash([4, 4]);
    ctx.strokeStyle = "rgba(255,255,255,0.35)";
    ctx.beginPath();
    ctx.moveTo(x(bestEpoch), pad.top);
    ctx.lineTo(x(bestEpoch), height - pad.bottom);
    ctx.stroke();
    ctx.restore();
    ctx.fillText("kept", Math.min(x(bestEpoch) + 4, width - pad.right - 28), pad.top + 10);
  }

  let legendX = pad.left;
  SERIES.forEach((s) => {
    const points = history.filter((h) => Number.isFinite(h[s.key]));
    ctx.strokeStyle = ctx.fillStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach((h, j) => (j ? ctx.lineTo(x(h.epoch), y(h[s.key])) : ctx.moveTo(x(h.epoch), y(h[s.key]))));
    ctx.stroke();
    points.forEach((h) => ctx.fillRect(x(h.epoch) - 2.5, y(h[s.key]) - 2.5, 5, 5));
    ctx.fillRect(legendX, 10, 14, 3);
    ctx.fillStyle = ink;
    ctx.fillText(s.label, legendX + 18, 15);
    legendX += 28 + ctx.measureText(s.label).width;
  });
}
