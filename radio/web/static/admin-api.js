// The admin API client: every call sends the bearer token kept in sessionStorage.
// EventSource cannot send headers, so job progress is read as SSE over fetch().

const TOKEN_KEY = "continuo-admin-token";

export class Unauthorized extends Error {}

export function getToken() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
export function setToken(token) { sessionStorage.setItem(TOKEN_KEY, token); }
export function clearToken() { sessionStorage.removeItem(TOKEN_KEY); }

function headers(extra = {}) {
  return { Authorization: `Bearer ${getToken()}`, ...extra };
}

async function answer(response) {
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) throw new Unauthorized(body.error || "unauthorized");
  if (!response.ok && !Array.isArray(body.rejected)) {
    throw new Error(body.error || `${response.status} ${response.statusText}`);
  }
  return body;
}

export async function api(method, path, body) {
  const init = { method, headers: headers() };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  return answer(await fetch(path, init));
}

// Calls onEvent(name, data) for each server-sent event until the stream ends or signal aborts.
export async function followEvents(path, onEvent, signal) {
  const response = await fetch(path, { headers: headers({ Accept: "text/event-stream" }), signal });
  if (response.status === 401) throw new Unauthorized("unauthorized");
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}
