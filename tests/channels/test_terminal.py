"""The terminal channel: a shown number presses its button, except where the bot waits for a
typed answer; "#N" always presses."""

from __future__ import annotations

import io
import sys

from bot.channels.base import Delivery
from bot.channels.terminal import TerminalChannel
from tests.support import run

SHOWN = Delivery(
    1, "terminal", "an", "Có bao nhiêu người lao động bị ảnh hưởng?",
    ((("Chỉ mình tôi", "f:grievance:affected:me"),), (("Huỷ", "f:grievance:affected:-cancel"),)),
)  # fmt: skip


async def test_a_number_names_a_button_and_a_hash_presses_it():
    terminal = TerminalChannel("an", out=io.StringIO())
    await terminal.send(SHOWN)
    assert "  2. Huỷ" in terminal.out.getvalue()
    typed = terminal.to_incoming(terminal.update_for("2\n").payload)
    assert typed is not None and (typed.text, typed.payload) == ("2", None)
    assert typed.numbered == "f:grievance:affected:-cancel"
    pressed = terminal.to_incoming(terminal.update_for("#2\n").payload)
    assert pressed is not None and (pressed.text, pressed.payload) == (
        None, "f:grievance:affected:-cancel",
    )  # fmt: skip
    for line in ("7", "#7", "hai"):  # no such button: plain text
        other = terminal.to_incoming(terminal.update_for(line).payload)
        assert other is not None and (other.text, other.numbered, other.payload) == (
            line, None, None,
        )  # fmt: skip


def test_in_the_terminal_a_six_at_how_many_is_six_people(tmp_path):
    report = (
        "/start\n3\n1\nnha may sua cao nguyen\n1\n"
        "Công ty nợ lương hai tháng rồi, cả xưởng chưa ai được trả.\n1\n"
        "6\n"  # at "how many?" six buttons are shown; the sixth is "Huỷ"
        "#1\n1\n1\n/quit\n"
    )
    result = run([sys.executable, "-m", "bot", "chat", "--user", "an"], tmp_path, report)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "gõ #số" in out.splitlines()[0]  # the banner says how to press a button
    assert "Đã huỷ" not in out
    assert "• Số người bị ảnh hưởng: Từ 2 đến 10 người\n" in out
    assert "Mã hồ sơ: KN-2026-000001." in out
