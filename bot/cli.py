"""`unionbot` and `python -m bot`: the stable command line (DESIGN.md).

unionbot chat                      talk to the bot as a worker in this terminal
unionbot serve                     run the configured channels, workers and web server
unionbot ask TEXT --json           answer one question as JSON (--jsonl: one per stdin line)
unionbot content check             validate the knowledge base; list stale articles
unionbot route --workplace T --ward W --json   which union's queue (--directory FILE: no database)
unionbot content unanswered        the questions the bot could not answer, most asked first
unionbot content train [--select]  train the FAQ matcher, report its cross-validated accuracy
unionbot directory import FILE     load or update the union directory
unionbot officer add|invite|group|list   officer accounts, Telegram links, officers' groups
unionbot officer deactivate|reset-password|unlink LOGIN   end an officer's access
unionbot db upgrade                bring the database schema up to date
unionbot db backup|restore FILE    copy the SQLite database while the bot runs; put a copy back
unionbot zalo authorize            grant the bot access to the Zalo Official Account (once)
unionbot settings [--markdown]     every environment variable, its default and its meaning
unionbot doctor [--lang en] [--json]   check this deployment: what is wrong, how to fix it

What the commands say to a person (prompts, reports, errors) goes through the catalogs in
the default language, like the dashboard; JSON output, listed data, logs and the settings'
reference (English, like docs/operations.md) are not words to translate, and chat and serve
speak each person's language.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import secrets
import shlex
import sqlite3
import sys
import textwrap
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeAlias

from sqlalchemy.ext.asyncio import AsyncSession

from bot import logs
from bot.config import (
    SETTINGS,
    ConfigError,
    Settings,
    default_settings,
    installed_content,
    markdown_table,
)
from bot.schema import ensure_schema, seed_directory
from bot.services import accounts, calendar, knowledge, reporters
from bot.services.accounts import AccountError
from bot.services.crypto import Vault, load_vault
from bot.services.i18n import LANGUAGES, N_, Catalogs, _, format_date, format_datetime
from bot.services.knowledge import SOON_DAYS, Knowledge
from bot.services.router import Router
from bot.services.vocabulary import ContentError, Vocabulary
from handlers import faq
from storage import (
    backup,
    cases,
    choices,
    conversations,
    credentials,
    db,
    lessons,
    officers,
    outbox,
    people,
    unanswered,
    unions,
)
from storage.directory import Directory, DirectoryError
from storage.directory import load as load_directory
from storage.localtime import LOCAL_TIME

# argparse has no public name for the object add_subparsers() returns.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unionbot", description="Trade-union outreach chatbot (Telegram, terminal)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_chat_and_serve(commands)
    _add_ask(commands)
    _add_content(commands)
    _add_route(commands)
    _add_directory(commands)
    _add_officer(commands)
    _add_db(commands)
    _add_zalo(commands)
    _add_settings(commands)
    _add_doctor(commands)
    return parser


def _add_chat_and_serve(commands: Commands) -> None:
    chat = commands.add_parser("chat", help="talk to the bot as a worker in this terminal")
    chat.add_argument("--user", default=None, help="who you are to the bot (default: your login)")

    serve = commands.add_parser("serve", help="run the channels, workers and the web server")
    serve.add_argument("--host", default=None, help="listen address (default HTTP_HOST)")
    serve.add_argument("--port", type=int, default=None, help="listen port (default HTTP_PORT)")


def _add_ask(commands: Commands) -> None:
    ask = commands.add_parser("ask", help="answer a question from the knowledge base")
    ask.add_argument("text", nargs="*", help="the question (quote it)")
    output = ask.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object")
    output.add_argument("--jsonl", action="store_true", help="one question per stdin line")
    ask.add_argument("--lang", choices=LANGUAGES, default=None, help="answer language")


def _add_content(commands: Commands) -> None:
    content = commands.add_parser("content", help="the knowledge base")
    content_commands = content.add_subparsers(dest="action", required=True, metavar="ACTION")
    do_check = content_commands.add_parser("check", help="validate; list stale articles")
    do_check.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    do_check.add_argument("--soon-days", type=int, default=SOON_DAYS, help="'soon' horizon")
    do_unanswered = content_commands.add_parser("unanswered", help="questions not answered")
    do_unanswered.add_argument("--limit", type=int, default=50)
    do_train = content_commands.add_parser("train", help="train the FAQ matcher")
    do_train.add_argument("--lang", choices=LANGUAGES, default="vi", help="the matcher's language")
    do_train.add_argument(
        "--select", action="store_true", help="choose the settings by cross-validation too"
    )


def _add_route(commands: Commands) -> None:
    route = commands.add_parser("route", help="which union's queue a workplace and ward go to")
    route.add_argument("--workplace", default=None, help="the workplace as the worker wrote it")
    route.add_argument("--ward", default=None, help="the ward (new or old name)")
    route.add_argument("--directory", default=None, help="a directory file; no database is used")
    route_output = route.add_mutually_exclusive_group()
    route_output.add_argument("--json", action="store_true", help="print one JSON object")
    route_output.add_argument(
        "--jsonl", action="store_true", help='read {"workplace": .., "ward": ..} lines on stdin'
    )


def _add_directory(commands: Commands) -> None:
    directory = commands.add_parser("directory", help="the union directory")
    directory_commands = directory.add_subparsers(dest="action", required=True, metavar="ACTION")
    do_import = directory_commands.add_parser("import", help="import or update from a YAML file")
    do_import.add_argument("file", help="directory file in the format of DESIGN.md")


def _add_officer(commands: Commands) -> None:
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
    do_group.add_argument("union", help="the union's code, or 'remove' to stop telling the group")
    do_group.add_argument("chat_id", help="the group's chat id (negative)")
    officer_commands.add_parser("list", help="the officer accounts")
    _add_officer_removal(officer_commands)


def _add_officer_removal(officer_commands: Commands) -> None:
    do_deactivate = officer_commands.add_parser(
        "deactivate", help="end every access of an officer at once (dashboard and Telegram)"
    )
    do_deactivate.add_argument("officer", help="the officer's login or id")
    do_reset = officer_commands.add_parser(
        "reset-password", help="a new dashboard password; the officer's sessions end"
    )
    do_reset.add_argument("officer", help="the officer's login or id")
    do_reset.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    do_unlink = officer_commands.add_parser("unlink", help="cut the officer's Telegram link")
    do_unlink.add_argument("officer", help="the officer's login or id")


def _add_db(commands: Commands) -> None:
    database = commands.add_parser("db", help="the database")
    database_commands = database.add_subparsers(dest="action", required=True, metavar="ACTION")
    database_commands.add_parser("upgrade", help="upgrade the schema to the newest revision")
    database_commands.add_parser(
        "rotate-key", help="re-seal stored secrets with the first (new) encryption key"
    )
    do_backup = database_commands.add_parser(
        "backup", help="copy the SQLite database into FILE, also while the bot runs"
    )
    do_backup.add_argument("file", help="the copy (an older one there is replaced when done)")
    do_restore = database_commands.add_parser(
        "restore", help="put a backup in place of the SQLite database (the bot stopped)"
    )
    do_restore.add_argument("file", help="a file made by `unionbot db backup`")
    do_restore.add_argument(
        "--force", action="store_true", help="replace a database that holds data already"
    )


def _add_zalo(commands: Commands) -> None:
    zalo_parser = commands.add_parser("zalo", help="the Zalo Official Account")
    zalo_commands = zalo_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    do_authorize = zalo_commands.add_parser(
        "authorize", help="grant the bot access to the OA and store its tokens"
    )
    do_authorize.add_argument(
        "--redirect-uri",
        help="the callback URL registered for the OA in Zalo's developer console",
    )


def _add_settings(commands: Commands) -> None:
    listing = commands.add_parser(
        "settings", help="every environment variable, its default and its meaning"
    )
    listing.add_argument(
        "--markdown", action="store_true", help="as the table in docs/operations.md"
    )
    listing.add_argument(
        "--update",
        nargs="+",
        metavar="FILE",
        help="rewrite the table between the settings markers in each FILE",
    )


def _add_doctor(commands: Commands) -> None:
    check = commands.add_parser(
        "doctor", help="check this deployment: what is wrong and how to fix it"
    )
    check.add_argument("--lang", choices=LANGUAGES, default=None, help="the report's language")
    check.add_argument("--json", action="store_true", help="print one JSON object")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "settings":
        # Works whatever the environment holds: it is how a broken one gets fixed.
        return show_settings(args.markdown, args.update or [])
    try:
        settings = default_settings()
        if args.command == "chat":
            logs.setup(logging.WARNING)
            asyncio.run(chat(settings, args.user or _login()))
        elif args.command == "serve":
            logs.setup(logging.INFO)
            serve(settings, args.host, args.port)
        else:
            # What a command prints is in the default language, like the dashboard; chat and
            # serve choose a language per person.
            catalogs = Catalogs(settings.content_dir / "locales")
            with catalogs.activate(settings.default_language):
                return command(settings, args, catalogs)
    except (ConfigError, ContentError, AccountError) as exc:
        print(f"unionbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


# The generated table in docs/operations.md and README.md lies between these lines.
TABLE_START = "<!-- settings table: made by `unionbot settings --markdown`; edit bot/config.py -->"
TABLE_END = "<!-- end of the settings table -->"


def show_settings(markdown: bool, update: Sequence[str]) -> int:
    """`unionbot settings`: the table of bot/config.py's SETTINGS, for reading in a terminal,
    as Markdown, or written into documents between TABLE_START and TABLE_END."""
    if update:
        return update_tables([Path(name) for name in update])
    if markdown:
        print(markdown_table(), end="")
        return 0
    for setting in SETTINGS:
        print(f"{setting.name}  (default: {setting.default})")
        print(textwrap.fill(setting.meaning, 88, initial_indent="    ", subsequent_indent="    "))
    return 0


def update_tables(files: Sequence[Path]) -> int:
    """Put the current table between the markers of every file, or change none of them."""
    texts = {}
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"unionbot: {file}: {exc.strerror}", file=sys.stderr)
            return 1
        before, start, rest = text.partition(TABLE_START + "\n")
        _old, end, after = rest.partition(TABLE_END)
        if not (start and end):
            print(f"unionbot: {file}: no {TABLE_START} ... {TABLE_END} lines", file=sys.stderr)
            return 1
        texts[file] = before + start + markdown_table() + end + after
    for file, text in texts.items():
        file.write_text(text, encoding="utf-8")
    return 0


def command(settings: Settings, args: argparse.Namespace, catalogs: Catalogs) -> int:
    """Every command but chat and serve."""
    if args.command == "ask":
        return ask(settings, args, catalogs)
    if args.command == "content" and args.action == "check":
        return check_content(settings, args.today, args.soon_days)
    if args.command == "content" and args.action == "train":
        return asyncio.run(train_matcher(settings, args.lang, args.select))
    if args.command == "content":
        return asyncio.run(list_unanswered(settings, args.limit))
    if args.command == "route":
        return asyncio.run(route(settings, args))
    if args.command == "directory":
        logs.setup(logging.WARNING)
        return asyncio.run(import_directory(settings, args.file))
    if args.command == "officer":
        logs.setup(logging.WARNING)
        return asyncio.run(officer_command(settings, args))
    if args.command == "zalo":
        return asyncio.run(authorize_zalo(settings, args.redirect_uri))
    if args.command == "doctor":
        logs.setup(logging.WARNING)
        with catalogs.activate(args.lang or settings.default_language):
            return check_deployment(settings, json_output=args.json)
    if args.command == "db" and args.action == "rotate-key":
        logs.setup(logging.WARNING)
        return asyncio.run(rotate_key(settings))
    if args.command == "db" and args.action in ("backup", "restore"):
        logs.setup(logging.WARNING)
        return copy_database(settings, args)
    logs.setup(logging.INFO)
    db.run_upgrade(settings.database_url)
    print(_("The database schema is up to date."))
    return 0


def check_deployment(settings: Settings, *, json_output: bool) -> int:
    """`unionbot doctor`: one line per check (or one JSON object); 1 when something blocks
    workers, 0 when nothing does (warnings included)."""
    from bot import doctor  # here: it loads the Telegram library, which other commands need not

    findings = asyncio.run(doctor.examine(settings))
    blocked = doctor.blocking(findings)
    if json_output:
        checks = [finding.as_json() for finding in findings]
        print(json.dumps({"ok": not blocked, "checks": checks}, ensure_ascii=False))
    else:
        for finding in findings:
            print(finding.line())
        print(doctor.summary(findings))
    return 1 if blocked else 0


def ask(settings: Settings, args: argparse.Namespace, catalogs: Catalogs) -> int:
    """`unionbot ask`: the same search and answer text as the chat, without a database."""
    language = args.lang or settings.default_language
    # Only the content is needed: no database, no keys, nothing written.
    knowledge = Knowledge.load(settings.content_dir, settings.cache_dir)
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
        needs = _("ask needs a question (or --jsonl, with one question per line on stdin)")
        print(f"unionbot: {needs}", file=sys.stderr)
        return 2
    result = answer(text)
    print(json.dumps(result, ensure_ascii=False) if args.json else result["answer"])
    return 0


def check_content(settings: Settings, today: date | None, soon_days: int) -> int:
    """`unionbot content check`: problems, stale and soon-stale articles; 1 when any."""
    today = today or datetime.now(LOCAL_TIME).date()
    report = knowledge.check(settings.content_dir, today, soon_days)
    for problem in report.problems:
        print(_("invalid: {problem}").format(problem=problem))
    for article in report.stale:
        assert article.valid_until is not None  # stale means past its valid_until
        stale = _("stale: {path} (valid until {date})")
        print(stale.format(path=article.path, date=format_date(article.valid_until)))
    for article in report.soon_stale:
        assert article.valid_until is not None  # soon stale means near its valid_until
        soon = _("soon stale: {path} (valid until {date})")
        print(soon.format(path=article.path, date=format_date(article.valid_until)))
    ok = report.ok
    try:
        holidays = calendar.load_holidays(settings.content_dir)
    except ConfigError as exc:
        print(_("invalid: {problem}").format(problem=exc))
        return 1
    covered = holidays.covered_until
    path = settings.content_dir / calendar.HOLIDAYS_FILE
    if covered is not None and covered < today:
        stale = _("stale: {path} (complete until {date}: add the next holidays)")
        print(stale.format(path=path, date=format_date(covered)))
        ok = False
    elif covered is not None and covered < today + timedelta(days=soon_days):
        soon = _("soon stale: {path} (complete until {date})")
        print(soon.format(path=path, date=format_date(covered)))
    if ok:
        print(_("The knowledge base is in order on {date}.").format(date=format_date(today)))
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


async def train_matcher(settings: Settings, language: str, select: bool) -> int:
    """`unionbot content train`: the matcher trained on the content and the officers' lessons,
    its cross-validated accuracy and most confused pairs; --select also chooses its settings
    and thresholds by cross-validation and writes them to content/training/model.yaml."""
    from bot.services import training  # scikit-learn is loaded only for this command

    if select and installed_content(settings.content_dir):
        refused = _(
            "the content installed with the bot is not edited in place: copy {path} "
            "to a folder of your own, set UNIONBOT_CONTENT_DIR to it and select again"
        )
        print(f"unionbot: {refused.format(path=settings.content_dir)}", file=sys.stderr)
        return 2
    taxonomy = knowledge.load_taxonomy(settings.content_dir / "taxonomy.yaml")
    articles, _problems = knowledge.load_articles(settings.content_dir, taxonomy)
    vocabulary = Vocabulary.load(settings.content_dir / "vocabulary.yaml")
    taught = [
        training.Example(t, topic) for t, topic in (await _lessons(settings)).get(language, ())
    ]
    spec = knowledge.model_spec(
        settings.content_dir, settings.cache_dir, language, articles[language].values(), taught
    )
    if select:
        result = training.select(spec.examples, vocabulary, language, log=print)
        print(_("Settings written to {path}").format(
            path=training.write_params(settings.content_dir, result, language)
        ))  # fmt: skip
        spec = knowledge.model_spec(
            settings.content_dir, settings.cache_dir, language, articles[language].values(), taught
        )
    else:
        held = training.heldout(spec.examples, vocabulary, language, spec.params)
        result = training.report(held, spec.params)
    print(json.dumps(result.as_dict(), ensure_ascii=False))
    model = training.fit(spec.examples, vocabulary, language, spec.params, spec.fingerprint)
    spec.path.parent.mkdir(parents=True, exist_ok=True)
    model.save(spec.path)
    print(_("{count} examples ({taught} taught by officers); the model is kept in {path}").format(
        count=len(spec.examples), taught=len(taught), path=spec.path
    ))  # fmt: skip
    return 0


async def _lessons(settings: Settings) -> dict[str, list[tuple[str, str]]]:
    """The officers' lessons, by language (none when the database has no schema yet)."""
    database = db.Database.open(settings.database_url)
    try:
        await ensure_schema(database, settings)
        async with database.sessions() as session:
            return await lessons.by_language(session)
    finally:
        await database.close()


