"""Numbered messages and the check that each chat's replies came exactly once and in order:
for the scale-out test, the chaos suite and bench/e2e.py.

A worker sends `/k1`, `/k2`, … (commands the bot does not know); the bot's one reply to each
names the command, so the replies a chat received can be read back as the numbers it sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

NUMBERED = re.compile(r"/k(\d+)\b")


def numbered(n: int) -> str:
    return f"/k{n}"


@dataclass(frozen=True)
class Verdict:
    lost: int  # numbers sent that no reply names
    repeated: int  # replies beyond the first naming a number
    reordered: int  # chats whose replies came in another order than sent

    @property
    def clean(self) -> bool:
        return not (self.lost or self.repeated or self.reordered)


def replies_by_chat(messages: Iterable[tuple[str, str]]) -> dict[str, list[int]]:
    """The numbers named by the replies to each chat, in the order they arrived."""
    found: dict[str, list[int]] = {}
    for chat, text in messages:
        match = NUMBERED.search(text)
        if match:
            found.setdefault(chat, []).append(int(match.group(1)))
    return found


def judge(sent: Mapping[str, int], messages: Iterable[tuple[str, str]]) -> Verdict:
    """`sent`: how many numbered messages (1..n) each chat sent; `messages`: (chat, text) of
    every reply, in arrival order."""
    got = replies_by_chat(messages)
    lost = repeated = reordered = 0
    for chat, count in sent.items():
        numbers = got.get(chat, [])
        lost += len(set(range(1, count + 1)) - set(numbers))
        repeated += len(numbers) - len(set(numbers))
        first_seen = list(dict.fromkeys(numbers))
        reordered += first_seen != sorted(first_seen)
    return Verdict(lost, repeated, reordered)
