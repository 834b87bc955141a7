"""Questions and answers: free text is searched in the knowledge base; the menu browses it.

When the matcher answers, the worker gets the article, its legal basis and the next steps as
buttons. When it is unsure: the likeliest 2–3 topics as buttons and "Ask a union officer",
which passes the question on as a `question` case; out of scope: what the bot can help with,
and the same handoff. Either way the question is counted among the unanswered ones, for
officers to teach the bot or write content. Greetings, thanks and emoji get a friendly word
and the menu; "who are you?" the truth (an automated assistant, officers answer messages);
politics a polite "only work and the union"; a threat to the person's safety the emergency
numbers and the union's help, before the answer if there is one. While a form is set aside,
text that is no known question (a phone number after /start) gets only the way back to it.
`compose()` is the one place an answer's text is made: the bot, `unionbot ask` and
bench/faq.py all go through it or through the same search.
"""

from __future__ import annotations

from datetime import date

from bot.services import menus, outreach
from bot.services.i18n import N_, _, format_date
from bot.services.knowledge import Article, Knowledge, Match
from handlers import forms, menu, question
from handlers.payloads import Faq
from handlers.types import Button, Context, Incoming, Keyboard, Outgoing, StaleButton
from storage import unanswered
from storage.localtime import LOCAL_TIME

GROUP_TITLES = {
    "join": N_("Joining the union"),
    "rights": N_("Workers' rights"),
    "support": N_("Union support"),
    "service": N_("About this service"),
}
ASK = N_("Ask a union officer")
NEXT_STEPS = {
    "ask": (ASK, Faq("ask").pack()),
    "report": (N_("Report a problem"), menus.REPORT),
    "join": (N_("Join the union"), menus.JOIN),
    "support": (N_("Hardship support"), menus.SUPPORT),
}
PAGE_SIZE = 8
# What is typed while a form is set aside and is no question the bot knows.
NOT_TAKEN = N_(
    "I did not take that as an answer: your form is on hold. Tap “Continue” and send it "
    "again, or “Drop it”."
)
SAFETY = N_("If you are in danger right now, call the police on 113 (ambulance 115) straight away.")


def asker_tag(ctx: Context) -> str:
    """Who asked an unanswered question, as a keyed hash (erasable by /xoadulieu)."""
    return ctx.services.vault.tag(f"asker:{ctx.person.id}")


def today(ctx: Context) -> date:
    return ctx.now.astimezone(LOCAL_TIME).date()


# ---------------------------------------------------------------------------- composing


def render(article: Article, on: date) -> str:
    """The article as the worker reads it: title, body, legal basis, and a warning when its
    figures are past their valid_until."""
    parts = [article.title, article.body]
    basis = _("Legal basis: {sources}. Checked on {date}.").format(
        sources="; ".join(article.sources), date=format_date(article.updated)
    )
    parts.append(basis + " " + _("This is general information, not legal advice."))
    if article.is_stale(on):
        assert article.valid_until is not None
        parts.append(
            "⚠️ "
            + _(
                "The figures above were valid until {date} and may have changed since. "
                "Please ask the union for the current figures."
            ).format(date=format_date(article.valid_until))
        )
    return "\n\n".join(parts)


def next_steps(article: Article, first: tuple[str, ...] = ()) -> Keyboard:
    """The article's next steps (after `first`), one button each, then the way back."""
    steps = (*first, *(step for step in article.next if step not in first))
    rows = [step_button(step) for step in steps]
    if "ask" not in steps:
        rows.append(step_button("ask"))
    rows.append((Button(_("Other questions"), Faq("home").pack()), menu.back_to_menu()))
    return tuple(rows)


def step_button(step: str) -> tuple[Button, ...]:
    label, payload = NEXT_STEPS[step]
    return (Button(_(label), payload),)


def compose(knowledge: Knowledge, match: Match, language: str, on: date) -> tuple[str, Keyboard]:
    """The reply for a search result: answer, suggestions, or a word of its own."""
    if match.smalltalk == "danger":
        return _danger(knowledge, match, language, on)
    if match.smalltalk is not None:
        return _smalltalk(match.smalltalk), menu.main_menu()
    if match.topic is not None:
        article = knowledge.article(match.topic, language)
        if article is not None:
            return render(article, on), next_steps(article)
    ask = step_button("ask")
    if match.suggestions and not match.declined:
        rows = [topic_button(knowledge, topic, language) for topic in match.suggestions]
        text = _(
            "I am not sure I understood. Is your question about one of these? If not, tap "
            "“Ask a union officer” and an officer will answer you here."
        )
        return text, (*rows, ask, (menu.back_to_menu(),))
    text = _(
        "Sorry, I can only help with work and the union: wages, contracts, insurance, leave, "
        "dismissal, joining the union, reporting a problem at work or hardship support. If "
        "your question is about that, tap “Ask a union officer” and an officer will answer "
        "you here."
    )
    browse = Button(_("Browse the questions"), Faq("home").pack())
    return text, (ask, (browse, menu.back_to_menu()))


def _danger(knowledge: Knowledge, match: Match, language: str, on: date) -> tuple[str, Keyboard]:
    """A threat to the person's safety: the emergency numbers first, then the answer if the
    search found one, else what the union can do."""
    article = knowledge.article(match.topic, language) if match.topic else None
    if article is not None:
        return _(SAFETY) + "\n\n" + render(article, on), next_steps(article, first=("support",))
    text = _(
        "Your safety comes first. The union can help too: ask for hardship support, report it "
        "if it has to do with your work, or leave a message for a union officer, who will "
        "answer you here."
    )
    steps = tuple(step_button(step) for step in ("support", "report", "ask"))
    return _(SAFETY) + " " + text, (*steps, (menu.back_to_menu(),))


