// Which piece the listener hears. `piece` events arrive ahead of the audio, each with the
// channel stream time `t` it starts at; the heard piece is the last one whose t has passed.

const EPSILON = 0.05; // seconds: a piece starting on this very frame counts as heard

export class PieceTimeline {
  constructor() {
    this.pieces = []; // sorted by t; a piece seeded from /api/channels has t = -Infinity
  }

  clear() {
    this.pieces = [];
  }

  // The channel's now_playing (as heard at the live edge) stands in until piece events
  // say exactly when each piece starts.
  seed(nowPlaying) {
    if (!nowPlaying || this.pieces.some((p) => p.piece_id === nowPlaying.piece_id)) return;
    this.pieces.unshift({ ...nowPlaying, t: -Infinity });
  }

  add(piece) {
    const i = this.pieces.findIndex((p) => p.piece_id === piece.piece_id);
    if (i >= 0) this.pieces[i] = { ...this.pieces[i], ...piece };
    else this.pieces.push({ ...piece });
    this.pieces.sort((a, b) => a.t - b.t);
  }

  // heard: channel stream time now sounding, or null before the stream's start is known.
  at(heard) {
    if (!this.pieces.length) return null;
    if (heard == null) return this.pieces[0];
    let current = this.pieces[0];
    for (const piece of this.pieces) {
      if (piece.t <= heard + EPSILON) current = piece;
      else break;
    }
    return current;
  }

  // Forget pieces that ended long before `heard`, keeping the heard one and what follows.
  prune(heard) {
    const current = this.at(heard);
    const i = this.pieces.indexOf(current);
    if (i > 0) this.pieces.splice(0, i);
  }
}
