"""The dashboard's WebSocket: staff only; tells an open page which topics changed."""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from dashboard.access import may_view
from dashboard.live.hub import GROUP, hub

#: Close code for a socket refused for want of a staff session (4000-4999: the application's).
FORBIDDEN = 4403


class LiveConsumer(AsyncWebsocketConsumer):
    """Joins the process's live group; each message is ``{"type": "changed", "topics": [...]}``.
    The page sends nothing yet: anything it sends gets an error message naming the problem."""

    async def connect(self) -> None:
        if not await database_sync_to_async(may_view)(self.scope.get("user")):
            # Accepted only to say why: a socket refused at the handshake reaches the page as
            # an anonymous 1006, and the page would keep retrying.
            await self.accept()
            await self.close(code=FORBIDDEN)
            return
        await self.channel_layer.group_add(GROUP, self.channel_name)
        hub.ensure_started()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data) if text_data is not None else None
        except ValueError:
            await self._error("not JSON")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        await self._error(f"unknown message type {kind!r}; this socket takes no messages yet")

    async def live_changed(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps({"type": "changed", "topics": event["topics"]}))

    async def _error(self, problem: str) -> None:
        await self.send(text_data=json.dumps({"type": "error", "error": problem}))