def _smalltalk(kind: str) -> str:
    """The friendly word for a message that is not a question."""
    if kind == "greeting":
        return menu.greeting()
    if kind == "thanks":
        return _("You are welcome! Write to me any time you need something.")
    if kind == "identity":
        return _(
            "I am the union's automated assistant, not a person. I answer questions about work "
            "and the union, and help you join, report a problem or ask for support. Union "
            "officers read the messages you leave for them and answer you here."
        )
    if kind == "politics":
        return _(
            "I can only help with work, workers' rights and the union, so I do not discuss "
            "politics. If you have a question about your work, type it here or choose below."
        )
    return _("What can I help you with? Choose below or type your question.")


def topic_button(knowledge: Knowledge, topic: str, language: str) -> tuple[Button, ...]:
    article = knowledge.article(topic, language)
    return (Button(article.title if article else topic, Faq("t", topic).pack()),)


# ---------------------------------------------------------------------------- handlers


async def on_text(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """Free text outside any flow: search, answer or suggest, and remember what failed."""
    text = (msg.text or "").strip()
    knowledge = ctx.services.knowledge
    language = ctx.person.language
    match = knowledge.search(text, language)
    if forms.PAUSED in ctx.state and match.topic is None and match.smalltalk is None:
        # Likely an answer meant for the form set aside (a phone number after /start): no
        # question to apologise for or keep among the unanswered; only the way back to the
        # form (forms.offer_back adds "Continue" / "Drop it" above the menu button).
        return [ctx.reply(_(NOT_TAKEN), ((menu.back_to_menu(),),))]
    if match.smalltalk in (None, "danger"):
        # Kept so that "Ask a union officer" passes on exactly what the worker wrote.
        ctx.state["draft"] = text
        # A threat is not content to write: it is a person's story, maybe with their details.
        if match.topic is None and match.smalltalk is None:
            await unanswered.record(
                ctx.session,
                language=match.language,
                key=knowledge.theme(unanswered.mask(text), match.language),
                text=text,
                suggestions=match.suggestions,
                now=ctx.now,
                asker=asker_tag(ctx),
            )
    if match.smalltalk is None:
        await outreach.asked(ctx.session, ctx.state, ctx.now)
    reply_text, buttons = compose(knowledge, match, language, today(ctx))
    replies = [ctx.reply(reply_text, buttons)]
    if ctx.first_contact and match.smalltalk is None:
        # Someone's very first message: say what the bot is before answering.
        replies.insert(0, ctx.reply(menu.greeting(), menu.main_menu()))
    return replies


async def home(ctx: Context) -> list[Outgoing]:
    """“Questions”: type a question, or browse the four groups."""
    rows = [
        (Button(_(GROUP_TITLES.get(group.id, group.id)), Faq("g", group.id).pack()),)
        for group in ctx.services.knowledge.taxonomy
    ]
    text = _(
        "Type your question in your own words, with or without accents. Or choose a group below."
    )
    return [ctx.reply(text, (*rows, (menu.back_to_menu(),)))]


async def browse(ctx: Context, group_id: str, page: int) -> list[Outgoing]:
    """The topics of a group, PAGE_SIZE at a time."""
    knowledge = ctx.services.knowledge
    group = knowledge.group(group_id)
    if group is None or page < 0 or page * PAGE_SIZE >= max(len(group.topics), 1):
        raise StaleButton(Faq("g", group_id, page).pack())
    shown = group.topics[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    rows = [topic_button(knowledge, topic, ctx.person.language) for topic in shown]
    if (page + 1) * PAGE_SIZE < len(group.topics):
        rows.append((Button(_("More…"), Faq("g", group_id, page + 1).pack()),))
    rows.append((Button(_("Other groups"), Faq("home").pack()), menu.back_to_menu()))
    title = _(GROUP_TITLES.get(group_id, group_id))
    return [ctx.reply(_("{group}: choose a topic.").format(group=title), rows)]


async def show(ctx: Context, topic: str) -> list[Outgoing]:
    """One article, from a button."""
    article = ctx.services.knowledge.article(topic, ctx.person.language)
    if article is None:
        raise StaleButton(Faq("t", topic).pack())
    ctx.state.pop("draft", None)
    await outreach.asked(ctx.session, ctx.state, ctx.now)
    return [ctx.reply(render(article, today(ctx)), next_steps(article))]


async def ask(ctx: Context) -> list[Outgoing]:
    """“Ask a union officer”: pass on the question just typed, or let the worker write one."""
    draft = ctx.state.get("draft")
    if isinstance(draft, str) and draft.strip():
        return await question.submit(ctx, draft, "faq")
    return question.start_writing(ctx, "faq")


async def on_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """faq:home, faq:g:<group>[:<page>], faq:t:<topic>, faq:ask."""
    pressed = Faq.unpack(msg.payload)
    if pressed.view == "g" and pressed.key is not None:
        return await browse(ctx, pressed.key, pressed.page or 0)
    if pressed.page is not None:
        raise StaleButton(msg.payload)
    if pressed.view == "t" and pressed.key is not None:
        return await show(ctx, pressed.key)
    if pressed.key is not None:
        raise StaleButton(msg.payload)
    return await home(ctx) if pressed.view == "home" else await ask(ctx)