async def _stored_directory(settings: Settings) -> Directory | None:
    """The directory the database holds; None when none was ever imported."""
    database = db.Database.open(settings.database_url)
    try:
        await ensure_schema(database, settings)
        await seed_directory(database, settings)  # as `chat` would, on the default
        async with database.sessions() as session:
            return await unions.directory(session)
    finally:
        await database.close()


async def route(settings: Settings, args: argparse.Namespace) -> int:
    """`unionbot route`: the router's decision, from a directory file or the database."""
    found: Directory | None
    if args.directory:
        try:
            found = load_directory(args.directory)
        except DirectoryError as exc:
            print(f"unionbot: {exc}", file=sys.stderr)
            return 1
    else:
        found = await _stored_directory(settings)
        if found is None:
            missing = _("no directory has been imported; use --directory FILE")
            print(f"unionbot: {missing}", file=sys.stderr)
            return 1
    router = Router(found)
    if args.jsonl:
        for number, line in enumerate(sys.stdin, 1):
            try:
                asked = json.loads(line)
                if not isinstance(asked, dict):
                    raise ValueError(_("not a JSON object"))
                decision = router.route(_text(asked.get("workplace")), _text(asked.get("ward")))
            except json.JSONDecodeError:
                problem = _("line {number}: not JSON").format(number=number)
                print(f"unionbot: {problem}", file=sys.stderr)
                return 1
            except ValueError as exc:
                problem = _("line {number}: {problem}").format(number=number, problem=exc)
                print(f"unionbot: {problem}", file=sys.stderr)
                return 1
            print(json.dumps(decision.as_json(), ensure_ascii=False), flush=True)
        return 0
    decision = router.route(args.workplace, args.ward)
    if args.json:
        print(json.dumps(decision.as_json(), ensure_ascii=False))
    else:
        print(
            _("rule {rule}: {union} (workplace: {workplace}; ward: {ward})").format(
                rule=decision.rule, union=decision.union, workplace=decision.workplace or "-",
                ward=decision.ward or "-",
            )
        )  # fmt: skip
    return 0


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(_("expected text or null, not {value}").format(value=json.dumps(value)))


