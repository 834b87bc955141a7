"""The dashboard's unanswered questions, /officer/questions: what workers asked that the bot
could not answer, most asked first, each with an action to teach the matcher "this belongs
to topic X" or "out of scope" (bot/services/teaching.py). The matcher is retrained in the
background and answers the same question from then on.

Who sees what: the questions come from every union's workers, so an officer sees only the
wordings that 5 or more people asked (the statistics page's rule, storage.statistics.themes);
an admin sees them all. Teaching is allowed on what one may see."""

from __future__ import annotations

from aiohttp import web

from bot.services import teaching
from bot.services.i18n import _, current_language, format_date
from bot.services.matcher import OUT_OF_SCOPE
from bot.services.text import whole_number
from bot.web.pages import DASHBOARD, Page
from storage import statistics, unanswered
from storage.localtime import LOCAL_TIME
from storage.models import UnansweredQuestion

SHOWN = 100


async def visible(current: Page) -> list[UnansweredQuestion]:
    """The questions this officer may see (and teach from)."""
    assert current.login is not None
    rows = await unanswered.most_asked(current.session, limit=SHOWN)
    if current.login.officer.role == "admin":
        return list(rows)
    return [row for row in rows if len(set(row.askers)) >= statistics.THRESHOLD]


async def questions_page(
    current: Page, notice: str | None = None, error: str | None = None, status: int = 200
) -> web.Response:
    """GET /officer/questions."""
    knowledge = current.services.knowledge
    language = current_language()

    def title(topic: str) -> str:
        article = knowledge.article(topic, language)
        return article.title if article else topic

    groups = [
        (group.title_vi if language == "vi" else group.id, [(t, title(t)) for t in group.topics])
        for group in knowledge.taxonomy
    ]
    rows = [
        {
            "id": row.id,
            "text": teaching.mask(row.text),  # as it would be taught: nobody named
            "count": row.count,
            "last": format_date(row.last_asked_at.astimezone(LOCAL_TIME).date()),
            "suggestions": [
                (t, title(t)) for t in row.suggestions if knowledge.article(t, language)
            ],
        }
        for row in await visible(current)
    ]
    return current.render(
        "questions.html", status=status, rows=rows, groups=groups, out_of_scope=OUT_OF_SCOPE,
        notice=notice, error=error,
    )  # fmt: skip


async def questions_teach(current: Page) -> web.StreamResponse:
    """POST /officer/questions/{id}/teach: topic=<id> or out_of_scope."""
    assert current.login is not None
    text = current.request.match_info.get("id", "")
    question_id = whole_number(text)
    if question_id is None or question_id not in {row.id for row in await visible(current)}:
        return current.refuse(404, _("No such question."))
    topic = str(current.form.get("topic", ""))
    try:
        wording = await teaching.teach(
            current.session, current.services.knowledge, question_id=question_id, topic=topic,
            officer_id=current.login.officer.id, now=current.now,
        )  # fmt: skip
    except teaching.NoSuchTopic:
        return await questions_page(current, error=_("Choose a topic from the list."), status=400)
    if wording is None:
        return current.refuse(404, _("No such question."))
    # Retrain after this page's unit of work has committed the lesson.
    current.work.after_commit(current.request.app[DASHBOARD].tutor.wake)
    notice = _(
        "Taught: “{text}”. The bot is learning it now and will answer it within a minute."
    ).format(text=wording)
    return await questions_page(current, notice=notice)
