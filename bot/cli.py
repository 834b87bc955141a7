"""`unionbot` and `python -m bot`: the stable command line (DESIGN.md).

unionbot chat                      talk to the bot as a worker in this terminal
unionbot serve                     run the configured channels, workers and web server
unionbot directory import FILE     load or update the union directory
unionbot db upgrade                bring the database schema up to date
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from bot import logs
from bot.app import RUNTIME, create_app, ensure_schema
from bot.channels.terminal import TerminalChannel, converse
from bot.config import ConfigError, Settings, default_settings
from bot.services.i18n import _
from storage import db, unions
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

    directory = commands.add_parser("directory", help="the union directory")
    directory_commands = directory.add_subparsers(dest="action", required=True, metavar="ACTION")
    do_import = directory_commands.add_parser("import", help="import or update from a YAML file")
    do_import.add_argument("file", help="directory file in the format of DESIGN.md")

    database = commands.add_parser("db", help="the database")
    database_commands = database.add_subparsers(dest="action", required=True, metavar="ACTION")
    database_commands.add_parser("upgrade", help="upgrade the schema to the newest revision")
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
        elif args.command == "directory":
            logs.setup(logging.WARNING)
            return asyncio.run(import_directory(settings, args.file))
        elif args.command == "db":
            logs.setup(logging.INFO)
            db.run_upgrade(settings.database_url)
            print("database schema is up to date")
    except ConfigError as exc:
        print(f"unionbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
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
        logging.getLogger("unionbot").warning(
            "no messenger configured: set TELEGRAM_BOT_TOKEN, or try the bot with `unionbot chat`"
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
