"""The dashboard's live socket: staff only, errors for what it does not take, and one coalesced
message per burst of changes made by any process (LISTEN on PostgreSQL, a poll on SQLite)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

import trax
from dashboard.consumers import FORBIDDEN, LiveConsumer
from dashboard.live.hub import ALL_TOPICS, hub, topics_of
from tests.dashboard.users import operator
from trax.events.channels import CAPACITY_FREED, CHANGED, JOBS_READY, WORK_QUEUED
from trax.events.listener import RECONNECTED, Event

#: The socket tests: async, and on a database other processes' commits reach (NOTIFY is sent
#: at commit).
in_a_transactional_db = pytest.mark.django_db(transaction=True)


@pytest_asyncio.fixture
async def fast_hub(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    monkeypatch.setattr(hub, "poll_seconds", 0.2)
    monkeypatch.setattr(hub, "coalesce_seconds", 0.1)
    yield
    await hub.stop()


async def user(*, staff: bool, may_view: bool = True) -> Any:
    if staff and may_view:
        return await database_sync_to_async(operator)()
    return await database_sync_to_async(get_user_model().objects.create_user)(
        f"u-{staff}", password="x", is_staff=staff
    )


def socket(who: Any) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(LiveConsumer.as_asgi(), "/trax/live/")
    communicator.scope["user"] = who
    return communicator


@pytest.mark.asyncio
@in_a_transactional_db
@pytest.mark.parametrize("who", ["anonymous", "not staff", "staff without view_console"])
async def test_sockets_of_those_who_may_not_view_the_console_are_refused(who: str) -> None:
    if who == "anonymous":
        refused: Any = AnonymousUser()
    else:
        refused = await user(staff=who != "not staff", may_view=False)

    communicator = socket(refused)
    await communicator.connect()

    assert await communicator.receive_output() == {"type": "websocket.close", "code": FORBIDDEN}


@pytest.mark.asyncio
@in_a_transactional_db
async def test_a_message_the_socket_does_not_take_gets_an_error_naming_it(fast_hub: None) -> None:
    communicator = socket(await user(staff=True))
    assert (await communicator.connect())[0]

    await communicator.send_to(text_data="{not json")
    assert json.loads(await communicator.receive_from()) == {"type": "error", "error": "not JSON"}
    await communicator.send_to(text_data=json.dumps({"type": "cancel"}))
    error = json.loads(await communicator.receive_from())
    assert error["type"] == "error" and "'cancel'" in error["error"]
    await communicator.disconnect()


@pytest.mark.asyncio
@in_a_transactional_db
async def test_a_burst_of_changes_reaches_an_open_socket_as_one_message(fast_hub: None) -> None:
    communicator = socket(await user(staff=True))
    assert (await communicator.connect())[0]
    assert await communicator.receive_nothing(timeout=0.6), "a message while nothing changed"

    await database_sync_to_async(trax.enqueue_many)("demo.greet", [{"name": "a"}] * 3)
    message = json.loads(await communicator.receive_from(timeout=5))

    assert message["type"] == "changed"
    assert set(message["topics"]) & {"queue", "runs"}
    assert await communicator.receive_nothing(timeout=0.6), "the burst was not coalesced"
    await communicator.disconnect()


def test_each_channel_names_the_topics_it_touches() -> None:
    def topics(*events: tuple[str, str] | str) -> set[str]:
        return topics_of(Event(*e) if isinstance(e, tuple) else Event(e, "") for e in events)

    assert topics(WORK_QUEUED) == {"queue"}
    assert topics(CAPACITY_FREED) == {"runs", "queue"}
    assert topics(JOBS_READY, WORK_QUEUED) == {"queue", "runs"}
    assert topics(RECONNECTED) == set(ALL_TOPICS)
    assert topics((CHANGED, "dead_letters"), (CHANGED, "processes")) == {
        "dead_letters",
        "processes",
    }
    assert topics((CHANGED, "<script>")) == set(), "an unknown topic is dropped"
    assert topics("elsewhere") == set()
