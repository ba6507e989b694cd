"""How many jobs a worker claims at once: its idle run threads, plus a few runs ahead when runs
are short, so short runs are claimed in batches instead of one round trip per free thread."""

from __future__ import annotations

import threading

#: Weight of the newest run in the moving mean of run durations.
SMOOTHING = 0.05


class ClaimSizer:
    """Sizes claims from a moving mean of run durations. Runs claimed ahead are started (the
    claim starts what it claims), so they may wait for a thread at most about ``max_wait``
    seconds; until a run has been timed, and for runs longer than that, nothing is claimed
    ahead of the idle threads."""

    def __init__(self, concurrency: int, *, max_wait: float = 0.01, max_ahead: int = 64) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1; got {concurrency}")
        self.concurrency = concurrency
        self.max_wait = max_wait
        self.max_ahead = max_ahead
        self._mean: float | None = None
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        """Record how long one run took (wall time on its thread)."""
        with self._lock:
            mean = self._mean
            self._mean = seconds if mean is None else mean + SMOOTHING * (seconds - mean)

    def ahead(self) -> int:
        """Runs to hold beyond the threads: as many as the threads finish within
        ``max_wait`` at the mean duration, at most ``max_ahead``."""
        mean = self._mean
        if mean is None:
            return 0
        fits = int(self.max_wait * self.concurrency / max(mean, 1e-6))
        return max(0, min(self.max_ahead, fits))

    def limit(self, *, running: int, waiting: int) -> int:
        """How many jobs to claim now, given the runs executing and those claimed but waiting
        for a thread; 0 means wait until more runs finish."""
        ahead = self.ahead()
        room = self.concurrency + ahead - running - waiting
        if room <= 0:
            return 0
        idle = self.concurrency - running
        if waiting == 0 and idle > 0:
            return room  # a thread would starve
        return room if room >= max(1, ahead // 2) else 0
