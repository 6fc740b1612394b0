// Lock screen and media keys (Media Session): what is playing, with the channel's colour tile
// as artwork, and next/previous track switching channel.

const TILE = 512;
const tiles = new Map();

// The channel's colour tile as a PNG data URL: one hue, or a blend's parents side by side.
export function tileUrl(hues) {
  const key = hues.map(([h, w]) => `${h}:${w}`).join(",");
  if (tiles.has(key)) return tiles.get(key);
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = TILE;
  const ctx = canvas.getContext("2d");
  let x = 0;
  for (const [hue, weight] of hues) {
    const w = Math.round(TILE * weight);
    const gradient = ctx.createLinearGradient(0, 0, 0, TILE);
    gradient.addColorStop(0, `hsl(${hue}, 55%, 52%)`);
    gradient.addColorStop(1, `hsl(${hue}, 50%, 28%)`);
    ctx.fillStyle = gradient;
    ctx.fillRect(x, 0, w + 1, TILE);
    x += w;
  }
  const url = canvas.toDataURL("image/png");
  tiles.set(key, url);
  return url;
}

export function setMetadata({ title, channelName, key, hues }) {
  if (!("mediaSession" in navigator)) return;
  navigator.mediaSession.metadata = new MediaMetadata({
    title: title || "Continuo",
    artist: `Continuo · ${channelName}`,
    album: key || "",
    artwork: [{ src: tileUrl(hues), sizes: `${TILE}x${TILE}`, type: "image/png" }],
  });
}

export function onTrackKeys(next, previous) {
  if (!("mediaSession" in navigator)) return;
  navigator.mediaSession.setActionHandler("nexttrack", next);
  navigator.mediaSession.setActionHandler("previoustrack", previous);
}
