"""`unionbot doctor`: whether a deployment is ready for workers, said in plain words.

Each check looks at one thing (the database, the encryption key, Telegram and its webhook,
Zalo's tokens, the directory, the admins, the content, the disk, the clock) and gives a
finding: ok, a warning or a failure, with what to do about it, in the active language.
Nothing is changed: no migration, no token refresh, no file made. A failure means workers
are (or soon will be) left without an answer; warnings do not block. Network calls have a
short timeout, and a check that crashes is that check's failure, never a traceback.

The doctor sits at the edge beside the command line (tests/test_boundaries.py): it looks into
every room, and leaves the messengers' wire formats to bot/channels.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy.exc import SQLAlchemyError

from bot.channels import telegram, zalo
from bot.channels.base import SendError
from bot.config import CONTENT_DIR, ConfigError, Settings
from bot.services import calendar, knowledge
from bot.services.crypto import Vault, load_vault
from bot.services.i18n import N_, _, format_date, format_datetime
from bot.services.vocabulary import ContentError
from storage import credentials, db, officers, unions
from storage.directory import Directory, DirectoryError
from storage.directory import load as load_directory
from storage.localtime import LOCAL_TIME

OK, WARNING, FAILURE, SKIPPED = "ok", "warning", "failure", "skipped"
TIMEOUT_SECONDS = 5.0
# Zalo's refresh token lasts about three months; each renewal of the access token (about
# daily while the bot writes on Zalo) brings a new one.
REFRESH_LIFETIME = timedelta(days=90)
REFRESH_WARNING = timedelta(days=75)
DISK_WARNING_BYTES = 1024**3
DISK_FAILURE_BYTES = 100 * 1024**2
# Updates waiting at Telegram beyond this mean the webhook is not being answered.
PENDING_WARNING = 100
# A delivery error older than this is history, not the webhook's state.
RECENT_ERROR = timedelta(hours=24)
# The clock: a warning past this many seconds off; a failure past half of Zalo's window.
CLOCK_WARNING_SECONDS = 30.0

TITLES = {
    "database": N_("Database"),
    "key": N_("Encryption key"),
    "telegram": N_("Telegram"),
    "webhook": N_("Telegram webhook"),
    "zalo": N_("Zalo"),
    "zalo_refresh": N_("Zalo refresh token"),
    "directory": N_("Union directory"),
    "admins": N_("Admins"),
    "content": N_("Knowledge base"),
    "disk": N_("Disk space"),
    "clock": N_("Clock"),
}
LABELS = {OK: N_("OK"), WARNING: N_("WARNING"), FAILURE: N_("FAILED"), SKIPPED: N_("SKIPPED")}


@dataclass(frozen=True, slots=True)
class Finding:
    """What one check found: `check` is its stable name (TITLES), `message` and `fix` are
    in the language that was active."""

    check: str
    status: str
    message: str
    fix: str = ""

    def line(self) -> str:
        """One line for a terminal: the status, the check, what was found, the fix."""
        fix = " " + _("Fix: {fix}").format(fix=self.fix) if self.fix else ""
        return f"{_(LABELS[self.status]):<10} {_(TITLES[self.check])}: {self.message}{fix}"

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status, "message": self.message,
                "fix": self.fix}  # fmt: skip


def blocking(findings: Sequence[Finding]) -> bool:
    """Whether anything found leaves workers without an answer (exit status 1)."""
    return any(finding.status == FAILURE for finding in findings)


def summary(findings: Sequence[Finding]) -> str:
    """The last line of the report."""
    failures = sum(finding.status == FAILURE for finding in findings)
    warnings = sum(finding.status == WARNING for finding in findings)
    if failures:
        said = _("Problems that block workers: {failures}. Fix the FAILED lines first.")
        return said.format(failures=failures)
    return _("Nothing blocks workers ({warnings} warnings).").format(warnings=warnings)


@dataclass(slots=True)
class Deployment:
    """What the checks share: the settings, one HTTP session, the time, and what earlier
    checks opened (the database when its schema is current, the keys when they work)."""

    settings: Settings
    http: aiohttp.ClientSession
    clock: Callable[[], datetime]
    patience: float
    now: datetime = field(init=False)
    database: db.Database | None = None
    vault: Vault | None = None

    def __post_init__(self) -> None:
        self.now = self.clock()


Check = Callable[[Deployment], Awaitable[list[Finding]]]


async def examine(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    patience: float = TIMEOUT_SECONDS,
) -> list[Finding]:
    """Every check, in order; `clock` is the local clock (tests set it wrong), `patience`
    the seconds one network call or the database may take."""
    checks: list[tuple[str, Check]] = [
        ("database", check_database), ("key", check_key), ("telegram", check_telegram),
        ("zalo", check_zalo), ("directory", check_directory), ("admins", check_admins),
        ("content", check_content), ("disk", check_disk), ("clock", check_clock),
    ]  # fmt: skip
    findings: list[Finding] = []
    async with aiohttp.ClientSession() as http:
        there = Deployment(settings, http, clock, patience)
        try:
            for name, check in checks:
                findings += await guarded(name, check, there)
        finally:
            if there.database is not None:
                await there.database.close()
    return findings


async def guarded(name: str, check: Check, there: Deployment) -> list[Finding]:
    """The check's findings; its crash or its hanging is its own failure."""
    # Each network call has its own timeout; this bounds a check of several.
    budget = 4 * there.patience
    try:
        return await asyncio.wait_for(check(there), budget)
    except TimeoutError:
        said = _("The check did not finish within {seconds:.0f} seconds.")
        fix = _("check the network and the database server, then run it again")
        return [Finding(name, FAILURE, said.format(seconds=budget), fix)]
    except Exception as exc:  # any crash is reported; the other checks still run
        said = _("The check itself failed: {error}.").format(error=_reason(exc))
        return [Finding(name, FAILURE, said, _("run it again; if it stays, report it"))]


