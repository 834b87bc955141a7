"""A person in the web chat at /chat, as a browser makes the requests: its own cookie jar,
the replies it has read.

    visitor = Visitor(http, url)              # http: an aiohttp.ClientSession with cookies
    await visitor.open()                      # GET /chat: the page sets the visitor cookie
    await visitor.say("/start")               # POST /chat/send; the HTTP status (202)
    await visitor.poll()                      # GET /chat/messages: the new replies
    await visitor.press("Gửi phản ánh")       # a button under the replies last read
    await visitor.press_payload("lang:vi")    # a payload as it is (forged, stale, unread)

There is no fake server here: the visitor talks to the real app (tests/fixtures/running_bot.py
`serve`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.channels.webchat import COOKIE


@dataclass
class Visitor:
    """A browser: its own cookie jar, the last reply id it has seen and the replies it last
    read (whose buttons `press` finds by label)."""

    http: aiohttp.ClientSession
    url: str
    after: int = 0
    last: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cookie(self) -> str | None:
        found = [c.value for c in self.http.cookie_jar if c.key == COOKIE]
        return found[0] if found else None

    async def open(self) -> aiohttp.ClientResponse:
        async with self.http.get(f"{self.url}/chat") as response:
            await response.read()
            return response

    async def post(self, body: dict[str, Any], message_id: str | None = None) -> int:
        data = {"id": message_id or str(uuid.uuid4())} | body
        # As the page's JSON.stringify sends it: UTF-8, not \u escapes.
        encoded = json.dumps(data, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        async with self.http.post(
            f"{self.url}/chat/send", data=encoded, headers=headers
        ) as response:
            return response.status

    async def say(self, text: str, message_id: str | None = None) -> int:
        return await self.post({"text": text}, message_id)

    async def press(self, label: str) -> int:
        """Press the button labelled `label` under the replies last read, as a worker would
        (the newest, if several show it); fails with the labels shown when none is."""
        rows = [row for reply in self.last for row in reply["buttons"]]
        found = [b["payload"] for row in rows for b in row if b["label"] == label]
        assert found, (
            f"no button {label!r} in the replies last read; the buttons shown were "
            f"{[[b['label'] for b in row] for row in rows]}"
        )
        return await self.press_payload(found[-1])

    async def press_payload(self, payload: str) -> int:
        """Send a button press carrying `payload` as it is, whether or not such a button was
        read: for forged or stale payloads, or a press before the replies are read."""
        return await self.post({"button": payload})

    async def poll(self, after: int | None = None) -> list[dict[str, Any]]:
        """One GET /chat/messages from `after` (default: after the last reply seen); what it
        finds becomes the replies last read."""
        start = self.after if after is None else after
        async with self.http.get(f"{self.url}/chat/messages", params={"after": start}) as resp:
            assert resp.status == 200
            assert resp.content_type == "application/json"
            found: list[dict[str, Any]] = await resp.json()
        if after is None and found:
            self.after = found[-1]["id"]
        if found:
            self.last = found
        return found
