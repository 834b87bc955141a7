"""The step engine for multi-step forms (membership, grievance, support).

A form is a declared list of fields, each with a prompt, optional buttons, a parser that
turns text into a value or raises Invalid with a clear message, and whether it may be
skipped or holds personal data. The worker can go back, skip optional fields and cancel
("huỷ", /huy) at any time. Where they are lives in the conversation state in the database,
so a form resumes after days or a restart; after FORM_DAYS it expires and the worker is told
that nothing was sent.

Before the first personal field, a form that has any asks for consent (Personal Data
Protection Law 91/2025). Without it, personal fields are skipped and `answers["consent"]`
is False, which the form's finish step must respect.

A field with `collect` takes files (photos, voice messages, documents): each one sent is
recorded and counted, up to `most`, until the worker taps the field's choice; the answer is
the list of recorded ids. Files of a form that is cancelled are deleted at once.

Button payloads are f:<form>:<field>:<value>, so a button from an earlier step or another
form is recognised as stale and changes nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.services.i18n import N_, _, format_date
from bot.services.text import fold, vietnamese_mobile
from handlers import menu
from handlers.types import Attachment, Button, Context, Incoming, Outgoing, StaleButton
from storage import evidence

FORM_DAYS = 7
CANCEL_WORDS = {"huy", "cancel", "thoi", "dung", "/huy", "/cancel"}
# Typed at a step that takes files: "that's all", "I have none".
DONE_WORDS = {"xong", "done", "het", "khong co", "ko co", "k co", "none", "no"}
BACK, SKIP, CANCEL = "-back", "-skip", "-cancel"
REDO = "redo"
CONSENT = "consent"
MAX_ANSWER = 1000


class Invalid(Exception):
    """The worker's answer cannot be used; the message (already translated) says why."""


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str  # a msgid, translated when shown


CONSENT_CHOICES = (Choice("yes", N_("I agree")), Choice("no", N_("I do not agree")))
Answers = dict[str, Any]
Parser = Callable[[Context, str, Answers], Awaitable[Any]]
Finish = Callable[[Context, Answers], Awaitable[list[Outgoing]]]
Collect = Callable[[Context, Attachment], Awaitable[int]]
COLLECTED = "collected"  # files sent at the current collecting step
FILES = "files"  # every file the form recorded, to delete them if it is never sent


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    prompt: str  # a msgid; may use {placeholders} filled from the answers
    choices: tuple[Choice, ...] | Callable[[Answers], tuple[Choice, ...]] = ()
    parse: Parser | None = None  # free text allowed when set
    optional: bool = False
    personal: bool = False
    ask_if: Callable[[Answers], bool] | None = None
    # When the choice REDO is taken, this earlier field is asked again (e.g. "write it again").
    redo: str | None = None
    # Takes files: records one and returns its id, or raises Invalid; at most `most`.
    collect: Collect | None = None
    most: int = 5

    def options(self, answers: Answers) -> tuple[Choice, ...]:
        return self.choices(answers) if callable(self.choices) else self.choices


@dataclass(frozen=True, slots=True)
class Form:
    name: str
    fields: tuple[Field, ...]
    finish: Finish
    # Shown with the consent question: what is collected, why, who sees it, how long.
    consent_text: str | None = None
    # Values for {placeholders} in prompts, computed from the answers so far.
    placeholders: Callable[[Answers], dict[str, str]] | None = None

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


async def parse_phone(ctx: Context, text: str, answers: Answers) -> str:
    """A Vietnamese mobile number in any usual format, as 0XXXXXXXXX."""
    phone = vietnamese_mobile(text)
    if phone is None:
        raise Invalid(
            _("That does not look like a Vietnamese mobile number. Example: 0912 345 678.")
        )
    return phone


async def parse_story(ctx: Context, text: str, answers: Answers) -> str:
    """What happened, in the worker's words: at least a few letters."""
    story = text.strip()
    if len(story) < 10 or not re.search(r"[^\W\d_]", story):
        raise Invalid(_("Please tell what happened in a few words (at least 10 characters)."))
    return story


# ---------------------------------------------------------------------------- starting


async def start(ctx: Context, form: Form) -> list[Outgoing]:
    """Begin `form`, replacing any form left half-way (the worker is told)."""
    replies = []
    previous = ctx.state.get("form")
    if ctx.state.get("flow") == "form" and previous and previous != form.name:
        replies.append(ctx.reply(_("I have put aside the form you had not finished.")))
    await evidence.discard(ctx.session, files(ctx.state))
    ctx.state.clear()
    ctx.state.update(
        flow="form",
        form=form.name,
        answers={},
        history=[],
        expires=(ctx.now + timedelta(days=FORM_DAYS)).isoformat(),
    )
    return replies + _advance(ctx, form)


def _advance(ctx: Context, form: Form) -> list[Outgoing]:
    """Ask the next field that applies, or the consent question before a personal one."""
    answers: Answers = ctx.state["answers"]
    for field in form.fields:
        if field.name in answers:
            continue
        if field.ask_if is not None and not field.ask_if(answers):
            continue
        if field.personal:
            if CONSENT not in answers and ctx.person.consent_at is None and form.consent_text:
                return _ask(ctx, form, CONSENT)
            if answers.get(CONSENT) is False:
                answers[field.name] = None
                continue
        return _ask(ctx, form, field.name)
    return []