def _reason(exc: BaseException) -> str:
    """A short reason that names no secret: the driver's first line, or the error's kind."""
    if isinstance(exc, TimeoutError):
        return _("no answer in time")
    inner = getattr(exc, "orig", None) or exc.__cause__ or exc
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    if isinstance(inner, aiohttp.ClientError) or not text:
        return type(inner).__name__  # its text may hold a URL, and a URL may hold a token
    return f"{type(inner).__name__}: {text[:160]}"


SAMPLE_DIRECTORY = CONTENT_DIR / "directory" / "sample.yaml"


# -- the database ------------------------------------------------------------------------


async def check_database(there: Deployment) -> list[Finding]:
    """Reachable, and at the newest schema revision; opened for the later checks if so."""
    url = there.settings.database_url
    file = db.sqlite_file(url)
    if file is not None and not file.is_file():
        said = _("There is no database at {path}.").format(path=file)
        if there.settings.auto_upgrade:  # the embedded default: serve makes it
            fix = _("unionbot serve makes it when it first starts; or run unionbot db upgrade")
            return [Finding("database", WARNING, said, fix)]
        return [Finding("database", FAILURE, said, _("run unionbot db upgrade"))]
    options: dict[str, Any] = {} if file else {"connect_args": {"timeout": there.patience}}
    database = db.Database.open(url, **options)
    try:
        schema = await asyncio.wait_for(db.schema(database.engine), there.patience)
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        await database.close()
        said = _("The database does not answer: {reason}.").format(reason=_reason(exc) or "?")
        fix = _("check DATABASE_URL, and that the database server runs and lets this user in")
        return [Finding("database", FAILURE, said, fix)]
    if schema.is_current:
        there.database = database
    else:
        await database.close()
    return [_schema_finding(schema, there.settings, "SQLite" if file else "PostgreSQL")]


