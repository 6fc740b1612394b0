"""``python -m radio.audio.calibrate``: the old name of ``python -m radio.commands.calibrate``.

Kept so that the command written in shipped ``style.toml`` comments still runs; it imports
nothing when imported as a module (the audio floor does not reach up to the station).
"""

if __name__ == "__main__":
    import sys

    from radio.commands.calibrate import main

    sys.exit(main())