def _ask(ctx: Context, form: Form, step: str) -> list[Outgoing]:
    ctx.state["step"] = step
    return [prompt(ctx, form, step)]


def prompt(ctx: Context, form: Form, step: str, error: str | None = None) -> Outgoing:
    """The question for a step, with its buttons and the way back, on, or out."""
    answers: Answers = ctx.state["answers"]
    if step == CONSENT:
        text = _(form.consent_text or "")
    else:
        field = form.field(step)
        assert field is not None
        values = {k: v for k, v in answers.items() if isinstance(v, str)}
        values |= form.placeholders(answers) if form.placeholders else {}
        text = _(field.prompt).format_map(defaultdict(str, values))
        if field.collect is not None and ctx.state.get(COLLECTED):
            text += "\n" + _received(ctx)
    if error:
        text = f"{error}\n\n{text}"
    return ctx.reply(text, buttons(ctx, form, step))


def buttons(ctx: Context, form: Form, step: str) -> list[tuple[Button, ...]]:
    """A step's choices, then Back, Skip (optional fields) and Cancel."""
    rows: list[tuple[Button, ...]] = []
    field = form.field(step)
    choices = CONSENT_CHOICES if field is None else field.options(ctx.state["answers"])
    for choice in choices:
        rows.append((Button(_(choice.label), f"f:{form.name}:{step}:{choice.value}"),))
    nav = []
    if ctx.state.get("history"):
        nav.append(Button(_("Back"), f"f:{form.name}:{step}:{BACK}"))
    if field is not None and field.optional:
        nav.append(Button(_("Skip"), f"f:{form.name}:{step}:{SKIP}"))
    nav.append(Button(_("Cancel"), f"f:{form.name}:{step}:{CANCEL}"))
    rows.append(tuple(nav))
    return rows


def _received(ctx: Context) -> str:
    return _("Received so far: {count} file(s).").format(count=len(ctx.state.get(COLLECTED, [])))


# ---------------------------------------------------------------------------- answering


def active(ctx: Context, forms: Mapping[str, Form]) -> Form | None:
    form = forms.get(str(ctx.state.get("form")))
    return form if ctx.state.get("flow") == "form" and form is not None else None


def expired(ctx: Context) -> list[Outgoing] | None:
    """The notice for a form left longer than FORM_DAYS (and the state cleared), or None."""
    try:
        expires = datetime.fromisoformat(str(ctx.state.get("expires")))
    except ValueError:
        return None
    if ctx.now < expires:
        return None
    started = expires - timedelta(days=FORM_DAYS)
    ctx.state.clear()
    text = _(
        "The form you started on {date} was not finished within {days} days, so I have "
        "deleted it. Nothing was sent. You can start again from the menu."
    ).format(date=format_date(started), days=FORM_DAYS)
    return [ctx.reply(text, menu.main_menu())]


async def on_text(ctx: Context, msg: Incoming, forms: Mapping[str, Form]) -> list[Outgoing]:
    """Text (or a photo, a sticker…) while a form is open: the answer to the current step."""
    form = active(ctx, forms)
    if form is None:
        ctx.state.clear()
        return [ctx.reply(_("What do you need? Choose one below."), menu.main_menu())]
    if late := expired(ctx):
        return late
    step = str(ctx.state.get("step"))
    text = (msg.text or "").strip()
    if fold(text).strip("/ ") in CANCEL_WORDS:
        return await cancel(ctx)
    collecting = form.field(step)
    if msg.attachments and collecting is not None and collecting.collect is not None:
        return await _collect(ctx, form, collecting, msg.attachments)
    if not text:
        return [prompt(ctx, form, step, _("Please answer with text or tap a button."))]
    if len(text) > MAX_ANSWER:
        error = _("That is too long for this question (at most {limit} characters).")
        return [prompt(ctx, form, step, error.format(limit=MAX_ANSWER))]
    if step == CONSENT:
        choices = CONSENT_CHOICES
        field = None
    else:
        field = form.field(step)
        if field is None:
            ctx.state.clear()
            return [ctx.reply(_("What do you need? Choose one below."), menu.main_menu())]
        choices = field.options(ctx.state["answers"])
    chosen = _typed_choice(text, choices, step)
    if chosen is None and field is not None and field.collect is not None:
        if fold(text).strip(" .!") in DONE_WORDS:
            chosen = choices[0].value
        elif field.parse is None:
            error = _("Send a photo, a voice message or a PDF file here, or tap a button.")
            return [prompt(ctx, form, step, error)]
    if chosen is not None:
        return await _record(ctx, form, step, chosen)
    if field is None or field.parse is None:
        return [prompt(ctx, form, step, _("Please tap one of the buttons."))]
    try:
        value = await field.parse(ctx, text, ctx.state["answers"])
    except Invalid as problem:
        return [prompt(ctx, form, step, str(problem))]
    return await _record(ctx, form, step, value)


