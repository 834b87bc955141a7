"""`unionbot doctor` against a fake deployment: a correctly configured one passes; each fault
planted in it is named, with its fix, and blocks workers (exit status 1) or only warns."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import text

from bot import doctor
from bot.channels import zalo
from bot.config import Settings
from bot.services import accounts, knowledge
from bot.services.crypto import Vault
from storage import db, unions
from storage.directory import Directory, WorkplaceEntry
from storage.directory import load as load_directory
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_api import FakeZalo
from tests.support import SAMPLE_DIRECTORY, TEST_KEY, clean_env, free_port

MIGRATIONS = Path(db.__file__).parent / "migrations" / "versions"

PUBLIC_URL = "https://bot.congdoan.example"
Findings = list[doctor.Finding]


class Deployment:
    """A deployment on the test database, the fake Telegram and the fake Zalo, configured as
    an operator would; `env` is its environment, `settings` what the bot reads from it."""

    def __init__(self, db_url: str, folder: Path, keys: Path, telegram: FakeTelegram,
                 zalo_api: FakeZalo) -> None:  # fmt: skip
        self.db_url, self.folder, self.key = db_url, folder, keys / "unionbot.key"
        self.telegram, self.zalo = telegram, zalo_api
        self.env = {
            "DATABASE_URL": db_url, "UNIONBOT_KEY_FILE": str(self.key),
            "UNIONBOT_AUTO_UPGRADE": "off", "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_BASE": telegram.api_base, "PUBLIC_URL": PUBLIC_URL,
            "ZALO_APP_ID": zalo_api.app_id, "ZALO_APP_SECRET": zalo_api.app_secret,
            "ZALO_OA_SECRET_KEY": zalo_api.oa_secret, "ZALO_API_BASE": zalo_api.api_base,
            "ZALO_OAUTH_BASE": zalo_api.oauth_base,
        }  # fmt: skip

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env, cwd=self.folder)

    async def set_up(self, *, directory: str | None = "own", admin: bool = True,
                     renewed_days_ago: float = 1) -> None:  # fmt: skip
        """The key file (0600, outside the database's folder), the directory ("own": the
        sample with a workplace of the union's own added; "sample": the sample as shipped;
        None: none), an admin, the webhook registered at PUBLIC_URL, Zalo's tokens stored as
        `zalo authorize` does."""
        self.key.write_text(TEST_KEY + "\n")
        self.key.chmod(0o600)
        self.telegram.webhook_url = PUBLIC_URL + "/telegram/webhook"
        now = datetime.now(UTC)
        database = db.Database.open(self.db_url)
        try:
            async with database.sessions() as session:
                if directory is not None:
                    await unions.import_directory(session, imported(directory))
                if admin:
                    await accounts.add_officer(session, union_code="FED-ROOT", name="Chị Hạnh",
                                               role="admin", now=now)  # fmt: skip
                await session.commit()
            renewed = now - timedelta(days=renewed_days_ago)
            pair = zalo.TokenPair(self.zalo.access_token, self.zalo.refresh_token,
                                  now + timedelta(hours=24))  # fmt: skip
            await zalo.store(database, Vault([TEST_KEY]).seal, pair, renewed)
        finally:
            await database.close()

    async def sql(self, statement: str) -> None:
        database = db.Database.open(self.db_url)
        try:
            async with database.sessions() as session:
                await session.execute(text(statement))
                await session.commit()
        finally:
            await database.close()


def imported(directory: str) -> Directory:
    """The sample directory, or a union's own: the sample with one more workplace."""
    sample = load_directory(SAMPLE_DIRECTORY)
    if directory == "sample":
        return sample
    farm = WorkplaceEntry("Hợp tác xã Rau Sạch Xuân Trường", (), None,
                          sample.workplaces[0].ward, None, 40)  # fmt: skip
    return replace(sample, workplaces=(*sample.workplaces, farm))


@pytest.fixture
async def deployment(db_url, tmp_path, tmp_path_factory, fake_telegram, fake_zalo) -> Deployment:
    there = Deployment(db_url, tmp_path, tmp_path_factory.mktemp("keys"), fake_telegram, fake_zalo)
    await there.set_up()
    return there


def status(findings: Findings, check: str) -> list[tuple[str, str]]:
    return [(f.status, f.message) for f in findings if f.check == check]


