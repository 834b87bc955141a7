"""Questions and answers in the dialogue: answers with next steps, suggestions below the
threshold, out-of-scope refusals, browsing, passing a question to an officer, the
unanswered-question log, and the stale-figure warning under a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from storage.models import Case, CaseMessage, UnansweredQuestion
from tests.conftest import count
from tests.handlers.conftest import buttons, labels
from tests.handlers.test_menu import MENU

REFUSAL = "Nút này không còn dùng được. Bạn chọn lại giúp mình nhé."


async def started(talk, user: str = "900"):
    worker = talk(user)
    await worker.say("/start")
    return worker


async def test_a_question_gets_its_answer_legal_basis_and_next_steps(talk, sessions):
    worker = await started(talk)
    [answer] = await worker.say("cty no luong 2 thang roi phai lam sao")
    assert answer.text.startswith("Trả lương, nợ lương, chậm lương\n\nCông ty phải trả lương")
    assert "\n\nCăn cứ: Bộ luật Lao động 2019 (45/2019/QH14), Điều 94" in answer.text
    assert "Đây là thông tin chung, không thay cho tư vấn pháp lý." in answer.text
    assert "⚠️" not in answer.text
    assert buttons(answer) == ["report:start", "faq:ask", "faq:home", "menu:home"]
    assert labels(answer)[:2] == ["Gửi phản ánh", "Hỏi cán bộ công đoàn"]
    assert await count(sessions, UnansweredQuestion) == 0


async def test_an_unsure_match_suggests_topics_and_is_logged(talk, sessions):
    worker = await started(talk)
    [reply] = await worker.say("bảo hiểm")
    assert reply.text.startswith("Mình chưa chắc đã hiểu đúng.")
    suggested = buttons(reply)[:3]
    assert all(p.startswith("faq:t:rights.") for p in suggested)
    assert buttons(reply)[3:] == ["faq:ask", "menu:home"]
    [article] = await worker.press(suggested[0])
    assert article.text.startswith("Bảo hiểm xã hội")
    await worker.say("bao hiem")  # the same question typed another way
    async with sessions() as session:
        [row] = (await session.scalars(select(UnansweredQuestion))).all()
    assert (row.key, row.count, row.text, row.language) == ("bao hiem", 2, "bao hiem", "vi")
    assert "rights.social_insurance" in row.suggestions


async def test_out_of_scope_is_declined_politely_and_numbers_are_not_kept(talk, sessions):
    worker = await started(talk)
    [reply] = await worker.say("so dt 0912 345 678 cua e, cho hoi ket qua xo so hom nay")
    assert reply.text.startswith("Xin lỗi, mình chỉ trả lời được câu hỏi về việc làm")
    assert buttons(reply) == ["faq:ask", "faq:home", "menu:home"]
    async with sessions() as session:
        [row] = (await session.scalars(select(UnansweredQuestion))).all()
    assert row.text == "so dt *** cua e, cho hoi ket qua xo so hom nay"
    assert "0912" not in row.key and row.suggestions == []


async def test_ask_an_officer_passes_on_the_question_just_typed(talk, sessions):
    worker = await started(talk)
    await worker.say("bảo hiểm")
    [sent] = await worker.press("faq:ask")
    assert "Mã hồ sơ: HD-2026-000001." in sent.text
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        message = (await session.scalars(select(CaseMessage))).one()
    assert (case.kind, case.category, message.text) == ("question", "faq", "bảo hiểm")
    # Nothing left to pass on twice: the next tap asks for a new message.
    [prompt] = await worker.press("faq:ask")
    assert prompt.text.startswith("Bạn hãy viết lời nhắn trong một tin")
    [done] = await worker.say("Lương tháng 13 có bắt buộc không?")
    assert "HD-2026-000002" in done.text


async def test_greetings_and_thanks_get_a_friendly_word_and_the_menu(talk, sessions):
    worker = await started(talk)
    [hello] = await worker.say("chào ad")
    assert hello.text.startswith("Xin chào!") and buttons(hello) == MENU
    [thanks] = await worker.say("ok cảm ơn nhiều nha")
    assert thanks.text == "Không có gì ạ! Khi cần, bạn cứ nhắn cho mình nhé."
    assert buttons(thanks) == MENU
    assert await count(sessions, UnansweredQuestion) == 0


async def test_browsing_groups_topics_pages_and_answers(talk):
    worker = await started(talk)
    [home] = await worker.press("faq:home")
    assert home.text.startswith("Bạn cứ gõ câu hỏi theo cách của mình")
    assert buttons(home) == ["faq:g:join", "faq:g:rights", "faq:g:support", "faq:g:service",
                             "menu:home"]  # fmt: skip
    assert labels(home)[:2] == ["Gia nhập công đoàn", "Quyền lợi người lao động"]
    [first] = await worker.press("faq:g:rights")
    assert first.text == "Quyền lợi người lao động: bạn chọn một chủ đề nhé."
    assert buttons(first)[0] == "faq:t:rights.contract"
    assert buttons(first)[8:] == ["faq:g:rights:1", "faq:home", "menu:home"]
    [last] = await worker.press("faq:g:rights:3")  # 28 topics: pages 0-3
    assert buttons(last) == [
        "faq:t:rights.strike", "faq:t:rights.labour_dispute", "faq:t:rights.retirement",
        "faq:t:rights.minors_and_older_workers", "faq:home", "menu:home",
    ]  # fmt: skip
    [answer] = await worker.press("faq:t:rights.probation")
    assert answer.text.startswith("Thử việc")
    for forged in ("faq:g:rights:4", "faq:g:nope", "faq:t:rights", "faq:t:x.y", "faq:g:join:x"):
        assert [r.text for r in await worker.press(forged)] == [REFUSAL], forged


async def test_an_answer_past_its_valid_until_carries_a_warning(talk, clock):
    worker = await started(talk)
    [fresh] = await worker.say("luong toi thieu vung bao nhieu")
    assert fresh.text.startswith("Lương tối thiểu vùng") and "⚠️" not in fresh.text
    clock.now = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)  # 07:30 on 1 January in Vietnam
    [stale] = await worker.say("luong toi thieu vung bao nhieu")
    assert stale.text.startswith(fresh.text)
    assert stale.text.endswith(
        "⚠️ Các con số ở trên áp dụng đến ngày 31/12/2026, có thể đã thay đổi. "
        "Bạn hãy hỏi cán bộ công đoàn để biết con số mới nhất."
    )


async def test_a_person_who_chose_english_reads_the_english_article(talk):
    worker = await started(talk)
    await worker.say("/lang en")
    [answer] = await worker.say("cty no luong 2 thang roi phai lam sao")
    assert answer.text.startswith("Wages paid late or not paid")
    assert "Legal basis: Bộ luật Lao động 2019" in answer.text
    assert labels(answer)[:2] == ["Report a problem", "Ask a union officer"]
