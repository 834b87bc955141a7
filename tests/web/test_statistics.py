"""The dashboard's statistics page over HTTP, on both databases: it needs a login, counts only
what the officer may read and shows those counts exactly (small ones too: the officer can
open every case behind them), labels every category, fits a phone, measures membership
against the plan, and shows no worker's words or identity."""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from bot.app import create_app
from bot.config import CONTENT_DIR
from bot.services import accounts
from bot.services.i18n import LOCAL_TIME
from storage import cases, outreach, people, unanswered, unions
from storage.models import AuditEntry, Case, OutreachCount, OutreachLink, Union, Workplace
from tests.fixtures.browser import SCREENSHOTS
from tests.support import TEST_VAULT, count
from tests.untranslated import leaks, visible_text
from tests.web.conftest import PASSWORD, add_officers, log_in

NOW = datetime.now(UTC)
THIS_YEAR = NOW.astimezone(LOCAL_TIME).year
PLAN = """\
targets: {2023: 1000, 2025: 1100, 2030: 1500}
baseline:
  as_of: 2025-12-31
  unions: {GR-SUACAONGUYEN: 200, GR-THONGXANH: 300, CL-CAMLY: 500}
"""
SECRET_TEXT = "Quản đốc Trần Văn Hùng nợ lương tôi"
SECRET_PHONE = "0912345678"
SECRET_PLACE = "Xưởng Bí Mật Số 7"
BAD_NAME = "CĐ </script><script>alert(1)</script>"
BAD_QUESTION = "lương </script><script>alert(2)</script> tối thiểu"
WORKERS = itertools.count(1)


def content_with(plan: str, root: Path) -> Path:
    """A content directory like the real one, with this membership plan."""
    root.mkdir()
    for entry in CONTENT_DIR.iterdir():
        if entry.name != "membership.yaml":
            (root / entry.name).symlink_to(entry)
    (root / "membership.yaml").write_text(plan, encoding="utf-8")
    return root


async def add_case(
    session, union_code: str, kind: str, category: str | None, *, n: int = 1,
    details: dict | None = None,
) -> list[Case]:  # fmt: skip
    """n cases, each from its own named worker, with words and contacts the page must not show."""
    union = await unions.by_code(session, union_code)
    made = []
    for _ in range(n):
        person = await people.create(session, "telegram", f"worker-{next(WORKERS)}", "vi", NOW)
        made.append(
            await cases.open(
                session, kind=kind, union_id=union.id, category=category, person_id=person.id,
                text=SECRET_TEXT, now=NOW,
                contact_sealed=TEST_VAULT.seal(json.dumps({"phone": SECRET_PHONE})),
                details={"workplace_text": SECRET_PLACE, **(details or {})},
            )
        )  # fmt: skip
    return made


@pytest.fixture
async def stats_client(settings, sessions, tmp_path) -> AsyncIterator[TestClient]:
    content = content_with(PLAN, tmp_path / "content")
    app = create_app(settings.with_(content_dir=content))
    client = TestClient(TestServer(app))
    await client.start_server()
    admitted = {"admitted_at": f"{THIS_YEAR}-01-15"}
    async with sessions() as session:
        await add_officers(session)
        # Binh's union: 17 cases.
        wages = await add_case(session, "GR-SUACAONGUYEN", "grievance", "wages", n=7)
        await add_case(session, "GR-SUACAONGUYEN", "grievance", "safety", n=2)
        await add_case(session, "GR-SUACAONGUYEN", "question", None)
        await add_case(
            session, "GR-SUACAONGUYEN", "membership", "contract", n=6, details=dict(admitted)
        )
        await add_case(session, "GR-SUACAONGUYEN", "membership", "contract")
        # First answers after 1, 2, 3, 4 and 10 hours; resolved after 1 to 5 days.
        for case, hours in zip(wages, (1, 2, 3, 4, 10), strict=False):
            case.first_response_at = NOW + timedelta(hours=hours)
        for case, days in zip(wages[2:], (1, 2, 3, 4, 5), strict=True):
            case.status, case.closed_at = "resolved", NOW + timedelta(days=days)
        # Another union: 14 cases Binh must not count, 2 of them admitted members.
        await add_case(session, "GR-THONGXANH", "grievance", "harassment", n=12)
        await add_case(session, "GR-THONGXANH", "membership", "contract", n=2,
                       details=dict(admitted))  # fmt: skip
        # A ward union with one case, and a name that tries to end the JSON block.
        await add_case(session, "CL-LAMVIEN", "support", "illness")
        await session.execute(update(Union).where(Union.code == "CL-LAMVIEN").values(name=BAD_NAME))
        for i in range(6):
            await unanswered.record(
                session, language="vi", key="luong toi thieu", text=BAD_QUESTION,
                suggestions=[], now=NOW, asker=f"asker-{i}",
            )  # fmt: skip
        for i in range(2):
            await unanswered.record(
                session, language="vi", key="hiem", text="câu hỏi hiếm của một người",
                suggestions=[], now=NOW, asker=f"rare-{i}",
            )  # fmt: skip
        await session.commit()
    yield client
    await client.close()


def data_of(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="stats-data">(.*?)</script>', page)
    assert found is not None
    return json.loads(found.group(1))


def chart(page: str, key: str) -> dict[str, object]:
    """A chart's values by key (category "kind:category", status, union code, month)."""
    drawn = data_of(page)["charts"][key]
    return dict(zip(drawn["keys"], drawn["series"][0]["values"], strict=True))


def table(page: str, key: str) -> tuple[list[str], str]:
    """A breakdown table's shown numbers, in order, and its total."""
    start = page.index(f'id="chart-{key}"')
    html = page[start : page.index("</table>", start)]
    cells = re.findall(r'<td class="n">([^<]*)</td>', html)
    return cells[:-1], cells[-1]


async def test_the_page_needs_a_login(stats_client, sessions):
    response = await stats_client.get("/officer/stats", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/officer/login")
    await log_in(stats_client, "binh")
    page = await stats_client.get("/officer/stats")
    assert page.status == 200 and "Content-Security-Policy" in page.headers
    assert 'href="/officer/stats"' in await page.text()
    assert await count(sessions, AuditEntry, AuditEntry.action == "stats.viewed") == 1


async def test_an_officer_counts_only_their_unions_cases(stats_client):
    await log_in(stats_client, "binh")
    page = await (await stats_client.get("/officer/stats")).text()
    assert chart(page, "union") == {"GR-SUACAONGUYEN": 17}
    assert chart(page, "status") == {"new": 12, "resolved": 5}
    assert "grievance:harassment" not in chart(page, "category")
    assert "Khách sạn Thông Xanh" not in page and "alert(1)" not in page


async def test_an_admin_counts_everything(stats_client):
    await log_in(stats_client, "admin")
    page = await (await stats_client.get("/officer/stats")).text()
    assert chart(page, "category")["grievance:harassment"] == 12
    assert chart(page, "status") == {"new": 27, "resolved": 5}
    # The admin can open every case, so the ward union's one case is counted as it is.
    assert chart(page, "union") == {"CL-LAMVIEN": 1, "GR-SUACAONGUYEN": 17, "GR-THONGXANH": 14}
    numbers, total = table(page, "union")
    assert sorted(numbers) == sorted(["17", "1", "14"]) and total == "32"


async def test_small_numbers_of_cases_the_officer_can_open_are_exact(stats_client):
    await log_in(stats_client, "binh")
    page = await (await stats_client.get("/officer/stats")).text()
    assert chart(page, "category") == {
        "grievance:safety": 2, "grievance:wages": 7, "membership:contract": 7, "question:": 1,
    }  # fmt: skip
    assert table(page, "category") == (["7", "2", "7", "1"], "17")
    assert table(page, "status") == (["12", "5"], "17")
    interest = chart(page, "interest")
    assert list(interest.values())[-1] == 7  # this month's membership requests


async def test_membership_is_measured_against_the_plan(stats_client):
    await log_in(stats_client, "admin")
    page = await (await stats_client.get("/officer/stats")).text()
    drawn = data_of(page)["charts"]["members"]
    years = [int(year) for year in drawn["labels"]]
    members = dict(zip(years, drawn["series"][0]["values"], strict=True))
    targets = dict(zip(years, drawn["series"][1]["values"], strict=True))
    assert years[0] == 2023 and years[-1] == max(2030, THIS_YEAR)
    assert (members[2023], members[2025]) == (None, 1000)
    assert members[THIS_YEAR] == 1000 + 8  # the baseline and 6 + 2 admitted this year
    assert {y: t for y, t in targets.items() if t} == {2023: 1000, 2025: 1100, 2030: 1500}
    await log_in(stats_client, "binh")
    mine = data_of(await (await stats_client.get("/officer/stats")).text())["charts"]
    series = mine["members"]["series"]
    assert len(series) == 1  # the federation's targets are not drawn for one union
    assert (
        dict(zip(mine["members"]["labels"], series[0]["values"], strict=True))[str(THIS_YEAR)]
        == 200 + 6
    )


async def test_fewer_than_five_admissions_show_to_the_officer_who_admitted_them(
    stats_client, sessions
):
    async with sessions() as session:
        await session.execute(update(Case).where(Case.kind == "membership").values(details={}))
        await add_case(session, "GR-SUACAONGUYEN", "membership", "contract", n=3,
                       details={"admitted_at": f"{THIS_YEAR}-02-01"})  # fmt: skip
        await session.commit()
    await log_in(stats_client, "binh")
    page = await (await stats_client.get("/officer/stats")).text()
    members = data_of(page)["charts"]["members"]
    assert (
        dict(zip(members["labels"], members["series"][0]["values"], strict=True))[str(THIS_YEAR)]
        == 200 + 3
    )
    assert f'{THIS_YEAR}</th><td class="n">203</td><td class="n">3</td>' in page


async def test_a_malformed_plan_is_reported_and_the_rest_still_shows(stats_client, tmp_path):
    (tmp_path / "content" / "membership.yaml").write_text("targets: {2030: many}")
    await log_in(stats_client, "admin")
    response = await stats_client.get("/officer/stats")
    page = await response.text()
    assert response.status == 200
    assert "Không đọc được tệp kế hoạch phát triển đoàn viên:" in page and "not a year" in page
    assert "members" not in data_of(page)["charts"] and chart(page, "status")["new"] == 27


async def test_the_medians_are_right(stats_client, sessions):
    await log_in(stats_client, "binh")
    page = await (await stats_client.get("/officer/stats")).text()
    assert "<dd>3 giờ</dd>" in page  # of 1, 2, 3, 4 and 10 hours
    assert "<dd>3 ngày</dd>" in page  # of 1 to 5 days
    async with sessions() as session:
        await session.execute(
            update(Case).where(Case.status == "resolved").values(status="new", closed_at=None)
        )
        await session.commit()
    page = await (await stats_client.get("/officer/stats")).text()
    assert "<dd>chưa có</dd>" in page  # no median of nothing
    async with sessions() as session:
        two = (await session.scalars(select(Case).where(Case.category == "safety"))).all()
        for case, days in zip(two, (1, 3), strict=True):
            case.status, case.closed_at = "resolved", case.created_at + timedelta(days=days)
        await session.commit()
    page = await (await stats_client.get("/officer/stats")).text()
    assert "<dd>2 ngày</dd>" in page  # of two cases Binh can open: nothing to hide from him


async def test_no_worker_words_or_identity_reach_the_page(stats_client):
    await log_in(stats_client, "admin")
    page = await (await stats_client.get("/officer/stats")).text()
    for secret in (SECRET_TEXT, SECRET_PHONE, SECRET_PLACE, "Trần Văn Hùng", "worker-", "asker-"):
        assert secret not in page
    assert "câu hỏi hiếm" not in page  # asked by 2 people only


async def test_no_text_can_break_out_of_the_data_block(stats_client):
    await log_in(stats_client, "admin")
    page = await (await stats_client.get("/officer/stats")).text()
    # The JSON block, Chart.js and stats.js: nothing else closes a script.
    assert page.count("</script>") == 3 and "<script>alert" not in page
    assert BAD_NAME in data_of(page)["charts"]["union"]["labels"]
    assert "CĐ &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "lương &lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt; tối thiểu" in page


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_charts_draw_under_the_pages_csp(stats_client, browser):
    """In headless Chromium: Chart.js and stats.js load from /officer/static, every chart is
    drawn from the JSON block, hidden numbers are not drawn, and the CSP refuses nothing."""
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []

    def console(message: Any) -> None:
        # CSP refusals and script errors land here; the browser's own favicon request does too.
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: problems.append("dialog: " + dialog.message))
    await page.goto(str(stats_client.make_url("/officer/login")))
    await page.fill("input[name=login]", "admin")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form.login button[type=submit]")
    await page.wait_for_url("**/officer/queue")
    await page.click("header nav a[href='/officer/stats']")
    await page.wait_for_url("**/officer/stats")
    drawn = await page.evaluate(
        """() => Object.fromEntries(
            ["members", "interest", "category", "status", "union", "month"].map((key) => {
                const chart = Chart.getChart(document.getElementById("chart-" + key));
                return [key, chart ? chart.data.datasets.map((d) => d.data) : null];
            }))"""
    )
    assert drawn["union"] == [[14, 17, 1]]
    assert drawn["status"] == [[27, 5]]
    assert drawn["members"][0][2:4] == [1000, 1008] and drawn["members"][1][0] == 1000
    assert all(drawn.values())
    assert problems == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "stats.png"), full_page=True)


