"""create_app(settings) -> the aiohttp Application that runs everything.

cleanup_ctx, in order: the database (schema upgrade and first-start directory import on the
embedded default), the shared HTTP client session, then the runtime: inbox writer, channels,
dispatcher (the inbox worker), sender, evidence fetcher and broadcaster. `unionbot serve`
serves it over HTTP; `unionbot chat` runs the same app without a listening socket, with the
terminal as its channel.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from functools import partial

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import text

from bot import digest, retention, sla
from bot.broadcaster import Broadcaster
from bot.channels import webchat
from bot.channels.base import Channel
from bot.channels.telegram import WEBHOOK_PATH, TelegramChannel
from bot.channels.terminal import TerminalChannel
from bot.channels.zalo import WEBHOOK_PATH as ZALO_WEBHOOK_PATH
from bot.channels.zalo import ZaloChannel, ZaloTokens
from bot.config import ConfigError, Settings
from bot.digest import Digest
from bot.dispatch import Dispatcher
from bot.fetcher import EvidenceFetcher
from bot.inbox import InboxWriter
from bot.leadership import Leadership
from bot.logs import describe
from bot.outbox import Sender, identity
from bot.outbox import body as outbox_body
from bot.retention import Janitor
from bot.schema import ensure_schema, seed_directory
from bot.services import Services, alerts, reach, teaching
from bot.services.i18n import _
from bot.services.teaching import Tutor
from bot.sla import SlaWatch
from bot.web import routes as dashboard
from bot.web.pages import DASHBOARD, Dashboard
from handlers import registry
from handlers.types import Recipient
from storage import db
from storage.inbox import NewUpdate

log = logging.getLogger(__name__)

# Telegram updates are a few kilobytes; anything near this is not one.
MAX_BODY_BYTES = 1024 * 1024
# The duty that receives Telegram updates when there is no webhook.
POLLING = "telegram-polling"
# On shutdown, how long to let stored updates finish and replies go out.
SHUTDOWN_GRACE_SECONDS = 10.0
# How long a client may take to send a request's body (a form, an update, a chat message:
# a few kilobytes) before it is refused with 408.
BODY_READ_SECONDS = 10.0
# The forms that take a file: a broadcast's compose form carries an image (at most 5 MB, see
# bot/services/broadcasts.py) and, from one step to the next, the image already made from it:
# room for both and the rest, and time for a phone's slow upload.
UPLOAD_PATHS = frozenset({"/officer/broadcasts/new"})
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
UPLOAD_READ_SECONDS = 120.0


@dataclass(slots=True)
class Runtime:
    """The running parts, for routes, the terminal and tests."""

    services: Services
    inbox: InboxWriter
    dispatcher: Dispatcher
    sender: Sender
    channels: Mapping[str, Channel]
    fetcher: EvidenceFetcher
    tutor: Tutor
    broadcaster: Broadcaster
    leadership: Leadership
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def receive(self, update: NewUpdate) -> None:
        """Store one update and wait until it is processed and its replies are sent."""
        await self.inbox.store([update])
        await self.settle()

    async def settle(self) -> None:
        """Wait until the inbox is processed and the outbox is sent."""
        await self.dispatcher.wait_idle()
        await self.sender.wait_idle()


SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", db.Database)
HTTP = web.AppKey("http", aiohttp.ClientSession)
RUNTIME = web.AppKey("runtime", Runtime)
TELEGRAM = web.AppKey("telegram", TelegramChannel)
TERMINAL = web.AppKey("terminal", TerminalChannel)
ZALO = web.AppKey("zalo", ZaloChannel)
WEBCHAT = web.AppKey("webchat", webchat.WebChatChannel)


def create_app(settings: Settings, *, terminal: TerminalChannel | None = None) -> web.Application:
    """The whole system as one aiohttp app; `terminal` replaces messengers for `chat`."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[body_first])
    app[SETTINGS] = settings
    if terminal is not None:
        app[TERMINAL] = terminal
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(http_ctx)
    app.cleanup_ctx.append(runtime_ctx)
    app.router.add_get("/healthz", healthz)
    dashboard.setup(app)
    if settings.telegram_token and settings.telegram_webhook_mode and terminal is None:
        app.router.add_post(WEBHOOK_PATH, telegram_webhook)
    if settings.zalo_enabled and terminal is None:
        app.router.add_post(ZALO_WEBHOOK_PATH, zalo_webhook)
    if terminal is None:
        # The web chat comes with the web server; in `unionbot chat` the terminal replaces it.
        webchat.add_routes(app, WEBCHAT)
    return app


