"""What the manager and the dispatcher share: a failing step or row is reported and skipped,
and the rest of the cycle runs."""

from trax.housekeeping.isolation import (
    CONNECTION_ERRORS,
    FaultReporter,
    IsolatedCycle,
    isolated,
    report_refused,
)

__all__ = ["CONNECTION_ERRORS", "FaultReporter", "IsolatedCycle", "isolated", "report_refused"]
