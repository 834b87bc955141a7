"""The step engine for multi-step forms (membership, grievance, support).

A form is a declared list of fields, each with a prompt, optional buttons, a parser that
turns text into a value or raises Invalid with a clear message, and whether it may be
skipped or holds personal data. Where the worker is lives in the conversation state in the
database, so a form resumes after days or a restart; after FORM_DAYS it expires and the
worker is told that nothing was sent.

Before the first personal field, a form that has any asks for consent (Personal Data
Protection Law 91/2025). Without it, personal fields are skipped and `answers["consent"]`
is False, which the form's finish step must respect; a form that `needs_consent` ends there.

When every field is answered the worker sees what will be sent (REVIEW) and taps "Send", or
"Change" to pick a field (EDIT) and answer it again; then the review comes back. A field
with a `default` is not asked when the default gives a value (a safe choice the worker need
not make): the review shows it, and "Change" asks it.

Cancelling never eats a real answer. The Cancel button and /huy end a form at once. Typed
alone, "huỷ" or "dừng" (with their diacritics, so they cannot be a name) end it where only
buttons are expected; where text is expected the bot asks first. Typed without diacritics
("huy", "dung", "thoi" are also the names Huy, Dũng, Thôi) they are an answer wherever an
answer fits, and otherwise make the bot ask.

A command or a menu button pressed mid-form sets the form aside (PAUSED in the state): what
is typed next is not taken as its answer, and replies offer "Continue" / "Drop" until the
worker picks one. Starting another form while one is set aside asks which to keep.

A field with `collect` takes files (photos, voice messages, documents): each one sent is
recorded and counted, up to `most`, until the worker taps the field's choice; the answer is
the list of recorded ids. Files of a form that is cancelled are deleted at once.

Button payloads are f:<form>:<step>:<value>, so a button from an earlier step or another
form is recognised as stale and changes nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.services.i18n import N_, _, format_date
from bot.services.labels import Choice
from bot.services.text import accented_words, fold, has_diacritics, vietnamese_mobile
from handlers import menu
from handlers.payloads import Begin, Step
from handlers.types import (
    LASTING_STATE,
    Attachment,
    Button,
    Context,
    Incoming,
    Keyboard,
    Outgoing,
    StaleButton,
)
from storage import evidence
from storage.localtime import start_of_day

FORM_DAYS = 7
# Typed alone these can only mean "stop": with their diacritics they are no one's name.
CANCEL_SURE = frozenset(
    " ".join(accented_words(text))
    for text in ("huỷ", "huỷ bỏ", "dừng", "dừng lại", "cancel", "stop")
)
# Folded, these may be a name (Huy, Dũng, Thôi) or "stop": the bot asks before cancelling.
CANCEL_MAYBE = frozenset({"huy", "huy bo", "dung", "dung lai", "thoi", "thoi khong"})


@dataclass(frozen=True, slots=True)
class Phrases:
    """Short answers, matched exactly when typed with diacritics (so the name "Dũng" is not
    "đúng") and in any spelling when typed without."""

    accented: frozenset[str]
    folded: frozenset[str]

    @classmethod
    def of(cls, *phrases: str) -> Phrases:
        accented = frozenset(" ".join(accented_words(p)) for p in phrases)
        return cls(accented, frozenset(fold(p) for p in phrases))

    def said(self, text: str) -> bool:
        typed = text.strip().strip(" .!?")
        if has_diacritics(typed):
            return " ".join(accented_words(typed)) in self.accented
        return fold(typed) in self.folded


# Answers to "Do you want to cancel?" and other yes/no questions, typed.
YES_WORDS = Phrases.of(
    "có", "ok", "oke", "yes", "y", "đồng ý", "đúng", "đúng rồi", "ừ", "ừm", "vâng", "dạ"
)
NO_WORDS = Phrases.of("không", "ko", "k", "no", "n", "không phải", "sai", "không đồng ý", "chưa")
# Typed at a step that takes files: "that's all", "I have none".
DONE_WORDS = frozenset({"xong", "done", "het", "khong co", "ko co", "k co", "none", "no"})
BACK, SKIP, CANCEL, RESUME = "-back", "-skip", "-cancel", "-resume"
REDO = "redo"
# Steps that are not fields.
CONSENT, REVIEW, EDIT = "consent", "review", "edit"
SEND, CHANGE = "send", "change"
MAX_ANSWER = 1000
ASKED_CANCEL = "asked_cancel"  # the last reply asked "do you want to cancel?"
PAUSED = "paused"  # a form set aside: its keys, kept until the worker picks it up or drops it


class Invalid(Exception):
    """The worker's answer cannot be used; the message (already translated) says why."""