def _schema_finding(schema: db.Schema, settings: Settings, kind: str) -> Finding:
    heads = ", ".join(sorted(schema.heads))
    if schema.unknown:
        said = _("The database's schema revision {revision} is unknown to this version of the "
                 "bot (a newer version made it).")  # fmt: skip
        return Finding("database", FAILURE, said.format(revision=", ".join(schema.unknown)),
                       _("install the newer version of the bot again"))  # fmt: skip
    if schema.is_current:
        said = _("{kind} answers; its schema is at the newest revision ({revision}).")
        return Finding("database", OK, said.format(kind=kind, revision=heads))
    if schema.current:
        said = _("The schema is at revision {current}; this version of the bot needs {head}.")
        said = said.format(current=", ".join(sorted(schema.current)), head=heads)
    else:
        said = _("The database has no schema yet.")
    if settings.auto_upgrade:
        fix = _("unionbot serve upgrades it when it starts (UNIONBOT_AUTO_UPGRADE is on), or "
                "run unionbot db upgrade now")  # fmt: skip
        return Finding("database", WARNING, said, fix)
    return Finding("database", FAILURE, said, _("run unionbot db upgrade"))


# -- the encryption key ------------------------------------------------------------------


async def check_key(there: Deployment) -> list[Finding]:
    """Keys present and valid; a key file readable only by its owner, the bot's user, and
    kept out of the database's folder (which backups copy)."""
    settings = there.settings
    path = settings.key_file
    if not settings.encryption_keys and path is not None and not path.exists():
        return [_missing_key(path, settings)]
    if not settings.encryption_keys and path is None:
        said = _("There is no encryption key: neither UNIONBOT_ENCRYPTION_KEY nor "
                 "UNIONBOT_KEY_FILE is set.")  # fmt: skip
        return [Finding("key", FAILURE, said, _("set UNIONBOT_KEY_FILE to a file of keys, "
                                                 "readable only by the bot's user"))]  # fmt: skip
    try:
        there.vault = load_vault(settings)
    except ConfigError as exc:
        said = _("The key cannot be used: {reason}.").format(reason=exc)
        return [Finding("key", FAILURE, said, _("put the right key back from its backup"))]
    if settings.encryption_keys:
        said = _("The key is set in UNIONBOT_ENCRYPTION_KEY ({count} keys; the first one "
                 "encrypts).")  # fmt: skip
        return [Finding("key", OK, said.format(count=len(settings.encryption_keys)))]
    assert path is not None  # no keys in the environment: they came from the file
    return _key_file(path, settings)


def _missing_key(path: Path, settings: Settings) -> Finding:
    if settings.generate_key_file:
        said = _("There is no key file at {path} yet: the bot makes one when it first starts.")
        fix = _("once it is made, back it up, apart from the database's backups")
        return Finding("key", WARNING, said.format(path=path), fix)
    said = _("The key file {path} does not exist: phone numbers and anonymous reporters "
             "cannot be read without it.")  # fmt: skip
    return Finding("key", FAILURE, said.format(path=path),
                   _("put the key file back from its backup, or set UNIONBOT_KEY_FILE to "
                     "where it is"))  # fmt: skip


def _key_file(path: Path, settings: Settings) -> list[Finding]:
    status = path.stat()
    found = []
    if status.st_mode & 0o077:
        said = _("The key file {path} can be read by other users (mode {mode}).")
        mode = oct(status.st_mode & 0o777)[2:]
        fix = _("chmod 600 {path}").format(path=path)
        found.append(Finding("key", FAILURE, said.format(path=path, mode=mode), fix))
    if status.st_uid != os.geteuid():
        said = _("The key file {path} belongs to another user (uid {uid}) than the one running "
                 "this check.")  # fmt: skip
        fix = _("run the check as the bot's user, who should own the file")
        found.append(Finding("key", WARNING, said.format(path=path, uid=status.st_uid), fix))
    database = db.sqlite_file(settings.database_url)
    if database is not None and path.resolve().is_relative_to(database.resolve().parent):
        said = _("The key file {path} is in the database's folder {folder}: a copy of that "
                 "folder holds the key with the data it opens.")  # fmt: skip
        fix = _("move it elsewhere (e.g. /etc/unionbot/unionbot.key) and set UNIONBOT_KEY_FILE")
        found.append(Finding("key", WARNING, said.format(path=path, folder=database.parent), fix))
    said = _("The key file {path} works and only its owner can read it.")
    return found or [Finding("key", OK, said.format(path=path))]


