// One <audio> element and one events feed for the chosen channel. Never two streams:
// switching or reconnecting always tears the old pair down first. A dropped stream is
// retried with exponential backoff, and every change is announced through "status" events.

import { eventsUrl, fetchChannel, newSid, streamUrl } from "./api.js";

const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 20000;
const NO_PROGRESS_MS = 10000; // playing but currentTime frozen this long: the stream is dead
const STALLED_MS = 4000; // after a "stalled" event, a shorter wait is enough
const FEED_DOWN_MS = 1500; // the events feed broke too: the station is gone, don't wait long
const HEALTHY_SECONDS = 3; // this much audio after a (re)connect resets the backoff

export class Player extends EventTarget {
  constructor(audio) {
    super();
    this.audio = audio;
    this.channel = null; // the /api/channels record of the chosen channel
    this.wanted = false; // the listener wants sound (survives drops, not pauses)
    this.feed = null;
    this.sid = null;
    this.streamStart = null; // channel stream time of this connection's first audio byte
    this.attempt = 0;
    this.retryTimer = null;
    this.generation = 0; // bumps on every connect, so late callbacks of old ones are ignored
    this.lastTime = 0;
    this.lastProgressAt = 0;
    this.stalledAt = 0;
    this.feedDown = false; // the events feed lost its connection (the browser is retrying it)
    this.dropped = false; // a reconnect is under way (for the "reconnected" message)

    // Events of a stream already torn down (src removed) are not drops.
    audio.addEventListener("error", () => {
      if (audio.error && audio.hasAttribute("src")) this.drop("the stream failed");
    });
    audio.addEventListener("ended", () => {
      if (audio.hasAttribute("src")) this.drop("the stream ended");
    });
    audio.addEventListener("stalled", () => {
      this.stalledAt = performance.now();
    });
    audio.addEventListener("waiting", () => {
      if (this.wanted && !this.retryTimer) this.say(`Buffering ${this.name}…`, "busy");
    });
    audio.addEventListener("playing", () => {
      if (this.wanted) this.say(`${this.dropped ? "Reconnected: playing" : "Playing"} ${this.name}`, "playing");
      this.emit("state");
    });
    audio.addEventListener("pause", () => {
      // Paused from outside the page (headphones unplugged, OS media controls): respect it
      // rather than "recover" into the speakers. Our own teardown removes src first, and a
      // stale event arriving after a reconnect finds the new stream already unpaused.
      if (this.wanted && audio.paused && !audio.ended && audio.hasAttribute("src")) this.pause();
      else this.emit("state");
    });
    audio.addEventListener("timeupdate", () => this.progress());
    setInterval(() => this.watchdog(), 1000);
  }

  get name() {
    return this.channel ? this.channel.name || this.channel.style : "";
  }

  get playing() {
    return this.wanted && !this.audio.paused;
  }

  // Channel stream time the listener hears right now, or null when unknown.
  heardTime() {
    if (this.streamStart == null || !this.audio.src) return null;
    return this.streamStart + this.audio.currentTime;
  }

  play(channel) {
    if (channel) this.channel = channel;
    if (!this.channel) return;
    this.wanted = true;
    this.attempt = 0;
    this.dropped = false;
    this.clearRetry();
    this.connect();
  }

  pause() {
    this.wanted = false;
    this.clearRetry();
    this.disconnect();
    // A live stream can't be paused without falling behind, so pausing hangs up.
    this.say(this.channel ? `Paused. Press play to rejoin ${this.name} live.` : "", "idle");
    this.emit("paused");
    this.emit("state");
  }

  // Stop everything and forget the channel (used when switching).
  stop() {
    this.wanted = false;
    this.clearRetry();
    this.disconnect();
    this.emit("state");
  }

  setVolume(volume) {
    this.audio.volume = volume;
  }

