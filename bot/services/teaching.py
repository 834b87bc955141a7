"""Officers teach the FAQ matcher: an unanswered question marked "this belongs to topic X" or
"out of scope" becomes a lesson (its wording with numbers, e-mail addresses and names
masked), audited, and the matchers are retrained with every lesson in a child process and
swapped in whole (`Tutor`). Every process retrains when it sees the lessons change, so all
of them learn what was taught on any one."""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.logs import describe
from bot.services import training
from bot.services.knowledge import Knowledge, ModelSpec
from bot.services.matcher import OUT_OF_SCOPE, Model
from bot.services.text import fold
from bot.services.training import Example
from storage import audit, lessons, unanswered
from storage.models import UnansweredQuestion

log = logging.getLogger(__name__)

MASK = "***"
CHECK_SECONDS = 60  # how often a process looks for lessons taught on another
# Vietnamese family names (and the K' of K'Ho names): a capitalised run of words starting
# with one is most likely a person's full name ("Nguyễn Văn An").
_SURNAME_WORDS = """nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý đinh
trương lâm mai tô hà cao lưu đoàn vương trịnh chu tạ kiều thái quách tăng la lương triệu đào
đàm kim châu mạc ông phùng khổng giang tôn"""
_SURNAMES = frozenset(_SURNAME_WORDS.split())
# Words before a given name: "anh Tuấn", "chị Lan", "tên em là Hoa" (folded).
_BEFORE_WORDS = "anh chi em co chu bac ong ba ban thang con mr mrs ms ten la"
_BEFORE_NAME = frozenset(_BEFORE_WORDS.split())
_WORD = re.compile(r"[^\W\d_][^\W_]*(?:'[^\W_]+)?")


def mask(text: str) -> str:
    """The wording without what could name someone: long numbers, e-mail addresses and
    capitalised names (a run starting with a family name, or after "anh", "chị", "tên là"…).
    A capital at the start of a sentence alone is not a name."""
    text = unicodedata.normalize("NFC", unanswered.mask(text))
    spans: list[tuple[int, int]] = []
    words = list(_WORD.finditer(text))
    for i, word in enumerate(words):
        if not _capitalised(word.group()):
            continue
        before = fold(words[i - 1].group()) if i else ""
        starts_sentence = i == 0 or bool(
            re.search(r"[.!?\n]\s*$", text[words[i - 1].end() : word.start()])
        )
        surname = word.group().lower() in _SURNAMES or word.group().startswith("K'")
        named = before in _BEFORE_NAME or (not starts_sentence and surname)
        if surname and i + 1 < len(words) and _capitalised(words[i + 1].group()):
            named = True
        if named:
            spans.append(_run(words, i))
    for start, end in reversed(_merge(spans)):
        text = text[:start] + MASK + text[end:]
    return text


def _capitalised(word: str) -> bool:
    """ "Hùng", "B", "K'Tin"; not "BHXH" (an abbreviation)."""
    return word[:1].isupper() and (len(word) == 1 or not word.isupper())


def _run(words: Sequence[re.Match[str]], i: int) -> tuple[int, int]:
    """The capitalised words from i on: a full name is masked whole."""
    end = i
    while end + 1 < len(words) and _capitalised(words[end + 1].group()) and end - i < 3:
        end += 1
    return words[i].start(), words[end].end()


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


class NoSuchTopic(ValueError):
    """A lesson named a topic the knowledge base does not have."""


async def teach(
    session: AsyncSession, knowledge: Knowledge, *, question_id: int, topic: str,
    officer_id: int, now: datetime,
) -> str | None:  # fmt: skip
    """Teach that an unanswered question belongs to `topic` (or OUT_OF_SCOPE): store the
    masked wording as a lesson, audit it, and take the question off the list. Returns the
    wording taught; None when there is no such question."""
    known = {t for group in knowledge.taxonomy for t in group.topics}
    if topic != OUT_OF_SCOPE and topic not in known:
        raise NoSuchTopic(topic)
    question = await session.get(UnansweredQuestion, question_id)
    if question is None:
        return None
    wording = mask(question.text)
    await lessons.add(
        session, language=question.language, text=wording, topic=topic,
        officer_id=officer_id, now=now,
    )  # fmt: skip
    audit.record(
        session, actor="officer", officer_id=officer_id, action="faq.taught", now=now,
        detail={"topic": topic, "language": question.language, "asked": question.count},
    )  # fmt: skip
    await session.delete(question)
    return wording


Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class Tutor:
    """Keeps the matchers trained on every lesson. `run_once` (every minute, and woken at
    once after a lesson) retrains when the lessons changed since it last looked; a fit runs
    in a child process and the new model is swapped in whole, so searches never wait."""

    def __init__(self, knowledge: Knowledge, sessions: Sessions) -> None:
        self.knowledge = knowledge
        self.sessions = sessions
        self.seen: tuple[int, datetime | None] = (0, None)  # the content alone at start
        self._lock = asyncio.Lock()
        self._woken: asyncio.Task[bool] | None = None

    def wake(self) -> asyncio.Task[bool]:
        """Retrain now, in the background; the task says whether anything changed (a
        failure is logged, and the next minute's look tries again)."""
        if self._woken is None or self._woken.done():
            self._woken = asyncio.create_task(self._run_logged(), name="faq-retrain")
        return self._woken

    async def _run_logged(self) -> bool:
        try:
            return await self.run_once()
        except Exception as exc:
            log.error("retraining the FAQ matcher failed: %s", describe(exc))
            return False

    async def run_once(self) -> bool:
        async with self._lock:
            async with self.sessions() as session:
                mark = await lessons.mark(session)
                if mark == self.seen:
                    return False
                taught = await lessons.by_language(session)
            await self.retrain(taught)
            self.seen = mark
            return True

    async def retrain(self, taught: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        """Fit every language's matcher with its lessons (unless a model of exactly these
        examples is kept already) and swap it in."""
        for language in list(self.knowledge.matchers):
            examples = [Example(text, topic) for text, topic in taught.get(language, ())]
            spec = self.knowledge.model_spec(language, examples)
            if self.knowledge.matchers[language].fingerprint == spec.fingerprint:
                continue
            if not spec.path.is_file():
                await _fit_in_child(language, self.knowledge, spec)
            model = await asyncio.to_thread(Model.load, spec.path, self.knowledge.vocabulary)
            self.knowledge.learn(language, model)
            training.prune(spec.path.parent, language, keep=spec.path)
            log.info("the %s FAQ matcher now knows %d lessons", language, len(examples))


async def _fit_in_child(language: str, knowledge: Knowledge, spec: ModelSpec) -> None:
    """Fit in a child process (a fit takes seconds of CPU; the bot keeps answering)."""
    argv, examples_file = training.command(
        spec.examples, language, knowledge.content_dir, spec.path, spec.params
    )
    try:
        child = await asyncio.create_subprocess_exec(
            *argv, env=training.child_env(), stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, errors = await child.communicate()
    finally:
        examples_file.unlink(missing_ok=True)
    if child.returncode != 0:
        raise training.TrainingError(errors.decode(errors="replace")[-2000:])
