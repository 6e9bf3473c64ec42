"""Progress of the local loops (``curate ingest``, classifier training): a line at INFO every few seconds.

The Spark jobs log their stages' progress (``spark_jobs.job.StageProgress``); a loop in one Python
process uses :class:`Progress` (counted: ``ingest code: 12,000 documents, 2,400/s, 5s``) or
:func:`heartbeat` (a step that cannot count, such as fastText training in a child process). Lines go
to the ``curate.progress`` logger; the entry points configure logging (``curate`` logs INFO), so a
library caller sees nothing unless it asks. ``EVERY_S`` sets the interval (tests set it low).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("curate.progress")

#: Seconds between progress lines.
EVERY_S = 5.0


class Progress:
    """Counts items and logs ``label: n unit[/total], rate, elapsed`` at most every ``every_s``
    seconds (default :data:`EVERY_S`, read when made), and once more at :meth:`done` when a line
    was logged before (a loop shorter than the interval stays silent)."""

    def __init__(self, label: str, unit: str = "items", total: int | None = None, every_s: float | None = None,
                 logger: logging.Logger = log) -> None:
        self.label, self.unit, self.total, self.n = label, unit, total, 0
        self._every = EVERY_S if every_s is None else every_s
        self._log = logger
        self._start = self._last = time.monotonic()
        self._logged = False

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._emit(now)

    def done(self) -> None:
        if self._logged:
            self._emit(time.monotonic(), "done: ")

    def _emit(self, now: float, prefix: str = "") -> None:
        elapsed = now - self._start
        of = f"/{self.total:,}" if self.total is not None else ""
        rate = f", {self.n / elapsed:,.0f}/s" if elapsed > 0 else ""
        self._log.info("%s: %s%s%s %s%s, %.0fs elapsed", self.label, prefix, f"{self.n:,}", of, self.unit, rate, elapsed)
        self._logged = True


@contextmanager
def heartbeat(label: str, every_s: float | None = None, logger: logging.Logger = log) -> Iterator[None]:
    """Log ``label: still running, Ns elapsed`` every ``every_s`` seconds while the block runs."""
    every = EVERY_S if every_s is None else every_s
    stop = threading.Event()
    start = time.monotonic()

    def beat() -> None:
        while not stop.wait(every):
            logger.info("%s: still running, %.0fs elapsed", label, time.monotonic() - start)

    thread = threading.Thread(target=beat, daemon=True, name=f"heartbeat {label}")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)
