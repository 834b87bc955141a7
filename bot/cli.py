"""`unionbot` and `python -m bot`: the stable command line (DESIGN.md).

unionbot chat                      talk to the bot as a worker in this terminal
unionbot serve                     run the configured channels, workers and web server
unionbot ask TEXT --json           answer one question as JSON (--jsonl: one per stdin line)
unionbot content check             validate the knowledge base; list stale articles
unionbot route --workplace T --ward W --json   which union's queue (--directory FILE: no database)
unionbot content unanswered        the questions the bot could not answer, most asked first
unionbot directory import FILE     load or update the union directory
unionbot officer add|invite|group|list   officer accounts, Telegram links, officers' groups
unionbot db upgrade                bring the database schema up to date
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from aiohttp import web

from bot import accounts, logs
from bot.accounts import AccountError
from bot.app import RUNTIME, create_app, ensure_schema, seed_directory
from bot.channels.terminal import TerminalChannel, converse
from bot.config import ConfigError, Settings, default_settings
from bot.services import calendar, knowledge
from bot.services.crypto import load_vault
from bot.services.i18n import LANGUAGES, LOCAL_TIME, Catalogs, _
from bot.services.knowledge import SOON_DAYS, ContentError, Knowledge
from bot.services.router import Router
from handlers import faq, status
from storage import cases, db, officers, people, unanswered, unions
from storage.directory import DirectoryError
from storage.directory import load as load_directory


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unionbot", description="Trade-union outreach chatbot (Telegram, terminal)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser("chat", help="talk to the bot as a worker in this terminal")
    chat.add_argument("--user", default=None, help="who you are to the bot (default: your login)")

    serve = commands.add_parser("serve", help="run the channels, workers and the web server")
    serve.add_argument("--host", default=None, help="listen address (default HTTP_HOST)")
    serve.add_argument("--port", type=int, default=None, help="listen port (default HTTP_PORT)")

    ask = commands.add_parser("ask", help="answer a question from the knowledge base")
    ask.add_argument("text", nargs="*", help="the question (quote it)")
    output = ask.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object")
    output.add_argument("--jsonl", action="store_true", help="one question per stdin line")
    ask.add_argument("--lang", choices=LANGUAGES, default=None, help="answer language")

    content = commands.add_parser("content", help="the knowledge base")
    content_commands = content.add_subparsers(dest="action", required=True, metavar="ACTION")
    do_check = content_commands.add_parser("check", help="validate; list stale articles")
    do_check.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    do_check.add_argument("--soon-days", type=int, default=SOON_DAYS, help="'soon' horizon")
    do_unanswered = content_commands.add_parser("unanswered", help="questions not answered")
    do_unanswered.add_argument("--limit", type=int, default=50)

    route = commands.add_parser("route", help="which union's queue a workplace and ward go to")
    route.add_argument("--workplace", default=None, help="the workplace as the worker wrote it")
    route.add_argument("--ward", default=None, help="the ward (new or old name)")
    route.add_argument("--directory", default=None, help="a directory file; no database is used")
    route_output = route.add_mutually_exclusive_group()
    route_output.add_argument("--json", action="store_true", help="print one JSON object")
    route_output.add_argument(
        "--jsonl", action="store_true", help='read {"workplace": .., "ward": ..} lines on stdin'
    )

    directory = commands.add_parser("directory", help="the union directory")
    directory_commands = directory.add_subparsers(dest="action", required=True, metavar="ACTION")
    do_import = directory_commands.add_parser("import", help="import or update from a YAML file")
    do_import.add_argument("file", help="directory file in the format of DESIGN.md")

    officer = commands.add_parser("officer", help="officer accounts")
    officer_commands = officer.add_subparsers(dest="action", required=True, metavar="ACTION")
    do_add = officer_commands.add_parser(
        "add", help="create an officer; prints a one-time code to link their Telegram"
    )
    do_add.add_argument("--union", required=True, help="the union's code, e.g. GR-SUACAONGUYEN")
    do_add.add_argument("--name", required=True)
    do_add.add_argument("--role", choices=["officer", "admin"], default="officer")
    do_add.add_argument("--login", help="dashboard login (then a password is asked)")
    do_add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    do_add.add_argument("--telegram-id", help="link this Telegram user id now")
    do_invite = officer_commands.add_parser("invite", help="a new one-time code to link Telegram")
    do_invite.add_argument("officer", help="the officer's login or id")
    do_group = officer_commands.add_parser(
        "group", help="tell a Telegram group of officers about new cases of a union"
    )
    do_group.add_argument("union", help="the union's code")
    do_group.add_argument("chat_id", help="the group's chat id (negative)")
    officer_commands.add_parser("list", help="the officer accounts")

    database = commands.add_parser("db", help="the database")
    database_commands = database.add_subparsers(dest="action", required=True, metavar="ACTION")
    database_commands.add_parser("upgrade", help="upgrade the schema to the newest revision")
    database_commands.add_parser(
        "rotate-key", help="re-seal stored secrets with the first (new) encryption key"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = default_settings()
        if args.command == "chat":
            logs.setup(logging.WARNING)
            asyncio.run(chat(settings, args.user or _login()))
        elif args.command == "serve":
            logs.setup(logging.INFO)
            serve(settings, args.host, args.port)
        elif args.command == "ask":
            return ask(settings, args)
        elif args.command == "content" and args.action == "check":
            return check_content(settings, args.today, args.soon_days)
        elif args.command == "content":
            return asyncio.run(list_unanswered(settings, args.limit))
        elif args.command == "route":
            return asyncio.run(route(settings, args))
        elif args.command == "directory":
            logs.setup(logging.WARNING)
            return asyncio.run(import_directory(settings, args.file))
        elif args.command == "officer":
            logs.setup(logging.WARNING)
            return asyncio.run(officer_command(settings, args))
        elif args.command == "db" and args.action == "rotate-key":
            logs.setup(logging.WARNING)
            return asyncio.run(rotate_key(settings))
        elif args.command == "db":
            logs.setup(logging.INFO)
            db.run_upgrade(settings.database_url)
            print("database schema is up to date")
    except (ConfigError, ContentError, AccountError) as exc:
        print(f"unionbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def ask(settings: Settings, args: argparse.Namespace) -> int:
    """`unionbot ask`: the same search and answer text as the chat, without a database."""
    language = args.lang or settings.default_language
    # Only the content is needed: no database, no keys, nothing written.
    catalogs = Catalogs(settings.content_dir / "locales")
    knowledge = Knowledge.load(settings.content_dir)
    on = datetime.now(LOCAL_TIME).date()

    def answer(text: str) -> dict[str, object]:
        match = knowledge.search(text, language)
        with catalogs.activate(language):
            reply, _buttons = faq.compose(knowledge, match, language, on)
        return {
            "topic": match.topic,
            "confidence": match.confidence,
            "answer": reply,
            "suggestions": list(match.suggestions),
        }

    if args.jsonl:
        for line in sys.stdin:
            print(json.dumps(answer(line.strip()), ensure_ascii=False), flush=True)
        return 0
    text = " ".join(args.text).strip()
    if not text:
        print("unionbot: ask needs a question, or --jsonl with questions on stdin", file=sys.stderr)
        return 2
    result = answer(text)
    print(json.dumps(result, ensure_ascii=False) if args.json else result["answer"])
    return 0


def check_content(settings: Settings, today: date | None, soon_days: int) -> int:
    """`unionbot content check`: problems, stale and soon-stale articles; 1 when any."""
    today = today or datetime.now(LOCAL_TIME).date()
    report = knowledge.check(settings.content_dir, today, soon_days)
    for problem in report.problems:
        print(f"invalid: {problem}")
    for article in report.stale:
        print(f"stale: {article.path} (valid until {article.valid_until})")
    for article in report.soon_stale:
        print(f"soon stale: {article.path} (valid until {article.valid_until})")
    ok = report.ok
    try:
        holidays = calendar.load_holidays(settings.content_dir)
    except ConfigError as exc:
        print(f"invalid: {exc}")
        return 1
    covered = holidays.covered_until
    path = settings.content_dir / calendar.HOLIDAYS_FILE
    if covered is not None and covered < today:
        print(f"stale: {path} (complete until {covered}: add the next holidays)")
        ok = False
    elif covered is not None and covered < today + timedelta(days=soon_days):
        print(f"soon stale: {path} (complete until {covered})")
    if ok:
        print(f"knowledge base ok on {today}")
    return 0 if ok else 1


async def list_unanswered(settings: Settings, limit: int) -> int:
    """`unionbot content unanswered`: what workers asked that the bot could not answer."""
    database = db.Database.open(settings.database_url)
    try:
        await ensure_schema(database, settings)
        async with database.sessions() as session:
            rows = await unanswered.most_asked(session, limit)
    finally:
        await database.close()
    for row in rows:
        last = row.last_asked_at.astimezone(LOCAL_TIME).date()
        print(f"{row.count:5d}  {last}  [{row.language}] {row.text}")
    return 0


async def route(settings: Settings, args: argparse.Namespace) -> int:
    """`unionbot route`: the router's decision, from a directory file or the database."""
    if args.directory:
        try:
            found = load_directory(args.directory)
        except DirectoryError as exc:
            print(f"unionbot: {exc}", file=sys.stderr)
            return 1
    else:
        database = db.Database.open(settings.database_url)
        try:
            await ensure_schema(database, settings)
            await seed_directory(database, settings)  # as `chat` would, on the default
            async with database.sessions() as session:
                found = await unions.directory(session)
        finally:
            await database.close()
        if found is None:
            print("unionbot: no directory imported; use --directory FILE", file=sys.stderr)
            return 1
    router = Router(found)
    if args.jsonl:
        for number, line in enumerate(sys.stdin, 1):
            try:
                asked = json.loads(line)
                if not isinstance(asked, dict):
                    raise ValueError("not an object")
                decision = router.route(_text(asked.get("workplace")), _text(asked.get("ward")))
            except ValueError as exc:
                print(f"unionbot: line {number}: {exc}", file=sys.stderr)
                return 1
            print(json.dumps(decision.as_json(), ensure_ascii=False), flush=True)
        return 0
    decision = router.route(args.workplace, args.ward)
    if args.json:
        print(json.dumps(decision.as_json(), ensure_ascii=False))
    else:
        print(
            f"rule {decision.rule}: {decision.union} "
            f"(workplace: {decision.workplace or '-'}; ward: {decision.ward or '-'})"
        )
    return 0


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"expected text or null, not {value!r}")