async def add_tree(sessions) -> None:
    """An officer of the Xuân Hương ward union, whose tree holds Khách sạn Thông Xanh (the
    fixture's 12 harassment reports and 2 membership requests: all new) and Bệnh viện Hồ
    Xuân (33 more new cases and 3 being handled): 47 new cases and 3 in hand."""
    async with sessions() as session:
        await accounts.add_officer(
            session, union_code="CL-XUANHUONG", name="Xuân", role="officer", now=NOW,
            login="xuan", password=PASSWORD,
        )  # fmt: skip
        await add_case(session, "GR-BVDALAT", "grievance", "overtime", n=33)
        for case in await add_case(session, "GR-BVDALAT", "support", "work_accident", n=3):
            case.status = "assigned"
        await session.commit()


async def test_an_officer_sees_the_exact_counts_of_the_cases_they_can_open(stats_client, sessions):
    """Every case counted here is one the officer can open in their queue: hiding 3 of them
    protects nobody from them, and hid the 47 new ones too (all of "Requests by status")."""
    await add_tree(sessions)
    await log_in(stats_client, "xuan")
    page = await (await stats_client.get("/officer/stats")).text()
    assert chart(page, "status") == {"new": 47, "assigned": 3}
    assert table(page, "status") == (["47", "3"], "50")
    assert chart(page, "category") == {
        "grievance:harassment": 12, "grievance:overtime": 33, "membership:contract": 2,
        "support:work_accident": 3,
    }  # fmt: skip
    assert table(page, "category") == (["2", "12", "33", "3"], "50")
    assert chart(page, "union") == {"GR-BVDALAT": 36, "GR-THONGXANH": 14}
    assert table(page, "union")[1] == "50" and table(page, "month")[1] == "50"
    assert '<td class="n">&lt;5</td>' not in page and '<td class="n">ẩn</td>' not in page
    # Nothing outside the tree: not Binh's 17 cases, not the ward union of Lâm Viên.
    assert "GR-SUACAONGUYEN" not in chart(page, "union") and "alert(1)" not in page
    assert "grievance:wages" not in chart(page, "category")