# -- Telegram -----------------------------------------------------------------------------


async def check_telegram(there: Deployment) -> list[Finding]:
    """The token (getMe) and the webhook (getWebhookInfo), or long polling."""
    settings = there.settings
    if not settings.telegram_token:
        said = _("Telegram is off (TELEGRAM_BOT_TOKEN is not set).")
        return [Finding("telegram", SKIPPED, said)]
    try:
        standing = await telegram.standing(settings, there.http, there.patience)
    except (aiohttp.ClientError, TimeoutError) as exc:
        said = _("Telegram cannot be reached at {host}: {reason}.")
        host = urlsplit(settings.telegram_api_base).netloc
        return [Finding("telegram", FAILURE, said.format(host=host, reason=_reason(exc)),
                        _("check the server's connection and TELEGRAM_API_BASE"))]  # fmt: skip
    if standing.username is None:
        said = _("Telegram refused the token ({reason}).").format(reason=standing.refusal)
        fix = _("copy the bot's token from @BotFather into TELEGRAM_BOT_TOKEN")
        return [Finding("telegram", FAILURE, said, fix)]
    said = _("The token works: the bot is @{username}.").format(username=standing.username)
    return [Finding("telegram", OK, said), _webhook(settings, standing, there.now)]


def _webhook(settings: Settings, standing: telegram.Standing, now: datetime) -> Finding:
    if not settings.public_url:
        said = _("Long polling: PUBLIC_URL is not set, so the bot fetches messages from "
                 "Telegram itself. Fine for one process; behind an HTTPS reverse proxy, set "
                 "PUBLIC_URL for a webhook.")  # fmt: skip
        return Finding("webhook", OK, said)
    expected = settings.public_url + telegram.WEBHOOK_PATH
    if not settings.public_url.startswith("https://"):
        said = _("PUBLIC_URL is {url}: Telegram sends messages only to an https:// address.")
        fix = _("serve the bot behind an HTTPS reverse proxy and set PUBLIC_URL to its address")
        return Finding("webhook", FAILURE, said.format(url=settings.public_url), fix)
    if standing.webhook_url != expected:
        return _wrong_webhook(standing.webhook_url, expected)
    failed_at = standing.last_error_at
    if standing.last_error and failed_at is not None and now - failed_at < RECENT_ERROR:
        said = _("Telegram's last delivery to {url} failed at {time}: {error}.")
        when = format_datetime(failed_at)
        fix = _("check that the reverse proxy passes {path} to the bot, with a valid "
                "certificate").format(path=telegram.WEBHOOK_PATH)  # fmt: skip
        return Finding("webhook", WARNING, said.format(url=expected, time=when,
                                                       error=standing.last_error), fix)  # fmt: skip
    if standing.pending > PENDING_WARNING:
        said = _("{count} messages are waiting at Telegram.").format(count=standing.pending)
        return Finding("webhook", WARNING, said, _("check that unionbot serve is running"))
    said = _("Registered at {url} ({count} messages waiting). The secret cannot be read "
             "back from Telegram: a wrong one shows as failed deliveries.")  # fmt: skip
    return Finding("webhook", OK, said.format(url=expected, count=standing.pending))


def _wrong_webhook(found: str, expected: str) -> Finding:
    fix = _("start (or restart) unionbot serve: it registers the webhook, then read its log")
    if not found:
        said = _("Telegram has no webhook for the bot, so messages wait at Telegram; the bot "
                 "registers {url} when unionbot serve starts.")  # fmt: skip
        return Finding("webhook", FAILURE, said.format(url=expected), fix)
    said = _("Telegram sends messages to {found}, not to {url}.")
    fix = _("check PUBLIC_URL, then restart unionbot serve: it registers the webhook again")
    return Finding("webhook", FAILURE, said.format(found=found, url=expected), fix)


