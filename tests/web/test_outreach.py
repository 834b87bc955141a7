"""Outreach links on the dashboard, on both databases: an officer makes a link for a
workplace, downloads its poster (the QR code read back leads to the link), a worker scans
it (the fake Telegram API with the start parameter), registers interest, and the link's page
and the statistics page show the arrival and the interest; forged forms and other unions'
links get a clear refusal and change nothing."""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from aiohttp import ClientSession, CookieJar
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from bot.app import create_app
from storage import outreach as stored
from storage.models import AuditEntry, OutreachLink, Union, Workplace
from tests.fakes.messengers import Messenger
from tests.fixtures.browser import SCREENSHOTS
from tests.fixtures.running_bot import serve
from tests.support import count, free_port
from tests.web.conftest import PASSWORD, add_officers, log_in, log_in_browser

CAFE = "Công ty TNHH Cà phê Đồi Mây"  # no union of its own: in CL-LAMVIEN's ward


async def ids(sessions) -> dict[str, int]:
    async with sessions() as session:
        found = {u.code: u.id for u in await session.scalars(select(Union))}
        found |= {w.name: w.id for w in await session.scalars(select(Workplace))}
        return found


async def logged_in(url: str, login: str) -> tuple[ClientSession, str]:
    """A browser-like client logged in to the dashboard at `url`, and its CSRF token."""
    client = ClientSession(cookie_jar=CookieJar(unsafe=True))
    page = await (await client.get(f"{url}/officer/login")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = {"csrf": token, "login": login, "password": PASSWORD}
    await client.post(f"{url}/officer/login", data=form, allow_redirects=False)
    page = await (await client.get(f"{url}/officer/outreach")).text()
    return client, re.search(r'name="csrf" value="([^"]+)"', page).group(1)


async def test_a_poster_brings_a_worker_in_and_the_funnel_shows_it(
    start_bot, fake_telegram, fake_zalo, sessions
):
    bot = await start_bot(telegram_bot_username="congdoan_bot", zalo_oa_id="4318000000")
    async with sessions() as session:
        await add_officers(session)
        await session.commit()
    known = await ids(sessions)
    client, csrf = await logged_in(bot.url, "admin")
    async with client:
        made = await client.post(
            f"{bot.url}/officer/outreach",
            data={"csrf": csrf, "label": "Quán cà phê Đồi Mây, Tết 2027",
                  "union": known["CL-LAMVIEN"], "workplace": known[CAFE], "ward": ""},
            allow_redirects=False,
        )  # fmt: skip
        assert made.status == 303
        page_url = made.headers["Location"]
        page = await (await client.get(f"{bot.url}{page_url}")).text()
        code = re.search(r'<strong class="code">([a-z2-9]{8})</strong>', page).group(1)
        assert f"https://t.me/congdoan_bot?start={code}" in page
        assert "https://zalo.me/4318000000" in page
        assert f"{bot.url}/chat?start={code}" in page
        link_path = page_url.split("?")[0]
        pdf = await client.get(f"{bot.url}{link_path}/poster.pdf")
        assert pdf.content_type == "application/pdf"
        printed = PdfReader(io.BytesIO(await pdf.read())).pages[0].extract_text()
        assert f"Mã: {code}" in printed and "Zalo (nhắn mã):" in printed  # send it there
        assert f"t.me/congdoan_bot?start={code}" in printed
        png = await client.get(f"{bot.url}{link_path}/poster.png")
        [qr] = zxingcpp.read_barcodes(Image.open(io.BytesIO(await png.read())))
        assert qr.text == f"{bot.url}/chat?start={code}"  # the web chat: any phone opens it

        # A worker scans it with Telegram: the deep link sends /start <code>.
        worker = Messenger("telegram", start_bot, fake_telegram, fake_zalo)
        worker.bot = bot
        lan = worker.worker(7001)
        await lan.say(f"/start {code}")
        assert CAFE in lan.last().text
        await lan.press("Gia nhập công đoàn")
        await lan.press("Tôi đồng ý")
        await lan.say("Lê Thị Lan")
        await lan.say("0987654321")
        assert lan.last().text == f"Mình hiểu là {CAFE}, đúng không?"
        await lan.press("Đúng rồi")
        await lan.press("Có, tôi có hợp đồng lao động")
        await lan.press("Bỏ qua")
        await lan.press("Gửi")
        assert "GN-" in lan.last().text

        page = await (await client.get(f"{bot.url}{link_path}")).text()
        totals = re.search(r"Tổng</th>(.*?)</tr>", page, re.S).group(1)
        # Arrived, asked, registered interest, contacted, admitted.
        assert re.findall(r'<td class="n">([^<]+)</td>', totals) == ["1", "0", "1", "0", "0"]
        stats = await (await client.get(f"{bot.url}/officer/stats")).text()
        assert "Hành trình gia nhập công đoàn" in stats
        assert "Quán cà phê Đồi Mây, Tết 2027" in stats


async def test_links_are_made_only_within_reach_and_forgeries_change_nothing(
    dashboard, sessions, settings
):
    client = dashboard["client"]
    known = await ids(sessions)
    await log_in(client, "binh")  # an officer of GR-SUACAONGUYEN (under CL-CAMLY)
    page = await (await client.get("/officer/outreach")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    good = {"csrf": csrf, "label": "Ca đêm nhà máy sữa", "union": known["GR-SUACAONGUYEN"],
            "workplace": known["Công ty TNHH Sữa Cao Nguyên"], "ward": ""}  # fmt: skip
    for forged, said in (
        ({"union": known["FED-ROOT"]}, "Bạn chọn công đoàn trong danh sách."),
        ({"union": "1; drop table"}, "Bạn chọn công đoàn trong danh sách."),
        ({"workplace": known[CAFE]}, "Bạn chọn nơi làm việc trong danh sách."),
        ({"label": "  "}, "Bạn đặt tên cho đường dẫn, từ 3 đến 120 ký tự."),
        ({"label": "x" * 121}, "Bạn đặt tên cho đường dẫn, từ 3 đến 120 ký tự."),
        ({"label": "Tết 2027 🎉"}, "Bạn đặt tên bằng chữ, số và dấu câu"),  # unprintable
    ):
        response = await client.post("/officer/outreach", data={**good, **forged})
        assert response.status == 400, forged
        assert said in await response.text()
    assert await count(sessions, OutreachLink) == 0
    refused = await client.post("/officer/outreach", data={**good, "csrf": "forged"})
    assert refused.status == 403
    made = await client.post("/officer/outreach", data=good, allow_redirects=False)
    assert made.status == 303
    link_path = made.headers["Location"].split("?")[0]
    async with sessions() as session:
        link = (await session.scalars(select(OutreachLink))).one()
        audited = (await session.scalars(select(AuditEntry.action))).all()
    assert "outreach.created" in audited
    assert re.fullmatch(r"[a-z2-9]{8}", link.code) and any(c.isdigit() for c in link.code)
    # No public address configured: the page says which setting gives the QR code a target.
    assert "PUBLIC_URL" in await (await client.get(link_path)).text()
    assert (await client.get(f"{link_path}/poster.pdf")).status == 409
    assert (await client.get(f"{link_path}/poster.exe")).status == 404

    await client.post("/officer/logout", data={"csrf": csrf})
    await log_in(client, "khac")  # another grassroots union: not theirs
    assert (await client.get(link_path)).status == 404
    assert (await client.get(f"{link_path}/poster.png")).status == 404
    page = await (await client.get("/officer/outreach")).text()
    assert "Ca đêm nhà máy sữa" not in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert (await client.post(f"{link_path}/off", data={"csrf": csrf})).status == 404
    async with sessions() as session:
        assert (await session.get(OutreachLink, link.id)).active is True

    await client.post("/officer/logout", data={"csrf": csrf})
    await log_in(client, "binh")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await (await client.get(link_path)).text())
    off = await client.post(f"{link_path}/off", data={"csrf": csrf.group(1)})
    assert "mã của nó không còn đưa ai vào nữa" in await off.text()
    async with sessions() as session:
        assert await stored.by_code(session, link.code) is None  # arrivals stop


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_pages_fit_a_phone_and_the_web_chat_opens_with_the_code(
    settings, sessions, browser
):
    """A worker opens the poster's web-chat link and taps Start: the bot knows the
    workplace. The link's page and the statistics page at 390 px: no sideways scroll, and
    screenshots to look at."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bot = await serve(create_app(settings.with_(public_url=url)), port)
    try:
        async with sessions() as session:
            await add_officers(session)
            await session.commit()
        known = await ids(sessions)
        client, csrf = await logged_in(url, "admin")
        async with client:
            made = await client.post(
                f"{url}/officer/outreach",
                data={"csrf": csrf, "label": "Nhà trọ công nhân phường Lâm Viên",
                      "union": known["CL-LAMVIEN"], "workplace": known[CAFE]},
                allow_redirects=False,
            )  # fmt: skip
            link_path = made.headers["Location"].split("?")[0]
        async with sessions() as session:
            code = (await session.scalars(select(OutreachLink.code))).one()
        chat = await browser.new_page(viewport={"width": 390, "height": 844})
        await chat.goto(f"{url}/chat?start={code}")
        await chat.click("#start")
        await chat.wait_for_selector(f"text={CAFE}")
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        await log_in_browser(page, url, "admin")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for path, name in ((link_path, "outreach-link"), ("/officer/stats", "stats-funnel")):
            await page.goto(f"{url}{path}")
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390, path
            await page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
        assert "1" in await page.inner_text("#funnel tfoot")
    finally:
        await bot.stop()