async def test_a_question_shows_its_topic_not_its_code(stats_client, sessions):
    async with sessions() as session:
        await add_case(session, "FED-ROOT", "question", "faq", n=2)
        await add_case(session, "FED-ROOT", "question", "join")
        await session.commit()
    await log_in(stats_client, "admin")
    page = await (await stats_client.get("/officer/stats")).text()
    shown = visible_text(page)
    assert leaks(shown, ["faq", "join"]) == [], leaks(shown, ["faq", "join"])
    labels_drawn = data_of(page)["charts"]["category"]["labels"]
    assert "Câu hỏi · trợ lý chưa trả lời được" in labels_drawn
    assert not any(label.endswith(("faq", "join")) for label in labels_drawn)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_page_fits_a_phone(stats_client, sessions, browser):
    """At 390 px wide: no sideways scroll for the page, every category label drawn on its own
    row without touching another, and a screenshot to look at."""
    await add_tree(sessions)
    async with sessions() as session:
        for category in ("wages", "insurance", "dismissal", "contract", "other"):
            await add_case(session, "GR-BVDALAT", "grievance", category)
        await add_case(session, "GR-BVDALAT", "support", "occupational_disease")
        await session.commit()
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.goto(str(stats_client.make_url("/officer/login")))
    await page.fill("input[name=login]", "xuan")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form.login button[type=submit]")
    await page.wait_for_url("**/officer/queue")
    await page.goto(str(stats_client.make_url("/officer/stats")))
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "stats-phone.png"), full_page=True)
    boxes = await page.evaluate(LABEL_BOXES, "category")
    assert len(boxes) == 10  # every category has its label: none skipped to make room
    for a, b in itertools.combinations(boxes, 2):
        apart = a["bottom"] <= b["top"] or b["bottom"] <= a["top"]
        apart = apart or a["right"] <= b["left"] or b["right"] <= a["left"]
        assert apart, (a, b)
    assert all(box["left"] >= 0 and box["right"] <= 390 for box in boxes)
    drawn = await page.evaluate(
        "Chart.getChart(document.getElementById('chart-status')).data.datasets[0].data"
    )
    assert drawn == [47 + 6, 3]


