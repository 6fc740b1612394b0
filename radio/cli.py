"""The ``continuo`` command. Each subcommand lives in its own module and is imported
only when it runs, so ``continuo serve`` never pays for TensorFlow or Scrapy."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from radio.errors import ContinuoError

# name -> (module, one-line help). A module exposes add_arguments(parser) and run(args) -> int,
# and imports its heavy dependencies inside run().
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("radio.commands.serve", "run the radio station"),
    "import": ("radio.commands.import_pieces", "import MIDI files into the library"),
    "library": ("radio.commands.library", "inspect the library"),
    "generate": ("radio.commands.generate", "generate music to .mid/.wav/.mp3 (no TensorFlow)"),
    "render": ("radio.commands.render", "play a MIDI file with a style's instrument and room, to .wav/.mp3"),
    "train": ("trainer.commands.train", "train a style model (needs the 'train' extra)"),
    "evaluate": ("trainer.commands.evaluate", "evaluate a style model on held-out pieces"),
    "scrape": ("scraper.command", "collect openly licensed MIDI (needs the 'scrape' extra)"),
    "worker": ("radio.commands.worker", "train queued retrain jobs from the shared catalog (needs 'train')"),
}


# Third-party packages of the research commands -> the extra of pyproject.toml that brings them.
EXTRAS: dict[str, str] = {
    "tensorflow": "train", "keras": "train", "matplotlib": "train",
    "scrapy": "scrape", "twisted": "scrape",
    "music21": "corpus",
}


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """What to install when ``exc`` is a research dependency that is not installed, or None."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    return (f"this command needs {top}, which comes with the '{extra}' extra: run `make install-dev` "
            f"(or `.venv/bin/pip install -e '.[{extra}]'`)")


def _needs_extra(message: str):
    def run(args: argparse.Namespace) -> int:
        raise ContinuoError(message)

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="continuo", description="Continuo: an endless generative radio station.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            message = missing_extra(exc)
            if message is None:
                raise
            # Listed anyway, so `continuo train` says what to install instead of "invalid choice".
            p = sub.add_parser(name, help=f"{help_text} [not installed]", description=help_text)
            p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            p.set_defaults(_run=_needs_extra(message))
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except ContinuoError as exc:
        print(f"continuo {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        message = missing_extra(exc)
        if message is None:
            raise
        print(f"continuo {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
