"""Settings: everything the process reads from its environment, in one frozen dataclass.

Nothing else reads os.environ. Defaults need no configuration: SQLite in ./data, Vietnamese,
the web server on 127.0.0.1:8080, no messenger tokens (only the terminal channel).
"""

from __future__ import annotations

import importlib.resources
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path
from typing import Any


def shipped_content() -> Path:
    """The content the bot ships with (UNIONBOT_CONTENT_DIR replaces it): installed, the
    package unionbot_content, which is content/ at the repository's root (pyproject.toml
    maps it); in a source tree, that tree's content/, also when the code is imported from
    the tree without being installed from it (PYTHONPATH): never another checkout's."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file() and (here / "content" / "__init__.py").is_file():
        return here / "content"
    try:
        files = importlib.resources.files("unionbot_content")
    except ModuleNotFoundError:
        files = None
    # pip unpacks a wheel, so the package is a folder; otherwise the error names this path.
    return files if isinstance(files, Path) else here / "unionbot_content"


CONTENT_DIR = shipped_content()


def installed_content(content_dir: Path) -> bool:
    """Whether `content_dir` is the content installed with the package: it lies among the
    installed code (site-packages), where nothing the bot does may write."""
    return CONTENT_DIR.name == "unionbot_content" and content_dir.resolve() == CONTENT_DIR.resolve()


DEFAULT_DATA_DIR = Path.cwd() / "data"
TELEGRAM_DEFAULT_API_BASE = "https://api.telegram.org/bot"
ZALO_DEFAULT_API_BASE = "https://openapi.zalo.me"
ZALO_DEFAULT_OAUTH_BASE = "https://oauth.zaloapp.com"


DEFAULT_DUE_DAYS: dict[str, tuple[int, int | None]] = {
    "grievance": (2, 10),
    "support": (2, None),
    "question": (2, None),
    "membership": (3, None),
}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True, slots=True)
class Retention:
    """Days the janitor (bot/retention.py) keeps what is no longer needed; 0 keeps it."""

    # Handled updates: a channel redelivers one for a day at most (deduplication).
    inbox_days: int = 2
    # Messages sent on a messenger, where the worker has them.
    sent_days: int = 1
    # Messages sent in the web chat: the only copy the visitor's page reads back.
    webchat_days: int = 30
    # Web chat visitors who left nothing to follow, counted from their last message.
    visitor_days: int = 1
    # Who filed a finished case, its contact details and files.
    closed_case_days: int = 365
    # Who a finished broadcast went to (its counts stay).
    broadcast_days: int = 90

    @classmethod
    def from_env(cls, merged: Mapping[str, str]) -> Retention:
        # Named `merged` like Settings.from_env's, so tests/test_readme.py sees these.
        return cls(
            inbox_days=_number(merged, "UNIONBOT_KEEP_INBOX_DAYS", 2, least=0),
            sent_days=_number(merged, "UNIONBOT_KEEP_SENT_DAYS", 1, least=0),
            webchat_days=_number(merged, "UNIONBOT_KEEP_WEBCHAT_DAYS", 30, least=0),
            visitor_days=_number(merged, "UNIONBOT_KEEP_VISITOR_DAYS", 1, least=0),
            closed_case_days=_number(merged, "UNIONBOT_KEEP_CLOSED_CASE_DAYS", 365, least=0),
            broadcast_days=_number(merged, "UNIONBOT_KEEP_BROADCAST_DAYS", 90, least=0),
        )


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    content_dir: Path = CONTENT_DIR
    # Where trained FAQ models are kept (UNIONBOT_CACHE_DIR); None: the user's cache folder.
    cache_dir: Path | None = None
    default_language: str = "vi"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    telegram_token: str | None = None
    telegram_api_base: str = TELEGRAM_DEFAULT_API_BASE
    public_url: str | None = None
    telegram_webhook_secret: str | None = None
    # The bot's @username without the @, for outreach links (t.me/<username>?start=<code>).
    telegram_bot_username: str | None = None
    # Zalo Official Account (bot/channels/zalo.py): on when the app id and the OA secret key
    # (which signs webhook events) are set. The app secret refreshes the access token; the
    # first token pair comes from here or `unionbot zalo authorize`, then lives in the database.
    zalo_app_id: str | None = None
    zalo_app_secret: str | None = None
    zalo_oa_secret_key: str | None = None
    zalo_access_token: str | None = None
    zalo_refresh_token: str | None = None
    zalo_api_base: str = ZALO_DEFAULT_API_BASE
    # The Official Account's id, for outreach links (zalo.me/<id>).
    zalo_oa_id: str | None = None
    zalo_oauth_base: str = ZALO_DEFAULT_OAUTH_BASE
    # Events older (or newer) than this are refused: a replayed old event is not a new one.
    zalo_event_window_seconds: int = 600
    # Zalo bills replies sent 48 hours to 7 days after the worker's last message; off: such
    # replies wait until the worker writes again, as those after 7 days always do.
    zalo_billed_replies: bool = True
    # The directory imported on first start when the database has no unions (embedded default).
    seed_directory: Path | None = CONTENT_DIR / "directory" / "sample.yaml"
    # Upgrade the schema on start; on by default for SQLite (the embedded default).
    auto_upgrade: bool = True
    # Messages one person may send per minute before the bot stops reading (0: no limit).
    flood_limit_per_minute: int = 30
    # How long a process's leases last without renewal (bot/leadership.py): a process that
    # died has its duties and unsent messages taken over within this time.
    lease_seconds: int = 30
    # Keys for data encrypted at rest (phones, contact details, the reporter of an anonymous
    # case): the first encrypts, all decrypt, so a new key can be put in front to rotate.
    encryption_keys: tuple[str, ...] = ()
    # Working days to the first response and to resolution, per case kind (None: no target).
    due_days: Mapping[str, tuple[int, int | None]] = field(
        default_factory=lambda: dict(DEFAULT_DUE_DAYS)
    )
    # Hours past a case's due time before it is escalated to the parent union (0: at once).
    sla_grace_hours: int = 24
    # The local hour (Vietnam time, 0-23) of the officers' daily digest (bot/digest.py);
    # None: no digest.
    digest_hour: int | None = 7
    # Broadcasts (bot/broadcaster.py): messages per second per channel (0: no limit; Telegram
    # allows about 30, or 1,000 with paid broadcasts, billed in Stars), the least time
    # between two messages to one chat, and the local hours in which nothing is broadcast.
    telegram_broadcast_per_second: float = 30.0
    telegram_paid_broadcasts: bool = False
    chat_gap_seconds: float = 1.0
    zalo_broadcast_per_second: float = 10.0
    quiet_hours: tuple[time, time] | None = (time(21), time(6))
    # Zalo followers outside the free 48-hour window get a broadcast as a promotion message
    # (tin truyền thông), within Zalo's quota per follower (per calendar month and per day,
    # Vietnam time) and its promotional hours (bot/channels/zalo.py says where each figure
    # comes from). Off by default: Zalo has been moving these messages to paid ZBS templates
    # since 2026 and the OA must be verified and allowed them; off, those followers are
    # reported as outside the window, as before.
    zalo_promotion_broadcasts: bool = False
    zalo_promotion_per_month: int = 4
    zalo_promotion_per_day: int = 1
    zalo_promotion_hours: tuple[time, time] = (time(6), time(22))
    # The channel officers link their account on and get alerts through (Telegram for now).
    officer_channel: str = "telegram"
    # How long the janitor keeps what is no longer needed (bot/retention.py).
    retention: Retention = field(default_factory=Retention)
    # Or a file of keys, one per line; on the embedded default it is made on first start.
    key_file: Path | None = None
    generate_key_file: bool = False
    # Reverse proxies in front of the web server: only when the direct peer is one of these
    # is X-Forwarded-For read for the client's address (the dashboard's login limit).
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, cwd: Path | None = None) -> Settings:
        """Read settings from an environment mapping (and a .env file in cwd, env winning)."""
        base = Path(cwd) if cwd else Path.cwd()
        merged = {**read_dotenv(base / ".env"), **env}
        url = merged.get("DATABASE_URL") or f"sqlite+aiosqlite:///{base / 'data' / 'unionbot.db'}"
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ConfigError(
                "DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        public_url = (merged.get("PUBLIC_URL") or "").rstrip("/") or None
        is_sqlite = url.startswith("sqlite")
        default_key = base / "data" / "unionbot.key" if is_sqlite else None
        return cls(
            database_url=url,
            content_dir=Path(merged.get("UNIONBOT_CONTENT_DIR") or CONTENT_DIR),
            cache_dir=_path(merged.get("UNIONBOT_CACHE_DIR")),
            http_host=merged.get("HTTP_HOST", "127.0.0.1"),
            http_port=_number(merged, "HTTP_PORT", 8080),
            telegram_token=merged.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_api_base=merged.get("TELEGRAM_API_BASE") or TELEGRAM_DEFAULT_API_BASE,
            public_url=public_url,
            telegram_webhook_secret=merged.get("TELEGRAM_WEBHOOK_SECRET") or None,
            zalo_app_id=merged.get("ZALO_APP_ID") or None,
            zalo_app_secret=merged.get("ZALO_APP_SECRET") or None,
            zalo_oa_secret_key=merged.get("ZALO_OA_SECRET_KEY") or None,
            zalo_access_token=merged.get("ZALO_ACCESS_TOKEN") or None,
            zalo_refresh_token=merged.get("ZALO_REFRESH_TOKEN") or None,
            zalo_api_base=(merged.get("ZALO_API_BASE") or ZALO_DEFAULT_API_BASE).rstrip("/"),
            zalo_oauth_base=(merged.get("ZALO_OAUTH_BASE") or ZALO_DEFAULT_OAUTH_BASE).rstrip("/"),
            zalo_event_window_seconds=_number(merged, "ZALO_EVENT_WINDOW_SECONDS", 600, least=1),
            zalo_billed_replies=_flag(merged.get("ZALO_BILLED_REPLIES"), default=True),
            seed_directory=(CONTENT_DIR / "directory" / "sample.yaml") if is_sqlite else None,
            auto_upgrade=_flag(merged.get("UNIONBOT_AUTO_UPGRADE"), default=is_sqlite),
            flood_limit_per_minute=_number(merged, "UNIONBOT_FLOOD_LIMIT", 30),
            lease_seconds=_number(merged, "UNIONBOT_LEASE_SECONDS", 30, least=3),
            encryption_keys=_keys(merged.get("UNIONBOT_ENCRYPTION_KEY")),
            key_file=_path(merged.get("UNIONBOT_KEY_FILE")) or default_key,
            generate_key_file=is_sqlite and not merged.get("UNIONBOT_KEY_FILE"),
            due_days=_due_days(merged.get("UNIONBOT_DUE_DAYS")),
            sla_grace_hours=_number(merged, "UNIONBOT_SLA_GRACE_HOURS", 24),
            digest_hour=_hour(merged.get("UNIONBOT_DIGEST_HOUR", "7")),
            **_broadcasting(merged),
            **_links(merged),
            officer_channel=_officer_channel(merged.get("UNIONBOT_OFFICER_CHANNEL")),
            retention=Retention.from_env(merged),
            trusted_proxies=_networks(merged.get("UNIONBOT_TRUSTED_PROXIES")),
        )

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests and the CLI use it)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def telegram_webhook_mode(self) -> bool:
        return self.public_url is not None

    @property
    def zalo_enabled(self) -> bool:
        return bool(self.zalo_app_id and self.zalo_oa_secret_key)


def _links(merged: Mapping[str, str]) -> dict[str, Any]:
    """The bot's names on the messengers, for outreach links (bot/services/outreach.py)."""
    return {
        "telegram_bot_username": (merged.get("TELEGRAM_BOT_USERNAME") or "").lstrip("@") or None,
        "zalo_oa_id": merged.get("ZALO_OA_ID") or None,
    }


def _keys(value: str | None) -> tuple[str, ...]:
    """UNIONBOT_ENCRYPTION_KEY: keys separated by commas, the first one encrypting."""
    return tuple(key.strip() for key in (value or "").split(",") if key.strip())


def _number(env: Mapping[str, str], key: str, default: int, *, least: int | None = None) -> int:
    value = env.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ConfigError(f"{key} must be a whole number, not {value!r}") from exc
    if least is not None and number < least:
        raise ConfigError(f"{key} must be {least} or more, not {value!r}")
    return number


def _due_days(value: str | None) -> dict[str, tuple[int, int | None]]:
    """UNIONBOT_DUE_DAYS="grievance=2/10,membership=3": working days to the first response
    and, after a slash, to resolution; kinds not named keep their defaults."""
    days = dict(DEFAULT_DUE_DAYS)
    for item in (value or "").split(","):
        if not item.strip():
            continue
        kind, _, spec = item.partition("=")
        first, _, resolution = spec.partition("/")
        kind = kind.strip()
        try:
            if kind not in days:
                raise ValueError(kind)
            days[kind] = (int(first), int(resolution) if resolution.strip() else None)
        except ValueError:
            raise ConfigError(
                f"UNIONBOT_DUE_DAYS: cannot read {item.strip()!r}; write kind=days or "
                f"kind=days/days with kinds {', '.join(DEFAULT_DUE_DAYS)}"
            ) from None
    return days


