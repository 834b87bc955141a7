"""The dashboard's statistics page over HTTP, on both databases: it needs a login, counts only
what the officer may read and shows those counts exactly (small ones too: the officer can
open every case behind them), labels every category, fits a phone, measures membership
against the plan, and shows no worker's words or identity."""

from __future__ import annotations

import itertools
import json
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
from storage import cases, people, unanswered, unions
from storage.models import AuditEntry, Case, Union
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
