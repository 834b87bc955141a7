"""`unionbot db backup` and `unionbot db restore` (SQLite): a copy made while the bot serves
and writes, restored into a fresh folder, carries the bot on; the key is never in it; and a
restore that would lose data, read a stranger's file or pull the database from under a
running bot is refused with nothing changed."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import io
import itertools
import json
import os
import shutil
import sqlite3
import stat
import sys
from contextlib import closing
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot import cli
from bot.services.crypto import Vault
from bot.services.i18n import Catalogs
from storage import backup, db
from storage.models import Case, Conversation, Person, Union
from tests.fakes.telegram_api import FakeTelegram, TelegramUser
from tests.support import ROOT, SAMPLE_DIRECTORY, TEST_KEY, TEST_VAULT, clean_env

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
CATALOGS = Catalogs(ROOT / "content" / "locales")
BACKED_UP = (
    "Backed up {database} into {file}. The encryption key is not in it: keep the key "
    "backed up separately."
)
RESTORED = (
    "Restored {file} into {database}; its schema is up to date. Start the bot with: unionbot serve"
)
NOT_EMPTY = (
    "{path} holds a database already; nothing was changed. To replace it with the backup, "
    "add --force"
)
IN_USE = (
    "a bot process (unionbot serve or chat) is using {path} right now: stop it first; "
    "nothing was changed"
)
NOT_OURS = "{path} is not a database of this bot ({detail}); nothing was changed"
PHONE = "0987 654 321"


def said(message: str, **fields: object) -> str:
    """A message as the command line prints it: in the default language (Vietnamese) where
    the catalog has it."""
    return CATALOGS.get("vi").gettext(message).format(**fields)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def unionbot(cwd: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """Run the command line in its own process while this one's event loop (the bot) goes on."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env=clean_env(**env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def register_interest(worker: TelegramUser) -> None:
    """A worker asks to join the union: a case, with their name and phone sealed."""
    await worker.say("/start")
    await worker.press("Gia nhập công đoàn")
    await worker.press("Tôi đồng ý")
    await worker.say("Trần Thị Hoa")
    await worker.say(PHONE)
    await worker.say("xuong may lang biang")
    await worker.press("Đúng rồi")
    await worker.press("Có, tôi có hợp đồng lao động")
    await worker.press("Bỏ qua")
    await worker.press("Gửi")


async def keep_writing(fake: FakeTelegram, stop: asyncio.Event) -> int:
    """New people greet the bot until `stop`: the serving bot writes all along; how many."""
    for written in itertools.count():
        if stop.is_set():
            return written
        await fake.deliver(fake.text_update(8000 + written, "/start"))
    raise AssertionError("unreachable")


@SQLITE_ONLY
async def test_a_backup_made_while_the_bot_serves_restores_into_a_bot_that_carries_on(
    start_bot, fake_telegram, db_url, tmp_path
):
    source = backup.sqlite_file(db_url)
    assert source is not None
    first = await start_bot()
    await register_interest(TelegramUser(fake_telegram, 701))
    an = TelegramUser(fake_telegram, 702)  # half-way through the same form: a sealed draft
    await an.say("/start")
    await an.press("Gia nhập công đoàn")
    await an.press("Tôi đồng ý")
    await an.say("Nguyễn Văn An")
    await first.runtime.settle()
    assert source.with_name(source.name + "-wal").is_file()  # held open by the bot, WAL mode

    folder = tmp_path / "backups"
    folder.mkdir()
    file = folder / "unionbot-2026-11-25.db"
    stop = asyncio.Event()
    writer = asyncio.create_task(keep_writing(fake_telegram, stop))
    code, out, err = await unionbot(tmp_path, "db", "backup", str(file), DATABASE_URL=db_url,
                                    UNIONBOT_ENCRYPTION_KEY=TEST_KEY)  # fmt: skip
    stop.set()
    assert await writer > 0
    assert (code, err) == (0, "")
    assert out == said(BACKED_UP, database=source, file=file) + "\n"
    assert [p.name for p in folder.iterdir()] == [file.name]  # nothing half-written beside
    assert mode(file) == 0o600
    await first.stop()

    content = file.read_bytes()
    assert b"GN-2026-000001" in content  # the search below finds what is there
    raw_key = base64.urlsafe_b64decode(TEST_KEY)  # signing half, then encryption half
    for secret in (TEST_KEY.encode(), raw_key, raw_key[:16], raw_key[16:]):
        assert secret not in content
    assert query(file, "PRAGMA integrity_check") == [("ok",)]

    restored = tmp_path / "fresh" / "unionbot.db"  # a folder that does not exist yet
    url = f"sqlite+aiosqlite:///{restored}"
    code, out, err = await unionbot(tmp_path, "db", "restore", str(file), DATABASE_URL=url,
                                    UNIONBOT_ENCRYPTION_KEY=TEST_KEY)  # fmt: skip
    assert (code, err) == (0, "")
    assert out == said(RESTORED, file=file, database=restored) + "\n"
    assert mode(restored) == 0o600
    await sealed_fields_open_with_the_key_only(url)
    await the_restored_bot_carries_on(start_bot, fake_telegram, url)


