"""Plain helpers and constants for tests (no fixtures here: those are in tests/fixtures/).

Import what you need from here, never from a conftest.py or another test file.
"""

from __future__ import annotations

import asyncio
import functools
import io
import os
import socket
import subprocess
from datetime import datetime
from pathlib import Path

from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from bot.config import CONTENT_DIR
from bot.services import accounts
from bot.services import broadcasts as broadcast_service
from bot.services.broadcasts import Audience, Draft
from bot.services.crypto import Vault
from bot.services.knowledge import Knowledge
from storage import broadcasts, cases, db, people, subscriptions, unions
from storage.models import Broadcast, BroadcastDelivery, Evidence, Person

ROOT = Path(__file__).resolve().parents[1]
# Under CI=true nothing may be skipped for lack of a service: a missing one is a failure.
IN_CI = os.environ.get("CI", "").lower() == "true"
# A fixed key for data encrypted at rest in tests (never used outside them).
TEST_KEY = "n7b0H6m0m8o3iWq0g2pQy6GqzqH7kXw7oY3p8cQ5b1E="
TEST_VAULT = Vault([TEST_KEY])
# The union directory every test database is seeded with (unions, wards, workplaces).
SAMPLE_DIRECTORY = ROOT / "content" / "directory" / "sample.yaml"
# ../shared beside the project, where content/ copies some files from.
SHARED = ROOT.parent / "shared"


async def count(sessions: db.Sessions, model: type, *where: object) -> int:
    """How many rows of `model` match `where`, read in a session of its own."""
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@functools.cache
def shared_knowledge() -> Knowledge:
    """The knowledge base of content/, built once per test run (it is immutable)."""
    return Knowledge.load(CONTENT_DIR)


# -- running the command line as a newcomer would ------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the app's settings, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DATABASE_URL", "TELEGRAM_", "ZALO_", "PUBLIC_URL", "HTTP_", "UNIONBOT_")
        )
    }
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    """Run a command in `cwd` with `stdin` typed in, in a clean environment plus `env`."""
    return subprocess.run(
        args, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120,
        env=clean_env(**env),
    )  # fmt: skip


# -- files a worker sends as evidence, with the hidden data the scrubber must remove -------

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


def jpeg_with_gps(width: int = 300, height: int = 200) -> bytes:
    """A photo as a phone takes it: GPS position, camera make, a comment, rotated 90°."""
    image = Image.new("RGB", (width, height), "red")
    image.paste((0, 0, 255), (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "PhoneOfLan"
    exif[GPS_IFD] = {1: "N", 2: (11.0, 56.0, 30.0), 3: "E", 4: (108.0, 26.0, 15.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"Nguyen Thi Lan")
    return out.getvalue()


def pdf_with_metadata() -> bytes:
    """A two-page PDF whose metadata and XMP name its author."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_blank_page(595, 842)
    writer.add_metadata({"/Author": "Nguyen Thi Lan", "/Creator": "LanLaptop", "/Title": "Luong"})
    writer.xmp_metadata = (
        b'<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Nguyen Thi Lan</dc:creator>'
        b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def wait_fetched(sessions, expected: int, timeout: float = 15.0) -> list[Evidence]:
    """Wait until the background fetcher has dealt with `expected` files."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with sessions() as session:
            rows = (
                await session.scalars(
                    select(Evidence).options(undefer(Evidence.content)).order_by(Evidence.id)
                )
            ).all()
        done = [r for r in rows if r.status != "pending"]
        if len(done) >= expected:
            return list(rows)
        assert asyncio.get_running_loop().time() < deadline, [r.status for r in rows]
        await asyncio.sleep(0.1)


# -- quick polls -----------------------------------------------------------------------------


async def poll_worker(
    session,
    user: str,
    now: datetime,
    *,
    union: str | None = None,
    workplace: str | None = None,
    contract: str | None = None,
    channel: str = "telegram",
) -> Person:
    """A worker subscribed to policy news; with `union`, linked to it (and to `workplace`, in
    its ward) by a request under their name: a membership request answering `contract`,
    else a grievance."""
    person = await people.create(session, channel, user, "vi", now)
    await subscriptions.subscribe(session, person.id, ["policy"], now)
    if union is not None:
        found = await unions.by_code(session, union)
        place = await unions.workplace_named(session, workplace) if workplace else None
        await cases.open(
            session, kind="membership" if contract else "grievance", union_id=found.id,
            person_id=person.id, text="…", now=now, category=contract or "wages",
            details={"contract": contract} if contract else {},
            workplace_id=place.id if place else None, ward_id=place.ward_id if place else None,
        )  # fmt: skip
    return person


async def sent_poll(
    session, options: tuple[str, ...], now: datetime, text: str = "Bạn có muốn tăng ca không?",
    *, started: bool = True,
) -> Broadcast:  # fmt: skip
    """A quick poll from an admin to every subscriber, as if a second admin approved it;
    `started`: started as the broadcaster starts it and every delivery recorded as sent."""
    admin = await accounts.add_officer(
        session, union_code="FED-ROOT", name="Chị Hạnh", role="admin", now=now
    )
    root = await unions.root(session)
    draft = Draft(Audience(root.id), text, poll_options=options)
    poll = await broadcast_service.compose(session, admin, draft, now)
    poll.status = "scheduled"
    if not started:
        await session.flush()
        return poll
    filters = await broadcast_service.filters(session, Audience.of(poll))
    await broadcasts.start(session, poll.id, filters, now)
    ids = await session.scalars(
        select(BroadcastDelivery.id).where(BroadcastDelivery.broadcast_id == poll.id)
    )
    await broadcasts.settle(session, list(ids), "sent", now)
    await session.refresh(poll)
    return poll
