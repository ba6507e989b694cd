"""Tokens of the runs executing in this process, so a cancel made here fires at once."""

from __future__ import annotations

import threading

from trax.core import CancellationToken

_lock = threading.Lock()
_tokens: dict[int, CancellationToken] = {}


def register(metadata_id: int, token: CancellationToken) -> None:
    """Remember the token of a run this process is executing."""
    with _lock:
        _tokens[metadata_id] = token


def unregister(metadata_id: int) -> None:
    """Forget a finished run's token."""
    with _lock:
        _tokens.pop(metadata_id, None)


def fire(metadata_ids: tuple[int, ...] | list[int], reason: str) -> int:
    """Cancel the local tokens of these runs; returns how many were running here."""
    with _lock:
        tokens = [_tokens[i] for i in metadata_ids if i in _tokens]
    for token in tokens:
        token.cancel(reason)
    return len(tokens)


def running() -> list[int]:
    """The runs executing in this process (a cancel watcher watches their flags)."""
    with _lock:
        return list(_tokens)