async def sealed_fields_open_with_the_key_only(url: str) -> None:
    database = db.Database.open(url)
    try:
        async with database.sessions() as session:
            case = (await session.scalars(select(Case))).one()
            person = await session.scalar(select(Person).where(Person.channel_user_id == "701"))
            draft = (await session.scalars(select(Conversation.state))).all()
    finally:
        await database.close()
    assert case.code == "GN-2026-000001" and case.contact_sealed and person
    assert json.loads(TEST_VAULT.open(case.contact_sealed))["phone"] == "0987654321"
    assert person.phone_encrypted and TEST_VAULT.open(person.phone_encrypted) == "0987654321"
    [sealed_draft] = [state["sealed"] for state in draft if "sealed" in state]
    assert "Nguyễn Văn An" in TEST_VAULT.open(sealed_draft.encode())
    other = Vault([Fernet.generate_key().decode()])
    for token in (case.contact_sealed, person.phone_encrypted, sealed_draft.encode()):
        with pytest.raises(ValueError, match="sealed with a key that is not configured"):
            other.open(token)


async def the_restored_bot_carries_on(start_bot, fake: FakeTelegram, url: str) -> None:
    """The bot started on the restored file lists the case, and the worker half-way through
    the form goes on where they were: the next question, their name in the review."""
    bot = await start_bot(database_url=url)
    await bot.runtime.settle()  # what was pending in the copy goes out first

    async def send(update: dict) -> str:
        await fake.deliver(update)
        await bot.runtime.settle()
        return str(fake.sent(update_chat(update))[-1]["text"])

    assert "GN-2026-000001 · Gia nhập · đã tiếp nhận" in await send(fake.text_update(701, "/hoso"))
    assert (await send(fake.text_update(702, PHONE))).startswith("Bạn làm ở đâu?")
    assert await send(fake.text_update(702, "KS Thông Xanh")) == (
        "Mình hiểu là Công ty CP Khách sạn Thông Xanh, đúng không?"
    )
    await send(fake.press_update(702, "Đúng rồi"))
    await send(fake.press_update(702, "Có, tôi có hợp đồng lao động"))
    review = await send(fake.press_update(702, "Bỏ qua"))
    assert review.startswith("Bạn xem lại trước khi gửi nhé:\n• Họ tên: Nguyễn Văn An\n")
    assert "Mã hồ sơ: GN-2026-000002." in await send(fake.press_update(702, "Gửi"))


def update_chat(update: dict) -> int:
    message = update.get("message") or update["callback_query"]["message"]
    return int(message["chat"]["id"])


# -- refusals, in this process -------------------------------------------------------------


@pytest.fixture
def command(tmp_path, monkeypatch, capsys):
    """command(*args, **env) -> (exit code, stdout, stderr): the command line in this process,
    in a fresh folder with no configuration but `env`."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("DATABASE_URL", "TELEGRAM_", "PUBLIC_URL", "HTTP_", "UNIONBOT_")):
            monkeypatch.delenv(name)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def run(*args: str, **env: str) -> tuple[int, str, str]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code = cli.main(list(args))
        for name in env:
            monkeypatch.delenv(name)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def bot_database(template: Path, path: Path) -> Path:
    """A bot database at the newest schema, with nothing in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    return path