CONSENT_CHOICES = (Choice("yes", N_("I agree")), Choice("no", N_("I do not agree")))
REVIEW_CHOICES = (Choice(SEND, N_("Send")), Choice(CHANGE, N_("Change something")))
Answers = dict[str, Any]
Parser = Callable[[Context, str, Answers], Awaitable[Any]]
Finish = Callable[[Context, Answers], Awaitable[list[Outgoing]]]
Collect = Callable[[Context, Attachment], Awaitable[int]]
Notes = Callable[[Context, Answers], Awaitable[list[str]]]
COLLECTED = "collected"  # files sent at the current collecting step
FILES = "files"  # every file the form recorded, to delete them if it is never sent
# What a form keeps in the conversation state while it is open (and moves aside with it).
FORM_KEYS = ("form", "answers", "history", "step", "expires", COLLECTED, FILES)


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
    # In the review: the field's name (a msgid) and how its answer reads (default: the
    # chosen label, the text, or the number of files). Fields without a label are not shown.
    label: str | None = None
    show: Callable[[Answers], str | None] | None = None
    # A follow-up of that field, or of those fields (a choice among matches, a check of the
    # text): changing one of them from the review asks this again too.
    part_of: str | tuple[str, ...] | None = None
    # A line said once this field is answered, before the next question (sympathy, an echo).
    ack: Callable[[Answers], str | None] | None = None
    # Values for this field's {placeholders}, from the answers so far.
    values: Callable[[Answers], dict[str, str]] | None = None
    # A safe answer taken without asking when it gives one (not None): the review shows it,
    # and the field is asked only when the worker changes it there.
    default: Callable[[Answers], Any] | None = None

    def options(self, answers: Answers) -> tuple[Choice, ...]:
        return self.choices(answers) if callable(self.choices) else self.choices

    def follows(self, names: set[str]) -> bool:
        """Whether this field is a follow-up of any of `names`."""
        parts = (self.part_of,) if isinstance(self.part_of, str) else self.part_of or ()
        return not names.isdisjoint(parts)


@dataclass(frozen=True, slots=True)
class Form:
    name: str
    fields: tuple[Field, ...]
    finish: Finish
    # What the worker tapped to start it (a msgid) and the button namespace that starts it:
    # "<button>:start", or "<button>:new" to drop a form set aside first.
    title: str = ""
    button: str = ""
    # Shown with the consent question: what is collected, why, who sees it, how long.
    consent_text: str | None = None
    # Without consent nothing can be sent: declining ends the form (finish says why).
    needs_consent: bool = False
    # Values for {placeholders} in prompts, computed from the answers so far.
    placeholders: Callable[[Answers], dict[str, str]] | None = None
    # Lines the review adds after the answers: who receives it, whether it is anonymous.
    notes: Notes | None = None
    # Answers known before the form asks (the workplace of the outreach link the worker came
    # through), asked to be confirmed like typed ones.
    prefill: Callable[[Context], Awaitable[Answers]] | None = None

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


def show_phone(answers: Answers) -> str | None:
    """A phone number with all but its last three digits hidden: the review is a chat
    message, and a phone screen can be read over a shoulder."""
    phone = answers.get("phone")
    return f"{'•' * (len(phone) - 3)}{phone[-3:]}" if isinstance(phone, str) else None


async def parse_story(ctx: Context, text: str, answers: Answers) -> str:
    """What happened, in the worker's words: at least a few letters."""
    story = text.strip()
    if len(story) < 10 or not re.search(r"[^\W\d_]", story):
        raise Invalid(_("Please tell what happened in a few words (at least 10 characters)."))
    return story


def show_story(answers: Answers) -> str | None:
    """The first words of the story, enough to recognise it."""
    story = " ".join(str(answers.get("story") or "").split())
    return story if len(story) <= 80 else story[:79].rstrip() + "…"


# ---------------------------------------------------------------------------- starting


