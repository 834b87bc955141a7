"""The terminal: talk to the bot as a worker (`unionbot chat`).

Lines typed go through the same inbox, dispatcher and outbox as Telegram. Buttons are shown
as numbered lines. Typing a number presses its button, except where the bot waits for a
typed answer (a name, a phone, how many people): there "6" is the answer and "#6" presses.
"/tep PATH" sends a local file as if it were a photo, voice message or document (to try the
evidence step of a report).
"""

from __future__ import annotations

import asyncio
import itertools
import mimetypes
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from bot.channels.base import Delivery, FetchError, usable_text
from handlers.types import Attachment, Incoming
from storage.inbox import NewUpdate

PROMPT = "> "
PRESS = "#"  # "#6" always presses button 6, even where the bot waits for a typed number
FILE_COMMAND = "/tep "


class TerminalChannel:
    name = "terminal"
    keeps_history = False

    def __init__(self, user: str, out: TextIO | None = None) -> None:
        self.user = user
        self.out = out or sys.stdout
        self._choices: dict[str, str] = {}
        self._run = uuid.uuid4().hex[:12]
        self._counter = itertools.count(1)

    def update_for(self, line: str) -> NewUpdate:
        """The inbox row for a typed line: "#N" presses button N; a plain N is sent as text
        that names button N, which presses it unless the bot is waiting for a typed answer."""
        # In a C locale stdin hands bytes that are not UTF-8 over as lone surrogates.
        line = usable_text(line.rstrip("\r\n").replace("\x00", "")) or ""
        payload: dict[str, Any] = {"user": self.user}
        typed = line.strip()
        if typed.startswith(PRESS) and typed[len(PRESS) :].strip() in self._choices:
            payload["button"] = self._choices[typed[len(PRESS) :].strip()]
        elif typed in self._choices:
            payload["text"] = typed
            payload["numbered"] = self._choices[typed]
        elif line.startswith(FILE_COMMAND):
            payload["file"] = str(Path(line[len(FILE_COMMAND) :].strip()).expanduser().resolve())
        else:
            payload["text"] = line
        return NewUpdate(self.name, f"{self._run}-{next(self._counter)}", payload, sender=self.user)

    def to_incoming(self, payload: dict[str, Any]) -> Incoming | None:
        user = payload.get("user")
        if not isinstance(user, str):
            return None
        text, button, file = payload.get("text"), payload.get("button"), payload.get("file")
        numbered = payload.get("numbered")
        return Incoming(
            channel=self.name,
            user_id=user,
            chat_id=user,
            text=text if isinstance(text, str) else None,
            payload=button if isinstance(button, str) else None,
            attachments=(local_file(file),) if isinstance(file, str) else (),
            numbered=numbered if isinstance(numbered, str) and isinstance(text, str) else None,
        )

    async def send(self, delivery: Delivery) -> None:
        lines = ["", delivery.text]
        self._choices = {}
        number = 1
        for row in delivery.buttons:
            for label, payload in row:
                self._choices[str(number)] = payload
                lines.append(f"  {number}. {label}")
                number += 1
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    def numbered(self, delivery: Delivery) -> list[str]:
        """Buttons are buttons here: nothing to remember."""
        return []

    async def acknowledge(self, msg: Incoming) -> None:
        """Nothing to acknowledge in a terminal."""

    async def fetch(self, reference: str, limit: int) -> bytes:
        """A local file sent with /tep."""
        try:
            data = await asyncio.to_thread(_read, Path(reference), limit)
        except OSError as exc:
            raise FetchError(type(exc).__name__, permanent=True) from exc
        if data is None:
            raise FetchError("too large", permanent=True)
        return data


def _read(path: Path, limit: int) -> bytes | None:
    with path.open("rb") as file:
        data = file.read(limit + 1)
    return None if len(data) > limit else data


def local_file(path: str) -> Attachment:
    """An Attachment for a local file: a picture is a photo, an .ogg a voice message."""
    mime = mimetypes.guess_type(path)[0]
    kind = "photo" if mime in {"image/jpeg", "image/png"} else "document"
    if mime in {"audio/ogg", "audio/opus"}:
        kind = "voice"
    try:
        size: int | None = Path(path).stat().st_size
    except OSError:
        size = None
    return Attachment(kind, reference=path, size=size, mime=mime)


async def converse(
    channel: TerminalChannel,
    receive: Callable[[NewUpdate], Awaitable[None]],
    banner: str,
    read_line: Callable[[], Awaitable[str]] | None = None,
) -> None:
    """Read lines until end of input (Ctrl-D) or /quit; `receive` stores one and waits until
    the replies are shown."""
    read = read_line or _stdin_line
    channel.out.write(banner + "\n")
    while True:
        channel.out.write(PROMPT)
        channel.out.flush()
        line = await read()
        if not line or line.strip() in {"/quit", "/exit"}:
            channel.out.write("\n")
            return
        if not line.strip():
            continue
        await receive(channel.update_for(line))


async def _stdin_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
