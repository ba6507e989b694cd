"""Benchmark: what metrics cost a drain — bench/queue_throughput.py's backlog drain of 20,000
no-op runs by two workers, with the Prometheus counting on (``tuned``) and off (``bare``),
tracing off in both; then tracing on without an SDK against off (what the switch costs a
deployment that installed the API but exports nothing).

    .venv/bin/python bench/observability_drain.py [--jobs 20000] [--repeat 3]

Needs DATABASE_URL (a PostgreSQL server, as ``make bench`` provides). Not a test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

THROUGHPUT = str(Path(__file__).resolve().parent / "queue_throughput.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    common = ["--profiles", "bare,tuned", "--only", "backlog", "--jobs", str(args.jobs)]
    common += ["--repeat", str(args.repeat)]
    status = 0
    for what, settings in (
        ("metrics on (tuned) and off (bare)", '{"TRACING": false}'),
        ("tracing on without an SDK (tuned) and off (bare)", '{"METRICS": false}'),
    ):
        print(f"\n── {what} ──", flush=True)
        done = subprocess.run([sys.executable, THROUGHPUT, *common, "--settings", settings])
        status = status or done.returncode
    sys.exit(status)


if __name__ == "__main__":
    main()