@web.middleware
async def body_first(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read a request's whole body before its handler runs, within BODY_READ_SECONDS, or
    answer 408. So no handler waits on a client's network while it holds the database (the
    SQLite write gate, a session): `read()`, `post()` and `json()` then answer from memory.
    A multipart form (only UPLOAD_PATHS take one, with more room and time) is parsed here,
    as its stream can be read only once."""
    if not request.body_exists:
        return await handler(request)
    seconds = BODY_READ_SECONDS
    if request.path in UPLOAD_PATHS:
        request = request.clone(client_max_size=MAX_UPLOAD_BYTES)
        seconds = UPLOAD_READ_SECONDS
    try:
        async with asyncio.timeout(seconds):
            if request.content_type == "multipart/form-data":
                await request.post()
            else:
                await request.read()
    except TimeoutError:
        log.info("refused a request whose body took over %.0f s to arrive", seconds)
        refused = web.Response(status=408, text="408: the request body came too slowly")
        refused.force_close()
        return refused
    except ValueError:  # a multipart body that is not one
        return web.Response(status=400, text="400: the form could not be read")
    return await handler(request)


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    with ExitStack() as held:
        try:
            held.enter_context(db.sole_process(settings.database_url))
        except db.InUse as exc:
            raise ConfigError(str(exc)) from None
        database = db.Database.open(settings.database_url)
        try:
            await ensure_schema(database, settings)
            await seed_directory(database, settings)
            app[DATABASE] = database
            yield
        finally:
            await database.close()


async def http_ctx(app: web.Application) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as session:
        app[HTTP] = session
        yield


async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
    """The running parts: built, started, and on shutdown given time to finish."""
    runtime = build_runtime(app)
    telegram = app.get(TELEGRAM)
    # Alive before anything is written: no other process takes this one's messages over.
    await runtime.leadership.begin()
    runtime.tasks = start_tasks(runtime)
    try:
        if telegram is not None:
            await telegram.start()
        # Everything built so far lives as long as the process. Moving it out of the garbage
        # collector's view keeps full collections short (50-70 ms pauses without this).
        gc.freeze()
        yield
    finally:
        await runtime.leadership.stop_duties([POLLING])
        await stop(runtime)
        if telegram is not None:
            await telegram.stop()


def build_runtime(app: web.Application) -> Runtime:
    """Services, sender, dispatcher, inbox writer, fetcher, the channels and the duties, wired."""
    settings = app[SETTINGS]
    database = app[DATABASE]
    services = Services.load(settings)
    channels: dict[str, Channel] = {}
    me = identity()
    sender = Sender(database, services, channels, owner=me)
    dispatcher = Dispatcher(services, channels, sender)
    writer = InboxWriter(database, services, on_stored=dispatcher.wake)
    fetcher = EvidenceFetcher(database, services, channels)
    tutor = Tutor(services.knowledge, database.sessions)
    broadcaster = Broadcaster(sender, channels, owner=me, alone=True)
    terminal = app.get(TERMINAL)
    if terminal is not None:
        channels[terminal.name] = terminal
    elif settings.telegram_token:
        telegram = TelegramChannel(
            settings, app[HTTP], writer, group_button=registry.officer_button
        )
        channels[telegram.name] = telegram
        app[TELEGRAM] = telegram
    if terminal is None and settings.zalo_enabled:
        zalo = build_zalo(app, services, writer, sender)
        channels[zalo.name] = zalo
        app[ZALO] = zalo
    if terminal is None:
        chat = webchat.WebChatChannel(
            database, writer, services.vault.tag,
            read_body=partial(outbox_body, services.vault),
            trusted_proxies=settings.trusted_proxies,
        )  # fmt: skip
        channels[chat.name] = chat
        app[WEBCHAT] = chat
    jobs = duties(services, sender, broadcaster, fetcher, app.get(TELEGRAM))
    leadership = Leadership(database, me, settings.lease_seconds, jobs)
    sender.takes_over = lambda: leadership.leading and leadership.steady
    runtime = Runtime(
        services, writer, dispatcher, sender, channels, fetcher, tutor, broadcaster, leadership
    )
    app[RUNTIME] = runtime
    app[DASHBOARD] = Dashboard(services, sender, tutor)
    return runtime


def build_zalo(
    app: web.Application, services: Services, writer: InboxWriter, sender: Sender
) -> ZaloChannel:
    """The Zalo channel, with what it needs of the rest: the vault, who a chat's person is,
    and a way to tell the admins when its tokens need them."""
    settings, database, vault = app[SETTINGS], app[DATABASE], services.vault

    async def recipients(chat_ids: Collection[str]) -> dict[str, Recipient]:
        async with database.sessions() as session:
            return await reach.recipients(session, vault, ZaloChannel.name, chat_ids)

    async def tell_admins(reason: str) -> None:
        async with sender.work() as work:
            work.send(await alerts.to_admins(work.session, services, alerts.ZALO_NEEDS_AUTHORISING))

    def number_hint(language: str | None) -> str:
        with services.catalogs.activate(language or settings.default_language):
            return _("Type the number of your choice.")

    tokens = ZaloTokens(
        settings, app[HTTP], database, seal=vault.seal, reveal=vault.open, on_broken=tell_admins
    )
    where = settings.public_url or f"http://{settings.http_host}:{settings.http_port}"
    log.info("Zalo on: register %s%s as the webhook in Zalo's console", where, ZALO_WEBHOOK_PATH)
    return ZaloChannel(
        settings, app[HTTP], writer, database, tokens,
        seal=vault.seal, reveal=vault.open, tag=vault.tag, recipients=recipients,
        number_hint=number_hint,
        clock=services.clock,
    )  # fmt: skip


def duties(
    services: Services,
    sender: Sender,
    broadcaster: Broadcaster,
    fetcher: EvidenceFetcher,
    telegram: TelegramChannel | None,
) -> dict[str, Callable[[], Awaitable[object]]]:
    """The jobs only one process runs at a time (bot/leadership.py)."""
    jobs: dict[str, Callable[[], Awaitable[object]]] = {
        "sla-watch": partial(every, sla.CHECK_SECONDS, SlaWatch(services, sender).run_once),
        "janitor": partial(every, retention.CHECK_SECONDS, Janitor(services, sender).run_once),
        "digest": partial(every, digest.CHECK_SECONDS, Digest(services, sender).run_once),
        "broadcaster": broadcaster.run,
        "evidence": fetcher.run,
    }
    if telegram is not None and telegram.polling:
        jobs[POLLING] = telegram.poll
    return jobs


def start_tasks(runtime: Runtime) -> list[asyncio.Task[None]]:
    """The background loops every process runs: its duties come with the leadership."""
    return [
        asyncio.create_task(runtime.inbox.run(), name="inbox-writer"),
        asyncio.create_task(runtime.dispatcher.run(), name="inbox-worker"),
        asyncio.create_task(runtime.sender.run_flusher(), name="outbox-flusher"),
        asyncio.create_task(runtime.sender.run_scanner(), name="outbox-scanner"),
        asyncio.create_task(every(teaching.CHECK_SECONDS, runtime.tutor.run_once), name="tutor"),
        asyncio.create_task(runtime.leadership.run(), name="leadership"),
    ]


async def every(seconds: float, job: Callable[[], Awaitable[object]]) -> None:
    """Run a periodic job until cancelled; a failed run is logged and the next one comes."""
    while True:
        try:
            await job()
        except Exception as exc:
            log.error("%s failed: %s", getattr(job, "__qualname__", "job"), describe(exc))
        await asyncio.sleep(seconds)


async def stop(runtime: Runtime) -> None:
    """Let what was stored be processed and sent, within a grace period; then stop."""
    with suppress(TimeoutError):
        await asyncio.wait_for(runtime.settle(), timeout=SHUTDOWN_GRACE_SECONDS)
    # Stopped between steps, not cancelled inside a claim's transaction.
    await runtime.broadcaster.close()
    await runtime.leadership.stop_duties()
    for task in runtime.tasks:
        task.cancel()
    for task in runtime.tasks:
        with suppress(asyncio.CancelledError):
            await task
    await runtime.dispatcher.close()
    await runtime.sender.close()
    # Last: until its messages are sent, no other process may take them over.
    await runtime.leadership.end()


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers."""
    try:
        async with request.app[DATABASE].engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return web.json_response({"ok": False, "database": "unreachable"}, status=503)
    return web.json_response({"ok": True})


async def telegram_webhook(request: web.Request) -> web.StreamResponse:
    return await request.app[TELEGRAM].handle_webhook(request)


async def zalo_webhook(request: web.Request) -> web.StreamResponse:
    return await request.app[ZALO].handle_webhook(request)