async def begin(ctx: Context, msg: Incoming, forms: Mapping[str, Form]) -> list[Outgoing]:
    """<button>:start from the menu or an answer, <button>:new to drop the form set aside."""
    pressed = Begin.unpack(msg.payload)
    action = pressed.how
    form = next((f for f in forms.values() if f.button == pressed.form), None)
    if form is None:
        raise StaleButton(msg.payload)
    paused = _paused(ctx, forms)
    if paused is not None and action == "start":
        if paused is form:
            return await resume(ctx, form)
        text = _(
            "You have not finished “{old}”. If you start “{new}”, what you filled in there "
            "is dropped."
        ).format(old=_(paused.title), new=_(form.title))
        step = str(ctx.state[PAUSED].get("step"))
        keep = _("Continue “{form}”").format(form=_(paused.title))
        drop_it = _("Drop it, start “{form}”").format(form=_(form.title))
        keyboard = (
            (Button(keep, _pay(paused, step, RESUME)),),
            (Button(drop_it, Begin(form.button, "new").pack()),),
            (menu.back_to_menu(),),
        )
        return [ctx.reply(text, keyboard)]
    return await start(ctx, form)


async def start(ctx: Context, form: Form) -> list[Outgoing]:
    """Begin `form`, dropping any form left half-way (with its files)."""
    await evidence.discard(ctx.session, files(ctx.state))
    ctx.end_flow()
    ctx.state.pop(PAUSED, None)
    ctx.state.update(
        flow="form",
        form=form.name,
        answers=await form.prefill(ctx) if form.prefill else {},
        history=[],
        expires=(ctx.now + timedelta(days=FORM_DAYS)).isoformat(),
    )
    return await _next(ctx, form)


def _next_step(ctx: Context, form: Form) -> str:
    """The next field that applies, the consent question before a personal one, or REVIEW."""
    answers: Answers = ctx.state["answers"]
    for field in form.fields:
        if field.name in answers:
            continue
        if field.ask_if is not None and not field.ask_if(answers):
            continue
        if field.default is not None and (value := field.default(answers)) is not None:
            answers[field.name] = value
            continue
        if field.personal:
            if CONSENT not in answers and ctx.person.consent_at is None and form.consent_text:
                return CONSENT
            if answers.get(CONSENT) is False:
                answers[field.name] = None
                continue
        return field.name
    return REVIEW


async def _next(ctx: Context, form: Form, note: str | None = None) -> list[Outgoing]:
    """Ask the next step, with `note` (an acknowledgement) before the question."""
    step = _next_step(ctx, form)
    ctx.state["step"] = step
    return [await prompt(ctx, form, step, note=note)]


async def prompt(
    ctx: Context, form: Form, step: str, error: str | None = None, note: str | None = None
) -> Outgoing:
    """The question for a step, with its buttons and the way back, on, or out."""
    answers: Answers = ctx.state["answers"]
    if step == CONSENT:
        text = _(form.consent_text) if form.consent_text else ""
    elif step == REVIEW:
        text = await _review(ctx, form)
    elif step == EDIT:
        text = _("What would you like to change?")
    else:
        field = form.field(step)
        assert field is not None
        values = {k: v for k, v in answers.items() if isinstance(v, str)}
        values |= form.placeholders(answers) if form.placeholders else {}
        values |= field.values(answers) if field.values else {}
        text = _(field.prompt).format_map(defaultdict(str, values))
        if field.collect is not None and ctx.state.get(COLLECTED):
            text += "\n" + _received(ctx)
    text = "\n\n".join(part for part in (error, note, text) if part)
    return ctx.reply(text, buttons(ctx, form, step))


def choices_at(form: Form, step: str, answers: Answers) -> tuple[Choice, ...]:
    """The choices a step offers as buttons (before Back, Skip and Cancel)."""
    if step == CONSENT:
        return CONSENT_CHOICES
    if step == REVIEW:
        return REVIEW_CHOICES
    if step == EDIT:
        return tuple(Choice(f.name, f.label or f.name) for f in _changeable(form, answers))
    field = form.field(step)
    return field.options(answers) if field is not None else ()


def buttons(ctx: Context, form: Form, step: str) -> list[tuple[Button, ...]]:
    """A step's choices, then Back, Skip (optional fields) and Cancel."""
    rows: list[tuple[Button, ...]] = []
    field = form.field(step)
    for choice in choices_at(form, step, ctx.state["answers"]):
        rows.append((Button(_(choice.label), _pay(form, step, choice.value)),))
    nav = []
    if ctx.state.get("history") or step == EDIT:
        nav.append(Button(_("Back"), _pay(form, step, BACK)))
    if field is not None and field.optional:
        nav.append(Button(_("Skip"), _pay(form, step, SKIP)))
    nav.append(Button(_("Cancel"), _pay(form, step, CANCEL)))
    rows.append(tuple(nav))
    return rows


