"""One short log line per malformed request, and not too many of them.

aiohttp logs a request it cannot parse (a 9 KB request line, TLS sent to the plain port, a
broken header) at ERROR with its whole traceback: about 1 KB per request, so a stranger sending
junk in a loop could fill the disk with logs. :class:`BadRequestLog`, a filter on aiohttp's
server logger, turns each such record into one WARNING line (who, and what was wrong) and lets
at most ``per_window`` through per window; the next line that gets through says how many were
left out. Every other record (a handler that failed, say) passes as it is, traceback and all.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from aiohttp.http_exceptions import HttpProcessingError

SERVER_LOGGER = "aiohttp.server"
LINES_PER_WINDOW = 10
WINDOW_SECONDS = 60.0
REASON_CHARACTERS = 160  # a reason may quote the junk it choked on


class BadRequestLog(logging.Filter):
    def __init__(self, per_window: int = LINES_PER_WINDOW, window_seconds: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.per_window, self.window_seconds, self.clock = per_window, window_seconds, clock
        self._lock = threading.Lock()
        self._window_start = float("-inf")
        self._logged = 0
        self.left_out = 0  # bad requests not logged since the last line that was

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        with self._lock:
            now = self.clock()
            if now - self._window_start >= self.window_seconds:
                self._window_start, self._logged = now, 0
            if self._logged >= self.per_window:
                self.left_out += 1
                return False
            self._logged += 1
            left_out, self.left_out = self.left_out, 0
        reason = " ".join(str(getattr(exc, "message", "") or exc).split())[:REASON_CHARACTERS]
        record.msg = "bad request from %s: %s (HTTP %s)%s"
        record.args = (record.args[0] if isinstance(record.args, tuple) and record.args else "?",
                       f"{type(exc).__name__}: {reason!r}", getattr(exc, "code", 400),
                       f"; {left_out} more not logged" if left_out else "")
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


def install_bad_request_log() -> BadRequestLog:
    """Put one BadRequestLog on aiohttp's server logger (once per process); returns it."""
    logger = logging.getLogger(SERVER_LOGGER)
    for existing in logger.filters:
        if isinstance(existing, BadRequestLog):
            return existing
    installed = BadRequestLog()
    logger.addFilter(installed)
    return installed
