"""Continuo: an endless generative radio station.

The packages follow the data flow, each on a floor that imports only the floors below it
(``tests/test_structure.py`` checks this, with no import circles and no module over 400
lines): ``music`` (MIDI ⇄ list_of_notes, form plans) → ``styles``/``style_file`` (a style's
settings) → ``library`` (catalog + blobs) → ``model`` (numpy inference and sampling) →
``audio`` (synth, room, master, MP3) → ``broadcast`` (frame queues, Icecast push) →
``station`` (the composer, and the channel that wires model, synth and frame queue
together) → ``admin`` (retrains, versions, activation) → ``web`` (streams, API, pages) →
``commands`` (the CLI). The modules at this level are the ground floor every stage stands
on: ``config``, ``errors``, ``files``, ``metrics`` and ``timestamps``.
"""

__version__ = "0.1.0"