async def rotate_key(settings: Settings) -> int:
    """`unionbot db rotate-key`: after putting a new key first, re-seal every stored secret
    with it (and re-tag reporters of cases filed before the sealed lists); then the old key
    can be dropped. PINs of anonymous cases and askers of unanswered questions cannot be
    re-tagged (by design)."""
    vault = load_vault(settings)
    database = db.Database.open(settings.database_url)
    try:
        await ensure_schema(database, settings)
        async with database.writing(), database.sessions() as session:
            phones = await _reseal_people(session, vault)
            for row in await conversations.sealed(session):  # half-filled forms
                token = str(row.state["sealed"]).encode()
                row.state = {**row.state, "sealed": vault.rotate(token).decode()}
            await outbox.rotate(session, vault.rotate)
            await credentials.rotate(session, vault.rotate)  # Zalo's tokens
            await choices.rotate(session, vault.rotate)  # numbered options shown
            sealed = await cases.with_sealed(session)
            for case in sealed:
                if case.contact_sealed:
                    case.contact_sealed = vault.rotate(case.contact_sealed)
                if case.reporter_sealed:
                    case.reporter_sealed = vault.rotate(case.reporter_sealed)
                if case.reporter_sealed and case.reporter_tag:  # filed before sealed lists
                    person_id = vault.open(case.reporter_sealed)
                    case.reporter_tag = reporters.tag(vault, person_id)
            await session.commit()
    finally:
        await database.close()
    done = _("Re-sealed {phones} phone numbers and {cases} requests with the current key.")
    print(done.format(phones=phones, cases=len(sealed)))
    return 0


# Why a backup or restore was refused; nothing was changed.
REFUSALS: dict[type[backup.BackupError], str] = {
    backup.Missing: N_("there is no database at {path}"),
    backup.NoFolder: N_("there is no folder {path}; nothing was changed"),
    backup.SameFile: N_("{path} is the database itself; nothing was changed"),
    backup.NotOurs: N_("{path} is not a database of this bot ({detail}); nothing was changed"),
    backup.UnknownRevision: N_(
        "{path} has the schema revision {detail}, which this version of the bot does not "
        "know (a newer version made it): update the bot first; nothing was changed"
    ),
    backup.NotEmpty: N_(
        "{path} holds a database already; nothing was changed. To replace it with the "
        "backup, add --force"
    ),
    backup.InUse: N_(
        "a bot process (unionbot serve or chat) is using {path} right now: stop it first; "
        "nothing was changed"
    ),
}


def copy_database(settings: Settings, args: argparse.Namespace) -> int:
    """`unionbot db backup|restore FILE`: SQLite only; PostgreSQL has pg_dump and
    pg_restore."""
    database = backup.sqlite_file(settings.database_url)
    file = Path(args.file)
    if database is None:
        print(f"unionbot: {_postgres_tools(settings, args.action, file)}", file=sys.stderr)
        return 2
    try:
        if args.action == "backup":
            return back_up(settings, database, file)
        return restore(settings, database, file, force=args.force)
    except backup.BackupError as refused:
        problem = _(REFUSALS[type(refused)]).format(path=refused.path, detail=refused.detail)
    except OSError as exc:
        problem = f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)
    except sqlite3.Error as exc:
        problem = str(exc)
    print(f"unionbot: {problem}", file=sys.stderr)
    return 1


