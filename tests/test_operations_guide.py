"""The operator's guide (docs/operations.md) and its examples say what the code does.

The settings table is made from bot/config.py's SETTINGS, so each check here compares it with
the code: the variables from_env reads, the defaults it produces, the copies in the guide and
the README, and the example files, which may name only settings that exist and must agree with
the app's paths and limits.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot import app as bot_app
from bot import cli
from bot.config import SETTINGS, Settings, markdown_table, read_dotenv

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "operations.md"
EXAMPLES = ROOT / "docs" / "examples"
NGINX = EXAMPLES / "nginx-unionbot.conf"
UNIT = EXAMPLES / "unionbot.service"
ENV = EXAMPLES / "unionbot.env"
REGENERATE = "unionbot settings --update docs/operations.md README.md"
# Read outside bot/config.py, and not settings of the bot's: where the user's cache is by
# default (UNIONBOT_CACHE_DIR's meaning says so), and the path handed to the training child.
NOT_SETTINGS = {"XDG_CACHE_HOME", "PYTHONPATH"}
DOCUMENTED = {setting.name for setting in SETTINGS}
# How a setting is named where the guide and the examples mention one.
SETTING_NAME = re.compile(r"\b(?:UNIONBOT|TELEGRAM|ZALO|HTTP)_[A-Z0-9_]*[A-Z0-9]\b|\b[A-Z]+_URL\b")


def read_in_config() -> set[str]:
    """Every variable name bot/config.py reads from its merged environment: the string
    constants in a call or subscript that involves `merged` (merged.get("X"), merged["X"],
    _number(merged, "X", ...))."""
    tree = ast.parse((ROOT / "bot" / "config.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            parts = [node.func, *node.args]
        elif isinstance(node, ast.Subscript):
            parts = [node.value, node.slice]
        else:
            continue
        involved = any(
            (isinstance(part, ast.Name) and part.id == "merged")
            or (isinstance(part, ast.Attribute) and ast.unparse(part.value) == "merged")
            for part in parts
        )
        if involved:
            names |= {
                part.value
                for part in parts
                if isinstance(part, ast.Constant) and isinstance(part.value, str)
                and re.fullmatch(r"[A-Z][A-Z0-9_]+", part.value)
            }  # fmt: skip
    return names


def table_in(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    assert text.count(cli.TABLE_START) == 1 and text.count(cli.TABLE_END) == 1, path
    return text.split(cli.TABLE_START + "\n", 1)[1].split(cli.TABLE_END, 1)[0]


def test_the_table_has_every_variable_the_code_reads_and_no_other():
    read = read_in_config()
    assert {"DATABASE_URL", "UNIONBOT_FLOOD_LIMIT", "UNIONBOT_KEEP_INBOX_DAYS"} <= read
    assert sorted(read - DOCUMENTED) == [], "read by bot/config.py but not in SETTINGS"
    assert sorted(DOCUMENTED - read) == [], "in SETTINGS but never read by bot/config.py"
    assert len(DOCUMENTED) == len(SETTINGS), "a variable is in SETTINGS twice"


def test_no_other_module_reads_a_variable_the_table_does_not_have():
    reads = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]*)["']""")
    found = {
        name
        for package in ("bot", "handlers", "storage")
        for path in (ROOT / package).rglob("*.py")
        for name in reads.findall(path.read_text(encoding="utf-8"))
    }
    assert "XDG_CACHE_HOME" in found  # the pattern still finds them
    assert sorted(found - DOCUMENTED - NOT_SETTINGS) == []


@pytest.mark.parametrize("document", [GUIDE, ROOT / "README.md"], ids=lambda path: path.name)
def test_the_tables_in_the_documents_are_the_generated_one(document: Path):
    assert table_in(document) == markdown_table(), (
        f"the settings table in {document.name} differs from bot/config.py's SETTINGS; "
        f"regenerate it with: {REGENERATE}"
    )


def test_every_default_written_as_a_value_is_what_the_code_uses(tmp_path: Path):
    """A default in backticks, alone, is a value: setting the variable to it changes
    nothing from leaving it unset."""
    unset = Settings.from_env({}, cwd=tmp_path)
    literal = 0
    for setting in SETTINGS:
        value = re.fullmatch(r"`([^`]+)`", setting.default)
        if value is None:
            continue
        literal += 1
        given = Settings.from_env({setting.name: value.group(1)}, cwd=tmp_path)
        assert given == unset, f"{setting.name}: the documented default {setting.default}"
    assert literal >= 20  # most defaults are values; the check is not vacuous


def test_a_changed_default_would_be_caught(tmp_path: Path):
    """The comparison above tells a different value from the default."""
    unset = Settings.from_env({}, cwd=tmp_path)
    assert Settings.from_env({"HTTP_PORT": "8081"}, cwd=tmp_path) != unset
    assert Settings.from_env({"UNIONBOT_QUIET_HOURS": "22:00-06:00"}, cwd=tmp_path) != unset