async def rotate_key(settings: Settings) -> int:
    """`unionbot db rotate-key`: after putting a new key first, re-seal every stored secret
    with it and re-tag anonymous reporters; then the old key can be dropped. PINs of
    anonymous cases and askers of unanswered questions cannot be re-tagged (by design)."""
    vault = load_vault(settings)
    database = db.Database.open(settings.database_url)
    try:
        await ensure_schema(database, settings)
        async with database.writing(), database.sessions() as session:
            phones = await people.with_phone(session)
            for person in phones:
                person.phone_encrypted = vault.rotate(person.phone_encrypted or b"")
            sealed = await cases.with_sealed(session)
            for case in sealed:
                if case.contact_sealed:
                    case.contact_sealed = vault.rotate(case.contact_sealed)
                if case.reporter_sealed:
                    case.reporter_sealed = vault.rotate(case.reporter_sealed)
                    person_id = vault.open(case.reporter_sealed)
                    case.reporter_tag = status.tag_reporter(vault, person_id)
            await session.commit()
    finally:
        await database.close()
    print(f"re-sealed {len(phones)} phone numbers and {len(sealed)} cases with the current key")
    return 0


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"


async def chat(settings: Settings, user: str) -> None:
    """Run the app without a web server, with the terminal as its only channel."""
    terminal = TerminalChannel(user)
    app = create_app(settings.with_(telegram_token=None), terminal=terminal)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        runtime = app[RUNTIME]
        with runtime.services.catalogs.activate(settings.default_language):
            banner = _("Type /start to begin and /quit to leave. Type a number to tap a button.")
        await converse(terminal, runtime.submit, banner)
    finally:
        await runner.cleanup()


