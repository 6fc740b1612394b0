"""Continuo: an endless generative radio station.

The packages follow the data flow: ``music`` (MIDI ⇄ list_of_notes) → ``library``
(catalog + blobs) → ``model`` (numpy inference and sampling) → ``station`` (composer,
channel, blends) → ``audio`` (synth, master, MP3) → ``broadcast`` (frame queues, Icecast
push) → ``web`` (streams, API, pages). ``admin`` retrains and swaps models; ``commands`` is
the CLI. The modules at this level are the floor every stage stands on: ``config``,
``errors``, ``metrics``, ``styles`` and ``timestamps``.
"""

__version__ = "0.1.0"