def only(findings: Findings, check: str, expected: str) -> str:
    """The message of the one finding of `check`, asserted to have status `expected`."""
    [(found, message)] = status(findings, check)
    assert found == expected, (check, found, message)
    return message


sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


async def test_a_correctly_configured_deployment_passes(deployment):
    findings = await doctor.examine(deployment.settings)
    assert [(f.check, f.status) for f in findings] == [
        ("database", "ok"), ("key", "ok"), ("telegram", "ok"), ("webhook", "ok"),
        ("zalo", "ok"), ("zalo_refresh", "ok"), ("directory", "ok"), ("admins", "ok"),
        ("content", "ok"), ("disk", "skipped" if "postgresql" in deployment.db_url else "ok"),
        ("clock", "ok"),
    ], [f.line() for f in findings]  # fmt: skip
    assert not doctor.blocking(findings)
    assert "@CongDoanTestBot" in only(findings, "telegram", "ok")
    assert f"{PUBLIC_URL}/telegram/webhook" in only(findings, "webhook", "ok")
    assert "Công đoàn Test" in only(findings, "zalo", "ok")
    assert "the root is FED-ROOT" in only(findings, "directory", "ok")
    # Nothing was changed: no token refreshed, no webhook set.
    assert deployment.zalo.calls_to("token") == []
    assert deployment.telegram.calls_to("setWebhook") == []


async def test_an_old_schema_blocks_unless_serve_upgrades_it(deployment):
    newest = f"{len(list(MIGRATIONS.glob('0*.py'))):04d}"
    older = f"{int(newest) - 1:04d}"
    await deployment.sql(f"UPDATE alembic_version SET version_num = '{older}'")
    findings = await doctor.examine(deployment.settings)
    said = only(findings, "database", "failure")
    assert f"revision {older}; this version of the bot needs {newest}" in said
    assert "unionbot db upgrade" in findings[0].fix and doctor.blocking(findings)
    # The checks that read the database wait for the upgrade rather than guess.
    assert only(findings, "directory", "skipped") == "Needs the database (see above)."
    deployment.env["UNIONBOT_AUTO_UPGRADE"] = "on"
    upgrading = await doctor.examine(deployment.settings)
    assert only(upgrading, "database", "warning") == said
    await deployment.sql("UPDATE alembic_version SET version_num = '9999'")
    newer = await doctor.examine(deployment.settings)
    assert "revision 9999 is unknown" in only(newer, "database", "failure")


async def test_an_unreachable_database_is_named_without_its_password(deployment):
    deployment.env["DATABASE_URL"] = (
        "postgresql+asyncpg://bot:s3cret-pw@127.0.0.1:1/unionbot"
        if "postgresql" in deployment.db_url
        else f"sqlite+aiosqlite:///{deployment.folder / 'nowhere' / 'unionbot.db'}"
    )
    findings = await doctor.examine(deployment.settings)
    assert doctor.blocking(findings)
    said = only(findings, "database", "failure")
    assert "s3cret-pw" not in "\n".join(f.line() for f in findings)
    assert ("does not answer" in said) if "postgresql" in deployment.db_url else (
        "There is no database at" in said
    )  # fmt: skip
    assert not (deployment.folder / "nowhere").exists()  # nothing was made


@sqlite_only
async def test_a_wrong_telegram_token(deployment):
    deployment.env["TELEGRAM_BOT_TOKEN"] = "123456:WRONG-token"
    findings = await doctor.examine(deployment.settings)
    said = only(findings, "telegram", "failure")
    assert said == "Telegram refused the token (Unauthorized)."
    assert "@BotFather" in findings[2].fix and doctor.blocking(findings)
    assert "WRONG-token" not in "\n".join(f.line() for f in findings)


@sqlite_only
async def test_a_webhook_not_registered_or_elsewhere(deployment):
    deployment.telegram.webhook_url = None
    findings = await doctor.examine(deployment.settings)
    assert "Telegram has no webhook for the bot" in only(findings, "webhook", "failure")
    deployment.telegram.webhook_url = "https://old.example/telegram/webhook"
    findings = await doctor.examine(deployment.settings)
    said = only(findings, "webhook", "failure")
    assert said == (
        "Telegram sends messages to https://old.example/telegram/webhook, not to "
        f"{PUBLIC_URL}/telegram/webhook."
    )
    deployment.telegram.webhook_url = PUBLIC_URL + "/telegram/webhook"
    deployment.telegram.webhook_last_error = "Wrong response from the webhook: 403 Forbidden"
    findings = await doctor.examine(deployment.settings)
    assert "403 Forbidden" in only(findings, "webhook", "warning")
    assert not doctor.blocking(findings)


