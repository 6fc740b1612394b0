"""On the air: from a style's model to a channel's MP3 frames, and the station that runs them.

The stage between the model and the listener, in the order the data flows:

- ``composer``: endless pieces for one style (the model stepped into ``list_of_notes``),
  with ``titles`` naming each piece;
- ``channel``: composer → synth → master → MP3 encoder → broadcaster, in a worker thread
  that stays a few seconds ahead of the wall clock, plus what is playing (``events``, the
  feed its pages read, and ``recording``, the last minutes it played);
- ``blends``: the mixer's channels, two or three styles' models composing together;
- ``station``: every channel, started and stopped together. The station does not swap
  models itself: each channel does, at a piece boundary (``Channel.swap_model``), and says
  when listeners will hear the new one (``swap_deadline``, ``swap_eta``, computed where the
  swap happens); the admin reaches channels only through that API
  (``radio.admin.activation.OnAirChannel``).

Handing the frames to listeners is ``radio.broadcast``'s job.
"""
