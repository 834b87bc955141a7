"""The command line as a newcomer uses it: real processes, a fresh folder, no configuration."""

from __future__ import annotations

import asyncio
import getpass
import io
import json
import os
import re
import shutil
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from cryptography.fernet import Fernet

from bot import cli
from tests.fakes.telegram_api import FakeTelegram
from tests.support import ROOT, SAMPLE_DIRECTORY, clean_env, free_port, run
from tests.untranslated import leaks


def test_unionbot_and_python_m_bot_are_the_same_interface(tmp_path):
    script = shutil.which("unionbot") or str(Path(sys.executable).parent / "unionbot")
    via_script = run([script, "--help"], tmp_path)
    via_module = run([sys.executable, "-m", "bot", "--help"], tmp_path)
    assert via_script.returncode == via_module.returncode == 0
    assert via_script.stdout == via_module.stdout
    for command in ("chat", "serve", "ask", "route", "content", "directory", "db"):
        assert command in via_module.stdout


def test_chat_works_on_a_fresh_folder_with_no_configuration(tmp_path):
    lines = "/start\nbảo hiểm\n4\n5\n/quit\n"  # 4: "Hỏi cán bộ công đoàn" under 3 topics
    result = run([sys.executable, "-m", "bot", "chat", "--user", "lan"], tmp_path, lines)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Xin chào! Mình là trợ lý tự động của Công đoàn" in out
    assert "  1. Hỏi đáp" in out and "  6. Ngôn ngữ / Language" in out
    assert "Mình chưa chắc đã hiểu đúng." in out and "  4. Hỏi cán bộ công đoàn" in out
    assert "Mã hồ sơ: HD-" in out
    assert "Hồ sơ của bạn:" in out
    assert (tmp_path / "data" / "unionbot.db").is_file()

    # The language and the request are remembered across runs.
    again = run(
        [sys.executable, "-m", "bot", "chat", "--user", "lan"], tmp_path, "/lang en\n/menu\n"
    )
    assert "What do you need? Choose one below." in again.stdout
    third = run([sys.executable, "-m", "bot", "chat", "--user", "lan"], tmp_path, "5\n")
    assert "Your requests:" not in third.stdout  # "5" needs a shown menu first
    fourth = run([sys.executable, "-m", "bot", "chat", "--user", "lan"], tmp_path, "/menu\n5\n")
    assert "Your requests:" in fourth.stdout


def test_chat_answers_a_question_typed_without_diacritics(tmp_path):
    lines = "/start\ncty no luong 2 thang roi phai lam sao\n/quit\n"
    result = run([sys.executable, "-m", "bot", "chat", "--user", "an"], tmp_path, lines)
    assert result.returncode == 0, result.stderr
    assert "Trả lương, nợ lương, chậm lương" in result.stdout
    assert "Căn cứ: Bộ luật Lao động 2019" in result.stdout
    assert "  1. Gửi phản ánh" in result.stdout and "  2. Hỏi cán bộ công đoàn" in result.stdout


def test_chat_registers_interest_and_makes_the_key_file_once(tmp_path):
    lines = "/start\n2\n1\nNguyen Van An\n0912 345 678\ncty sua cao nguyen\n1\n1\n4\n1\n/quit\n"
    result = run([sys.executable, "-m", "bot", "chat", "--user", "an"], tmp_path, lines)
    assert result.returncode == 0, result.stderr
    assert "Để đăng ký, mình cần họ tên, số điện thoại và nơi làm việc của bạn." in result.stdout
    assert "Mã hồ sơ: GN-2026-000001." in result.stdout
    assert "Cán bộ Công đoàn cơ sở Công ty TNHH Sữa Cao Nguyên sẽ gọi cho bạn" in result.stdout
    assert "made a new encryption key in" in result.stderr
    assert (tmp_path / "data" / "unionbot.key").is_file()
    again = run([sys.executable, "-m", "bot", "chat", "--user", "an"], tmp_path, "/quit\n")
    assert "made a new encryption key" not in again.stderr