def back_up(settings: Settings, database: Path, file: Path) -> int:
    """`unionbot db backup FILE`: an online copy; a warning when FILE lies beside the key."""
    backup.back_up(database, file)
    key = settings.key_file
    if key is not None and key.is_file() and key.resolve().parent == file.resolve().parent:
        beside = _(
            "warning: {file} is in the same folder as the encryption key {key}; a copy of "
            "that folder holds both, and the key opens what the backup keeps sealed. Keep "
            "the key and the backups apart."
        )
        print(f"unionbot: {beside.format(file=file, key=key)}", file=sys.stderr)
    done = _(
        "Backed up {database} into {file}. The encryption key is not in it: keep the key "
        "backed up separately."
    )
    print(done.format(database=database, file=file))
    return 0


def restore(settings: Settings, database: Path, file: Path, *, force: bool) -> int:
    """`unionbot db restore FILE [--force]`: only with no bot serving the database; an older
    schema is then upgraded as `unionbot db upgrade` does."""
    backup.revisions(file)  # a database of this bot, from this version or an older one
    with backup.exclusive(database):
        backup.restore(file, database, force=force)
        db.run_upgrade(settings.database_url)
    done = _("Restored {file} into {database}; its schema is up to date. Start the bot with: "
             "unionbot serve")  # fmt: skip
    print(done.format(file=file, database=database))
    return 0


