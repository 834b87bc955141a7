"""`unionbot zalo authorize`: an admin grants the bot access to the OA once (OAuth v4 with
PKCE), in a real process against the fake Zalo; the pair is stored sealed in the database."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
from sqlalchemy import select

from bot.config import Settings
from bot.services.crypto import load_vault
from storage import db
from storage.models import Credential
from tests.support import clean_env
from tests.untranslated import leaks


def zalo_env(fake) -> dict[str, str]:
    return clean_env(
        ZALO_APP_ID=fake.app_id, ZALO_APP_SECRET=fake.app_secret,
        ZALO_OA_SECRET_KEY=fake.oa_secret, ZALO_API_BASE=fake.api_base,
        ZALO_OAUTH_BASE=fake.oauth_base,
    )  # fmt: skip


async def authorize(tmp_path: Path, fake, answer) -> tuple[int, str, str]:
    """Run the command; `answer(url)` is what the admin pastes after opening the link."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "zalo", "authorize", "--redirect-uri",
        "https://congdoan.example/zalo/callback", cwd=tmp_path, env=zalo_env(fake),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stdin is not None
    lines = []
    while not any(line.startswith("http") for line in lines):
        lines.append((await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip())
    url = next(line for line in lines if line.startswith("http"))
    process.stdin.write((await answer(url) + "\n").encode())
    await process.stdin.drain()
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, "\n".join(lines) + out.decode(), err.decode()


async def consent(url: str) -> str:
    """The admin opens the link and grants access: Zalo redirects to the callback."""
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False) as page:
        assert page.status in (302, 303)
        return page.headers["Location"]


async def test_an_admin_authorizes_once_and_the_pair_is_stored_sealed(tmp_path, fake_zalo):
    code, out, err = await authorize(tmp_path, fake_zalo, consent)
    assert code == 0, err
    query = parse_qs(urlsplit(out.splitlines()[1]).query)
    assert len(fake_zalo.calls_to("token")) == 1
    exchange = fake_zalo.calls_to("token")[0]
    assert exchange.params["grant_type"] == "authorization_code"
    assert len(exchange.params["code_verifier"]) == 43 and len(query["code_challenge"][0]) == 43
    said = "\n".join(line for line in out.splitlines() if not line.startswith("http"))
    assert "Xong: bot đã nhắn được trên Zalo" in said and not leaks(said)
    settings = Settings.from_env({}, cwd=tmp_path)
    database = db.Database.open(settings.database_url)
    async with database.sessions() as session:
        row = (await session.scalars(select(Credential))).one()
    await database.close()
    vault = load_vault(settings)
    assert vault.open(row.refresh_sealed) == fake_zalo.refresh_token
    assert fake_zalo.refresh_token.encode() not in row.refresh_sealed


async def test_a_wrong_paste_or_a_refused_code_changes_nothing(tmp_path, fake_zalo):
    async def nonsense(url: str) -> str:
        return "tôi không biết"

    code, _out, err = await authorize(tmp_path, fake_zalo, nonsense)
    assert code == 1 and "Không thấy mã" in err
    assert fake_zalo.calls_to("token") == []

    async def stolen(url: str) -> str:
        return "https://congdoan.example/zalo/callback?code=not-issued-by-zalo"

    code, _out, err = await authorize(tmp_path, fake_zalo, stolen)
    assert code == 1 and "Zalo từ chối" in err
