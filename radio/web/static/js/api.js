// The station's HTTP/SSE API (contract E), in one place.

export async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
  if (!response.ok) {
    const error = new Error(`${url} answered HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

const seg = (style) => encodeURIComponent(style);

export const fetchChannels = () => getJSON("/api/channels");
export const fetchChannel = (style) => getJSON(`/api/channels/${seg(style)}`);

export function eventsUrl(style, sid) {
  return `/api/channels/${seg(style)}/events?sid=${encodeURIComponent(sid)}`;
}

export function streamUrl(channel, sid) {
  const base = channel.stream_url || `/stream/${seg(channel.style)}.mp3`;
  return `${base}${base.includes("?") ? "&" : "?"}sid=${encodeURIComponent(sid)}`;
}

export function midiUrl(style, pieceId) {
  return pieceId
    ? `/api/channels/${seg(style)}/pieces/${encodeURIComponent(pieceId)}.mid`
    : `/api/channels/${seg(style)}/current.mid`;
}

// A fresh id per stream connection links that MP3 response to its events feed.
// crypto.randomUUID needs a secure context; a station on a LAN address is plain http.
export function newSid() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function postJSON(url) {
  const response = await fetch(url, { method: "POST", headers: { Accept: "application/json" } });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = new Error((body && body.error) || `${url} answered HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// The last `seconds` the listener heard (up to stream time `at`), as MP3 or MIDI.
export function recordingUrl(style, kind, seconds, at) {
  const when = at == null ? "" : `&at=${at.toFixed(3)}`;
  return `/api/channels/${seg(style)}/recording.${kind}?seconds=${seconds}${when}`;
}
