"""Running long-lived services together: each on its own thread; if one dies, all stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

logger = logging.getLogger("trax.services")


@dataclass
class Service:
    """A named loop (``run``) and how to ask it to return (``stop``)."""

    name: str
    run: Callable[[], None]
    stop: Callable[[], None]


class Supervisor:
    """Starts services on threads; ``wait`` returns when all ended or one died (then the
    others are stopped)."""

    def __init__(self, services: Sequence[Service]) -> None:
        self.services = list(services)
        self.failed: list[str] = []
        self._ended = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for service in self.services:
            thread = threading.Thread(
                target=self._guard, args=(service,), name=f"trax-{service.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _guard(self, service: Service) -> None:
        try:
            service.run()
        except BaseException:
            logger.exception("service %s died; stopping the others", service.name)
            self.failed.append(service.name)
        finally:
            self._ended.set()

    def wait(self, stop_requested: threading.Event) -> None:
        """Block until ``stop_requested`` is set or a service ends; then stop all and join."""
        while not stop_requested.is_set() and not self._ended.is_set():
            stop_requested.wait(0.2)
        self.stop_all()

    def stop_all(self) -> None:
        for service in self.services:
            try:
                service.stop()
            except Exception:
                logger.exception("stopping %s failed", service.name)
        for thread in self._threads:
            thread.join()
