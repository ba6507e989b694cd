"""A runtime setting changed while a real scheduler runs reaches it: its manager, polling every
60 s, starts cycling every 0.2 s within a couple of seconds of the change — its current long
sleep cut short — without a restart."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import Children, wait_for, wait_until_leading
from trax.models import Leader
from trax.store import runtime_settings_update

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("quiet_demo_schedules"),
]


def lease_expiry() -> object:
    return Leader.objects.filter(name="manager").values_list("expires_at", flat=True).first()


def test_a_shorter_manager_interval_applies_to_a_running_scheduler(children: Children) -> None:
    scheduler = children.dispatcher(settings={"MANAGER_POLLING_INTERVAL_SECONDS": 60})
    wait_until_leading(scheduler)
    # Each cycle renews the manager lease; at 60 s a second renewal is a minute away.
    first = wait_for(lease_expiry, "the first cycle's lease")
    changed_at = time.monotonic()

    runtime_settings_update(
        {"manager_polling_interval_seconds": 0.2}, actor="test", using="default"
    )

    wait_for(lambda: lease_expiry() != first, "the scheduler to cycle again", limit=10)
    assert time.monotonic() - changed_at < 5  # the 60 s sleep was cut short
    # And it keeps cycling at the new interval.
    second = lease_expiry()
    wait_for(lambda: lease_expiry() != second, "another cycle", limit=3)
