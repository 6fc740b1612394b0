"""The music core: the ``list_of_notes`` model and everything over it.

* :mod:`radio.music.notes` — the data model (beats of ``(pitch, 'b'|'s')``), spans, transposition.
* :mod:`radio.music.midi_io` — MIDI files ⇄ notes (``read_midi``, ``write_midi``, ``MidiError``).
* :mod:`radio.music.keys` — key names, Krumhansl–Schmuckler estimation, the shift to C / Am.
* :mod:`radio.music.prepare` — ``prepare_piece``: the one way to get training-ready notes.
"""