# -- Zalo ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZaloPair:
    """The tokens the bot would use: from the database, or from the settings before the
    first start. `renewed` is when the refresh token was issued (None: unknown)."""

    access: str | None
    renewed: datetime | None
    expires: datetime | None
    broken: str | None = None


async def check_zalo(there: Deployment) -> list[Finding]:
    """The access token (the OA's profile) and the refresh token's age."""
    settings = there.settings
    if not settings.zalo_enabled:
        said = _("Zalo is off (ZALO_APP_ID and ZALO_OA_SECRET_KEY are not set).")
        return [Finding("zalo", SKIPPED, said)]
    if there.database is None or there.vault is None:
        said = _("The tokens cannot be read without the database and the key (see above).")
        return [Finding("zalo", SKIPPED, said)]
    pair = await _zalo_pair(there.database, there.vault, settings)
    if pair.broken is not None or pair.access is None:
        said = _("The bot cannot write on Zalo: {reason}.").format(reason=pair.broken or "-")
        fix = _("an admin of the Official Account runs unionbot zalo authorize")
        return [Finding("zalo", FAILURE, said, fix)]
    return [await _access(there, pair), _refresh_age(settings, pair, there.now)]


async def _zalo_pair(database: db.Database, vault: Vault, settings: Settings) -> ZaloPair:
    async with database.sessions() as session:
        row = await credentials.get(session, zalo.CREDENTIAL)
    if row is None:  # before the first start: the pair from the settings, of unknown age
        missing = None if settings.zalo_refresh_token else zalo.NEVER_AUTHORISED
        return ZaloPair(settings.zalo_access_token, None, None, missing)
    access = vault.open(row.access_sealed) if row.access_sealed else None
    return ZaloPair(access, row.refreshed_at, row.access_expires_at, row.broken)


async def _access(there: Deployment, pair: ZaloPair) -> Finding:
    assert pair.access is not None  # checked by the caller
    try:
        name = await zalo.oa_name(there.settings, there.http, pair.access, there.patience)
    except zalo.ZaloError as exc:
        return _refused(exc, pair, there.now)
    except SendError as exc:
        said = _("Zalo cannot be reached at {host}: {reason}.")
        host = urlsplit(there.settings.zalo_api_base).netloc
        return Finding("zalo", FAILURE, said.format(host=host, reason=exc),
                       _("check the server's connection and ZALO_API_BASE"))  # fmt: skip
    said = _("The access token works: the Official Account is {name}.").format(name=name)
    return Finding("zalo", OK, said)


def _refused(exc: zalo.ZaloError, pair: ZaloPair, now: datetime) -> Finding:
    if exc.code in zalo.TOKEN_REJECTED and pair.expires is not None and pair.expires <= now:
        said = _("The access token has expired; the bot renews it when it next writes on Zalo.")
        return Finding("zalo", WARNING, said)
    said = _("Zalo refused the access token ({reason}).").format(reason=exc)
    fix = _("a running bot renews it at its next message; if this stays, an admin of the "
            "Official Account runs unionbot zalo authorize")  # fmt: skip
    return Finding("zalo", FAILURE, said, fix)


def _refresh_age(settings: Settings, pair: ZaloPair, now: datetime) -> Finding:
    if not settings.zalo_app_secret:
        said = _("ZALO_APP_SECRET is not set: the bot cannot renew the tokens.")
        return Finding("zalo_refresh", FAILURE, said, _("set ZALO_APP_SECRET (Zalo's console)"))
    if pair.renewed is None:
        said = _("The refresh token comes from ZALO_REFRESH_TOKEN; its age is not known.")
        return Finding("zalo_refresh", OK, said)
    renewed = pair.renewed if pair.renewed.tzinfo else pair.renewed.replace(tzinfo=UTC)
    age, ends = now - renewed, renewed + REFRESH_LIFETIME
    days = age.days
    fix = _("an admin of the Official Account runs unionbot zalo authorize")
    if age >= REFRESH_LIFETIME:
        said = _("The tokens were last renewed {days} days ago: the refresh token has expired "
                 "(it lasts about three months).")  # fmt: skip
        return Finding("zalo_refresh", FAILURE, said.format(days=days), fix)
    if age >= REFRESH_WARNING:
        said = _("The tokens were last renewed {days} days ago: the refresh token ends about "
                 "{date}. The bot renews it when it next writes on Zalo.")  # fmt: skip
        return Finding("zalo_refresh", WARNING, said.format(days=days, date=_day(ends)), fix)
    said = _("Renewed {days} days ago; it lasts until about {date}.")
    return Finding("zalo_refresh", OK, said.format(days=days, date=_day(ends)))