def _pay(form: Form, step: str, value: str) -> str:
    return Step(form.name, step, value).pack()


def _received(ctx: Context) -> str:
    return _("Received so far: {count} file(s).").format(count=len(ctx.state.get(COLLECTED, [])))


# ---------------------------------------------------------------------------- the review


async def _review(ctx: Context, form: Form) -> str:
    """What will be sent, field by field, then who receives it; then "Send" or "Change"."""
    answers: Answers = ctx.state["answers"]
    lines = [_("Please check before I send it:")]
    declined = answers.get(CONSENT) is False
    for field in form.fields:
        if field.label is None or field.name not in answers:
            continue
        if declined and field.personal:
            continue  # not asked for want of consent; "Change" can still ask it
        lines.append(f"• {_(field.label)}: {shown(field, answers)}")
    if form.notes is not None:
        lines.extend(await form.notes(ctx, answers))
    lines.append(_("Tap “Send” if it is right, or “Change something” to correct it."))
    return "\n".join(lines)


def shown(field: Field, answers: Answers) -> str:
    """An answer as the review shows it."""
    value = answers.get(field.name)
    if field.show is not None:
        text = field.show(answers)
    elif isinstance(value, list):
        text = _("{count} file(s)").format(count=len(value)) if value else _("none")
    elif isinstance(value, str):
        label = next((c.label for c in field.options(answers) if c.value == value), None)
        text = _(label) if label else value
    else:
        text = None
    return text or _("(not given)")


def _changeable(form: Form, answers: Answers) -> list[Field]:
    """The fields the review shows, which the worker may change."""
    return [f for f in form.fields if f.label is not None and f.name in answers]


def _change(ctx: Context, form: Form, name: str) -> None:
    """Forget a field's answer and its follow-ups, so that they are asked again."""
    answers: Answers = ctx.state["answers"]
    names = {name}
    while more := {f.name for f in form.fields if f.follows(names)} - names:
        names |= more
    for key in names:
        answers.pop(key, None)
    if answers.get(CONSENT) is False:
        answers.pop(CONSENT)  # they may agree this time, for the field they change
    ctx.state["history"] = [s for s in ctx.state.get("history", []) if s not in names]


# ---------------------------------------------------------------------------- answering


def active(ctx: Context, forms: Mapping[str, Form]) -> Form | None:
    form = forms.get(str(ctx.state.get("form")))
    return form if ctx.state.get("flow") == "form" and form is not None else None


def takes_text(state: Mapping[str, Any], forms: Mapping[str, Form]) -> bool:
    """Whether the open form's current step reads typed text as its answer."""
    form = forms.get(str(state.get("form")))
    field = form.field(str(state.get("step"))) if form and state.get("flow") == "form" else None
    return field is not None and field.parse is not None


def _expiry_notice(state: Mapping[str, Any], now: datetime) -> str | None:
    """The notice for a form left longer than FORM_DAYS, or None while it is still valid."""
    try:
        expires = datetime.fromisoformat(str(state.get("expires")))
    except ValueError:
        return None
    if now < expires:
        return None
    return _(
        "The form you started on {date} was not finished within {days} days, so I have "
        "deleted it. Nothing was sent. You can start again from the menu."
    ).format(date=format_date(expires - timedelta(days=FORM_DAYS)), days=FORM_DAYS)


# Where a form's deadline sits in the state, open or set aside: the janitor
# (bot/retention.py) looks there, through handlers/registry.py, for forms left past it.
DEADLINES = (("expires",), (PAUSED, "expires"))


def without_expired(
    state: Mapping[str, Any], now: datetime
) -> tuple[dict[str, Any], list[int], str] | None:
    """The state without its form past expiry, open or set aside, as `expired` and
    `offer_back` drop it when the worker writes again; the ids of that form's files; the
    notice (in the active language). None while no form has expired."""
    if "expires" in state and (notice := _expiry_notice(state, now)):
        # As `drop`: the form's flow ends (what outlives a flow stays), nothing set aside.
        kept = {k: v for k, v in state.items() if k in LASTING_STATE and k != PAUSED}
        return kept, files(state), notice
    paused = state.get(PAUSED)
    if isinstance(paused, dict) and (notice := _expiry_notice(paused, now)):
        kept = {k: v for k, v in state.items() if k != PAUSED}
        return kept, files({PAUSED: paused}), notice
    return None