def test_ask_json_follows_the_contract_on_a_fresh_folder(tmp_path):
    result = run(
        [sys.executable, "-m", "bot", "ask", "cty no luong 2 thang roi phai lam sao", "--json"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert list(answer) == ["topic", "confidence", "answer", "suggestions"]
    assert answer["topic"] == "rights.wage_payment"
    assert 0.5 <= answer["confidence"] <= 1
    assert answer["answer"].startswith("Trả lương, nợ lương, chậm lương")
    assert "Căn cứ: " in answer["answer"]
    assert isinstance(answer["suggestions"], list)
    assert not (tmp_path / "data").exists()  # no database was needed or made


def test_ask_jsonl_answers_one_line_per_question_in_either_language(tmp_path):
    questions = "xo so hom nay ra so may\nbảo hiểm\nchao ban\nhow many days of annual leave\n"
    result = run([sys.executable, "-m", "bot", "ask", "--jsonl", "--lang", "en"], tmp_path,
                 questions)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lottery, unsure, hello, leave = (json.loads(line) for line in result.stdout.splitlines())
    assert (lottery["topic"], lottery["suggestions"]) == (None, [])
    assert lottery["answer"].startswith("Sorry, I can only help with work and the union")
    assert unsure["topic"] is None and len(unsure["suggestions"]) == 3
    assert hello["topic"] is None and hello["answer"].startswith("Hello!")
    assert leave["topic"] == "rights.annual_leave"
    assert leave["answer"].startswith("Annual leave")
    no_question = run([sys.executable, "-m", "bot", "ask", "--json"], tmp_path)
    assert no_question.returncode == 2 and "lệnh ask cần một câu hỏi" in no_question.stderr


def test_content_check_exit_code_follows_a_fixed_clock(tmp_path):
    today = run([sys.executable, "-m", "bot", "content", "check", "--today", "2026-11-25"],
                tmp_path)  # fmt: skip
    assert today.returncode == 0, today.stdout
    assert "Kho kiến thức ổn vào ngày 25/11/2026." in today.stdout
    assert "sắp cũ: " in today.stdout and "rights.minimum_wage.md" in today.stdout
    later = run([sys.executable, "-m", "bot", "content", "check", "--today", "2027-01-05"],
                tmp_path)  # fmt: skip
    assert later.returncode == 1
    assert "đã cũ: " in later.stdout and "(chỉ đúng đến 31/12/2026)" in later.stdout


def test_a_broken_article_stops_the_bot_with_its_name(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    broken = content / "faq" / "vi" / "rights.strike.md"
    broken.write_text(broken.read_text("utf-8").replace("sources:", "source:"), "utf-8")
    env = {"UNIONBOT_CONTENT_DIR": str(content)}
    asked = run([sys.executable, "-m", "bot", "ask", "đình công"], tmp_path, **env)
    assert asked.returncode == 2
    assert asked.stderr.strip() == f"unionbot: {broken}: 'sources' is missing or not a list"
    checked = run([sys.executable, "-m", "bot", "content", "check"], tmp_path, **env)
    assert checked.returncode == 1 and f"không hợp lệ: {broken}: 'sources'" in checked.stdout


def test_content_unanswered_lists_what_the_bot_could_not_answer(tmp_path):
    lines = "/start\nxo so hom nay\nXổ số hôm nay?\n/quit\n"
    run([sys.executable, "-m", "bot", "chat", "--user", "an"], tmp_path, lines)
    listed = run([sys.executable, "-m", "bot", "content", "unanswered"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert line.split()[0] == "2" and line.endswith("[vi] Xổ số hôm nay?")


def test_route_with_a_directory_file_touches_no_database(tmp_path):
    result = run(
        [sys.executable, "-m", "bot", "route", "--directory", str(SAMPLE_DIRECTORY),
         "--workplace", "cty sua cao nguyen", "--ward", "p8", "--json"],
        tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "union": "GR-SUACAONGUYEN",
        "workplace": "Công ty TNHH Sữa Cao Nguyên",
        "ward": "Phường Cam Ly - Đà Lạt",
        "rule": 1,
    }
    lines = '{"workplace": "quán phở", "ward": "phuong 11"}\n{"workplace": null, "ward": null}\n'
    many = run([sys.executable, "-m", "bot", "route", "--directory", str(SAMPLE_DIRECTORY),
                "--jsonl"], tmp_path, lines)  # fmt: skip
    assert [json.loads(line) for line in many.stdout.splitlines()] == [
        {"union": "CL-XUANTRUONG", "workplace": None, "ward": "Phường Xuân Trường - Đà Lạt",
         "rule": 3},
        {"union": "FED-ROOT", "workplace": None, "ward": None, "rule": 4},
    ]  # fmt: skip
    bad = run([sys.executable, "-m", "bot", "route", "--directory", str(SAMPLE_DIRECTORY),
               "--jsonl"], tmp_path, '{"workplace": 5}\n')  # fmt: skip
    assert bad.returncode == 1 and "dòng 1: cần chữ hoặc null, không phải 5" in bad.stderr
    assert not (tmp_path / "data").exists()


def test_route_without_a_file_reads_the_imported_directory(tmp_path):
    result = run([sys.executable, "-m", "bot", "route", "--workplace", "5800100003"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "quy tắc 2: CL-XUANHUONG (nơi làm việc: Nhà hàng Chợ Đêm Phố Núi; "
        "phường/xã: Phường Xuân Hương - Đà Lạt)"
    )


def test_rotate_key_reseals_so_the_old_key_can_go(tmp_path):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    report = (
        "/start\n3\n1\nnha may sua cao nguyen\n1\n"
        "Công ty nợ lương hai tháng rồi, cả xưởng chưa ai được trả.\n1\n1\n1\n1\n1\n/quit\n"
    )
    filed = run([sys.executable, "-m", "bot", "chat", "--user", "an"], tmp_path, report,
                UNIONBOT_ENCRYPTION_KEY=old)  # fmt: skip
    assert "Mã hồ sơ: KN-2026-000001." in filed.stdout, filed.stderr
    rotated = run([sys.executable, "-m", "bot", "db", "rotate-key"], tmp_path,
                  UNIONBOT_ENCRYPTION_KEY=f"{new},{old}")  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.strip() == "Đã mã hoá lại 0 số điện thoại và 1 hồ sơ bằng khoá hiện tại."
    # With only the new key, the anonymous reporter still finds their case.
    mine = run([sys.executable, "-m", "bot", "chat", "--user", "an"], tmp_path, "/hoso\n",
               UNIONBOT_ENCRYPTION_KEY=new)  # fmt: skip
    assert "KN-2026-000001 · Phản ánh" in mine.stdout


def test_db_upgrade_and_directory_import(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    upgrade = run([sys.executable, "-m", "bot", "db", "upgrade"], tmp_path, DATABASE_URL=url)
    assert upgrade.returncode == 0, upgrade.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("unions:\n  - {code: A, name: A, level: planet, parent: null}\n", "utf-8")
    refused = run(
        [sys.executable, "-m", "bot", "directory", "import", str(bad)], tmp_path, DATABASE_URL=url
    )
    assert refused.returncode == 1
    assert "unions[0] (A): level must be one of" in refused.stderr
    done = run(
        [sys.executable, "-m", "bot", "directory", "import", str(SAMPLE_DIRECTORY)],
        tmp_path,
        DATABASE_URL=url,
    )
    assert done.returncode == 0, done.stderr
    assert "12 công đoàn, 5 phường/xã, 10 nơi làm việc" in done.stdout


def test_officer_accounts_invites_and_groups(tmp_path):
    unionbot = [sys.executable, "-m", "bot", "officer"]
    add = run([*unionbot, "add", "--union", "GR-SUACAONGUYEN", "--name", "Trần Thị Bình",
               "--login", "binh", "--password-stdin"], tmp_path, "mat-khau-dai-du\n")  # fmt: skip
    assert add.returncode == 0, add.stderr
    assert add.stdout.startswith("Đã thêm cán bộ 1: Trần Thị Bình (Cán bộ, GR-SUACAONGUYEN)")
    first = re.search(r"/canbo ([A-Z0-9]{5}-[A-Z0-9]{5})", add.stdout)
    assert first, add.stdout
    again = run([*unionbot, "invite", "binh"], tmp_path)
    second = re.search(r"/canbo ([A-Z0-9]{5}-[A-Z0-9]{5})", again.stdout)
    assert second and second.group(1) != first.group(1)
    linked = run([*unionbot, "add", "--union", "FED-ROOT", "--name", "Quản trị", "--role",
                  "admin", "--telegram-id", "42"], tmp_path)  # fmt: skip
    assert linked.returncode == 0 and "/canbo" not in linked.stdout
    group = run([*unionbot, "group", "GR-SUACAONGUYEN", "-1001234567890"], tmp_path)
    assert group.returncode == 0, group.stderr
    listing = run([*unionbot, "list"], tmp_path).stdout.splitlines()
    assert listing == [
        "1\tbinh\tCán bộ\tGR-SUACAONGUYEN\t-\tđang hoạt động\tTrần Thị Bình",
        "2\t-\tQuản trị viên\tFED-ROOT\tTelegram\tđang hoạt động\tQuản trị",
    ]
    for bad, reason in (
        (["add", "--union", "NOPE", "--name", "X"], "Không có công đoàn nào mang mã “NOPE”"),
        (["add", "--union", "FED-ROOT", "--name", "X", "--login", "binh", "--password-stdin"],
         "Tên đăng nhập “binh” đã có người dùng"),
        (["add", "--union", "FED-ROOT", "--name", "X", "--login", "x", "--password-stdin"],
         "ít nhất 10 ký tự"),
        (["group", "FED-ROOT", "12345"], "là một số âm"),
        (["invite", "nobody"], "Không có cán bộ “nobody”"),
    ):  # fmt: skip
        result = run([*unionbot, *bad], tmp_path, "short\n" if "x" in bad else "pw-long-enough\n")
        assert result.returncode == 2 and reason in result.stderr, (bad, result.stderr)


def test_a_bad_database_url_is_a_clear_error(tmp_path):
    result = run([sys.executable, "-m", "bot", "db", "upgrade"], tmp_path, DATABASE_URL="mysql://x")
    assert result.returncode == 2
    assert "DATABASE_URL must start with" in result.stderr


async def _wait_healthy(url: str, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as client:
        for _ in range(200):
            if proc.returncode is not None:
                raise AssertionError("serve exited early")
            try:
                async with client.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("serve did not become healthy")


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_serve_runs_the_bot_on_telegram(tmp_path, mode):
    fake = FakeTelegram()
    await fake.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_env(
        TELEGRAM_BOT_TOKEN=fake.token,
        TELEGRAM_API_BASE=fake.api_base,
        HTTP_PORT=str(port),
        **({"PUBLIC_URL": url, "TELEGRAM_WEBHOOK_SECRET": "abc_123"} if mode == "webhook" else {}),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await _wait_healthy(url, proc)
        update = fake.text_update(701, "/start")
        if mode == "webhook":
            assert fake.webhook_url == f"{url}/telegram/webhook"
            assert (await fake.deliver(update, secret="nope"))[0] == 403
            assert (await fake.deliver(update))[0] == 200
        else:
            fake.feed(update)
        await fake.wait_for("sendMessage", 1, timeout=20)
        assert fake.sent(701)[0]["text"].startswith("Xin chào!")
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
        await fake.stop()
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()


async def test_serve_with_the_zalo_settings_serves_zalo_workers(tmp_path, fake_zalo):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_env(
        HTTP_PORT=str(port), PUBLIC_URL=url, ZALO_APP_ID=fake_zalo.app_id,
        ZALO_APP_SECRET=fake_zalo.app_secret, ZALO_OA_SECRET_KEY=fake_zalo.oa_secret,
        ZALO_ACCESS_TOKEN=fake_zalo.access_token, ZALO_REFRESH_TOKEN=fake_zalo.refresh_token,
        ZALO_API_BASE=fake_zalo.api_base, ZALO_OAUTH_BASE=fake_zalo.oauth_base,
    )  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await _wait_healthy(url, proc)
        fake_zalo.webhook_url = f"{url}/zalo/webhook"
        event = fake_zalo.text_event("2468458835296199001", "/start")
        assert (await fake_zalo.deliver(event, secret="nope"))[0] == 403
        assert (await fake_zalo.deliver(event))[0] == 200
        await fake_zalo.wait_for("cs", 1, timeout=20, succeeded=True)
        assert fake_zalo.text_of(fake_zalo.sent("2468458835296199001")[0]).startswith("Xin chào!")
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    assert f"register {url}/zalo/webhook as the webhook" in err.decode()


def test_content_check_fails_once_the_holiday_list_runs_out(tmp_path):
    late = run([sys.executable, "-m", "bot", "content", "check", "--today", "2027-02-02"], tmp_path)
    assert late.returncode == 1
    assert "holidays.yaml (đủ đến 31/1/2027: hãy thêm các ngày nghỉ lễ tiếp theo)" in late.stdout


# -- the command line speaks Vietnamese (its language is the default language) -------------


class Typed:
    """getpass.getpass with the answers a person types; remembers each prompt shown."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str = "Password: ", stream: object = None) -> str:
        self.prompts.append(prompt)
        return self.answers.pop(0)


@pytest.fixture
def unionbot(tmp_path, monkeypatch, capsys):
    """Run the CLI in this process, in a fresh folder with no configuration, so that
    getpass can be faked: unionbot(*args, typed=(...), stdin="") -> (code, out, err, prompts)."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("DATABASE_URL", "TELEGRAM_", "PUBLIC_URL", "HTTP_", "UNIONBOT_")):
            monkeypatch.delenv(name)

    def run_cli(*args: str, typed: tuple[str, ...] = (), stdin: str = ""):
        terminal = Typed(*typed)
        monkeypatch.setattr(getpass, "getpass", terminal)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main(list(args))
        out = capsys.readouterr()
        assert not terminal.answers, "not asked for everything typed"
        return code, out.out, out.err, terminal.prompts

    return run_cli


ADD = ("officer", "add", "--union", "GR-SUACAONGUYEN", "--name", "Trần Thị Bình", "--login", "binh")


def test_officer_add_asks_for_the_password_in_vietnamese_and_checks_it_at_once(unionbot):
    code, out, err, prompts = unionbot(*ADD, typed=("ngắn", "mat-khau-rat-dai", "mat-khau-rat-dai"))
    assert code == 0, err
    assert prompts == [
        "Mật khẩu (ít nhất 10 ký tự): ",
        "Mật khẩu (ít nhất 10 ký tự): ",  # asked again at once: too short
        "Nhập lại mật khẩu: ",
    ]
    assert err == "Mật khẩu cần có ít nhất 10 ký tự.\n"
    assert out.startswith("Đã thêm cán bộ 1: Trần Thị Bình (Cán bộ, GR-SUACAONGUYEN)\n")
    differ = ("mat-khau-rat-dai", "mat-khau-khac-han")
    code, _out, err, prompts = unionbot(*ADD[:-1], "lan", typed=differ)
    assert (code, err) == (2, "unionbot: Hai mật khẩu không giống nhau. Chưa thêm gì cả.\n")
    code, _out, err, prompts = unionbot(*ADD[:-1], "lan", typed=("ngắn",) * 3)
    assert len(prompts) == 3 and code == 2
    assert err.endswith("unionbot: Mật khẩu cần có ít nhất 10 ký tự.\n")
    code, _out, err, _prompts = unionbot(*ADD[:-1], "lan", "--password-stdin", stdin="ngắn\n")
    assert (code, err) == (2, "unionbot: Mật khẩu cần có ít nhất 10 ký tự.\n")


def test_what_the_command_line_says_is_vietnamese(unionbot, tmp_path):
    """Prompts, reports and errors of every command that talks to a person (file paths
    aside: they are names, not words)."""
    said = []

    def run(*args: str, **kwargs) -> int:
        code, out, err, prompts = unionbot(*args, **kwargs)
        said.extend([*prompts, out, err])
        return code

    assert run(*ADD, typed=("mat-khau-rat-dai",) * 2) == 0
    assert run(*ADD, typed=("mat-khau-rat-dai",) * 2) == 2  # the login is taken
    assert run("officer", "add", "--union", "NOPE", "--name", "X") == 2
    assert run("officer", "add", "--union", "FED-ROOT", "--name", "Quản trị", "--role", "admin",
               "--telegram-id", "42") == 0  # fmt: skip
    assert run("officer", "add", "--union", "FED-ROOT", "--name", "Y", "--telegram-id", "4x") == 2
    assert run("officer", "invite", "binh") == 0
    assert run("officer", "invite", "nobody") == 2
    assert run("officer", "group", "GR-SUACAONGUYEN", "-1001234567890") == 0
    assert run("officer", "group", "GR-SUACAONGUYEN", "12345") == 2
    assert run("officer", "list") == 0
    assert run("db", "upgrade") == 0
    assert run("db", "rotate-key") == 0
    assert run("directory", "import", str(SAMPLE_DIRECTORY)) == 0
    assert run("route", "--workplace", "5800100003") == 0
    assert run("route", "--workplace", "quán phở", "--ward", "phuong 11") == 0
    assert run("content", "check", "--today", "2026-11-25") == 0
    assert run("content", "check", "--today", "2027-02-02") == 1
    assert run("content", "unanswered") == 0
    assert run("ask", "--json") == 2
    text = re.sub(r"\S*/\S*", " ", "\n".join(said))
    assert leaks(text) == [], text