def _day(moment: datetime) -> str:
    return format_date(moment.astimezone(LOCAL_TIME).date())


# -- the directory and the admins ---------------------------------------------------------


async def check_directory(there: Deployment) -> list[Finding]:
    """Imported, with exactly one root union."""
    if there.database is None:
        return [Finding("directory", SKIPPED, _("Needs the database (see above)."))]
    async with there.database.sessions() as session:
        count = await unions.count(session)
        roots = await unions.roots(session)
        held = await unions.directory(session)
    fix = _("unionbot directory import FILE (the format is in content/directory/sample.yaml)")
    if not count:
        said = _("No union directory has been imported: nobody's request can be routed.")
        return [Finding("directory", FAILURE, said, fix)]
    if len(roots) != 1:
        said = _("The directory has {count} root unions ({codes}); it needs exactly one.")
        codes = ", ".join(roots) or "-"
        return [Finding("directory", FAILURE, said.format(count=len(roots), codes=codes), fix)]
    if held is not None and is_sample(held):
        said = _(
            "This is the sample directory shipped with the bot, not your federation's: "
            "workers would be routed to example unions."
        )
        return [Finding("directory", WARNING, said, fix)]
    said = _("{count} unions; the root is {root}.").format(count=count, root=roots[0])
    return [Finding("directory", OK, said)]


def is_sample(held: Directory) -> bool:
    """Whether the database holds the shipped sample as it is (the same unions and
    workplaces): SQLite imports it at the first start, so a deployment can run on it
    without anyone noticing. A directory grown from the sample is the union's own."""
    try:
        sample = load_directory(SAMPLE_DIRECTORY)
    except (DirectoryError, OSError):
        return False
    return {u.code for u in held.unions} == {u.code for u in sample.unions} and {
        w.name for w in held.workplaces
    } == {w.name for w in sample.workplaces}


async def check_admins(there: Deployment) -> list[Finding]:
    """At least one active admin officer."""
    if there.database is None:
        return [Finding("admins", SKIPPED, _("Needs the database (see above)."))]
    async with there.database.sessions() as session:
        count = await officers.active_admins(session)
    if not count:
        said = _("There is no active admin officer: nobody can approve broadcasts or hear that "
                 "Zalo needs authorising.")  # fmt: skip
        fix = _("unionbot officer add --union ROOT-CODE --name NAME --role admin --login LOGIN")
        return [Finding("admins", FAILURE, said, fix)]
    return [Finding("admins", OK, _("{count} active admins.").format(count=count))]


# -- content, disk and clock --------------------------------------------------------------


async def check_content(there: Deployment) -> list[Finding]:
    """What `unionbot content check` says, in one finding."""
    today = there.now.astimezone(LOCAL_TIME).date()
    content_dir = there.settings.content_dir
    try:
        report = await asyncio.to_thread(knowledge.check, content_dir, today)
        covered = calendar.load_holidays(content_dir).covered_until
    except (ContentError, ConfigError) as exc:
        said = _("The content cannot be read: {problem}.").format(problem=exc)
        return [Finding("content", FAILURE, said, _("fix it; unionbot content check tells more"))]
    if report.problems:
        said = _("{count} problems, e.g. {problem}")
        said = said.format(count=len(report.problems), problem=report.problems[0])
        return [Finding("content", FAILURE, said, _("unionbot content check lists them"))]
    return [_staleness(report, covered, today)]


