"""The project's own exceptions: each one names what was wrong and what to do."""


class ContinuoError(Exception):
    """Base class for every error we raise on purpose."""


class MidiError(ContinuoError):
    """A file could not be read as a usable MIDI file."""


class NotesError(ContinuoError, ValueError):
    """A list_of_notes breaks one of its invariants."""


class LibraryError(ContinuoError):
    """The catalog or the blob store refused an operation."""


class StyleError(ContinuoError):
    """A style is unknown or its settings are invalid."""


class ModelFileError(ContinuoError):
    """A model file is corrupt, incomplete or of another encoding version."""
