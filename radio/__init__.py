"""Continuo: an endless generative radio station.

The package follows the data flow: ``music`` (MIDI ⇄ list_of_notes) → ``library``
(catalog + blobs) → ``model`` (numpy inference and sampling) → ``composer`` →
``audio`` (synth, MP3) → ``broadcast`` → ``web``.
"""

__version__ = "0.1.0"