def _typed_choice(text: str, choices: tuple[Choice, ...], step: str) -> str | None:
    """A button pressed by typing its label or its number (the terminal, Zalo)."""
    typed = fold(text).strip(" .!")
    for number, choice in enumerate(choices, 1):
        label = fold(_(choice.label)) if choice.label else None
        if typed == str(number) or (label and typed == label):
            return choice.value
    if step == CONSENT and typed in {"co", "dong y", "yes", "ok", "agree"}:
        return "yes"
    if step == CONSENT and typed in {"khong", "ko", "no", "khong dong y"}:
        return "no"
    return None


async def on_button(ctx: Context, msg: Incoming, forms: Mapping[str, Form]) -> list[Outgoing]:
    """f:<form>:<step>:<value>; anything not for the current step is stale."""
    payload = msg.payload or ""
    parts = payload.split(":", 3)
    form = active(ctx, forms)
    if len(parts) != 4 or form is None or parts[1] != form.name:
        raise StaleButton(payload)
    if parts[2] != ctx.state.get("step"):
        raise StaleButton(payload)
    if late := expired(ctx):
        return late
    step, value = parts[2], parts[3]
    if value == CANCEL:
        return await cancel(ctx)
    if value == BACK:
        return back(ctx, form)
    field = form.field(step)
    if value == SKIP:
        if field is None or not field.optional:
            raise StaleButton(payload)
        return await _record(ctx, form, step, None)
    if step == CONSENT:
        if value not in {c.value for c in CONSENT_CHOICES}:
            raise StaleButton(payload)
        return await _record(ctx, form, step, value)
    if field is None or value not in {c.value for c in field.options(ctx.state["answers"])}:
        raise StaleButton(payload)
    return await _record(ctx, form, step, value)


async def _collect(
    ctx: Context, form: Form, field: Field, attachments: tuple[Attachment, ...]
) -> list[Outgoing]:
    """Files sent at a collecting step: record each, then say how many there are."""
    assert field.collect is not None
    collected: list[int] = ctx.state.setdefault(COLLECTED, [])
    for attachment in attachments:
        if len(collected) >= field.most:
            error = _("I already have {count} files, the most I can take. Tap a button to go on.")
            return [prompt(ctx, form, field.name, error.format(count=len(collected)))]
        try:
            recorded = await field.collect(ctx, attachment)
        except Invalid as problem:
            return [prompt(ctx, form, field.name, str(problem))]
        collected.append(recorded)
        ctx.state.setdefault(FILES, []).append(recorded)
    text = _received(ctx) + " " + _("Send more, or tap a button to go on.")
    return [ctx.reply(text, buttons(ctx, form, field.name))]


async def _record(ctx: Context, form: Form, step: str, value: Any) -> list[Outgoing]:
    answers: Answers = ctx.state["answers"]
    field = form.field(step)
    if field is not None and field.collect is not None:
        # Whichever choice ends the step (or Skip), the answer is the files sent so far.
        value = list(ctx.state.pop(COLLECTED, []))
    if field is not None and field.redo and value == REDO:
        answers.pop(field.redo, None)
        history = ctx.state.get("history", [])
        if field.redo in history:
            del history[len(history) - 1 - history[::-1].index(field.redo) :]
        return _ask(ctx, form, field.redo)
    if step == CONSENT:
        agreed = value == "yes"
        answers[CONSENT] = agreed
        if agreed:
            ctx.person.consent_at = ctx.now
    else:
        answers[step] = value
    ctx.state["history"] = [*ctx.state.get("history", []), step]
    replies = _advance(ctx, form)
    if replies:
        return replies
    # Nothing left to ask: the form is done.
    done = dict(answers)
    ctx.state.clear()
    return await form.finish(ctx, done)


def back(ctx: Context, form: Form) -> list[Outgoing]:
    """Undo the last answer and ask it again."""
    history: list[str] = ctx.state.get("history", [])
    if not history:
        return [prompt(ctx, form, str(ctx.state.get("step")))]
    last = history.pop()
    answers: Answers = ctx.state["answers"]
    undone = answers.pop(last, None)
    field = form.field(last)
    if field is not None and field.collect is not None:
        ctx.state[COLLECTED] = list(undone or [])  # the files sent are kept
    # Fields answered automatically after it (skipped for lack of consent) go back too.
    names = [CONSENT, *(f.name for f in form.fields)]
    for name in names[names.index(last) + 1 :] if last in names else ():
        answers.pop(name, None)
    return _ask(ctx, form, last)


def files(state: Mapping[str, Any]) -> list[int]:
    """The ids of every file a half-filled form has recorded."""
    return [i for i in state.get(FILES) or () if isinstance(i, int)]


async def cancel(ctx: Context) -> list[Outgoing]:
    await evidence.discard(ctx.session, files(ctx.state))
    ctx.state.clear()
    text = _("Cancelled. Nothing was sent.") + " " + _("What do you need? Choose one below.")
    return [ctx.reply(text, menu.main_menu())]