# The boxes of a chart's category-axis labels as Chart.js drew them (its own layout of each
# label: position, rotation, lines and font), in page pixels.
LABEL_BOXES = """(key) => {
    const canvas = document.getElementById("chart-" + key);
    const chart = Chart.getChart(canvas);
    const scale = chart.scales[chart.options.indexAxis === "y" ? "y" : "x"];
    const context = canvas.getContext("2d");
    const origin = canvas.getBoundingClientRect();
    return scale.getLabelItems().map((item) => {
        const lines = Array.isArray(item.label) ? item.label : [item.label];
        const size = item.font.lineHeight;
        context.font = item.font.string;
        const width = Math.max(...lines.map((line) => context.measureText(line).width));
        const height = lines.length * size;
        const angle = Math.abs(item.options.rotation);
        const [x, y] = item.options.translation;
        // The first line is drawn at textOffset from the anchor; a rotated label's box is
        // its rotated rectangle's bounds.
        const w = width * Math.cos(angle) + height * Math.sin(angle);
        const h = width * Math.sin(angle) + height * Math.cos(angle);
        const align = item.options.textAlign;
        const left = align === "right" ? x - w : align === "center" ? x - w / 2 : x;
        const baseline = item.options.textBaseline;
        const shift = baseline === "middle" ? size / 2 : baseline === "bottom" ? size : 0;
        const top = angle ? y - h / 2 : y + item.textOffset - shift;
        return {left: origin.left + left, right: origin.left + left + w,
                top: origin.top + top, bottom: origin.top + top + h};
    });
}"""


# ---------------------------------------------------------------------------- the funnel

EVERY = 0  # storage.outreach.EVERYONE: the counts of everyone, whichever way they came
NIGHT, GATE, HOTEL = "Ca đêm nhà máy sữa", "Cổng nhà máy sữa", "Khách sạn Thông Xanh, Tết"
# Arrivals and questions per link and month, as the bot counted them.
COUNTED = [
    (NIGHT, "2024-10", "arrival", 12), (NIGHT, "2024-10", "question", 6),
    (NIGHT, "2024-11", "arrival", 8), (NIGHT, "2024-11", "question", 3),
    (GATE, "2024-11", "arrival", 5), (GATE, "2024-11", "question", 1),
    (HOTEL, "2024-10", "arrival", 9), (HOTEL, "2024-10", "question", 4),
    (EVERY, "2024-10", "arrival", 40), (EVERY, "2024-10", "question", 15),
    (EVERY, "2024-11", "arrival", 30), (EVERY, "2024-11", "question", 10),
]  # fmt: skip
# Membership requests through each link: filed, first answered, admitted (UTC; 03:00 UTC is
# 10:00 in Đà Lạt). The last of the night shift's is filed at 01:00 on 1 December in Đà Lạt.
REQUESTS = [
    (NIGHT, "2024-10-05T03", "2024-10-06T03", None),
    (NIGHT, "2024-10-12T03", "2024-10-13T03", None),
    (NIGHT, "2024-10-20T03", "2024-11-02T03", "2024-11-20"),
    (NIGHT, "2024-11-30T18", None, None),
    (GATE, "2024-11-10T03", "2024-11-11T03", "2024-12-02"),
    (HOTEL, "2024-10-03T03", "2024-10-04T03", "2024-10-25"),
    (HOTEL, "2024-10-03T03", "2024-10-04T03", "2024-10-25"),
]
SUA, THONG = "GR-SUACAONGUYEN", "GR-THONGXANH"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}:00+00:00")