  connect() {
    this.disconnect();
    const generation = ++this.generation;
    const style = this.channel.style;
    this.sid = newSid();
    this.say(`Tuning in to ${this.name}…`, "busy");
    this.emit("reset");

    this.feed = new EventSource(eventsUrl(style, this.sid));
    const on = (type, handler) =>
      this.feed.addEventListener(type, (event) => {
        if (generation !== this.generation) return;
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          return; // a malformed event is skipped; the next one will do
        }
        handler(data);
      });
    on("stream", (data) => {
      if (data.sid === this.sid && Number.isFinite(data.stream_start)) {
        this.streamStart = data.stream_start;
        this.emit("stream", data);
      }
    });
    on("piece", (data) => this.emit("piece", data));
    on("notes", (data) => this.emit("notes", data));
    on("listeners", (data) => this.emit("listeners", data));
    this.feed.addEventListener("open", () => {
      if (generation === this.generation) this.feedDown = false;
    });
    this.feed.addEventListener("error", () => {
      if (generation !== this.generation) return;
      // The browser retries a dropped feed by itself; only a feed it gave up on is reopened.
      this.feedDown = true;
      if (this.feed.readyState === EventSource.CLOSED) this.drop("the live feed closed");
    });

    this.audio.src = streamUrl(this.channel, this.sid);
    this.lastTime = 0;
    this.lastProgressAt = performance.now();
    this.stalledAt = 0;
    this.feedDown = false;
    this.audio.play().catch((error) => {
      if (generation !== this.generation) return; // superseded by a newer connect
      if (error.name === "NotAllowedError") {
        // Autoplay without a click is refused: wait for the listener to press play.
        this.wanted = false;
        this.disconnect();
        this.say(`Press play to start listening to ${this.name}.`, "prompt");
        this.emit("blocked");
        this.emit("state");
      } else if (error.name !== "AbortError") {
        this.drop(error.message || "playback failed");
      }
    });
  }

  disconnect() {
    this.generation += 1;
    if (this.feed) {
      this.feed.close();
      this.feed = null;
    }
    this.streamStart = null;
    if (this.audio.hasAttribute("src")) {
      this.audio.removeAttribute("src");
      this.audio.pause();
      this.audio.load(); // actually closes the HTTP stream
    }
  }

  drop(reason) {
    if (!this.wanted || this.retryTimer || !this.channel) return;
    this.disconnect();
    this.dropped = true;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
    const wait = `${Math.max(1, Math.round(delay / 1000))} s`;
    this.attempt += 1;
    this.say(
      this.attempt === 1
        ? `Lost ${this.name}: ${reason}. Reconnecting in ${wait}…`
        : `Still can’t reach ${this.name}: ${reason}. Trying again in ${wait} (attempt ${this.attempt})…`,
      "error",
    );
    this.emit("state");
    this.retryTimer = setTimeout(() => this.retry(), delay);
  }

  async retry() {
    this.retryTimer = null;
    const { generation } = this; // a play, pause or switch meanwhile makes this retry moot
    const style = this.channel.style;
    try {
      // Ask first, so a server that is still down costs one small request, not a media error.
      const fresh = await fetchChannel(style);
      if (!this.wanted || generation !== this.generation) return;
      this.channel = fresh;
      this.emit("channel", fresh);
      this.connect();
    } catch (error) {
      if (!this.wanted || generation !== this.generation) return;
      if (error.status === 404) {
        // The channel was taken off air: retrying would never succeed.
        this.wanted = false;
        this.say(`${this.name} is no longer on air. Pick another channel.`, "error");
        this.emit("state");
      } else {
        this.drop("the station is not answering");
      }
    }
  }

  retryNow() {
    // Called when the network comes back: skip the rest of the wait.
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retry();
    }
  }

  clearRetry() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  progress() {
    const t = this.audio.currentTime;
    if (t !== this.lastTime) {
      this.lastTime = t;
      this.lastProgressAt = performance.now();
      this.stalledAt = 0;
    }
    if (t >= HEALTHY_SECONDS && this.attempt) {
      this.attempt = 0;
      this.dropped = false;
    }
  }

  watchdog() {
    if (!this.wanted || this.retryTimer || !this.audio.src) return;
    const now = performance.now();
    const quiet = now - this.lastProgressAt;
    if (this.feedDown && quiet > FEED_DOWN_MS) {
      // Audio ran dry while the feed can't reach the station either: it went away.
      this.drop("the station went away");
    } else if (quiet > NO_PROGRESS_MS || (this.stalledAt && now - this.stalledAt > STALLED_MS && quiet > STALLED_MS)) {
      this.drop("no sound arrived");
    }
  }

  say(text, kind) {
    this.dispatchEvent(new CustomEvent("status", { detail: { text, kind } }));
  }

  emit(type, detail = null) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
