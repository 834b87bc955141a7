"""The bot as an operator installs it: a wheel built from this checkout, installed into a fresh
virtual environment outside the checkout, run from an empty folder (issue 19).

Reinstalling every dependency would take minutes, so the fresh environment sees this
interpreter's site-packages through a .pth file, written after the wheel is installed (pip
would otherwise take the project's own install there for the one to replace). Paths listed
in a .pth file are only added to sys.path, their own .pth files are not run, so an editable
install of the project there cannot shadow the wheel; the test checks where `bot` comes from.

Nothing is downloaded but setuptools, from the configured package indexes, and only when the
one installed here is older than pyproject.toml's build-system asks for.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.support import ROOT, clean_env, free_port

# What the wheel is built from; tests/, bench/, docs/ stay behind.
SOURCES = ("pyproject.toml", "README.md", "bot", "handlers", "storage", "content")
# What a checkout holds beside the sources that no wheel carries (*.mo: compiled in memory).
BUILT = ("__pycache__", "*.pyc", "*.mo", "*.egg-info", "build")
# Installed under another name than its folder's (pyproject.toml's package-dir).
RENAMED = {"content": "unionbot_content"}
QUESTION = "Công ty nợ lương 2 tháng rồi, tôi phải làm gì?"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    site: Path  # an empty folder outside the checkout: the operator's working directory
    cache: Path  # XDG_CACHE_HOME
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "unionbot"), *args], cwd=self.site, env=self.env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("package")
    source = work / "source"  # a copy, so the build leaves nothing in the checkout
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns(*BUILT))
        else:
            shutil.copy2(ROOT / name, source / name)
    wheel = _build(source, work / "dist")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=False, symlinks=True)
    python = env_dir / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    _check([*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)], cwd=work)
    target = Path(_check([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                          "['purelib'])"], cwd=work).strip())  # fmt: skip
    here = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (target / "zz_unionbot_test_dependencies.pth").write_text("\n".join(here) + "\n")
    site = work / "site"
    site.mkdir()
    env = {k: v for k, v in clean_env().items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_CACHE_HOME"] = str(work / "cache")
    return Installed(wheel, env_dir, site, work / "cache", env)


def _build(source: Path, out: Path) -> Path:
    """`pip wheel` as an operator runs it; in this environment when its setuptools will do."""
    wanted = tomllib.loads((source / "pyproject.toml").read_text())["build-system"]["requires"]
    [least] = [int(m) for r in wanted for m in re.findall(r"^setuptools>=(\d+)", r)]
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        major = 0
    isolation = ["--no-build-isolation"] if major >= least else []
    _check([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, str(source),
            "-w", str(out)], cwd=source.parent)  # fmt: skip
    [wheel] = out.glob("unionbot-*.whl")
    return wheel


def _check(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no checkout on the path
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"
    return done.stdout


def _venv_files(venv_dir: Path) -> set[Path]:
    return {
        path.relative_to(venv_dir)
        for path in venv_dir.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def _missing_from(wheel: Path) -> list[str]:
    """The checkout's files that the wheel does not carry, by their installed names."""
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        "/".join([RENAMED.get(path.parts[0], path.parts[0]), *path.parts[1:]])
        for name in SOURCES[2:]
        for path in (p.relative_to(ROOT) for p in (ROOT / name).rglob("*") if p.is_file())
        if not any(path.match(pattern) or pattern in path.parts for pattern in BUILT)
    }
    assert "content/taxonomy.yaml" not in names  # a top-level `content` could be anyone's
    return sorted(wanted - names)


def test_the_wheel_carries_everything_and_runs_outside_the_checkout(installed):
    # One test: under xdist two would each build and install it.
    assert _missing_from(installed.wheel) == []
    before = _venv_files(installed.venv)
    where = installed.run("ask", "--json", QUESTION)  # any command; bot.__file__ comes next
    assert where.returncode == 0, where.stderr
    python = str(installed.venv / "bin" / "python")
    code = "import bot, bot.config as c; print(bot.__file__); print(c.CONTENT_DIR)"
    origin = subprocess.run(
        [python, "-c", code], cwd=installed.site, env=installed.env, capture_output=True,
        text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    prefix = str(installed.venv.resolve())
    assert origin[0].startswith(prefix) and origin[1].startswith(prefix), origin
    assert origin[1].endswith("unionbot_content")

    answer = json.loads(where.stdout)
    assert answer["topic"] == "rights.wage_payment"
    article = (ROOT / "content" / "faq" / "vi" / "rights.wage_payment.md").read_text("utf-8")
    body = article.split("\n---\n", 1)[1].strip()
    assert body.split("\n\n")[0] in answer["answer"]
    assert list((installed.cache / "unionbot").glob("faq-vi-*.npz"))  # the cache, not the venv

    routed = installed.run("route", "--workplace", "5800100003")
    assert routed.returncode == 0, routed.stderr
    assert routed.stdout.strip() == (
        "quy tắc 2: CL-XUANHUONG (nơi làm việc: Nhà hàng Chợ Đêm Phố Núi; "
        "phường/xã: Phường Xuân Hương - Đà Lạt)"
    )  # the packaged sample directory, seeded into ./data by the packaged migrations
    assert (installed.site / "data" / "unionbot.db").is_file()

    refused = installed.run("content", "train", "--select")
    assert refused.returncode == 2 and "UNIONBOT_CONTENT_DIR" in refused.stderr

    asyncio.run(_serve_until_healthy(installed))
    assert _venv_files(installed.venv) == before  # nothing written into site-packages


async def _serve_until_healthy(installed: Installed) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        str(installed.venv / "bin" / "unionbot"), "serve", cwd=installed.site,
        env={**installed.env, "HTTP_PORT": str(port)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert await _healthy(f"http://127.0.0.1:{port}/healthz", proc)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()


async def _healthy(url: str, proc: asyncio.subprocess.Process) -> bool:
    async with aiohttp.ClientSession() as client:
        for _ in range(400):
            if proc.returncode is not None:
                return False
            try:
                async with client.get(url) as response:
                    if response.status == 200:
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    return False