def _path(value: str | None) -> Path | None:
    """A path setting; None when empty."""
    return Path(value) if value else None


def _hour(value: str) -> int | None:
    """UNIONBOT_DIGEST_HOUR: an hour of the day in Vietnam time, 0 to 23; "off" or empty
    turns the digest off."""
    text = value.strip().lower()
    if text in ("", "off"):
        return None
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 23:
        raise ConfigError(
            f"UNIONBOT_DIGEST_HOUR must be an hour from 0 to 23 (Vietnam time), or off; "
            f"not {value!r}"
        )
    return int(text)


def _broadcasting(merged: Mapping[str, str]) -> dict[str, Any]:
    """The broadcast settings (Settings explains them)."""
    return {
        "telegram_broadcast_per_second": _rate(merged, "TELEGRAM_BROADCAST_PER_SECOND", 30.0),
        "telegram_paid_broadcasts": _flag(merged.get("TELEGRAM_PAID_BROADCASTS"), default=False),
        "chat_gap_seconds": _rate(merged, "UNIONBOT_CHAT_GAP_SECONDS", 1.0),
        "zalo_broadcast_per_second": _rate(merged, "ZALO_BROADCAST_PER_SECOND", 10.0),
        "quiet_hours": _quiet_hours(merged.get("UNIONBOT_QUIET_HOURS", "21:00-06:00")),
        "zalo_promotion_broadcasts": _flag(merged.get("ZALO_PROMOTION_BROADCASTS"), default=False),
        "zalo_promotion_per_month": _number(merged, "ZALO_PROMOTION_PER_MONTH", 4, least=1),
        "zalo_promotion_per_day": _number(merged, "ZALO_PROMOTION_PER_DAY", 1, least=1),
        "zalo_promotion_hours": _promotion_hours(merged.get("ZALO_PROMOTION_HOURS", "")),
    }


