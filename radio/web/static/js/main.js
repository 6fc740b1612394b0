// The listener page: wires the channel list, the player, the now-playing panel and the
// piano roll together. Everything shown follows what the listener HEARS: channel stream
// time = the stream's start (from the events feed) + audio.currentTime.

import { fetchChannels, midiUrl, recordingUrl } from "./api.js";
import { ChannelList, hueOf } from "./channels.js";
import { clock, fileSafe, listeners } from "./format.js";
import { NoteBuffer } from "./notes.js";
import { PieceTimeline } from "./pieces.js";
import { Player } from "./player.js";
import { onTrackKeys, setMetadata } from "./media.js";
import { Mixer } from "./mixer.js";
import { loadPrefs, savePrefs } from "./prefs.js";
import { PAST_SECONDS, PianoRoll } from "./roll.js";
import { SleepTimer } from "./sleep.js";

const CHANNELS_REFRESH_MS = 15000;
const HISTORY_LIMIT = 25;

const $ = (id) => document.getElementById(id);
const ui = {
  player: $("player"),
  channelName: $("np-channel"),
  title: $("np-title"),
  key: $("np-key"),
  style: $("np-style"),
  elapsed: $("np-elapsed"),
  model: $("np-model"),
  listeners: $("np-listeners"),
  play: $("play"),
  playLabel: $("play-label"),
  volume: $("volume"),
  save: $("save"),
  share: $("share"),
  status: $("status"),
  audio: $("audio"),
  roll: $("roll"),
  cards: $("cards"),
  history: $("history"),
  historyEmpty: $("history-empty"),
  sleep: $("sleep"),
  sleepLeft: $("sleep-left"),
  record: $("record"),
  recordLength: $("record-length"),
  recordMidi: $("record-midi"),
  mixer: $("mixer"),
};

const prefs = loadPrefs();
const player = new Player(ui.audio);
const roll = new PianoRoll(ui.roll);
const notes = new NoteBuffer();
const timeline = new PieceTimeline();
const channels = new Map(); // style -> latest /api/channels record
const list = new ChannelList(ui.cards, (style) => choose(style));

let current = null; // chosen style
let shown = null; // the piece on display (heard)
let pendingStyle = null; // asked for by the URL before the channel list arrived
let mix = null; // the /api/mix record of the blend chosen on this page, kept across list refreshes
let fade = 1; // the sleep timer's volume factor

const mixer = new Mixer(ui.mixer, {
  onPlay: (channel) => {
    mix = channel;
    channels.set(channel.style, channel);
    choose(channel.style);
  },
  onError: (message) => setStatus(message, "error"),
});
const sleep = new SleepTimer({
  select: ui.sleep,
  label: ui.sleepLeft,
  onFade: (factor) => {
    fade = factor;
    player.setVolume(prefs.volume * fade);
  },
  onStop: () => {
    if (player.wanted) player.pause();
    setStatus("The sleep timer stopped the music. Good night.", "idle");
  },
});

// ---- channel list ---------------------------------------------------------------------

async function refreshChannels() {
  try {
    const data = await fetchChannels();
    channels.clear();
    for (const channel of data) channels.set(channel.style, channel);
    if (mix) channels.set(mix.style, mix);
    list.update(data);
    mixer.update(data);
    if (!data.length) setStatus("The station has no channels yet.", "error");
    if (pendingStyle) {
      const style = pendingStyle;
      pendingStyle = null;
      if (channels.has(style)) choose(style);
      else setStatus(`There is no channel called “${style}”. Pick one below.`, "error");
    }
    if (current && channels.has(current) && !player.wanted) {
      // Not listening: show what is on air now rather than a stale piece.
      timeline.clear();
      showChannel(channels.get(current));
      showPiece(timeline.at(null), { heard: false });
    }
    ui.player.setAttribute("aria-busy", "false");
  } catch {
    if (!current) setStatus("Can’t reach the station right now; trying again shortly…", "error");
  }
}

// ---- choosing and playing -------------------------------------------------------------

function choose(style) {
  const channel = channels.get(style);
  if (!channel) return;
  if (style === current && player.wanted) {
    player.retryNow(); // already on (or waiting to reconnect): at most, stop waiting
    return;
  }
  if (style !== current) {
    player.stop(); // never two streams: the old one goes before the new one starts
    current = style;
    notes.clear();
    timeline.clear();
    shown = null; // the old channel's piece wasn't heard to its end: not history
  }
  if (!channel.blend) {
    prefs.channel = style; // a blend is not a place to come back to: it stops when nobody listens
    prefs.playing = true;
    savePrefs(prefs);
    updateUrl(style);
  }
  showChannel(channel);
  list.select(style, true);
  player.play(channel);
}

function togglePlay() {
  if (player.wanted) {
    player.pause();
  } else if (current && channels.has(current)) {
    choose(current);
  } else if (channels.size) {
    choose(channels.keys().next().value);
  }
}

