"""Questions and answers in the dialogue: answers with next steps, suggestions below the
threshold, out-of-scope refusals, browsing, passing a question to an officer, the
unanswered-question log, and the stale-figure warning under a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from storage.models import Case, CaseMessage, UnansweredQuestion
from tests.handlers.conftest import buttons, labels
from tests.scenarios import MENU
from tests.support import count

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
    [article] = await worker.press_payload(suggested[0])
    assert article.text.startswith("Bảo hiểm xã hội")
    await worker.say("bao hiem")  # the same question typed another way
    async with sessions() as session:
        [row] = (await session.scalars(select(UnansweredQuestion))).all()
    assert (row.key, row.count, row.text, row.language) == ("bao hiem", 2, "bao hiem", "vi")
    assert "rights.social_insurance" in row.suggestions


async def test_out_of_scope_is_declined_politely_and_numbers_are_not_kept(talk, sessions):
    worker = await started(talk)
    [reply] = await worker.say("so dt 0912 345 678 cua e, cho hoi ket qua xo so hom nay")
    assert reply.text.startswith("Xin lỗi, mình chỉ giúp được những việc về công việc và công đoàn")
    assert buttons(reply) == ["faq:ask", "faq:home", "menu:home"]
    async with sessions() as session:
        [row] = (await session.scalars(select(UnansweredQuestion))).all()
    assert row.text == "so dt *** cua e, cho hoi ket qua xo so hom nay"
    assert "0912" not in row.key and row.suggestions == []


async def test_ask_an_officer_passes_on_the_question_just_typed(talk, sessions):
    worker = await started(talk)
    await worker.say("bảo hiểm")
    [sent] = await worker.press("Hỏi cán bộ công đoàn")
    assert "Mã hồ sơ: HD-2026-000001." in sent.text
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        message = (await session.scalars(select(CaseMessage))).one()
    assert (case.kind, case.category, message.text) == ("question", "faq", "bảo hiểm")
    # Nothing left to pass on twice: the next tap asks for a new message.
    [prompt] = await worker.press_payload("faq:ask")  # the same button, again
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
    [home] = await worker.press("Hỏi đáp")
    assert home.text.startswith("Bạn cứ gõ câu hỏi theo cách của mình")
    assert buttons(home) == ["faq:g:join", "faq:g:rights", "faq:g:support", "faq:g:service",
                             "menu:home"]  # fmt: skip
    assert labels(home)[:2] == ["Gia nhập công đoàn", "Quyền lợi người lao động"]
    [first] = await worker.press("Quyền lợi người lao động")
    assert first.text == "Quyền lợi người lao động: bạn chọn một chủ đề nhé."
    assert buttons(first)[0] == "faq:t:rights.contract"
    assert buttons(first)[8:] == ["faq:g:rights:1", "faq:home", "menu:home"]
    [last] = await worker.press_payload("faq:g:rights:4")  # 35 topics: pages 0-4
    assert buttons(last) == [
        "faq:t:rights.migrant_workers", "faq:t:rights.discrimination", "faq:t:rights.student_work",
        "faq:home", "menu:home",
    ]  # fmt: skip
    [answer] = await worker.press_payload("faq:t:rights.probation")
    assert answer.text.startswith("Thử việc")
    for forged in ("faq:g:rights:5", "faq:g:nope", "faq:t:rights", "faq:t:x.y", "faq:g:join:x"):
        assert [r.text for r in await worker.press_payload(forged)] == [REFUSAL], forged


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


# ---------------------------------------------------------------------------- safe replies

IDENTITY = "Mình là trợ lý tự động của Công đoàn, không phải người thật."
POLITICS = "Mình chỉ hỗ trợ các việc về việc làm, quyền lợi người lao động và công đoàn"
SAFETY = "Nếu bạn đang gặp nguy hiểm, hãy gọi ngay Công an 113 (cấp cứu 115)."
DANGER_BUTTONS = ["support:start", "report:start", "faq:ask", "menu:home"]
THANKS = "Không có gì ạ! Khi cần, bạn cứ nhắn cho mình nhé."


async def test_asking_who_answers_gets_the_truth_in_either_language(talk, sessions):
    worker = await started(talk)
    for text in (
        "bạn là ai", "ban la ai", "Mày là ai vậy?", "ai đang trả lời vậy",
        "bạn là người hay máy", "đây là bot à", "chào bạn, bạn là người thật hả",
        "who are you?", "are you a bot", "Is this a real person?",
    ):  # fmt: skip
        [reply] = await worker.say(text)
        assert reply.text.startswith(IDENTITY), text
        assert "cán bộ công đoàn đọc và trả lời bạn ngay tại đây" in reply.text, text
        assert buttons(reply) == MENU, text
    assert await count(sessions, UnansweredQuestion) == 0


async def test_a_first_message_asking_who_answers_is_answered_once(talk):
    [reply] = await talk("901").say("ban la ai vay")
    assert reply.text.startswith(IDENTITY) and buttons(reply) == MENU


async def test_a_contact_question_is_not_taken_for_asking_who_the_bot_is(talk):
    worker = await started(talk)
    [reply] = await worker.say("chủ tịch công đoàn công ty em là ai, tìm ở đâu")
    assert not reply.text.startswith(IDENTITY)


async def test_political_questions_are_declined_politely(talk, sessions):
    worker = await started(talk)
    for text in (
        "bạn nghĩ gì về đảng và nhà nước", "ban nghi gi ve dang va nha nuoc",
        "Chế độ đa đảng có tốt hơn không?", "what do you think about the communist party",
    ):  # fmt: skip
        [reply] = await worker.say(text)
        assert reply.text.startswith(POLITICS), text
        assert "không bàn chuyện chính trị" in reply.text
        assert buttons(reply) == MENU, text
    assert await count(sessions, UnansweredQuestion) == 0


async def test_union_and_labour_questions_are_not_taken_for_politics(talk):
    worker = await started(talk)
    [front] = await worker.say("công đoàn có thuộc Mặt trận Tổ quốc không")
    assert not front.text.startswith(POLITICS)
    [party] = await worker.say("Công đoàn có phải của Đảng không?")
    assert not party.text.startswith(POLITICS)
    [member] = await worker.say("đảng viên có được vào công đoàn không")
    assert member.text.startswith("Ai được gia nhập công đoàn")
    [election] = await worker.say("bầu ban chấp hành công đoàn")
    assert not election.text.startswith(POLITICS)
    # "đang" (now) folds to "dang" like "đảng" (the Party): it stays an ordinary word.
    [wage] = await worker.say("tôi đang làm ở công ty may, bị nợ lương")
    assert wage.text.startswith("Trả lương, nợ lương, chậm lương")
    [accident] = await worker.say("dang lam viec thi bi tai nan")
    assert accident.text.startswith("Tai nạn lao động")


async def test_a_threatened_worker_is_told_to_call_113_and_offered_help(talk, sessions):
    worker = await started(talk)
    for text in (
        "tôi bị xã hội đen đe dọa vì vay nặng lãi",
        "toi vay app tin dung den gio ho doa giet ca nha",
        "Em bị bọn đòi nợ thuê dọa đánh, giờ em phải làm sao?",
        "I borrowed from a loan shark and now they threaten to kill me",
    ):
        [reply] = await worker.say(text)
        assert reply.text.startswith(SAFETY), text
        assert "Xin nghỉ việc" not in reply.text
        assert buttons(reply) == DANGER_BUTTONS, text
        assert labels(reply)[:2] == ["Hỗ trợ khó khăn", "Gửi phản ánh"]
    # Such messages may hold personal details: not logged, but passed on when asked.
    assert await count(sessions, UnansweredQuestion) == 0
    [sent] = await worker.press("Hỏi cán bộ công đoàn")
    assert "Mã hồ sơ: HD-2026-000001." in sent.text
    async with sessions() as session:
        message = (await session.scalars(select(CaseMessage))).one()
    assert message.text == "I borrowed from a loan shark and now they threaten to kill me"


async def test_a_labour_question_with_a_threat_gets_the_safety_line_and_the_answer(talk):
    worker = await started(talk)
    [reply] = await worker.say("chủ nợ dọa đánh em vì công ty nợ lương 3 tháng không trả")
    assert reply.text.startswith(SAFETY + "\n\nTrả lương, nợ lương, chậm lương")
    assert "Căn cứ: Bộ luật Lao động 2019" in reply.text
    assert "report:start" in buttons(reply) and "support:start" in buttons(reply)


async def test_threats_about_the_job_are_labour_questions(talk):
    worker = await started(talk)
    [union] = await worker.say("bị công ty đe dọa đuổi việc vì vào công đoàn")
    assert "113" not in union.text
    assert union.text.startswith("Bị gây khó dễ vì tham gia công đoàn")
    [probation] = await worker.say("em bị đánh giá không đạt thử việc thì có được trả lương không")
    assert "113" not in probation.text and probation.text.startswith("Thử việc")


async def test_emoji_thanks_and_other_emoji_get_a_friendly_word(talk, sessions):
    worker = await started(talk)
    for text in ("👍", "🙏", "👍🏻", "❤️", "🙏🙏 !", "ok 👌"):
        [reply] = await worker.say(text)
        assert (reply.text, buttons(reply)) == (THANKS, MENU), text
    for text in ("😢", "🤔?"):
        [reply] = await worker.say(text)
        assert reply.text == "Bạn cần mình giúp gì ạ? Bạn chọn bên dưới hoặc gõ câu hỏi nhé."
        assert buttons(reply) == MENU
    assert await count(sessions, UnansweredQuestion) == 0


async def test_a_person_who_chose_english_gets_the_safe_replies_in_english(talk):
    worker = await started(talk)
    await worker.say("/lang en")
    [identity] = await worker.say("bạn là ai")
    assert identity.text.startswith("I am the union's automated assistant, not a person.")
    [again] = await worker.say("who are you")
    assert again.text == identity.text
    [politics] = await worker.say("bạn nghĩ gì về đảng và nhà nước")
    assert politics.text.startswith("I can only help with work, workers' rights and the union")
    [danger] = await worker.say("toi bi xa hoi den doa giet")
    assert danger.text.startswith("If you are in danger right now, call the police on 113")
    assert labels(danger)[:2] == ["Hardship support", "Report a problem"]
    [thanks] = await worker.say("🙏")
    assert thanks.text == "You are welcome! Write to me any time you need something."