async def add_links(sessions) -> dict[str, str]:
    """Two links of Binh's union (the night shift's and the gate's), one of Khách sạn Thông
    Xanh's; their counts and the membership requests that came through them. The unions'
    names by code."""
    async with sessions() as session:
        held = {u.code: u for u in await session.scalars(select(Union))}
        links = {EVERY: EVERY}
        for label, code in ((NIGHT, SUA), (GATE, SUA), (HOTEL, THONG)):
            link = await outreach.add(
                session, code=f"code{len(links)}xx", union_id=held[code].id, label=label,
                created_at=moment("2024-09-01T03"), active=True,
            )  # fmt: skip
            links[label] = link.id
        for label, month, step, n in COUNTED:
            session.add(OutreachCount(month=month, link_id=links[label], step=step, count=n))
        await session.commit()
    async with sessions() as session:
        for label, filed, answered, admitted in REQUESTS:
            link = await session.get(OutreachLink, links[label])
            worker = await people.create(
                session, "telegram", f"worker-{next(WORKERS)}", "vi", moment(filed)
            )
            case = await cases.open(
                session, kind="membership", union_id=link.union_id, category="contract",
                person_id=worker.id, text=SECRET_TEXT, now=moment(filed),
                outreach_link_id=link.id,
                details={"admitted_at": admitted} if admitted else {},
            )  # fmt: skip
            case.first_response_at = moment(answered) if answered else None
        await session.commit()
    return {code: union.name for code, union in held.items()}


def figures(page: str, marker: str) -> dict[str, list[str]]:
    """The first table after `marker`: each row's heading (its text) and shown numbers."""
    start = page.index(marker)
    html = page[start : page.index("</table>", start)]
    found = {}
    for heading, cells in re.findall(r'<tr[^>]*><th scope="row">(.*?)</th>(.*?)</tr>', html):
        found[re.sub(r"<[^>]+>", "", heading)] = re.findall(r'<td class="n">([^<]*)</td>', cells)
    return found


def months_of(table: dict[str, list[str]]) -> dict[str, list[int]]:
    """A funnel table's months (10/2024) and their numbers."""
    return {
        month: [int(n.replace(".", "")) for n in row]
        for month, row in table.items()
        if re.fullmatch(r"\d\d/\d{4}", month)
    }


SHARE = "Tỉ lệ so với bước trước"
BY_UNION = "Theo công đoàn (các đường dẫn của công đoàn đó)"
BY_LINK = "Theo đường dẫn"


async def test_each_link_and_union_shows_its_funnel_by_month_with_its_conversions(
    stats_client, sessions
):
    names = await add_links(sessions)
    await log_in(stats_client, "binh")
    page = await (await stats_client.get("/officer/stats")).text()
    night = {"10/2024": [12, 6, 3, 2, 0], "11/2024": [8, 3, 0, 1, 1], "12/2024": [0, 0, 1, 0, 0]}
    gate = {"11/2024": [5, 1, 1, 1, 0], "12/2024": [0, 0, 0, 0, 1]}
    union = {"10/2024": [12, 6, 3, 2, 0], "11/2024": [13, 4, 1, 2, 1], "12/2024": [0, 0, 1, 0, 1]}
    # By union and by link: the totals, and each one's admitted of arrived.
    assert figures(page, BY_UNION) == {names[SUA]: ["25", "10", "5", "4", "2", "8%"]}
    assert figures(page, BY_LINK) == {
        GATE: ["5", "1", "1", "1", "1", "20%"], NIGHT: ["20", "9", "4", "3", "1", "5%"],
    }  # fmt: skip
    # The union by month, its total and each step against the one before.
    mine = figures(page, f'<details class="union-funnel"><summary>{names[SUA]}</summary>')
    assert months_of(mine) == union
    assert (mine["Tổng"], mine[SHARE]) == (
        ["25", "10", "5", "4", "2"],
        ["—", "40%", "50%", "80%", "50%"],
    )
    # Beyond the federation, "overall" is what the officer's own links brought: the union's.
    overall = figures(page, 'id="chart-funnel"')
    assert months_of(overall) == union and overall["Tổng"] == mine["Tổng"]
    assert data_of(page)["charts"]["funnel"]["series"][0]["values"] == [25, 10, 5, 4, 2]
    assert HOTEL not in page and names[THONG] not in page
    assert '<p class="pace">' not in page  # the plan's targets are the federation's
    # Each link's own page shows its months.
    for label, months in ((NIGHT, night), (GATE, gate)):
        own = await (
            await stats_client.get(f"/officer/outreach/{await link_id(sessions, label)}")
        ).text()
        assert months_of(figures(own, 'class="figures funnel"')) == months, label


