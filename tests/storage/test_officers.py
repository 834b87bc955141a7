"""Officer data that outlives its use is deleted: expired or idle dashboard sessions and
expired Telegram link codes (`officers.forget_expired`, for any periodic job)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storage import directory, officers, unions
from storage.models import Officer, OfficerSession
from tests.support import SAMPLE_DIRECTORY

NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


async def test_expired_sessions_and_link_codes_are_deleted(sessions):
    async with sessions() as session:
        await unions.import_directory(session, directory.load(SAMPLE_DIRECTORY))
        union = await unions.by_code(session, "FED-ROOT")
        for name in ("old", "new"):
            officers.add(session, union_id=union.id, name=name, role="officer", now=NOW)
        await session.flush()
        old, new = (await session.scalars(select(Officer).order_by(Officer.id))).all()
        old.invite_tag, old.invite_expires_at = "old", NOW - timedelta(seconds=1)
        new.invite_tag, new.invite_expires_at = "new", NOW + timedelta(days=1)
        for tag, created, seen in (
            ("expired", NOW - timedelta(hours=12), NOW - timedelta(minutes=5)),
            ("idle", NOW - timedelta(hours=3), NOW - timedelta(hours=2)),
            ("live", NOW - timedelta(hours=3), NOW - timedelta(minutes=5)),
        ):
            session.add(OfficerSession(
                token_tag=tag, officer_id=old.id, csrf="c", created_at=created,
                last_seen_at=seen, expires_at=created + timedelta(hours=12),
            ))  # fmt: skip
        await session.commit()
    async with sessions() as session:
        assert await officers.forget_expired(session, NOW) == 3
        await session.commit()
    async with sessions() as session:
        assert (await session.scalars(select(OfficerSession.token_tag))).all() == ["live"]
        query = select(Officer.invite_tag, Officer.invite_expires_at).order_by(Officer.id)
        codes = (await session.execute(query)).all()
        assert [tag for tag, _expires in codes] == [None, "new"]
        assert codes[0][1] is None
        assert await officers.forget_expired(session, NOW) == 0
