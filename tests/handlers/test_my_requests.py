"""“Theo dõi hồ sơ”: the person's requests with Vietnamese dates in Vietnam's time zone."""

from __future__ import annotations

from datetime import timedelta

from tests.handlers.conftest import buttons


async def test_no_requests_yet(talk):
    worker = talk()
    await worker.say("/start")
    [reply] = await worker.press("Theo dõi hồ sơ")
    assert reply.text == "Bạn chưa gửi hồ sơ nào. Khi bạn gửi, mã hồ sơ sẽ hiện ở đây."
    assert "status:list" in buttons(reply)


async def test_requests_are_listed_newest_first_with_local_dates(talk, clock):
    worker, other = talk("900"), talk("901")
    for person in (worker, other):
        await person.say("/start")
        await person.press_payload("q:write:faq")
        await person.say("câu hỏi")
    # 18:00 UTC on 30 November is already 1 December in Đà Lạt.
    clock.now = clock.now.replace(day=30, hour=18)
    await worker.press_payload("q:write:join")
    await worker.say("câu hỏi hai")
    clock.now += timedelta(days=1)

    [reply] = await worker.press("Theo dõi hồ sơ")
    assert reply.text == (
        "Hồ sơ của bạn:\n"
        "HD-2026-000003 · Câu hỏi · đã tiếp nhận · gửi ngày 1/12/2026\n"
        "  → cán bộ trả lời trước 17:00 thứ Năm, 3/12/2026\n"
        "HD-2026-000001 · Câu hỏi · đã tiếp nhận · gửi ngày 25/11/2026\n"
        "  → cán bộ trả lời trước 17:00 thứ Sáu, 27/11/2026"
    )
    await worker.say("/lang en")
    [english] = await worker.press("My requests")
    assert english.text.splitlines()[1] == (
        "HD-2026-000003 · Question · received · sent 1 Dec 2026"
    )
