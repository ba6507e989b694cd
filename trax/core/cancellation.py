"""A thread-safe cancellation token and the distinct error cancellation raises."""

from __future__ import annotations

import threading
from collections.abc import Callable


class TrainCancelled(Exception):
    """The run was cancelled: an abort signal, never recorded as a junction failure."""

    def __init__(self, reason: str | None = None) -> None:
        self.reason = reason
        super().__init__(f"run cancelled ({reason})" if reason else "run cancelled")


class CancellationToken:
    """Signals cancellation to a run from any thread.

    Sync code checks ``cancelled`` / ``raise_if_cancelled()`` or sleeps on ``sleep()``;
    async code is interrupted because the engine cancels the junction's task on ``cancel()``.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: dict[int, Callable[[], object]] = {}
        self._next_handle = 0
        self.reason: str | None = None

    @property
    def cancelled(self) -> bool:
        """Whether ``cancel()`` has been called."""
        return self._event.is_set()

    def cancel(self, reason: str | None = None) -> bool:
        """Fire the token; returns False when it had already fired (the first reason stays)."""
        with self._lock:
            if self._event.is_set():
                return False
            self.reason = reason
            self._event.set()
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            callback()
        return True

    def raise_if_cancelled(self) -> None:
        """Raise TrainCancelled if the token has fired."""
        if self._event.is_set():
            raise TrainCancelled(self.reason)

    def sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds``; raise TrainCancelled at once if the token fires meanwhile."""
        if self._event.wait(max(seconds, 0.0)):
            raise TrainCancelled(self.reason)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the token fires or ``timeout`` passes; True if it fired."""
        return self._event.wait(timeout)

    def add_callback(self, callback: Callable[[], object]) -> int:
        """Call ``callback`` (once, from the cancelling thread) when the token fires.

        Runs immediately if it already has. Returns a handle for ``remove_callback``.
        """
        with self._lock:
            if not self._event.is_set():
                self._next_handle += 1
                self._callbacks[self._next_handle] = callback
                return self._next_handle
        callback()
        return 0

    def remove_callback(self, handle: int) -> None:
        """Forget a callback registered with ``add_callback``."""
        with self._lock:
            self._callbacks.pop(handle, None)

    def __repr__(self) -> str:
        state = f"cancelled ({self.reason})" if self.cancelled else "active"
        return f"<CancellationToken {state}>"