def _postgres_tools(settings: Settings, action: str, file: Path) -> str:
    """What to run instead on PostgreSQL, with the database named as those tools take it."""
    database = backup.libpq_url(settings.database_url)
    if action == "backup":
        told = _(
            "DATABASE_URL is a PostgreSQL database: back it up with PostgreSQL's own tool "
            "(the password from PGPASSWORD or ~/.pgpass):\n  {command}"
        )
        command = ["pg_dump", "--format=custom", "--file", str(file), database]
    else:
        told = _(
            "DATABASE_URL is a PostgreSQL database: with the bot stopped, restore it with "
            "PostgreSQL's own tool, then run unionbot db upgrade:\n  {command}"
        )
        command = ["pg_restore", "--clean", "--if-exists", "--dbname", database, str(file)]
    return told.format(command=shlex.join(command))


async def authorize_zalo(settings: Settings, redirect_uri: str | None) -> int:
    """`unionbot zalo authorize`: the OAuth v4 flow with PKCE. The admin opens the link,
    grants access, and pastes back the address Zalo sent them to (or its code); the token
    pair is stored sealed, and any "authorise again" mark is cleared."""
    import aiohttp  # here, as the other commands need neither

    from bot.channels import zalo
    from bot.channels.base import SendError

    if not (settings.zalo_app_id and settings.zalo_app_secret):
        raise ConfigError("set ZALO_APP_ID and ZALO_APP_SECRET first (Zalo developer console)")
    redirect = redirect_uri or (
        f"{settings.public_url}/zalo/authorized" if settings.public_url else None
    )
    if not redirect:
        raise ConfigError("give --redirect-uri: the callback URL registered for the OA")
    verifier, challenge = zalo.pkce()
    state = secrets.token_urlsafe(12)
    print(_("1. Open this link as the OA's admin and grant access:"))
    print(zalo.permission_url(settings, redirect, challenge, state))
    print(_("2. Paste the address Zalo sends you to (or just its code):"), flush=True)
    code = zalo.code_from(sys.stdin.readline(), state)
    if code is None:
        print(_("No code found in what was pasted; nothing was changed."), file=sys.stderr)
        return 1
    vault = load_vault(settings)
    database = db.Database.open(settings.database_url)
    try:
        await ensure_schema(database, settings)
        async with aiohttp.ClientSession() as http:
            fields = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
            pair = await zalo.exchange(settings, http, fields)
        await zalo.store(database, vault.seal, pair, datetime.now(UTC))
    except (zalo.ZaloError, SendError) as exc:
        print(_("Zalo refused: {reason}").format(reason=exc), file=sys.stderr)
        return 1
    finally:
        await database.close()
    print(_("Done: the bot can write on Zalo. Its token renews by itself for three months."))
    return 0