async def expired(ctx: Context) -> list[Outgoing] | None:
    """The notice for an open form left too long (the form and its files dropped), or None."""
    notice = _expiry_notice(ctx.state, ctx.now)
    if notice is None:
        return None
    await drop(ctx)
    return [ctx.reply(notice, menu.main_menu())]


def cancel_intent(text: str) -> str | None:
    """'sure' for a typed word that can only mean cancel, 'maybe' for one that may also be a
    name or an answer, else None."""
    typed = text.strip().strip(" .!?")
    if " ".join(accented_words(typed)) in CANCEL_SURE:
        return "sure"
    if fold(typed) in CANCEL_MAYBE:
        return "maybe"
    return None


def yes_or_no(text: str) -> bool | None:
    """A typed yes (True) or no (False) to a yes/no question, else None."""
    return True if YES_WORDS.said(text) else False if NO_WORDS.said(text) else None


async def on_text(ctx: Context, msg: Incoming, forms: Mapping[str, Form]) -> list[Outgoing]:
    """Text (or a photo, a sticker…) while a form is open: the answer to the current step."""
    form = active(ctx, forms)
    if form is None:
        ctx.end_flow()
        return [ctx.reply(_("What do you need? Choose one below."), menu.main_menu())]
    if late := await expired(ctx):
        return late
    step = str(ctx.state.get("step"))
    text = (msg.text or "").strip()
    if ctx.state.pop(ASKED_CANCEL, False) and (answer := yes_or_no(text)) is not None:
        return await cancel(ctx) if answer else [await prompt(ctx, form, step)]
    field = form.field(step)
    if msg.attachments and field is not None and field.collect is not None:
        return await _collect(ctx, form, field, msg.attachments)
    if not text:
        return [await prompt(ctx, form, step, _("Please answer with text or tap a button."))]
    if len(text) > MAX_ANSWER:
        error = _("That is too long for this question (at most {limit} characters).")
        return [await prompt(ctx, form, step, error.format(limit=MAX_ANSWER))]
    if step not in (CONSENT, REVIEW, EDIT) and field is None:
        ctx.end_flow()
        return [ctx.reply(_("What do you need? Choose one below."), menu.main_menu())]
    choices = choices_at(form, step, ctx.state["answers"])
    takes = field is not None and field.parse is not None
    chosen = _typed_choice(text, choices, numbers=not takes)
    if chosen is not None:
        return await _record(ctx, form, step, chosen)
    intent = cancel_intent(text)
    if intent == "sure" and not takes:
        return await cancel(ctx)
    if intent == "sure" or (intent == "maybe" and not takes):
        return [_ask_cancel(ctx, form, step)]
    if field is not None and field.collect is not None:
        if fold(text).strip(" .!") in DONE_WORDS:
            return await _record(ctx, form, step, choices[0].value)
        if field.parse is None:
            error = _("Send a photo, a voice message or a PDF file here, or tap a button.")
            return [await prompt(ctx, form, step, error)]
    if field is None or field.parse is None:
        return [await prompt(ctx, form, step, _("Please tap one of the buttons."))]
    try:
        value = await field.parse(ctx, text, ctx.state["answers"])
    except Invalid as problem:
        if intent == "maybe":  # not an answer after all: they may want to stop
            return [_ask_cancel(ctx, form, step)]
        return [await prompt(ctx, form, step, str(problem))]
    return await _record(ctx, form, step, value)


def _ask_cancel(ctx: Context, form: Form, step: str) -> Outgoing:
    """Ask before cancelling on a typed word; the form stays where it is."""
    ctx.state[ASKED_CANCEL] = True
    keyboard = (
        (Button(_("Yes, cancel it"), _pay(form, step, CANCEL)),),
        (Button(_("No, continue"), _pay(form, step, RESUME)),),
    )
    text = _("Do you want to cancel what you are filling in? Nothing has been sent yet.")
    return ctx.reply(text, keyboard)


