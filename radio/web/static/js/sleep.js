// The sleep timer: stop after 15/30/60/90 minutes, fading out over the last 30 s. It belongs
// to the page, not to a channel, so switching channels keeps it running; its deadline is kept
// in sessionStorage so a reload keeps it too. All timing reads Date.now(), so a test can
// drive it with an accelerated clock.

const FADE_SECONDS = 30;
const KEY = "continuo.sleep";
const TICK_MS = 250;

export class SleepTimer {
  constructor({ select, label, onFade, onStop }) {
    this.select = select;
    this.label = label;
    this.onFade = onFade; // (factor 0..1) volume multiplier
    this.onStop = onStop;
    this.deadline = null;
    this.timer = null;
    select.addEventListener("change", () => this.set(Number(select.value)));
    let saved = null;
    try {
      saved = Number(sessionStorage.getItem(KEY));
    } catch {
      saved = null;
    }
    if (saved && saved > Date.now()) this.start(saved);
  }

  set(minutes) {
    if (minutes > 0) this.start(Date.now() + minutes * 60000);
    else this.cancel();
  }

  start(deadline) {
    this.deadline = deadline;
    this.store(deadline);
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.tick();
  }

  cancel() {
    this.deadline = null;
    this.store(null);
    clearInterval(this.timer);
    this.timer = null;
    this.select.value = "0";
    this.label.textContent = "";
    this.label.hidden = true;
    this.onFade(1);
  }

  remaining() {
    return this.deadline == null ? null : Math.max(0, (this.deadline - Date.now()) / 1000);
  }

  tick() {
    const left = this.remaining();
    if (left == null) return;
    this.label.hidden = false;
    const m = Math.floor(left / 60);
    const s = Math.floor(left % 60);
    this.label.textContent = `Stops in ${m}:${String(s).padStart(2, "0")}`;
    this.onFade(Math.min(1, left / FADE_SECONDS));
    if (left <= 0) {
      this.cancel();
      this.onStop();
    }
  }

  store(deadline) {
    try {
      if (deadline) sessionStorage.setItem(KEY, String(deadline));
      else sessionStorage.removeItem(KEY);
    } catch {
      // no storage: the timer still runs for this page
    }
  }
}
