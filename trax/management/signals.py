"""SIGINT/SIGTERM handling shared by the long-running commands: the first signal asks for a
graceful stop; a second one exits at once."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

FORCED_EXIT_CODE = 130


def install_stop_signals(
    on_stop: Callable[[], None], say: Callable[[str], None]
) -> threading.Event:
    """Route SIGINT and SIGTERM to ``on_stop`` (first) or an immediate exit (second); returns
    an event set by the first signal."""
    requested = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if requested.is_set():
            say(f"Received {name} again; exiting now.")
            os._exit(FORCED_EXIT_CODE)
        requested.set()
        say(f"Received {name}; stopping gracefully (send it again to exit at once).")
        on_stop()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return requested
