// A rolling buffer of notes in channel stream time, built from `notes` events.
// Each event holds beats: lists of [pitch, "b" | "s"]; "b" strikes a note, "s" holds the
// note that sounded on the beat before (possibly across events).

const MAX_NOTES = 4000;

export class NoteBuffer {
  constructor() {
    this.clear();
  }

  clear() {
    this.notes = []; // {pitch, start, end} in seconds of channel stream time, by start
    this.open = new Map(); // pitch -> note sounding on the last beat received
    this.lastEnd = null; // stream time where the last event's beats ended
    this.seen = new Set(); // event start times already taken (a feed may resend on reconnect)
  }

  add({ t, beat_seconds: beat, beats }) {
    if (!Number.isFinite(t) || !(beat > 0) || !Array.isArray(beats)) return;
    const key = t.toFixed(3);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    // A held note only continues when this event follows straight on from the last one.
    if (this.lastEnd == null || Math.abs(t - this.lastEnd) > beat / 2) this.open = new Map();
    beats.forEach((chord, i) => {
      const start = t + i * beat;
      const sounding = new Map();
      for (const [pitch, kind] of chord) {
        let note = kind === "s" ? this.open.get(pitch) : undefined;
        if (note) note.end = start + beat;
        else {
          note = { pitch, start, end: start + beat };
          this.notes.push(note);
        }
        sounding.set(pitch, note);
      }
      this.open = sounding;
    });
    this.lastEnd = t + beats.length * beat;
    // Without a heard time nothing gets pruned; never let a long session hoard notes.
    if (this.notes.length > MAX_NOTES) this.notes.splice(0, this.notes.length - MAX_NOTES);
  }

  // Notes overlapping [from, to].
  between(from, to) {
    return this.notes.filter((n) => n.end >= from && n.start <= to);
  }

  prune(before) {
    if (this.notes.length && this.notes[0].start < before) {
      this.notes = this.notes.filter((n) => n.end >= before);
    }
    if (this.seen.size > 2000) this.seen = new Set([...this.seen].slice(-500));
  }
}