async def _reseal_people(session: AsyncSession, vault: Vault) -> int:
    """Phones, lists of anonymous cases and when each last wrote, re-sealed; how many
    phones."""
    phones = 0
    for person in await people.with_sealed(session):
        if person.phone_encrypted:
            person.phone_encrypted = vault.rotate(person.phone_encrypted)
            phones += 1
        if person.cases_sealed:
            person.cases_sealed = vault.rotate(person.cases_sealed)
        if person.heard_sealed:
            person.heard_sealed = vault.rotate(person.heard_sealed)
    return phones


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"


async def chat(settings: Settings, user: str) -> None:
    """Run the app without a web server, with the terminal as its only channel."""
    from aiohttp import web

    from bot.app import RUNTIME, create_app
    from bot.channels.terminal import TerminalChannel, converse

    terminal = TerminalChannel(user)
    app = create_app(settings.with_(telegram_token=None), terminal=terminal)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        runtime = app[RUNTIME]
        with runtime.services.catalogs.activate(settings.default_language):
            banner = _(
                "Type /start to begin and /quit to leave. Type a number to tap a button; where "
                "I wait for a typed answer (a name, a phone, how many people), type #number "
                "to tap one, e.g. #2."
            )
        await converse(terminal, runtime.receive, banner)
    finally:
        await runner.cleanup()