def _typed_choice(text: str, choices: tuple[Choice, ...], numbers: bool) -> str | None:
    """A button pressed by typing its label, or its number where no typed answer is taken
    (at "how many people?" a 6 is six people, not the sixth button)."""
    typed = fold(text).strip(" .!")
    for number, choice in enumerate(choices, 1):
        label = fold(_(choice.label)) if choice.label else None
        if (numbers and typed == str(number)) or (label and typed == label):
            return choice.value
    values = {choice.value for choice in choices}
    if values >= {"yes", "no"} and (answer := yes_or_no(text)) is not None:
        return "yes" if answer else "no"
    return None


async def on_button(ctx: Context, msg: Incoming, forms: Mapping[str, Form]) -> list[Outgoing]:
    """f:<form>:<step>:<value>; anything not for the current step is stale."""
    payload = msg.payload or ""
    pressed = Step.unpack(payload)
    paused = _paused(ctx, forms)
    at_paused = paused is not None and pressed.form == paused.name
    if at_paused and pressed.step == ctx.state[PAUSED].get("step"):
        assert paused is not None
        if pressed.value == RESUME:
            return await resume(ctx, paused)
        if pressed.value == CANCEL:
            return await cancel(ctx)
        _take_up(ctx)  # an answer to the step it was set aside at: go on from there
    form = active(ctx, forms)
    if form is None or pressed.form != form.name or pressed.step != ctx.state.get("step"):
        raise StaleButton(payload)
    if late := await expired(ctx):
        return late
    ctx.state.pop(ASKED_CANCEL, None)
    step, value = pressed.step, pressed.value
    if value == CANCEL:
        return await cancel(ctx)
    if value == RESUME:
        return [await prompt(ctx, form, step)]
    if value == BACK:
        return await back(ctx, form)
    field = form.field(step)
    if value == SKIP:
        if field is None or not field.optional:
            raise StaleButton(payload)
        return await _record(ctx, form, step, None)
    if value not in {c.value for c in choices_at(form, step, ctx.state["answers"])}:
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
            return [await prompt(ctx, form, field.name, error.format(count=len(collected)))]
        try:
            recorded = await field.collect(ctx, attachment)
        except Invalid as problem:
            return [await prompt(ctx, form, field.name, str(problem))]
        collected.append(recorded)
        ctx.state.setdefault(FILES, []).append(recorded)
    text = _received(ctx) + " " + _("Send more, or tap a button to go on.")
    return [ctx.reply(text, buttons(ctx, form, field.name))]


async def _record(ctx: Context, form: Form, step: str, value: Any) -> list[Outgoing]:
    answers: Answers = ctx.state["answers"]
    if step == REVIEW:
        return await _send(ctx, form) if value == SEND else await _ask(ctx, form, EDIT)
    if step == EDIT:
        _change(ctx, form, value)
        changed = form.field(value)
        if changed is not None and changed.default is not None:
            return await _ask(ctx, form, value)  # not its default again: the worker's choice
        return await _next(ctx, form)
    field = form.field(step)
    if field is not None and field.collect is not None:
        # Whichever choice ends the step (or Skip), the answer is the files sent so far.
        value = list(ctx.state.pop(COLLECTED, []))
    if field is not None and field.redo and value == REDO:
        answers.pop(field.redo, None)
        history = ctx.state.get("history", [])
        if field.redo in history:
            del history[len(history) - 1 - history[::-1].index(field.redo) :]
        return await _ask(ctx, form, field.redo)
    if step == CONSENT:
        agreed = value == "yes"
        answers[CONSENT] = agreed
        if agreed:
            # The day is enough to show when they agreed; a time could be matched.
            ctx.person.consent_at = start_of_day(ctx.now)
        elif form.needs_consent:
            return await _send(ctx, form)  # finish says why nothing can be sent
    else:
        answers[step] = value
    ctx.state["history"] = [*ctx.state.get("history", []), step]
    return await _next(ctx, form, field.ack(answers) if field and field.ack else None)


async def _ask(ctx: Context, form: Form, step: str) -> list[Outgoing]:
    ctx.state["step"] = step
    return [await prompt(ctx, form, step)]


async def _send(ctx: Context, form: Form) -> list[Outgoing]:
    """The form is done: hand the answers to its finish step."""
    done = dict(ctx.state["answers"])
    ctx.end_flow()
    return await form.finish(ctx, done)


