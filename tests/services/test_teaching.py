"""Officers teaching the matcher: what a lesson keeps of a worker's wording (nothing that
names anyone), how it is stored and audited, and what a bad lesson changes (nothing)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.services import accounts, teaching
from bot.services.matcher import OUT_OF_SCOPE
from storage import lessons, unanswered, unions
from storage.directory import load as load_directory
from storage.models import AuditEntry, Lesson, UnansweredQuestion
from tests.support import SAMPLE_DIRECTORY

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("Quản lý Nguyễn Văn Hùng chửi em suốt", "Quản lý *** chửi em suốt"),
        ("chị Lan ở tổ 3 bị trừ lương", "chị *** ở tổ 3 bị trừ lương"),
        (
            "Em tên là Hoa, làm ở xưởng. Anh Tuấn nói vậy có đúng không?",
            "Em tên là ***, làm ở xưởng. Anh *** nói vậy có đúng không?",
        ),
        ("toi ten la Minh lam bao ve", "toi ten la *** lam bao ve"),
        ("tôi là K'Tin làm vườn cà phê", "tôi là *** làm vườn cà phê"),
        ("Trần Thị B có biết không", "*** có biết không"),
        ("gọi em số 0912 345 678 hoặc hoa.nguyen@mail.vn", "gọi em số *** hoặc ***"),
        # capitals that name no one stay: sentence starts, abbreviations, holidays
        (
            "Công ty nợ lương 2 tháng. BHXH có trả không? Nghỉ Tết được mấy ngày",
            "Công ty nợ lương 2 tháng. BHXH có trả không? Nghỉ Tết được mấy ngày",
        ),
    ],
)
def test_a_lesson_keeps_no_name_number_or_address(said, kept):
    assert teaching.mask(said) == kept


async def asked(session, text: str) -> UnansweredQuestion:
    await unanswered.record(
        session, language="vi", key=text.lower(), text=text, suggestions=["rights.overtime"],
        now=NOW, asker="tag-1",
    )  # fmt: skip
    await session.commit()  # the theme is written as its unit of work commits
    return (await session.scalars(select(UnansweredQuestion))).one()


async def admin_id(session) -> int:
    await unions.import_directory(session, load_directory(SAMPLE_DIRECTORY))
    officer = await accounts.add_officer(
        session, union_code="FED-ROOT", name="Admin", role="admin", now=NOW, login="admin",
        password="mat-khau-rat-dai",
    )  # fmt: skip
    return officer.id


async def test_teaching_stores_the_masked_wording_audits_and_clears_the_question(
    sessions, knowledge
):
    async with sessions() as session:
        question = await asked(session, "Anh Tuấn bắt em trực điện thoại ngoài giờ, 0912345678")
        officer = await admin_id(session)
        wording = await teaching.teach(
            session, knowledge, question_id=question.id, topic="rights.overtime",
            officer_id=officer, now=NOW,
        )  # fmt: skip
        await session.commit()
    assert wording == "Anh *** bắt em trực điện thoại ngoài giờ, ***"
    async with sessions() as session:
        assert await lessons.by_language(session) == {"vi": [(wording, "rights.overtime")]}
        assert await session.scalar(select(UnansweredQuestion)) is None
        entry = (await session.scalars(select(AuditEntry))).one()
        assert (entry.action, entry.officer_id) == ("faq.taught", officer)
        assert entry.detail == {"topic": "rights.overtime", "language": "vi", "asked": 1}
        before = await lessons.mark(session)
    # Taught again, to another class: one lesson, the newer label, a new mark.
    async with sessions() as session:
        question = await asked(session, "Anh Tuấn bắt em trực điện thoại ngoài giờ, 0912345678")
        await teaching.teach(
            session, knowledge, question_id=question.id, topic=OUT_OF_SCOPE, officer_id=officer,
            now=NOW.replace(hour=9),
        )  # fmt: skip
        await session.commit()
    async with sessions() as session:
        assert await lessons.by_language(session) == {"vi": [(wording, OUT_OF_SCOPE)]}
        assert await lessons.mark(session) != before


async def test_a_lesson_for_no_topic_or_no_question_changes_nothing(sessions, knowledge):
    async with sessions() as session:
        question = await asked(session, "trực điện thoại ngoài giờ")
        officer = await admin_id(session)
        with pytest.raises(teaching.NoSuchTopic):
            await teaching.teach(
                session, knowledge, question_id=question.id, topic="rights.no_such_topic",
                officer_id=officer, now=NOW,
            )  # fmt: skip
        gone = await teaching.teach(
            session, knowledge, question_id=question.id + 1, topic="rights.overtime",
            officer_id=officer, now=NOW,
        )  # fmt: skip
        assert gone is None
        await session.commit()
    async with sessions() as session:
        assert await session.scalar(select(Lesson)) is None
        assert await session.scalar(select(UnansweredQuestion)) is not None
        assert await session.scalar(select(AuditEntry)) is None