def serve(settings: Settings, host: str | None, port: int | None) -> None:
    from aiohttp import web

    from bot.app import create_app

    if not settings.telegram_token:
        logging.getLogger("unionbot").info(
            "Telegram is off (set TELEGRAM_BOT_TOKEN to switch it on): workers can use %sthe "
            "web chat at /chat, officers the dashboard at /officer",
            "Zalo and " if settings.zalo_enabled else "",
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
        nothing = _("nothing imported: {problem}").format(problem=exc)
        print(f"unionbot: {nothing}", file=sys.stderr)
        return 1
    database = db.Database.open(settings.database_url)
    try:
        await ensure_schema(database, settings)
        async with database.writing(), database.sessions() as session:
            report = await unions.import_directory(session, directory)
            await session.commit()
    finally:
        await database.close()
    done = _(
        "Imported {path}: {unions} unions, {wards} wards, {workplaces} workplaces ({created} "
        "created, {updated} updated, {unchanged} unchanged)."
    )
    print(
        done.format(
            path=path, unions=len(directory.unions), wards=len(directory.wards),
            workplaces=len(directory.workplaces), created=report.created,
            updated=report.updated, unchanged=report.unchanged,
        )
    )  # fmt: skip
    return 0


async def officer_command(settings: Settings, args: argparse.Namespace) -> int:
    """`unionbot officer add|invite|group|list|deactivate|reset-password|unlink`."""
    asks = args.action == "reset-password" or (args.action == "add" and args.login)
    password = _password(args) if asks else None
    vault = load_vault(settings)
    database = db.Database.open(settings.database_url)
    now = datetime.now(UTC)
    try:
        await ensure_schema(database, settings)
        await seed_directory(database, settings)
        async with database.writing(), database.sessions() as session:
            said = await _officer_action(session, args, vault, now, password)
            await session.commit()
    finally:
        await database.close()
    if said:
        print(said)
    return 0


async def _officer_action(
    session: AsyncSession, args: argparse.Namespace, vault: Vault, now: datetime,
    password: str | None,
) -> str:  # fmt: skip
    """One `unionbot officer` action in the open session; what to print once committed."""
    if args.action == "list":
        return await _officer_list(session)
    if args.action == "group" and args.union == "remove":
        await accounts.remove_group(session, args.chat_id, now, by=None)
        return accounts.group_removed_report(args.chat_id)
    if args.action == "group":
        await accounts.register_group(session, args.union, args.chat_id, now)
        told = _("The group {chat} will be told of new requests of {union}.")
        return told.format(chat=args.chat_id, union=args.union)
    if args.action == "add":
        return await _officer_add(session, args, vault, now, password)
    officer = await accounts.find_officer(session, args.officer)
    if args.action == "deactivate":
        done = await accounts.deactivate(session, officer, now, by=None)
        return accounts.deactivated_report(officer, done, on_dashboard=False)
    if args.action == "reset-password":
        assert password is not None  # asked for before the database was opened
        ended = await accounts.reset_password(session, officer, password, now, by=None)
        text = _("New password set for {name}; {sessions} dashboard sessions ended.")
        return text.format(name=officer.name, sessions=ended)
    if args.action == "unlink":
        await accounts.unlink(session, officer, now, by=None)
        return accounts.unlinked_report(officer)
    code = accounts.invite(officer, vault, now)
    accounts.audited(session, "officer.invited", now, by=None, detail={"officer": officer.id})
    return _link_text(code)


async def _officer_list(session: AsyncSession) -> str:
    lines = []
    for officer, union_code in await officers.listing(session):
        linked = "Telegram" if officer.telegram_user_id else "-"
        role = _(accounts.ROLE_NAMES[officer.role])
        state = _("active") if officer.active else _("deactivated")
        lines.append(f"{officer.id}\t{officer.login or '-'}\t{role}\t"
                     f"{union_code}\t{linked}\t{state}\t{officer.name}")  # fmt: skip
    return "\n".join(lines)


async def _officer_add(
    session: AsyncSession, args: argparse.Namespace, vault: Vault, now: datetime,
    password: str | None,
) -> str:  # fmt: skip
    officer = await accounts.add_officer(
        session, union_code=args.union, name=args.name, role=args.role, now=now,
        login=args.login, password=password, telegram_user_id=args.telegram_id,
    )  # fmt: skip
    accounts.audited(session, "officer.added", now, by=None, detail={"officer": officer.id})
    added = _("Added officer {id}: {name} ({role}, {union})")
    role = _(accounts.ROLE_NAMES[officer.role])
    said = added.format(id=officer.id, name=officer.name, role=role, union=args.union)
    if officer.telegram_user_id is None:
        said += "\n" + _link_text(accounts.invite(officer, vault, now))
    return said


def _link_text(code: accounts.Invite) -> str:
    link = _("To link Telegram, the officer sends the bot: /canbo {code}\n"
             "(once, before {due})")  # fmt: skip
    return link.format(code=code.code, due=format_datetime(code.expires_at))


PASSWORD_TRIES = 3


def _password(args: argparse.Namespace) -> str:
    """The new officer's password, from stdin or typed twice; its length is checked as soon
    as it is given, so a short one is asked again before it has to be repeated."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        accounts.check_password_length(password)
        return password
    prompt = _("Password (at least {count} characters): ").format(count=accounts.MIN_PASSWORD)
    for tries_left in range(PASSWORD_TRIES - 1, -1, -1):
        first = getpass.getpass(prompt)
        try:
            accounts.check_password_length(first)
            break
        except AccountError as problem:
            if not tries_left:
                raise
            print(problem, file=sys.stderr)
    if getpass.getpass(_("Type the password again: ")) != first:
        if args.action == "add":
            raise AccountError(_("The two passwords differ. Nothing was added."))
        raise AccountError(_("The two passwords differ. Nothing was changed."))
    return first