async def link_id(sessions, label: str) -> int:
    async with sessions() as session:
        return await session.scalar(select(OutreachLink.id).where(OutreachLink.label == label))


async def test_the_federation_sees_everyone_by_month_and_the_pace_to_its_next_target(
    stats_client, sessions
):
    names = await add_links(sessions)
    await log_in(stats_client, "admin")
    page = await (await stats_client.get("/officer/stats")).text()
    # Everyone, whichever way they came: the counts of everyone (each request's worker
    # arrived in the month they first wrote), every membership request; and the fixture's 32
    # workers this month, its 9 membership requests, 8 of them admitted in January.
    overall = {
        "10/2024": [45, 15, 5, 4, 2],
        "11/2024": [31, 10, 1, 2, 1],
        "12/2024": [1, 0, 1, 0, 1],
    }
    for month, step, n in (
        (NOW.astimezone(LOCAL_TIME), 0, 32),
        (NOW.astimezone(LOCAL_TIME), 2, 9),
        (datetime(THIS_YEAR, 1, 15, tzinfo=LOCAL_TIME), 4, 8),
    ):
        overall.setdefault(f"{month:%m/%Y}", [0] * 5)[step] += n
    shown = figures(page, 'id="chart-funnel"')
    assert months_of(shown) == overall
    assert shown["Tổng"] == ["109", "25", "16", "6", "12"]
    assert shown[SHARE] == ["—", "23%", "64%", "38%", "200%"]  # nobody answered 8 of the 12
    assert figures(page, BY_UNION) == {
        names[SUA]: ["25", "10", "5", "4", "2", "8%"],
        names[THONG]: ["9", "4", "2", "2", "2", "22%"],
    }
    assert list(figures(page, BY_LINK)) == [HOTEL, GATE, NIGHT]  # the newest first
    hotel = figures(page, f'<details class="union-funnel"><summary>{names[THONG]}</summary>')
    assert months_of(hotel) == {"10/2024": [9, 4, 2, 2, 2]}
    assert hotel[SHARE] == ["—", "44%", "50%", "100%", "100%"]
    # 1,000 members on the baseline and 8 admitted this year: 492 to go by the end of 2030.
    today = NOW.astimezone(LOCAL_TIME).date()
    months_left = (2030 - today.year) * 12 + 13 - today.month
    # The 8 admitted on 15 January, if that is in the last 3 months (this one included).
    lately = "2,7" if (today.month == 1 and today.day >= 15) or 1 < today.month <= 3 else "0"
    assert (
        '<p class="pace">Để đạt 1.500 đoàn viên theo kế hoạch vào cuối năm 2030 (hiện có 1.008), '
        f"mỗi tháng cần khoảng {math.ceil(492 / months_left)} người gia nhập; 3 tháng qua trợ lý "
        f"đưa về bình quân {lately} người mỗi tháng.</p>"
    ) in page

    await log_in(stats_client, "khac")  # Khách sạn Thông Xanh's officer: their link only
    page = await (await stats_client.get("/officer/stats")).text()
    assert months_of(figures(page, 'id="chart-funnel"')) == {"10/2024": [9, 4, 2, 2, 2]}
    assert list(figures(page, BY_LINK)) == [HOTEL] and NIGHT not in page


# ---------------------------------------------------------------------------- coverage


def coverage_of(page: str) -> str:
    start = page.index('<section id="coverage">')
    return " ".join(visible_text(page[start : page.index("</section>", start)]).split())


async def add_workplaces(sessions, union_code: str | None, workers: int, n: int) -> None:
    async with sessions() as session:
        union = await unions.by_code(session, union_code) if union_code else None
        ward = await unions.ward_named(session, "Phường Cam Ly - Đà Lạt")
        for _ in range(n):
            session.add(Workplace(
                name=f"Doanh nghiệp {next(WORKERS)}", ward_id=ward.id, workers=workers,
                union_id=union.id if union else None,
            ))  # fmt: skip
        await session.commit()


async def set_workers(sessions, workers: int | None, name: str | None = None) -> None:
    async with sessions() as session:
        chosen = (
            update(Workplace) if name is None else update(Workplace).where(Workplace.name == name)
        )
        await session.execute(chosen.values(workers=workers))
        await session.commit()


