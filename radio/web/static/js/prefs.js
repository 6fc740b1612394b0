// What the listener chose, kept across reloads: volume, last channel, and whether it was playing.
const KEY = "continuo.listener";
const DEFAULTS = Object.freeze({ volume: 0.8, channel: null, playing: false });

export function loadPrefs() {
  try {
    const stored = JSON.parse(localStorage.getItem(KEY) || "{}");
    const prefs = { ...DEFAULTS, ...stored };
    prefs.volume = Number.isFinite(prefs.volume) ? Math.min(1, Math.max(0, prefs.volume)) : DEFAULTS.volume;
    return prefs;
  } catch {
    return { ...DEFAULTS }; // private mode or a corrupt entry: start fresh rather than fail
  }
}

export function savePrefs(prefs) {
  try {
    localStorage.setItem(KEY, JSON.stringify(prefs));
  } catch {
    // storage full or disabled: the page still works, it just forgets
  }
}
