"""Ending an officer's access from the command line: deactivate, reset a password, unlink
Telegram, remove an officers' group. Real processes in a fresh folder (SQLite), like
tests/test_cli.py; the database is read and seeded beside them."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.services import accounts
from storage import db
from storage.models import AuditEntry, Officer, OfficerGroup, OfficerSession
from tests.support import run
from tests.untranslated import leaks

UNIONBOT = [sys.executable, "-m", "bot", "officer"]


def officer(tmp_path: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    done = run([*UNIONBOT, *args], tmp_path, stdin)
    return done.returncode, done.stdout, done.stderr


async def open_session(tmp_path: Path, officer_id: int) -> None:
    """A dashboard login of this officer, as the web server would store it."""
    database = db.Database.open(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'unionbot.db'}")
    now = datetime.now(UTC)
    async with database.sessions() as session:
        session.add(
            OfficerSession(
                token_tag=f"tag-{officer_id}-{now.timestamp()}", officer_id=officer_id, csrf="c",
                created_at=now, last_seen_at=now, expires_at=now + timedelta(hours=12),
            )
        )  # fmt: skip
        await session.commit()
    await database.close()


async def read(tmp_path: Path, query):
    database = db.Database.open(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'unionbot.db'}")
    async with database.sessions() as session:
        rows = (await session.scalars(query)).all()
    await database.close()
    return rows


async def cli_audit(tmp_path: Path) -> list[str]:
    """What the command line recorded in the audit log, accounts added aside."""
    query = select(AuditEntry.action).where(
        AuditEntry.actor == "cli", AuditEntry.action != "officer.added"
    )
    return list(await read(tmp_path, query.order_by(AuditEntry.id)))


@pytest.fixture
def two_officers(tmp_path):
    """binh (1, login and Telegram 7001) of GR-SUACAONGUYEN, and the only admin (2)."""
    added = officer(tmp_path, "add", "--union", "GR-SUACAONGUYEN", "--name", "Trần Thị Bình",
                    "--login", "binh", "--password-stdin", "--telegram-id", "7001",
                    stdin="mat-khau-dai-du\n")  # fmt: skip
    assert added[0] == 0, added[2]
    admin = officer(tmp_path, "add", "--union", "FED-ROOT", "--name", "Quản trị", "--role",
                    "admin", "--login", "admin", "--password-stdin",
                    stdin="mat-khau-quan-tri\n")  # fmt: skip
    assert admin[0] == 0, admin[2]
    return tmp_path


async def test_deactivating_an_officer_ends_every_access_at_once(two_officers):
    tmp_path = two_officers
    said = []
    assert officer(tmp_path, "group", "GR-SUACAONGUYEN", "-100555")[0] == 0
    await open_session(tmp_path, 1)
    await open_session(tmp_path, 1)
    await open_session(tmp_path, 2)
    code, out, err = officer(tmp_path, "deactivate", "binh")
    said += [out, err]
    assert code == 0, err
    assert out.startswith("Đã vô hiệu hoá tài khoản cán bộ 1: Trần Thị Bình.")
    assert "2 phiên đăng nhập" in out
    assert "-100555" in out and "unionbot officer group remove" in out
    [binh] = await read(tmp_path, select(Officer).where(Officer.id == 1))
    assert (binh.active, binh.telegram_user_id, binh.password_hash) == (False, None, None)
    assert [s.officer_id for s in await read(tmp_path, select(OfficerSession))] == [2]
    audited = await read(tmp_path, select(AuditEntry).where(AuditEntry.action.like("%.deact%")))
    assert [(a.action, a.actor, a.detail) for a in audited] == [
        ("officer.deactivated", "cli", {"officer": 1})
    ]
    listing = officer(tmp_path, "list")[1].splitlines()
    assert listing[0] == "1\tbinh\tCán bộ\tGR-SUACAONGUYEN\t-\tđã vô hiệu hoá\tTrần Thị Bình"
    assert listing[1] == "2\tadmin\tQuản trị viên\tFED-ROOT\t-\tđang hoạt động\tQuản trị"
    for again in (["deactivate", "1"], ["invite", "binh"], ["unlink", "binh"]):
        code, out, err = officer(tmp_path, *again)
        said += [out, err]
        assert (code, out) == (2, ""), again
        assert "Trần Thị Bình đã bị vô hiệu hoá" in err, again
    commands = re.sub(r"unionbot officer [a-z ]+ CHAT_ID", " ", "\n".join(said))  # not words
    assert leaks(commands) == []


async def test_the_last_active_administrator_cannot_be_deactivated(two_officers):
    tmp_path = two_officers
    code, out, err = officer(tmp_path, "deactivate", "admin")
    assert (code, out) == (2, "")
    assert "Quản trị là quản trị viên cuối cùng còn hoạt động" in err
    [admin] = await read(tmp_path, select(Officer).where(Officer.id == 2))
    assert admin.active
    for nobody in ("nobody", "²", "9" * 30):  # "²" passes isdigit() and breaks int()
        code, _out, err = officer(tmp_path, "deactivate", nobody)
        assert code == 2 and f"Không có cán bộ “{nobody}”" in err
    added = officer(tmp_path, "add", "--union", "FED-ROOT", "--name", "Phó", "--role", "admin")
    assert added[0] == 0
    assert officer(tmp_path, "deactivate", "admin")[0] == 0


async def test_a_reset_password_ends_the_officers_sessions(two_officers):
    tmp_path = two_officers
    await open_session(tmp_path, 1)
    code, out, err = officer(tmp_path, "reset-password", "binh", "--password-stdin",
                             stdin="mat-khau-moi-hoan-toan\n")  # fmt: skip
    assert code == 0, err
    assert out.startswith("Đã đặt mật khẩu mới cho Trần Thị Bình;")
    assert leaks(out) == []
    [binh] = await read(tmp_path, select(Officer).where(Officer.id == 1))
    assert accounts.verify_password(binh.password_hash, "mat-khau-moi-hoan-toan")
    assert not accounts.verify_password(binh.password_hash, "mat-khau-dai-du")
    assert await read(tmp_path, select(OfficerSession)) == []
    short = officer(tmp_path, "reset-password", "binh", "--password-stdin", stdin="ngắn\n")
    assert short[0] == 2 and "ít nhất 10 ký tự" in short[2]
    added = officer(tmp_path, "add", "--union", "FED-ROOT", "--name", "Không Đăng Nhập")
    assert added[0] == 0
    code, _out, err = officer(tmp_path, "reset-password", "3", "--password-stdin",
                              stdin="mat-khau-moi-hoan-toan\n")  # fmt: skip
    assert code == 2 and "Không Đăng Nhập không có tên đăng nhập trang quản lý" in err
    assert await cli_audit(tmp_path) == ["officer.password_reset"]


async def test_unlinking_telegram_and_removing_a_group(two_officers):
    tmp_path = two_officers
    code, out, err = officer(tmp_path, "unlink", "binh")
    assert code == 0, err
    assert out.startswith("Đã gỡ liên kết Telegram khỏi tài khoản của Trần Thị Bình.")
    [binh] = await read(tmp_path, select(Officer).where(Officer.id == 1))
    assert binh.telegram_user_id is None and binh.active
    code, _out, err = officer(tmp_path, "unlink", "binh")
    assert code == 2 and "Trần Thị Bình chưa liên kết tài khoản Telegram" in err
    relink = officer(tmp_path, "invite", "binh")
    assert relink[0] == 0 and re.search(r"/canbo [A-Z0-9]{5}-[A-Z0-9]{5}", relink[1])

    assert officer(tmp_path, "group", "GR-SUACAONGUYEN", "-100555")[0] == 0
    code, out, err = officer(tmp_path, "group", "remove", "-100555")
    assert code == 0, err
    assert out == "Nhóm -100555 sẽ không còn được báo khi có hồ sơ mới.\n"
    assert await read(tmp_path, select(OfficerGroup)) == []
    code, _out, err = officer(tmp_path, "group", "remove", "-100555")
    assert code == 2 and "Không có nhóm -100555 nào đã đăng ký" in err
    assert await cli_audit(tmp_path) == [
        "officer.unlinked", "officer.invited", "group.registered", "group.removed",
    ]  # fmt: skip
    assert leaks(out + err) == []


def test_passwords_are_hashed_with_argon2id_at_its_recommended_cost():
    # The suite hashes with cheap settings (tests/conftest.py); the bot itself must not.
    from argon2 import Type

    from tests.conftest import BOT_HASHER

    assert BOT_HASHER.type is Type.ID
    assert BOT_HASHER.time_cost >= 3 and BOT_HASHER.memory_cost >= 64 * 1024
    stored = BOT_HASHER.hash("mat-khau-dai-du")
    assert stored.startswith("$argon2id$") and "m=65536,t=3" in stored
    assert accounts.verify_password(stored, "mat-khau-dai-du")  # either settings verify
    assert not accounts.verify_password(stored, "mat-khau-khac-han")