def serve(settings: Settings, host: str | None, port: int | None) -> None:
    if not settings.telegram_token:
        logging.getLogger("unionbot").info(
            "Telegram is off (set TELEGRAM_BOT_TOKEN to switch it on): workers can use the "
            "web chat at /chat, officers the dashboard at /officer"
        )
    web.run_app(
        create_app(settings),
        host=host or settings.http_host,
        port=port or settings.http_port,
        access_log=None,
        print=lambda line: logging.getLogger("unionbot").info(line.strip()),
    )


async def import_directory(settings: Settings, path: str) -> int:
    try:
        directory = load_directory(path)
    except DirectoryError as exc:
        print(f"unionbot: nothing imported: {exc}", file=sys.stderr)
        return 1
    database = db.Database.open(settings.database_url)
    try:
        await ensure_schema(database, settings)
        async with database.writing(), database.sessions() as session:
            report = await unions.import_directory(session, directory)
            await session.commit()
    finally:
        await database.close()
    print(
        f"imported {path}: {len(directory.unions)} unions, {len(directory.wards)} wards, "
        f"{len(directory.workplaces)} workplaces "
        f"({report.created} created, {report.updated} updated, {report.unchanged} unchanged)"
    )
    return 0


async def officer_command(settings: Settings, args: argparse.Namespace) -> int:
    """`unionbot officer add|invite|group|list`."""
    password = _password(args) if args.action == "add" and args.login else None
    vault = load_vault(settings)
    database = db.Database.open(settings.database_url)
    now = datetime.now(UTC)
    try:
        await ensure_schema(database, settings)
        await seed_directory(database, settings)
        async with database.writing(), database.sessions() as session:
            if args.action == "list":
                for officer, union_code in await officers.listing(session):
                    linked = "telegram" if officer.telegram_user_id else "-"
                    print(f"{officer.id}\t{officer.login or '-'}\t{officer.role}\t"
                          f"{union_code}\t{linked}\t{officer.name}")  # fmt: skip
                return 0
            if args.action == "group":
                await accounts.register_group(session, args.union, args.chat_id, now)
                await session.commit()
                print(f"group {args.chat_id} will be told of new cases of {args.union}")
                return 0
            if args.action == "add":
                officer = await accounts.add_officer(
                    session, union_code=args.union, name=args.name, role=args.role, now=now,
                    login=args.login, password=password, telegram_user_id=args.telegram_id,
                )  # fmt: skip
                print(f"officer {officer.id} added: {officer.name} ({officer.role}, {args.union})")
            else:
                officer = await officers.by_login_or_id(session, args.officer)
                if officer is None:
                    raise AccountError(f"no officer {args.officer!r}")
            if officer.telegram_user_id is None or args.action == "invite":
                code = accounts.invite(officer, vault, now)
                print(
                    f"to link Telegram, the officer sends the bot: /canbo {code.code}\n"
                    f"(one time, valid until {code.expires_at:%Y-%m-%d %H:%M} UTC)"
                )
            await session.commit()
    finally:
        await database.close()
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the passwords differ")
    return first