function updateUrl(style) {
  const path = location.pathname.startsWith("/listen/") ? `/listen/${encodeURIComponent(style)}` : `/#${style}`;
  if (location.pathname + location.hash !== path) history.replaceState(null, "", path);
}

function styleFromUrl() {
  const match = location.pathname.match(/^\/listen\/([^/]+)\/?$/);
  if (match) return decodeURIComponent(match[1]);
  const hash = decodeURIComponent(location.hash.replace(/^#/, ""));
  return hash || null;
}

// ---- now playing ----------------------------------------------------------------------

function showChannel(channel) {
  const hue = hueOf(channel.style);
  document.documentElement.style.setProperty("--hue", hue);
  roll.setHue(hue);
  setText(ui.channelName, channel.name || channel.style);
  setText(ui.listeners, listeners(channel.listeners));
  if (channel.blend) {
    ui.share.href = channel.stream_url; // the mix's own URL: anyone opening it hears the same blend
  } else {
    ui.share.href = `/listen/${encodeURIComponent(channel.style)}`;
  }
  ui.share.removeAttribute("aria-disabled");
  ui.record.disabled = false;
  timeline.seed(channel.now_playing);
  if (!shown) showPiece(timeline.at(player.heardTime()), { heard: false });
}

// heard: the display follows heard time (not a guess from /api/channels), so a move to a
// later piece means the listener heard the previous one end: it joins the history.
function showPiece(piece, { heard }) {
  const channel = channels.get(current);
  if (!piece) {
    setText(ui.title, channel ? "Warming up…" : "Choose a channel");
    return;
  }
  const movedOn = heard && shown && shown.piece_id !== piece.piece_id && Number.isFinite(shown.t) && piece.t > shown.t;
  if (movedOn) addToHistory(shown);
  shown = piece;
  setText(ui.title, piece.title || "Untitled");
  setText(ui.key, piece.key || "—");
  setText(ui.style, channel ? channel.name || channel.style : piece.style || "—");
  setText(ui.model, piece.model_version || (channel && channel.model_version) || "—");
  ui.save.href = midiUrl(current, piece.piece_id);
  ui.save.download = `continuo-${current}-${fileSafe(piece.title)}.mid`;
  ui.save.removeAttribute("aria-disabled");
  list.setNowPlaying(current, piece);
  if (player.playing) document.title = `${piece.title} · ${channel ? channel.name : current} — Continuo`;
  if (channel) {
    setMetadata({ title: piece.title, channelName: channel.name || current, key: piece.key, hues: huesOf(channel) });
  }
}

// The colour tile's hues: the channel's own, or a blend's parents by weight.
function huesOf(channel) {
  if (channel.blend) return Object.entries(channel.blend).map(([style, weight]) => [hueOf(style), weight]);
  return [[hueOf(channel.style), 1]];
}

// ---- media keys, recording -------------------------------------------------------------

// Next/previous track: the next or previous channel in the list (from a mix: the first).
function step(delta) {
  const order = [...channels.values()].filter((c) => !c.blend).map((c) => c.style);
  if (!order.length) return;
  const at = order.indexOf(current);
  const next = at < 0 ? 0 : (at + delta + order.length) % order.length;
  choose(order[next]);
}

function record() {
  if (!current) return;
  const seconds = Number(ui.recordLength.value);
  const at = player.heardTime();
  const link = document.createElement("a");
  link.href = recordingUrl(current, "mp3", seconds, at);
  link.download = "";
  document.body.append(link);
  link.click();
  link.remove();
  ui.recordMidi.href = recordingUrl(current, "mid", seconds, at);
  ui.recordMidi.download = "";
  ui.recordMidi.removeAttribute("aria-disabled");
  setStatus(`Saving the last ${seconds >= 60 ? `${seconds / 60} min` : `${seconds} s`} you heard.`, "idle");
}

function elapsedOf(piece, heard) {
  if (!piece) return null;
  if (Number.isFinite(piece.t) && heard != null) return heard - piece.t;
  if (Number.isFinite(piece.started_at)) return Date.now() / 1000 - piece.started_at;
  return null;
}

// ---- history --------------------------------------------------------------------------

function addToHistory(piece) {
  if (ui.history.firstElementChild?.dataset.pieceId === piece.piece_id) return;
  ui.historyEmpty.hidden = true;
  const item = document.createElement("li");
  item.dataset.pieceId = piece.piece_id;
  const style = piece.style || current;
  const channel = channels.get(style);
  const name = channel ? channel.name : style;
  item.innerHTML = `<span class="h-title"></span><span class="h-meta"></span><a class="h-save"></a>`;
  item.querySelector(".h-title").textContent = piece.title || "Untitled";
  item.querySelector(".h-meta").textContent = [name, piece.key].filter(Boolean).join(" · ");
  const link = item.querySelector(".h-save");
  link.href = midiUrl(style, piece.piece_id);
  link.download = `continuo-${style}-${fileSafe(piece.title)}.mid`;
  link.textContent = "MIDI";
  link.setAttribute("aria-label", `Download ${piece.title || "this piece"} as MIDI`);
  ui.history.prepend(item);
  while (ui.history.children.length > HISTORY_LIMIT) ui.history.lastElementChild.remove();
}

// ---- player events --------------------------------------------------------------------

player.addEventListener("status", (e) => setStatus(e.detail.text, e.detail.kind));
player.addEventListener("reset", () => {
  // A new connection has its own stream start; after a server restart even the channel's
  // clock starts again, so buffered notes and pieces can't be trusted.
  notes.clear();
  timeline.clear();
  const channel = channels.get(current);
  if (channel) timeline.seed(channel.now_playing);
});
player.addEventListener("channel", (e) => {
  channels.set(e.detail.style, e.detail);
  if (e.detail.style === current) timeline.seed(e.detail.now_playing);
});
player.addEventListener("piece", (e) => {
  timeline.add(e.detail);
  const heard = player.heardTime();
  if (heard != null) timeline.prune(heard);
});
player.addEventListener("notes", (e) => {
  notes.add(e.detail);
  // Pruned here too, not only per frame: a hidden tab gets no frames but keeps its feed.
  const heard = player.heardTime();
  if (heard != null) notes.prune(heard - PAST_SECONDS - 1);
});
player.addEventListener("listeners", (e) => {
  setText(ui.listeners, listeners(e.detail.listeners));
  list.setListeners(current, e.detail.listeners);
});
player.addEventListener("state", renderState);
player.addEventListener("paused", () => {
  prefs.playing = false;
  savePrefs(prefs);
});
player.addEventListener("blocked", () => {
  ui.play.classList.add("attention");
  prefs.playing = false;
  savePrefs(prefs);
});

function renderState() {
  const playing = player.wanted;
  ui.player.dataset.state = playing ? (player.playing ? "playing" : "connecting") : "idle";
  ui.play.setAttribute("aria-label", playing ? "Pause" : "Play");
  setText(ui.playLabel, playing ? "Pause" : "Play");
  ui.play.classList.toggle("is-playing", playing);
  if (playing) ui.play.classList.remove("attention");
  list.select(current, playing);
  if (!playing) document.title = "Continuo — endless generative radio";
  if ("mediaSession" in navigator) navigator.mediaSession.playbackState = playing ? "playing" : "paused";
}

function setStatus(text, kind = "idle") {
  setText(ui.status, text);
  ui.status.dataset.kind = kind;
}

// ---- the frame loop: everything that follows heard time --------------------------------

let lastElapsed = "";
function frame() {
  const heard = player.heardTime();
  roll.draw(heard, notes);
  if (current) {
    const piece = timeline.at(heard);
    if (piece && piece !== shown) showPiece(piece, { heard: heard != null });
    const elapsed = elapsedOf(shown, heard);
    const text = elapsed == null ? "—" : clock(elapsed);
    if (text !== lastElapsed) {
      lastElapsed = text;
      ui.elapsed.textContent = text;
    }
    if (heard != null) {
      notes.prune(heard - PAST_SECONDS - 1);
      timeline.prune(heard);
    }
  }
  requestAnimationFrame(frame);
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

// ---- start ----------------------------------------------------------------------------

ui.volume.value = String(Math.round(prefs.volume * 100));
player.setVolume(prefs.volume * fade);
ui.volume.addEventListener("input", () => {
  prefs.volume = Number(ui.volume.value) / 100;
  player.setVolume(prefs.volume * fade);
  savePrefs(prefs);
});
ui.record.addEventListener("click", record);
onTrackKeys(() => step(1), () => step(-1));
ui.play.addEventListener("click", togglePlay);
window.addEventListener("hashchange", () => {
  const style = styleFromUrl();
  if (style && style !== current) {
    if (channels.has(style)) choose(style);
    else setStatus(`There is no channel called “${style}”. Pick one below.`, "error");
  }
});
window.addEventListener("online", () => player.retryNow());
if ("mediaSession" in navigator) {
  navigator.mediaSession.setActionHandler("play", () => !player.wanted && togglePlay());
  navigator.mediaSession.setActionHandler("pause", () => player.wanted && togglePlay());
}

// A link names the channel; otherwise the last channel comes back, playing if it was.
// A reload of the channel the listener paused stays paused, even though the URL names it.
const linked = styleFromUrl();
const pausedHere = linked && linked === prefs.channel && !prefs.playing;
pendingStyle = pausedHere ? null : linked || (prefs.playing ? prefs.channel : null);
if (!pendingStyle && prefs.channel) {
  current = prefs.channel;
  list.select(current, false);
  setStatus("Press play to listen again.", "idle");
} else {
  setStatus("Choose a channel to start listening.", "idle");
}
renderState();
refreshChannels();
setInterval(refreshChannels, CHANNELS_REFRESH_MS);
requestAnimationFrame(frame);
