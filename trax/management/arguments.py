"""argparse value checkers for the trax commands (clear errors, nothing started)."""

from __future__ import annotations

import argparse
import math
import re

from trax.conf import MAX_WORKER_CONCURRENCY


def positive_seconds(value: str) -> float:
    """A number of seconds > 0."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0; got {value}")
    return seconds


def non_negative_seconds(value: str) -> float:
    """A number of seconds >= 0."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or not seconds >= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0; got {value}")
    return seconds


def positive_int(value: str) -> int:
    """An int >= 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1; got {value}")
    return number


def thread_count(value: str) -> int:
    """Run threads of one process: an int from 1 to MAX_WORKER_CONCURRENCY."""
    number = positive_int(value)
    if number > MAX_WORKER_CONCURRENCY:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_WORKER_CONCURRENCY}; got {value} (run more processes instead)"
        )
    return number


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")


def process_name(value: str) -> str:
    """A process name: letters, digits, '.', '_', ':', '-'; at most 100 characters."""
    if not _NAME.match(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a valid name (letters, digits, '.', '_', ':', '-'; 1-100 chars)"
        )
    return value


def port_number(value: str) -> int:
    """A TCP port: an int from 1 to 65535."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535; got {value}")
    return number