def url_of(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def query(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as database, database:
        return database.execute(sql).fetchall()


def unions_in(path: Path) -> int:
    [(found,)] = query(path, f"SELECT count(*) FROM {Union.__tablename__}")
    return int(found)


def test_restore_replaces_a_database_that_holds_data_only_when_forced(
    command, sqlite_template, tmp_path
):
    copy = bot_database(sqlite_template, tmp_path / "copy.db")
    code, out, err = command("directory", "import", str(SAMPLE_DIRECTORY),
                             DATABASE_URL=url_of(copy))  # fmt: skip
    assert code == 0, err
    target = bot_database(sqlite_template, tmp_path / "live" / "unionbot.db")
    before = target.read_bytes()

    code, out, err = command("db", "restore", str(copy), DATABASE_URL=url_of(target))
    assert (code, out) == (1, "")
    assert err == f"unionbot: {said(NOT_EMPTY, path=target)}\n"
    assert target.read_bytes() == before and unions_in(target) == 0

    code, out, err = command("db", "restore", "--force", str(copy), DATABASE_URL=url_of(target))
    assert (code, err) == (0, "")
    assert out == said(RESTORED, file=copy, database=target) + "\n"
    assert unions_in(target) == 12 and mode(target) == 0o600

    empty = tmp_path / "empty" / "unionbot.db"  # an empty file is an empty database
    empty.parent.mkdir()
    empty.touch()
    assert command("db", "restore", str(copy), DATABASE_URL=url_of(empty))[0] == 0
    assert unions_in(empty) == 12


def test_restore_refuses_what_is_not_a_database_of_this_bot(command, sqlite_template, tmp_path):
    fresh = tmp_path / "fresh"
    target = fresh / "unionbot.db"
    notes = tmp_path / "notes.txt"
    notes.write_text("không phải cơ sở dữ liệu\n" * 100, "utf-8")
    stranger = tmp_path / "stranger.db"
    query(stranger, "CREATE TABLE contacts (name TEXT)")
    newer = bot_database(sqlite_template, tmp_path / "newer.db")
    query(newer, "UPDATE alembic_version SET version_num = '9001'")

    for file, message in (
        (notes, said(NOT_OURS, path=notes, detail="file is not a database")),
        (stranger, said(NOT_OURS, path=stranger, detail="no such table: alembic_version")),
        (newer, said(
            "{path} has the schema revision {detail}, which this version of the bot does not "
            "know (a newer version made it): update the bot first; nothing was changed",
            path=newer, detail="9001",
        )),
        (tmp_path / "missing.db", said("there is no database at {path}",
                                       path=tmp_path / "missing.db")),
    ):  # fmt: skip
        code, out, err = command("db", "restore", "--force", str(file), DATABASE_URL=url_of(target))
        assert (code, out, err) == (1, "", f"unionbot: {message}\n"), file
    assert not fresh.exists()  # nothing was made, not even the folder


def test_an_older_backup_is_upgraded_when_restored(command, tmp_path):
    old = tmp_path / "old.db"

    async def make_old() -> None:
        engine = db.create_engine(url_of(old))
        try:
            await db.upgrade(engine, "0012")
        finally:
            await engine.dispose()

    asyncio.run(make_old())
    target = tmp_path / "fresh" / "unionbot.db"
    code, _out, err = command("db", "restore", str(old), DATABASE_URL=url_of(target))
    assert (code, err) == (0, ""), err
    head = ScriptDirectory.from_config(db.alembic_config(url_of(target))).get_heads()
    assert query(target, "SELECT version_num FROM alembic_version") == [(rev,) for rev in head]
    # The backup itself is left as it was.
    assert query(old, "SELECT version_num FROM alembic_version") == [("0012",)]


def test_restore_refuses_while_a_bot_process_holds_the_database(command, sqlite_template, tmp_path):
    copy = bot_database(sqlite_template, tmp_path / "copy.db")
    target = bot_database(sqlite_template, tmp_path / "live" / "unionbot.db")
    before = target.read_bytes()
    lock = backup.lock_path(target)
    assert lock == tmp_path / "live" / "unionbot.db.lock"
    # What `unionbot serve` holds while it runs (an exclusive flock, its own open file).
    with lock.open("a") as serving:
        fcntl.flock(serving, fcntl.LOCK_EX)
        code, out, err = command("db", "restore", "--force", str(copy), DATABASE_URL=url_of(target))
        assert (code, out) == (1, "")
        assert err == f"unionbot: {said(IN_USE, path=target)}\n"
        assert target.read_bytes() == before
    # The bot stopped: the same command goes through.
    assert command("db", "restore", "--force", str(copy), DATABASE_URL=url_of(target))[0] == 0


def test_backup_is_private_replaces_an_older_one_only_when_done_and_warns_beside_the_key(
    command, tmp_path
):
    assert command("officer", "list")[0] == 0  # the embedded default: ./data with its key
    database, key = tmp_path / "data" / "unionbot.db", tmp_path / "data" / "unionbot.key"
    assert database.is_file() and key.is_file()
    older = tmp_path / "backup.db"
    older.write_bytes(b"an older backup")
    older.chmod(0o644)

    code, out, err = command("db", "backup", "backup.db")
    assert (code, err) == (0, "")
    assert out == said(BACKED_UP, database=database, file=Path("backup.db")) + "\n"
    assert mode(older) == 0o600 and older.read_bytes().startswith(b"SQLite format 3\0")
    assert key.read_bytes().strip() not in older.read_bytes()

    code, out, err = command("db", "backup", "data/copy.db")
    assert code == 0 and (tmp_path / "data" / "copy.db").is_file()
    warning = said(
        "warning: {file} is in the same folder as the encryption key {key}; a copy of that "
        "folder holds both, and the key opens what the backup keeps sealed. Keep the key and "
        "the backups apart.",
        file=Path("data/copy.db"), key=key,
    )  # fmt: skip
    assert err == f"unionbot: {warning}\n"

    code, out, err = command("db", "backup", "data/unionbot.db")
    itself = said("{path} is the database itself; nothing was changed", path="data/unionbot.db")
    assert (code, out, err) == (1, "", f"unionbot: {itself}\n")


def test_backup_copies_what_only_the_wal_holds_while_a_write_is_under_way(
    command, sqlite_template, tmp_path
):
    """What the serving process committed may be only in the -wal file (a copy of the
    database file alone misses it); a write under way neither blocks the backup nor gets
    into it half-done."""
    database = bot_database(sqlite_template, tmp_path / "data" / "unionbot.db")
    with closing(sqlite3.connect(database, isolation_level=None)) as serving:
        serving.execute("PRAGMA wal_autocheckpoint=0")  # nothing moves into the file itself
        assert serving.execute("SELECT count(*) FROM unions").fetchall() == [(0,)]  # it is open
        code, _out, err = command("directory", "import", str(SAMPLE_DIRECTORY),
                                  DATABASE_URL=url_of(database))  # fmt: skip
        assert code == 0, err
        file_alone = shutil.copyfile(database, tmp_path / "file-alone.db")
        assert unions_in(file_alone) == 0  # the import is in the -wal only
        serving.execute("BEGIN IMMEDIATE")
        serving.execute("UPDATE unions SET name = 'half-done'")
        code, _out, err = command("db", "backup", "backup.db", DATABASE_URL=url_of(database))
        assert (code, err) == (0, "")
        serving.execute("ROLLBACK")
    copy = tmp_path / "backup.db"
    assert unions_in(copy) == 12
    assert query(copy, "SELECT count(*) FROM unions WHERE name = 'half-done'") == [(0,)]
    assert query(copy, "PRAGMA journal_mode") == [("delete",)]  # one file, no -wal to lose


def test_a_failed_backup_leaves_the_older_one_and_nothing_half_written(command, tmp_path):
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database " * 1000)
    folder = tmp_path / "backups"
    folder.mkdir()
    older = folder / "backup.db"
    older.write_bytes(b"the older backup")
    code, out, err = command("db", "backup", str(older), DATABASE_URL=url_of(broken))
    assert (code, out) == (1, "")
    refused = said(NOT_OURS, path=broken, detail="file is not a database")
    assert err == f"unionbot: {refused}\n"
    assert [p.name for p in folder.iterdir()] == ["backup.db"]
    assert older.read_bytes() == b"the older backup"
    code, out, err = command("db", "backup", str(tmp_path / "nowhere" / "backup.db"),
                             DATABASE_URL=url_of(broken))  # fmt: skip
    nowhere = said("there is no folder {path}; nothing was changed", path=tmp_path / "nowhere")
    assert (code, out, err) == (1, "", f"unionbot: {nowhere}\n")


@pytest.mark.parametrize(
    ("action", "told"),
    [
        ("backup", "pg_dump --format=custom --file '{file}' "
                   "postgresql://officer@db.example:5433/unionbot"),
        ("restore", "pg_restore --clean --if-exists --dbname "
                    "postgresql://officer@db.example:5433/unionbot '{file}'"),
    ],
)  # fmt: skip
def test_postgresql_is_sent_to_its_own_tools(command, tmp_path, action, told):
    file = tmp_path / "union backup.dump"
    url = "postgresql+asyncpg://officer:s3cret@db.example:5433/unionbot?ssl=require"
    code, out, err = command("db", action, str(file), DATABASE_URL=url)
    assert (code, out) == (2, "")
    assert err.startswith("unionbot: ") and err.endswith(f"\n  {told.format(file=file)}\n")
    assert "s3cret" not in err and "asyncpg" not in err
    assert not file.exists()
