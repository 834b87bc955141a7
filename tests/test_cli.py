"""The command line as a newcomer uses it: real processes, a fresh folder, no configuration."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import SAMPLE_DIRECTORY, free_port
from tests.fakes.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "TELEGRAM_", "PUBLIC_URL", "HTTP_", "UNIONBOT_"))
    }
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120,
        env=clean_env(**env),
    )  # fmt: skip


def test_unionbot_and_python_m_bot_are_the_same_interface(tmp_path):
    script = shutil.which("unionbot") or str(Path(sys.executable).parent / "unionbot")
    via_script = run([script, "--help"], tmp_path)
    via_module = run([sys.executable, "-m", "bot", "--help"], tmp_path)
    assert via_script.returncode == via_module.returncode == 0
    assert via_script.stdout == via_module.stdout
    for command in ("chat", "serve", "directory", "db"):
        assert command in via_module.stdout


def test_chat_works_on_a_fresh_folder_with_no_configuration(tmp_path):
    lines = "/start\n2\n1\nEm muốn vào công đoàn\n5\n/quit\n"
    result = run([sys.executable, "-m", "bot", "chat", "--user", "lan"], tmp_path, lines)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Xin chào! Mình là trợ lý tự động của Công đoàn" in out
    assert "  1. Hỏi đáp" in out and "  6. Ngôn ngữ / Language" in out
    assert "Phần “Gia nhập công đoàn” trong khung chat này đang được xây dựng" in out
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
    assert "12 unions, 5 wards, 10 workplaces" in done.stdout


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