@sqlite_only
async def test_an_http_public_url_and_long_polling(deployment):
    deployment.env["PUBLIC_URL"] = "http://bot.congdoan.example"
    findings = await doctor.examine(deployment.settings)
    assert "only to an https:// address" in only(findings, "webhook", "failure")
    del deployment.env["PUBLIC_URL"]
    polling = await doctor.examine(deployment.settings)
    assert only(polling, "webhook", "ok").startswith("Long polling: PUBLIC_URL is not set")


@sqlite_only
async def test_a_missing_key_file(deployment):
    deployment.key.unlink()
    findings = await doctor.examine(deployment.settings)
    assert "does not exist" in only(findings, "key", "failure")
    assert doctor.blocking(findings)
    # The Zalo tokens are sealed with the key: they cannot be checked without it.
    assert only(findings, "zalo", "skipped").startswith("The tokens cannot be read")


@sqlite_only
async def test_a_key_file_others_can_read(deployment):
    deployment.key.chmod(0o644)
    findings = await doctor.examine(deployment.settings)
    assert "can be read by other users (mode 644)" in only(findings, "key", "failure")
    assert doctor.blocking(findings)


@sqlite_only
async def test_a_key_file_in_the_database_folder_warns(deployment):
    inside = deployment.folder / "unionbot.key"  # beside the SQLite file: backups copy it
    inside.write_text(TEST_KEY + "\n")
    inside.chmod(0o600)
    deployment.env["UNIONBOT_KEY_FILE"] = str(inside)
    findings = await doctor.examine(deployment.settings)
    assert "is in the database's folder" in only(findings, "key", "warning")
    assert not doctor.blocking(findings)


@sqlite_only
async def test_a_malformed_key(deployment):
    deployment.key.write_text("not-a-fernet-key\n")
    findings = await doctor.examine(deployment.settings)
    assert "The key cannot be used: an encryption key is malformed" in only(
        findings, "key", "failure"
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_no_directory_and_no_admin(db_url, tmp_path, tmp_path_factory, fake_telegram,
                                         fake_zalo):  # fmt: skip
    there = Deployment(db_url, tmp_path, tmp_path_factory.mktemp("k"), fake_telegram, fake_zalo)
    await there.set_up(directory=None, admin=False)
    findings = await doctor.examine(there.settings)
    assert "No union directory has been imported" in only(findings, "directory", "failure")
    assert "There is no active admin officer" in only(findings, "admins", "failure")
    assert doctor.blocking(findings)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_sample_directory_still_in_place_warns(db_url, tmp_path, tmp_path_factory,
                                                         fake_telegram, fake_zalo):  # fmt: skip
    # On SQLite the first start imports the shipped sample: an IT person who never imports
    # the federation's own directory would route real workers to made-up unions.
    there = Deployment(db_url, tmp_path, tmp_path_factory.mktemp("k"), fake_telegram, fake_zalo)
    await there.set_up(directory="sample")
    findings = await doctor.examine(there.settings)
    said = only(findings, "directory", "warning")
    assert "sample directory" in said
    assert not doctor.blocking(findings)


@sqlite_only
async def test_a_deactivated_admin_does_not_count(deployment):
    await deployment.sql("UPDATE officers SET active = false")
    findings = await doctor.examine(deployment.settings)
    assert "no active admin" in only(findings, "admins", "failure")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("days", "expected", "said"),
    [(80, "warning", "the refresh token ends about"), (95, "failure", "has expired")],
)
async def test_the_zalo_refresh_tokens_age(db_url, tmp_path, tmp_path_factory, fake_telegram,
                                           fake_zalo, days, expected, said):  # fmt: skip
    there = Deployment(db_url, tmp_path, tmp_path_factory.mktemp("k"), fake_telegram, fake_zalo)
    await there.set_up(renewed_days_ago=days)
    findings = await doctor.examine(there.settings)
    assert said in only(findings, "zalo_refresh", expected)
    assert doctor.blocking(findings) == (expected == "failure")


@sqlite_only
async def test_a_zalo_access_token_zalo_rejects(deployment):
    deployment.zalo.access_token = "zalo-access-issued-elsewhere"
    findings = await doctor.examine(deployment.settings)
    said = only(findings, "zalo", "failure")
    assert said.startswith("Zalo refused the access token (zalo error -216")
    assert doctor.blocking(findings)
    # Past its expiry, a refusal is expected: the bot renews it when it next writes.
    await deployment.sql("UPDATE credentials SET access_expires_at = '2026-01-01 00:00:00'")
    expired = await doctor.examine(deployment.settings)
    assert "has expired" in only(expired, "zalo", "warning")


@sqlite_only
async def test_zalo_tokens_an_admin_must_renew(deployment):
    await deployment.sql("UPDATE credentials SET broken = 'invalid_grant'")
    findings = await doctor.examine(deployment.settings)
    assert only(findings, "zalo", "failure") == "The bot cannot write on Zalo: invalid_grant."


@sqlite_only
async def test_a_clock_off_by_more_than_half_zalos_window(deployment):
    def late() -> datetime:
        return datetime.now(UTC) - timedelta(minutes=6)

    findings = await doctor.examine(deployment.settings, clock=late)
    said = only(findings, "clock", "failure")
    assert "seconds behind 127.0.0.1" in said and "Zalo's events would be refused" in said
    deployment.env["ZALO_EVENT_WINDOW_SECONDS"] = "3600"
    findings = await doctor.examine(deployment.settings, clock=late)
    assert only(findings, "clock", "warning")


@sqlite_only
async def test_a_crashing_check_is_that_checks_failure(deployment, monkeypatch):
    def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(knowledge, "check", broken)
    findings = await doctor.examine(deployment.settings)
    said = only(findings, "content", "failure")
    assert said == "The check itself failed: RuntimeError: disk on fire."
    assert only(findings, "disk", "ok") and only(findings, "clock", "ok")  # the rest ran


async def silent_server() -> tuple[web.AppRunner, str]:
    """A server that takes every request and never answers."""

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(60)
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    runner = web.AppRunner(app, shutdown_timeout=0.1)  # the hanging requests are cut off
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@sqlite_only
async def test_a_messenger_that_never_answers_does_not_hang_the_check(deployment):
    runner, url = await silent_server()
    try:
        deployment.env["TELEGRAM_API_BASE"] = url + "/bot"
        started = asyncio.get_running_loop().time()
        findings = await doctor.examine(deployment.settings, patience=0.5)
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        await runner.cleanup()
    said = only(findings, "telegram", "failure")
    port = url.rsplit(":", 1)[1]
    assert said == f"Telegram cannot be reached at 127.0.0.1:{port}: no answer in time."
    assert elapsed < 10


# -- through the command line -------------------------------------------------------------


async def doctor_command(there: Deployment, *args: str) -> tuple[int, str, str]:
    """`python -m bot doctor ARGS` in a real process (the fakes answer it from this loop)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "doctor", *args, cwd=there.folder,
        env=clean_env(**there.env), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


@sqlite_only
async def test_the_command_exits_0_when_nothing_blocks_and_1_when_something_does(deployment):
    code, out, err = await doctor_command(deployment, "--lang", "en")
    assert code == 0, out + err
    lines = out.splitlines()
    assert len(lines) == 12 and lines[0].startswith("OK ")
    assert lines[-1] == "Nothing blocks workers (0 warnings)."
    deployment.env["TELEGRAM_BOT_TOKEN"] = "123456:WRONG-token"
    code, out, _err = await doctor_command(deployment, "--lang", "en", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    [telegram] = [c for c in report["checks"] if c["check"] == "telegram"]
    assert telegram["status"] == "failure" and "@BotFather" in telegram["fix"]


@sqlite_only
async def test_the_report_is_in_vietnamese_by_default(deployment):
    """Needs the Vietnamese of bot/doctor.py's messages in content/locales."""
    deployment.env["TELEGRAM_BOT_TOKEN"] = "123456:WRONG-token"
    code, out, _err = await doctor_command(deployment)
    assert code == 1
    assert "Telegram refused the token" not in out
    assert "LỖI" in out and "BotFather" in out
    english = (await doctor_command(deployment, "--lang", "en"))[1]
    assert "FAILED     Telegram: Telegram refused the token (Unauthorized)." in english