def test_settings_markdown_prints_the_table(capsys: pytest.CaptureFixture[str]):
    assert cli.main(["settings", "--markdown"]) == 0
    assert capsys.readouterr().out == markdown_table()
    assert cli.main(["settings"]) == 0
    listing = capsys.readouterr().out
    assert all(f"{setting.name}  (default: " in listing for setting in SETTINGS)


def test_settings_works_whatever_the_environment_holds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    assert cli.main(["settings", "--markdown"]) == 0
    assert capsys.readouterr().out == markdown_table()


def test_settings_update_rewrites_between_the_markers_or_changes_nothing(tmp_path: Path):
    marked = tmp_path / "guide.md"
    marked.write_text(f"intro\n{cli.TABLE_START}\nold\n{cli.TABLE_END}\nafter\n", "utf-8")
    unmarked = tmp_path / "other.md"
    unmarked.write_text("no markers\n", encoding="utf-8")
    assert cli.main(["settings", "--update", str(marked), str(unmarked)]) == 1
    assert "old" in marked.read_text(encoding="utf-8")  # refused as a whole
    assert cli.main(["settings", "--update", str(marked)]) == 0
    expected = f"intro\n{cli.TABLE_START}\n{markdown_table()}{cli.TABLE_END}\nafter\n"
    assert marked.read_text(encoding="utf-8") == expected


def test_the_readme_links_the_guide_and_the_guide_its_files():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = readme.split("## Install on a server", 1)[1].split("\n## ", 1)[0]
    assert "(docs/operations.md)" in install
    guide = GUIDE.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", guide):
        assert (GUIDE.parent / target).exists(), target


@pytest.mark.parametrize("path", [GUIDE, NGINX, UNIT, ENV], ids=lambda path: path.name)
def test_the_guide_and_examples_name_only_settings_that_exist(path: Path):
    named = set(SETTING_NAME.findall(path.read_text(encoding="utf-8")))
    assert named, "the pattern finds the settings named"
    assert sorted(named - DOCUMENTED) == []


@pytest.mark.parametrize("path", [NGINX, UNIT, ENV], ids=lambda path: path.name)
def test_each_example_says_it_is_one_at_its_top(path: Path):
    assert path.read_text(encoding="utf-8").startswith("# EXAMPLE ONLY:")


def test_the_example_settings_are_valid_and_keep_the_key_out_of_the_data(tmp_path: Path):
    env = read_dotenv(ENV)
    settings = Settings.from_env(env, cwd=tmp_path)
    unit = UNIT.read_text(encoding="utf-8")
    state = Path("/var/lib") / directive(unit, "StateDirectory")
    cache = Path("/var/cache") / directive(unit, "CacheDirectory")
    assert directive(unit, "WorkingDirectory") == str(state)
    assert directive(unit, "EnvironmentFile") == "/etc/unionbot/unionbot.env"
    assert directive(unit, "Restart") == "on-failure"
    assert directive(unit, "ProtectSystem") == "strict"  # state and cache stay writable
    database = Path(settings.database_url.removeprefix("sqlite+aiosqlite:///"))
    assert database.is_relative_to(state)
    assert settings.cache_dir == cache
    assert settings.key_file is not None and not settings.key_file.is_relative_to(state)
    assert settings.trusted_proxies and settings.public_url
    assert f"server {settings.http_host}:{settings.http_port};" in NGINX.read_text("utf-8")


def directive(unit: str, name: str) -> str:
    found = re.findall(rf"^{name}=(.*)$", unit, re.MULTILINE)
    assert len(found) == 1, name
    return found[0]


def test_the_proxy_passes_every_path_of_the_app_and_its_limits(tmp_path: Path):
    everything_on = {
        "TELEGRAM_BOT_TOKEN": "1:x", "PUBLIC_URL": "https://bot.example.org",
        "ZALO_APP_ID": "1", "ZALO_OA_SECRET_KEY": "s",
    }  # fmt: skip
    app = bot_app.create_app(Settings.from_env(everything_on, cwd=tmp_path))
    paths = {resource.canonical for resource in app.router.resources()}
    assert {"/telegram/webhook", "/zalo/webhook", "/chat", "/officer", "/healthz"} <= paths
    conf = NGINX.read_text(encoding="utf-8")
    exact = set(re.findall(r"location = (\S+) \{", conf))
    prefixes = set(re.findall(r"location (/\S+/) \{", conf))
    for path in paths:
        assert path in exact or any(path.startswith(prefix) for prefix in prefixes), path
    assert re.search(r"^    client_max_body_size (\d+)m;", conf, re.MULTILINE)
    server_limit = re.findall(r"^    client_max_body_size (\d+)m;", conf, re.MULTILINE)
    assert [int(size) * 1024 * 1024 for size in server_limit] == [bot_app.MAX_BODY_BYTES]
    for upload in bot_app.UPLOAD_PATHS:
        block = conf.split(f"location = {upload} {{", 1)[1].split("}", 1)[0]
        size = re.findall(r"client_max_body_size (\d+)m;", block)
        assert [int(mb) * 1024 * 1024 for mb in size] == [bot_app.MAX_UPLOAD_BYTES]
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf
