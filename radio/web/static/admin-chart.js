// A small loss-per-epoch line chart on a canvas (no libraries, no CDN).

const SERIES = [
  { key: "loss", label: "loss", color: "#3b6ea5" },
  { key: "val_loss", label: "val_loss", color: "#d9822b" },
];

export function drawLossChart(canvas, history) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = { left: 48, right: 12, top: 16, bottom: 28 };
  ctx.clearRect(0, 0, width, height);
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = getComputedStyle(canvas).color || "#888";
  const values = history.flatMap((h) => SERIES.map((s) => h[s.key])).filter(Number.isFinite);
  if (!values.length) {
    ctx.fillText("waiting for the first epoch…", pad.left, height / 2);
    return;
  }
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
  const epochs = history.map((h) => h.epoch);
  const e0 = Math.min(...epochs), e1 = Math.max(...epochs, e0 + 1);
  const x = (e) => pad.left + ((e - e0) / (e1 - e0)) * (width - pad.left - pad.right);
  const y = (v) => pad.top + (1 - (v - lo) / (hi - lo)) * (height - pad.top - pad.bottom);

  ctx.strokeStyle = "#8886";
  ctx.beginPath();
  ctx.moveTo(pad.left, pad.top);
  ctx.lineTo(pad.left, height - pad.bottom);
  ctx.lineTo(width - pad.right, height - pad.bottom);
  ctx.stroke();
  ctx.fillText(hi.toFixed(3), 2, pad.top + 4);
  ctx.fillText(lo.toFixed(3), 2, height - pad.bottom);
  ctx.fillText(`epoch ${e0}`, pad.left, height - 8);
  ctx.fillText(`${e1}`, width - pad.right - 16, height - 8);

  SERIES.forEach((s, i) => {
    const points = history.filter((h) => Number.isFinite(h[s.key]));
    ctx.strokeStyle = ctx.fillStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach((h, j) => (j ? ctx.lineTo(x(h.epoch), y(h[s.key])) : ctx.moveTo(x(h.epoch), y(h[s.key]))));
    ctx.stroke();
    points.forEach((h) => ctx.fillRect(x(h.epoch) - 2, y(h[s.key]) - 2, 4, 4));
    ctx.fillText(s.label, width - pad.right - 70, pad.top + 14 * i + 4);
  });
}
