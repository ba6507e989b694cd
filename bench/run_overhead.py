"""Benchmark: Python time of one run's lifecycle, without the database — what a worker spends
per run besides its claim and completion statements.

    .venv/bin/python bench/run_overhead.py [--runs 20000] [--repeat 5] [--junctions 1] [--profile]

Runs ``demo.noop`` (or, with ``--junctions N`` above 1, a bench-only train of N no-op
junctions, to see the cost per junction) through ``RunService.run_claimed`` (the worker's entry
point) with a finisher that records nothing, the worker's options (no cancel-flag polling;
junction progress noted in memory for the heartbeat) and log capture as configured by default.
Prints microseconds per run (median over repetitions); ``--profile`` adds the top functions by
own time. Needs no database server: Django is set up on an in-memory SQLite database it never
touches. Not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
import types
import uuid
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
TRAIN = "demo.noop"


def setup_django() -> None:
    os.environ["DATABASE_URL"] = "sqlite:///:memory:"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("SECRET_KEY", "django-insecure-bench-only-never-deploy-this-key")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


class NullFinisher:
    """Records nothing; lands at once."""

    def finish(self, metadata_id: int, outcome: Any, manifest_id: int | None, **_: Any) -> Any:
        from trax.effects.finishers import Landed

        return Landed(True)


def chain_train(junctions: int) -> str:
    """Register a train of ``junctions`` no-op junctions; its name."""
    import trax
    from project.trains import Ping

    def make(n: int) -> Any:
        def step(ping: Ping) -> Ping:
            return ping

        step.__name__ = step.__qualname__ = f"step_{n}"
        step.__annotations__ = {"ping": Ping, "return": Ping}
        return step

    name = f"bench.chain_{junctions}"
    steps = [make(n) for n in range(junctions)]
    chain = types.new_class(
        "Chain",
        (trax.Train[Ping, Ping],),
        exec_body=lambda ns: ns.update(name=name, junctions=steps),
    )
    trax.register(chain)
    return name


def runs(count: int, train: str = TRAIN, options: dict[str, Any] | None = None) -> float:
    """Seconds for ``count`` lifecycles of the no-op train (``options``: LifecycleOptions
    overrides)."""
    from trax.core import CancellationToken
    from trax.effects.from_settings import build_service
    from trax.effects.progress import ProgressBoard, current_board
    from trax.store import ClaimedRun

    service = build_service(poll_cancel_flag=False, **(options or {}))
    current_board.set(ProgressBoard())
    finisher = NullFinisher()
    claims = [
        ClaimedRun(
            job_id=n,
            metadata_id=n + 1,
            name=train,
            input={"n": n},
            external_id=uuid.uuid4(),
            manifest_id=None,
            parent_id=None,
            attempt=1,
            work_queue_id=n + 1,
            claim_token=uuid.uuid4(),
        )
        for n in range(count)
    ]
    started = time.perf_counter()
    for claim in claims:
        service.run_claimed(claim, token=CancellationToken(), finisher=finisher)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--junctions", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    setup_django()
    train = chain_train(args.junctions) if args.junctions > 1 else TRAIN
    runs(500, train)  # warm-up: imports, adapters, caches
    per_run = [runs(args.runs, train) / args.runs * 1e6 for _ in range(args.repeat)]
    print(
        f"run lifecycle of {train} (no database): {statistics.median(per_run):.1f} us per run "
        f"(median of {args.repeat} x {args.runs:,}; min {min(per_run):.1f}, "
        f"max {max(per_run):.1f})"
    )
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(runs, args.runs, train)
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