async def back(ctx: Context, form: Form) -> list[Outgoing]:
    """Undo the last answer and ask it again (from the list of changes: the review)."""
    if ctx.state.get("step") == EDIT:
        return await _ask(ctx, form, REVIEW)
    history: list[str] = ctx.state.get("history", [])
    if not history:
        return [await prompt(ctx, form, str(ctx.state.get("step")))]
    last = history.pop()
    answers: Answers = ctx.state["answers"]
    undone = answers.pop(last, None)
    field = form.field(last)
    if field is not None and field.collect is not None:
        ctx.state[COLLECTED] = list(undone or [])  # the files sent are kept
    # Fields answered automatically after it (skipped for lack of consent) go back too.
    names = [CONSENT, *(f.name for f in form.fields)]
    for name in names[names.index(last) + 1 :] if last in names else ():
        if name not in history:
            answers.pop(name, None)
    return await _ask(ctx, form, last)


# ---------------------------------------------------------------------------- setting aside


def _paused(ctx: Context, forms: Mapping[str, Form]) -> Form | None:
    kept = ctx.state.get(PAUSED)
    return forms.get(str(kept.get("form"))) if isinstance(kept, dict) else None


def set_aside(ctx: Context) -> bool:
    """Put the open form aside (a command or a menu button came mid-form); True if one was.
    Its answers and files are kept; nothing typed is taken as its answer until it resumes."""
    if ctx.state.get("flow") != "form":
        return False
    kept = {key: ctx.state.pop(key) for key in FORM_KEYS if key in ctx.state}
    ctx.state.pop("flow", None)
    ctx.state.pop(ASKED_CANCEL, None)
    ctx.state[PAUSED] = kept
    return True


def _take_up(ctx: Context) -> None:
    kept = ctx.state.pop(PAUSED)
    ctx.end_flow()
    ctx.state.update(kept, flow="form")


async def resume(ctx: Context, form: Form) -> list[Outgoing]:
    """Take the form set aside up again where it was."""
    _take_up(ctx)
    if late := await expired(ctx):
        return late
    note = _("Let us go on with “{form}”.").format(form=_(form.title))
    return [await prompt(ctx, form, str(ctx.state.get("step")), note=note)]


async def offer_back(
    ctx: Context, replies: list[Outgoing], forms: Mapping[str, Form], just_set_aside: bool
) -> list[Outgoing]:
    """While a form is set aside, the last reply with buttons offers it back first."""
    form = _paused(ctx, forms)
    if form is None:
        return replies
    kept: dict[str, Any] = ctx.state[PAUSED]
    if notice := _expiry_notice(kept, ctx.now):
        # Only the form set aside goes: what the worker just began (a message, another
        # form) stays in progress.
        await evidence.discard(ctx.session, files({PAUSED: kept}))
        ctx.state.pop(PAUSED, None)
        return [*replies, ctx.reply(notice)]
    step = str(kept.get("step"))
    go_on = _pay(form, step, RESUME)
    if any(b.payload == go_on for r in replies for row in r.buttons for b in row):
        return replies  # the reply already offers it (forms.begin)
    mine = [i for i, r in enumerate(replies) if r.to == ctx.address and r.buttons]
    if not mine:
        return replies
    row = (
        Button(_("Continue “{form}”").format(form=_(form.title)), go_on),
        Button(_("Drop it"), _pay(form, step, CANCEL)),
    )
    reply = replies[mine[-1]]
    text = reply.text
    if just_set_aside:
        text += "\n\n" + _(
            "I have kept what you filled in for “{form}”: tap “Continue” to go back to it."
        ).format(form=_(form.title))
    keyboard: Keyboard = (row, *reply.buttons)
    return [
        *replies[: mine[-1]],
        replace(reply, text=text, buttons=keyboard),
        *replies[mine[-1] + 1 :],
    ]


# ---------------------------------------------------------------------------- ending


def files(state: Mapping[str, Any]) -> list[int]:
    """The ids of every file a half-filled form (open or set aside) has recorded."""
    kept = state.get(PAUSED)
    found = [
        *(state.get(FILES) or ()),
        *((kept.get(FILES) or ()) if isinstance(kept, dict) else ()),
    ]
    return [i for i in found if isinstance(i, int)]


async def drop(ctx: Context) -> None:
    """Forget any form, open or set aside, and delete the files sent for it."""
    await evidence.discard(ctx.session, files(ctx.state))
    ctx.end_flow()
    ctx.state.pop(PAUSED, None)


async def cancel(ctx: Context) -> list[Outgoing]:
    await drop(ctx)
    text = _("Cancelled. Nothing was sent.") + " " + _("What do you need? Choose one below.")
    return [ctx.reply(text, menu.main_menu())]
