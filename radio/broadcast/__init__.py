"""Getting a channel's MP3 frames to its listeners.

- ``broadcaster``: one shared queue of frames per channel, every listener a cursor into it,
  paced by the channel's clock;
- ``icecast``: the same frames pushed to an Icecast server as a source client (scale-out);
- ``tasks``: the small asyncio helpers both long-running loops share.
"""
