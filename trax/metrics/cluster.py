"""Gauges that describe the whole cluster, read from the shared database (so any one scrape
target tells the truth) and kept for ``METRICS_CACHE_SECONDS`` so a busy scraper costs a few
statements every few seconds, not a few per scrape."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from trax.manager.service import MANAGER_LEASE
from trax.metrics.readings import (
    dead_letters_awaiting,
    leases_held,
    live_processes,
    oldest_due_age,
    queue_depth_by_group,
    runs_in_progress,
)
from trax.models import WorkerKind
from trax.store import database_now


class ClusterCollector:
    """A prometheus-client collector of the cluster gauges; ``settings`` gives the effective
    trax settings (staleness bound and cache age are read on each collection)."""

    def __init__(self, *, using: str, settings: Callable[[], Any]) -> None:
        self.using = using
        self.settings = settings
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Any]] | None = None

    def collect(self) -> Iterator[Any]:
        conf = self.settings()
        with self._lock:
            cached = self._cached
            if cached is None or time.monotonic() - cached[0] >= conf.METRICS_CACHE_SECONDS:
                cached = (time.monotonic(), self._read(stale_after=conf.LEASE_SECONDS))
                self._cached = cached
        yield from cached[1]

    def forget(self) -> None:
        """Read the database again on the next collection."""
        with self._lock:
            self._cached = None

    def _read(self, *, stale_after: float) -> list[Any]:
        from prometheus_client.core import GaugeMetricFamily

        using = self.using
        now = database_now(using)
        depth = GaugeMetricFamily(
            "trax_queue_depth", "Work entries queued, by group ('' = one-off).", labels=["group"]
        )
        for group, count in sorted(queue_depth_by_group(using=using).items()):
            depth.add_metric([group], count)
        processes = live_processes(now, stale_after=stale_after, using=using)
        up = GaugeMetricFamily(
            "trax_worker_up",
            "Processes that beat within LEASE_SECONDS, by kind.",
            labels=["kind"],
        )
        for kind in WorkerKind.values:
            up.add_metric([kind], processes.by_kind.get(kind, 0))
        leases = leases_held(now, using=using)
        leader = GaugeMetricFamily(
            "trax_leader", "1 while some process holds the named lease.", labels=["name"]
        )
        for name in sorted({MANAGER_LEASE, *leases}):
            leader.add_metric([name], 1 if name in leases else 0)
        return [
            depth,
            GaugeMetricFamily(
                "trax_queue_oldest_age_seconds",
                "Seconds the longest-waiting due work entry has waited.",
                value=oldest_due_age(now, using=using),
            ),
            GaugeMetricFamily(
                "trax_runs_in_progress",
                "Runs in progress anywhere.",
                value=runs_in_progress(using=using),
            ),
            up,
            GaugeMetricFamily(
                "trax_worker_busy_ratio",
                "Runs in flight over run threads, across live processes.",
                value=processes.busy_ratio,
            ),
            leader,
            GaugeMetricFamily(
                "trax_dead_letters_awaiting",
                "Dead letters awaiting a person.",
                value=dead_letters_awaiting(using=using),
            ),
        ]