async def test_coverage_counts_enterprises_of_25_or_more_workers_against_85_percent(
    stats_client, sessions
):
    await log_in(stats_client, "admin")
    # The sample directory: 10 workplaces of 28 to 410 workers, 6 with a union.
    page = await (await stats_client.get("/officer/stats")).text()
    assert coverage_of(page) == (
        "Công đoàn ở doanh nghiệp có từ 25 lao động trở lên 60% · 6 trên 10 nơi làm việc như "
        "vậy trong danh bạ đã có công đoàn; chỉ tiêu kế hoạch là 85%. Cần thêm 3 công đoàn nữa "
        "để đạt chỉ tiêu."
    )
    # 11 more with a union and exactly 25 workers; Cà phê Đồi Mây (no union) down to 24, and
    # 5 small ones (two with a union) that do not count: 17 of 20, exactly 85%.
    await add_workplaces(sessions, "GR-SUACAONGUYEN", 25, 11)
    await add_workplaces(sessions, "GR-SUACAONGUYEN", 24, 2)
    await add_workplaces(sessions, None, 3, 3)
    await set_workers(sessions, 24, "Công ty TNHH Cà phê Đồi Mây")
    page = await (await stats_client.get("/officer/stats")).text()
    assert "85% · 17 trên 20 nơi làm việc" in coverage_of(page)
    assert coverage_of(page).endswith("chỉ tiêu kế hoạch là 85%. Đã đạt chỉ tiêu.")
    # One more without a union: 17 of 21 is 80.95%, one union short (17.85 rounds up to 18).
    await add_workplaces(sessions, None, 25, 1)
    page = await (await stats_client.get("/officer/stats")).text()
    assert "80% · 17 trên 21" in coverage_of(page)
    assert coverage_of(page).endswith("Cần thêm 1 công đoàn nữa để đạt chỉ tiêu.")


async def test_coverage_says_when_no_enterprise_is_that_large_or_no_size_is_known(
    stats_client, sessions
):
    await log_in(stats_client, "admin")
    await set_workers(sessions, 24)
    page = await (await stats_client.get("/officer/stats")).text()
    assert coverage_of(page).endswith(
        "Trong 10 nơi làm việc mà danh bạ có số lao động, chưa nơi nào có từ 25 lao động trở lên."
    )
    await set_workers(sessions, None)
    page = await (await stats_client.get("/officer/stats")).text()
    assert coverage_of(page).endswith(
        "Danh bạ chưa có số lao động của nơi làm việc nào (trường “workers”)."
    )


async def test_an_officer_sees_the_coverage_of_their_own_reach(stats_client, sessions):
    await add_tree(sessions)
    await log_in(stats_client, "xuan")  # Xuân Hương: Thông Xanh, Hồ Xuân, and Phố Núi (none)
    page = await (await stats_client.get("/officer/stats")).text()
    assert "66% · 2 trên 3 nơi làm việc" in coverage_of(page)  # 66.7% is not 67%
    assert coverage_of(page).endswith("Cần thêm 1 công đoàn nữa để đạt chỉ tiêu.")
    await log_in(stats_client, "binh")  # Sữa Cao Nguyên's union: its one workplace
    page = await (await stats_client.get("/officer/stats")).text()
    assert "100% · 1 trên 1 nơi làm việc" in coverage_of(page)


async def test_two_unions_of_one_name_keep_their_own_funnels(stats_client, sessions):
    names = await add_links(sessions)
    async with sessions() as session:
        await session.execute(update(Union).where(Union.code == THONG).values(name=names[SUA]))
        await session.commit()
    await log_in(stats_client, "admin")
    page = await (await stats_client.get("/officer/stats")).text()
    start = page.index(BY_UNION)
    html = page[start : page.index("</table>", start)]
    rows = re.findall(rf'<th scope="row">{names[SUA]}</th>((?:<td class="n">[^<]*</td>)+)', html)
    totals = [re.findall(r'<td class="n">([^<]*)</td>', row)[:5] for row in rows]
    assert sorted(totals) == [["25", "10", "5", "4", "2"], ["9", "4", "2", "2", "2"]]
    assert page.count(f'<details class="union-funnel"><summary>{names[SUA]}</summary>') == 2