def _rate(env: Mapping[str, str], key: str, default: float) -> float:
    """A rate or a time in seconds: a number, 0 or more."""
    value = (env.get(key) or "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):
        raise ConfigError(f"{key} must be a number, 0 or more, not {value!r}")
    return number


def _quiet_hours(value: str) -> tuple[time, time] | None:
    """UNIONBOT_QUIET_HOURS="21:00-06:00": local hours (Vietnam time) in which no broadcast
    goes out, from the first to the second (over midnight when it is earlier); "off" or
    empty: none."""
    text = value.strip().lower()
    if text in ("", "off"):
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ConfigError(
            f"UNIONBOT_QUIET_HOURS must be two times like 21:00-06:00 (Vietnam time), or off; "
            f"not {value!r}"
        ) from None
    if start == end:
        raise ConfigError("UNIONBOT_QUIET_HOURS: the start and the end must differ")
    return start, end


def _promotion_hours(value: str) -> tuple[time, time]:
    """ZALO_PROMOTION_HOURS="06:00-22:00": the local hours (Vietnam time) in which Zalo
    takes promotion messages, from the first to the second, within one day."""
    text = value.strip() or "06:00-22:00"
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        start = end = time(0)
    if not start < end:
        raise ConfigError(
            f"ZALO_PROMOTION_HOURS must be two times within a day like 06:00-22:00 "
            f"(Vietnam time), not {value!r}"
        )
    return start, end


# Channels officers can work a case on (linking, alerts, one-tap buttons).
OFFICER_CHANNELS = ("telegram",)


def _officer_channel(value: str | None) -> str:
    channel = (value or "telegram").strip().lower()
    if channel not in OFFICER_CHANNELS:
        raise ConfigError(f"UNIONBOT_OFFICER_CHANNEL must be one of {', '.join(OFFICER_CHANNELS)}")
    return channel


def _networks(value: str | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """UNIONBOT_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8": addresses or networks."""
    networks = []
    for item in (value or "").replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"UNIONBOT_TRUSTED_PROXIES: {item!r} is not an address or a network; write "
                "them separated by commas, e.g. 127.0.0.1,10.0.0.0/8"
            ) from None
    return tuple(networks)


def _flag(value: str | None, *, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a minimal .env file: KEY=VALUE lines, # comments, optional quotes."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def default_settings() -> Settings:
    """Settings from the real process environment; only the CLI calls this."""
    return Settings.from_env(os.environ)


# -- the client behind a proxy (UNIONBOT_TRUSTED_PROXIES) ------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def real_client(remote: str | None, forwarded: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address: the peer's (`remote`), unless the peer is a trusted proxy; then
    the last X-Forwarded-For hop (`forwarded`, the header's values) that is not a trusted
    proxy (what came before it, the client could have typed). The dashboard's login limit
    and the web chat's new-visitor limit both count by it."""
    peer = remote or "?"
    if not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _trusted(text: str, trusted: Sequence[Network]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in trusted)


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# -- what each setting means (the operator's table) ------------------------------------------


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment variable the bot reads: its default as an operator would write it
    (in backticks when it is a value the variable can be given to the same effect) and what
    it means. docs/operations.md and README.md hold the table `markdown_table` makes of
    SETTINGS; tests/test_operations_guide.py keeps the three in step with from_env."""

    name: str
    default: str
    meaning: str


SETTINGS: tuple[Setting, ...] = (
    # The database and what the bot keeps on disk.
    Setting(
        "DATABASE_URL",
        "SQLite in `./data/unionbot.db` of the working directory",
        "`sqlite+aiosqlite:///PATH` (one `unionbot serve` process) or "
        "`postgresql+asyncpg://USER@HOST/DB` (any number of processes; behind PgBouncer in "
        "transaction mode add `?pgbouncer=true`). On PostgreSQL run `unionbot db upgrade` and "
        "`unionbot directory import FILE` before the first start",
    ),
    Setting(
        "UNIONBOT_AUTO_UPGRADE",
        "on for SQLite, off for PostgreSQL",
        "bring the schema to the newest migration when a process starts; off, a process "
        "refuses to start on an older schema and says to run `unionbot db upgrade`",
    ),
    Setting(
        "UNIONBOT_CONTENT_DIR",
        "the content installed with the bot (the package `unionbot_content`)",
        "a folder with a union's own content (articles, taxonomy, vocabulary, holidays, "
        "locales, training examples) in place of the bundled one; start from a complete copy "
        "of it and check it with `unionbot content check`",
    ),
    Setting(
        "UNIONBOT_CACHE_DIR",
        "`unionbot` in `XDG_CACHE_HOME`, else in `~/.cache`",
        "where the trained FAQ matcher is kept: trained once per change of its examples (the "
        "content's and the officers' lessons) in a child process, loaded from here at every "
        "start; models no process used for a day are deleted; deleting the folder costs one "
        "training at the next start",
    ),
    # Encryption at rest.
    Setting(
        "UNIONBOT_ENCRYPTION_KEY",
        "none",
        "Fernet keys separated by commas for what is sealed in the database (phones, contact "
        "details, who filed an anonymous request, half-filled forms): the first seals, every "
        "one opens. Set, it is used in place of the key file",
    ),
    Setting(
        "UNIONBOT_KEY_FILE",
        "`./data/unionbot.key` on SQLite, made on first start; none on PostgreSQL",
        "a file of Fernet keys, one per line (`#` starts a comment), the first sealing. Keep "
        "it readable by the bot's user only, outside the folder the database's backups copy, "
        "and back it up apart from them: without it the sealed data cannot be read",
    ),
    # The web server.
    Setting("HTTP_HOST", "`127.0.0.1`", "the address the web server listens on"),
    Setting("HTTP_PORT", "`8080`", "the port the web server listens on"),
    Setting(
        "PUBLIC_URL",
        "none",
        "the HTTPS address the reverse proxy serves the bot at, e.g. `https://bot.example.org`. "
        "Set: Telegram delivers by webhook to `PUBLIC_URL/telegram/webhook`, posters point at "
        "`PUBLIC_URL/chat`, and `unionbot zalo authorize` defaults its callback to "
        "`PUBLIC_URL/zalo/authorized`; unset: Telegram long polling",
    ),
    Setting(
        "UNIONBOT_TRUSTED_PROXIES",
        "none",
        "reverse proxies in front of the web server, as addresses or networks separated by "
        "commas (e.g. `127.0.0.1,10.0.0.0/8`). Only for a request straight from one of them is "
        "`X-Forwarded-For` read, and its last address that is not a listed proxy is the "
        "client's: the dashboard's login limit and the web chat's limit on new visitors count "
        "by it. Unset, the header is ignored (anyone can write it) and every client behind a "
        "proxy counts as the proxy",
    ),
    # Telegram.
    Setting(
        "TELEGRAM_BOT_TOKEN",
        "none: Telegram off",
        "the token from @BotFather; switches Telegram on",
    ),
    Setting(
        "TELEGRAM_WEBHOOK_SECRET",
        "derived from the bot token",
        "the secret Telegram sends with every webhook call (`X-Telegram-Bot-Api-Secret-Token`); "
        "a call without it gets 403. Derived from the token when unset, so every process sets "
        "and expects the same one; set it the same in all processes if you set it",
    ),
    Setting(
        "TELEGRAM_API_BASE",
        "`https://api.telegram.org/bot`",
        "the Bot API's address (a local Bot API server; the tests' fake)",
    ),
    Setting(
        "TELEGRAM_BOT_USERNAME",
        "none",
        "the bot's @username, without the @, for outreach links and posters "
        "(`t.me/USERNAME?start=CODE`)",
    ),
    Setting(
        "TELEGRAM_BROADCAST_PER_SECOND",
        "`30`",
        "broadcast messages per second on Telegram (its limit for a bot). Replies to workers "
        "spend from the same budget first, so a broadcast slows down while people chat. `0` "
        "lifts the limit (a local Bot API server, benchmarks)",
    ),
    Setting(
        "TELEGRAM_PAID_BROADCASTS",
        "`off`",
        "`on`: broadcast with Telegram's paid broadcasts (`allow_paid_broadcast`), up to "
        "1,000 messages a second, each beyond the free 30 billed in Telegram Stars to the "
        "bot's balance",
    ),
    # Zalo.
    Setting(
        "ZALO_APP_ID",
        "none: Zalo off",
        "the Zalo app's id; with `ZALO_OA_SECRET_KEY` it switches Zalo on (webhook at "
        "`/zalo/webhook`)",
    ),
    Setting(
        "ZALO_OA_SECRET_KEY",
        "none: Zalo off",
        "the OA secret key that signs webhook events (developer console: the app, Webhook; not "
        "the app secret). An event without its signature (`X-ZEvent-Signature`) gets 401, with "
        "a wrong one 403; neither is stored",
    ),
    Setting(
        "ZALO_APP_SECRET",
        "none",
        "the app's secret key, sent when renewing the access token and by "
        "`unionbot zalo authorize`",
    ),
    Setting(
        "ZALO_ACCESS_TOKEN",
        "none",
        "a first access token (e.g. from Zalo's API Explorer), read only while the database "
        "holds none; afterwards the database keeps the current pair. Or leave it and "
        "`ZALO_REFRESH_TOKEN` unset and run `unionbot zalo authorize`",
    ),
    Setting(
        "ZALO_REFRESH_TOKEN",
        "none",
        "the first refresh token, with `ZALO_ACCESS_TOKEN`; each works once, so the database "
        "keeps the current one",
    ),
    Setting(
        "ZALO_OA_ID",
        "none",
        "the Official Account's id, for outreach links and posters (`zalo.me/ID`; the worker "
        "types the poster's code there)",
    ),
    Setting("ZALO_API_BASE", "`https://openapi.zalo.me`", "Zalo's API address (the tests' fake)"),
    Setting(
        "ZALO_OAUTH_BASE", "`https://oauth.zaloapp.com`", "Zalo's OAuth address (the tests' fake)"
    ),
    Setting(
        "ZALO_EVENT_WINDOW_SECONDS",
        "`600`",
        "how far an event's timestamp may be from the server's clock before it is refused "
        "(403) as a replay: keep the clock in sync",
    ),
    Setting(
        "ZALO_BILLED_REPLIES",
        "`on`",
        "send replies 48 hours to 7 days after the worker's last message, which Zalo bills; "
        "off, they wait until the worker writes again",
    ),
    Setting(
        "ZALO_BROADCAST_PER_SECOND", "`10`", "broadcast messages per second on Zalo (`0`: no limit)"
    ),
    Setting(
        "ZALO_PROMOTION_BROADCASTS",
        "`off`",
        "`on`: a broadcast to a Zalo follower outside the free 48-hour window goes as a "
        "promotion message (tin truyền thông), within Zalo's quota and hours; off, those "
        "followers are reported as outside the window. Off by default: Zalo has been moving "
        "these to paid ZBS template messages since 2026, so check the OA still has them",
    ),
    Setting(
        "ZALO_PROMOTION_PER_MONTH",
        "`4`",
        "promotion messages one follower may get in a calendar month, Vietnam time (a "
        "verified OA's quota; set your OA package's); past it the follower is reported",
    ),
    Setting(
        "ZALO_PROMOTION_PER_DAY",
        "`1`",
        "promotion messages one follower may get in a day; the next one waits for the next day",
    ),
    Setting(
        "ZALO_PROMOTION_HOURS",
        "`06:00-22:00`",
        "local hours (Vietnam time) in which Zalo takes promotion messages; outside them a "
        "delivery waits for them to open",
    ),
    # Casework, officers and broadcasts.
    Setting(
        "UNIONBOT_DUE_DAYS",
        "`grievance=2/10,support=2,question=2,membership=3`",
        "working days to the first answer and, after a slash, to resolution, per kind of "
        "request; kinds not named keep their default. Working days are Monday to Friday in "
        "Vietnam time without the holidays in the content's `holidays.yaml` (add each year's "
        "Tết and National Day days when announced; `unionbot content check` warns when the "
        "list runs out)",
    ),
    Setting(
        "UNIONBOT_SLA_GRACE_HOURS",
        "`24`",
        "hours past a request's due time before it moves up to the parent union (`0`: at once)",
    ),
    Setting(
        "UNIONBOT_DIGEST_HOUR",
        "`7`",
        "the hour (Vietnam time, 0 to 23) of each active, linked officer's daily digest on "
        "Telegram: what is new, overdue and waiting for them, with the five most urgent. Once "
        "a day: a process started after the hour sends that day's at once, no officer gets "
        "two, and one with nothing to report gets none. `off` turns it off",
    ),
    Setting(
        "UNIONBOT_OFFICER_CHANNEL",
        "`telegram`",
        "the messenger officers link their account on and get alerts through (only "
        "`telegram` for now)",
    ),
    Setting(
        "UNIONBOT_QUIET_HOURS",
        "`21:00-06:00`",
        "local hours (Vietnam time) in which no broadcast starts or goes on (a running one "
        "pauses and resumes at the end), so night-shift and early farm workers are not woken; "
        "`off` turns it off. Replies to workers are never held",
    ),
    Setting(
        "UNIONBOT_CHAT_GAP_SECONDS",
        "`1`",
        "the least time between two messages to one chat when a broadcast reaches someone who "
        "was just answered (Telegram's limit per chat)",
    ),
    Setting(
        "UNIONBOT_FLOOD_LIMIT",
        "`30`",
        'messages one person may send per minute before the bot says "please wait a minute" '
        "once and stops reading theirs until the rate drops (`0`: no limit). Counted by when "
        "each message was sent, so a backlog after downtime is not a flood. Each `serve` "
        "process counts what it handles: with N processes a person gets up to N times this",
    ),
    Setting(
        "UNIONBOT_LEASE_SECONDS",
        "`30`",
        "how long a process's leases last without renewal (at least 3): when a process dies, "
        "another takes over its duties (broadcasts, downloads, the SLA watch, the janitor, "
        "the digest, Telegram polling) and its unsent replies within this time",
    ),
    # Retention (bot/retention.py); 0 keeps that data.
    Setting(
        "UNIONBOT_KEEP_INBOX_DAYS",
        "`2`",
        "days a handled update's row (its id, to recognise a redelivery; its content is "
        "cleared once handled) is kept: Telegram redelivers an update for a day at most. "
        "Pending updates are never deleted. `0` keeps them",
    ),
    Setting(
        "UNIONBOT_KEEP_SENT_DAYS",
        "`1`",
        "days a sent message stays in the outbox, the web chat's excepted (the worker has it "
        "on their phone; a day leaves time to look into a delivery problem). Messages not "
        "sent yet stay until they are. `0` keeps them",
    ),
    Setting(
        "UNIONBOT_KEEP_WEBCHAT_DAYS",
        "`30`",
        "days a message sent in the web chat stays: how far back the chat's history reaches "
        "(the page has no other copy, and an officer's answer must wait there for a visitor "
        "who comes back weeks later). `0` keeps them",
    ),
    Setting(
        "UNIONBOT_KEEP_VISITOR_DAYS",
        "`1`",
        "days after their last message before a web chat visitor who left nothing to follow "
        "(no request, consent or conversation) is deleted, with the messages sent to them "
        "(every opened chat makes one). `0` keeps them",
    ),
    Setting(
        "UNIONBOT_KEEP_CLOSED_CASE_DAYS",
        "`365`",
        "days after a request is resolved or closed before who sent it (their id, the sealed "
        "reporter and its tag, the PIN), the sealed contact details and the files are "
        "removed; the request, its thread and its audit entries stay. A year, as a complaint "
        "may come back and an individual labour dispute can go to court for a year (Labour "
        "Code 2019, art. 190). `0` keeps them",
    ),
    Setting(
        "UNIONBOT_KEEP_BROADCAST_DAYS",
        "`90`",
        "days after a broadcast ended before the list of who it went to is deleted (its "
        "counts stay for its report). `0` keeps it",
    ),
)


def markdown_table() -> str:
    """The settings as the Markdown table the guide and the README hold."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        cells = (f"`{setting.name}`", setting.default, setting.meaning)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"