def _staleness(report: knowledge.ContentReport, covered: date | None, today: date) -> Finding:
    if report.stale:
        said = _("{count} articles are out of date (valid until a day now past): {names}.")
        names = ", ".join(article.path.stem for article in report.stale[:3])
        fix = _("update them (unionbot content check lists them)")
        return Finding("content", WARNING, said.format(count=len(report.stale), names=names), fix)
    if covered is not None and covered < today:
        said = _("The list of public holidays ends on {date}: due times skip no holiday after.")
        return Finding("content", WARNING, said.format(date=format_date(covered)),
                       _("add the next holidays to holidays.yaml"))  # fmt: skip
    if report.soon_stale:
        said = _("In order; {count} articles need updating soon.")
        return Finding("content", OK, said.format(count=len(report.soon_stale)))
    return Finding("content", OK, _("In order."))


async def check_disk(there: Deployment) -> list[Finding]:
    """Free space where the SQLite database lives."""
    file = db.sqlite_file(there.settings.database_url)
    if file is None:
        said = _("The database is on the PostgreSQL server: watch the disk there.")
        return [Finding("disk", SKIPPED, said)]
    folder = file.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    said = _("{size} free in {folder}.").format(size=_size(free), folder=folder)
    fix = _("free some space, or move the database to a larger disk")
    if free < DISK_FAILURE_BYTES:
        return [Finding("disk", FAILURE, said, fix)]
    if free < DISK_WARNING_BYTES:
        return [Finding("disk", WARNING, said, fix)]
    return [Finding("disk", OK, said)]


def _size(count: int) -> str:
    if count >= 1024**3:
        return f"{count / 1024**3:.1f} GB"
    return f"{count / 1024**2:.0f} MB"


async def check_clock(there: Deployment) -> list[Finding]:
    """This machine's clock against a messenger's (the Date of its answer): Zalo refuses
    events whose time is further than ZALO_EVENT_WINDOW_SECONDS from the bot's."""
    settings = there.settings
    bases = [settings.telegram_api_base] if settings.telegram_token else []
    bases += [settings.zalo_api_base] if settings.zalo_enabled else []
    if not bases:
        said = _("No messenger is configured: there is no server to compare the clock with.")
        return [Finding("clock", SKIPPED, said)]
    for base in bases:
        theirs = await _server_time(there.http, base, there.patience)
        if theirs is not None:
            return [_skew(there.clock() - theirs, urlsplit(base).netloc, settings)]
    said = _("No messenger's server told its time; the clock was not compared.")
    return [Finding("clock", WARNING, said, _("check the server's connection"))]


async def _server_time(http: aiohttp.ClientSession, url: str, seconds: float) -> datetime | None:
    """The time in the Date header of the server's answer to any request (None: none)."""
    try:
        wait = aiohttp.ClientTimeout(total=seconds)
        async with http.head(url, timeout=wait, allow_redirects=False) as response:
            stamp = response.headers.get("Date")
        return parsedate_to_datetime(stamp) if stamp else None
    except (aiohttp.ClientError, TimeoutError, ValueError, TypeError):
        return None


def _skew(skew: timedelta, host: str, settings: Settings) -> Finding:
    seconds = skew.total_seconds()
    window = settings.zalo_event_window_seconds
    if seconds > 0:
        said = _("This machine's clock is {seconds:.0f} seconds ahead of {host}'s.")
    else:
        said = _("This machine's clock is {seconds:.0f} seconds behind {host}'s.")
    said = said.format(seconds=abs(seconds), host=host)
    fix = _("turn on time synchronisation (e.g. timedatectl set-ntp true)")
    if abs(seconds) > window / 2:
        return Finding("clock", FAILURE, said + " " + _("Zalo's events would be refused."), fix)
    if abs(seconds) > CLOCK_WARNING_SECONDS:
        return Finding("clock", WARNING, said, fix)
    return Finding("clock", OK, said)
