// The admin API client: every call sends the bearer token kept in sessionStorage.
// EventSource cannot send headers, so the live feeds are read as SSE over fetch().

const TOKEN_KEY = "continuo-admin-token";

export class Unauthorized extends Error {}

// An answer the server refused: the message is the server's own, in words for the admin.
export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function getToken() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
export function setToken(token) { sessionStorage.setItem(TOKEN_KEY, token); }
export function clearToken() { sessionStorage.removeItem(TOKEN_KEY); }

function headers(extra = {}) {
  return { Authorization: `Bearer ${getToken()}`, ...extra };
}

async function answer(response) {
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) throw new Unauthorized(body.error || "unauthorized");
  // An upload answers 422 with its per-file report when every file was refused: that report is the answer.
  if (!response.ok && !Array.isArray(body.rejected)) {
    throw new ApiError(body.error || `the server answered ${response.status} ${response.statusText}`, response.status, body);
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
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError("the server cannot be reached; is it running?", 0, {});
  }
  return answer(response);
}

// Calls onEvent(name, data) for each server-sent event until the stream ends or signal aborts.
export async function followEvents(path, onEvent, signal) {
  const response = await fetch(path, { headers: headers({ Accept: "text/event-stream" }), signal });
  if (response.status === 401) throw new Unauthorized("unauthorized");
  if (!response.ok) throw new ApiError(`${response.status} ${response.statusText}`, response.status, {});
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

// Follows a feed for as long as `signal` allows, reconnecting after a drop. onState("on" |
// "lost") tells the page whether it is live; a 401 ends it through onUnauthorized.
export async function followFeed(path, onEvent, { signal, onState, onUnauthorized, retryMs = 2000 }) {
  while (!signal.aborted) {
    try {
      let first = true;
      await followEvents(path, (name, data) => {
        if (first) { first = false; onState("on"); }
        onEvent(name, data);
      }, signal);
    } catch (err) {
      if (signal.aborted || err.name === "AbortError") return;
      if (err instanceof Unauthorized) { onUnauthorized(); return; }
    }
    if (signal.aborted) return;
    onState("lost");
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}
