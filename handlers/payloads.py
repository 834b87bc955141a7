"""Every button payload the bot makes, typed (like aiogram's CallbackData).

A payload is "<namespace>:<field>:<field>…", at most 64 bytes (handlers/types.py). Each kind is
a small frozen dataclass: `OfficerAction("claim", 42).pack()` gives "o:claim:42" and
`OfficerAction.unpack("o:claim:42")` gives it back, checked field by field (a `Literal`
field takes only its values, an `int` field only digits, a trailing optional field may be
left out); anything else raises StaleButton, so a forged or outdated press changes nothing.
`pack` refuses (ValueError) a value that would not read back the same.
The registry (handlers/registry.py) routes a press by its namespace.

Part of the contract: it imports nothing of ours but handlers/types.py, so services that
word a notice with buttons (bot/services/alerts.py, casework.py) can build them too.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, Self

from handlers.types import StaleButton

SEPARATOR = ":"
MAX_NUMBER_DIGITS = 12


def namespace(payload: str) -> str:
    """The namespace a payload is routed by."""
    return payload.partition(SEPARATOR)[0]


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    kind: type
    values: tuple[str, ...]  # a Literal's values; () for any
    optional: bool


_SPECS: dict[type, tuple[_Spec, ...]] = {}


def _specs(cls: type) -> tuple[_Spec, ...]:
    """The fields of a payload kind, read once from its annotations."""
    if cls not in _SPECS:
        _SPECS[cls] = _read_specs(cls)
    return _SPECS[cls]


def _read_specs(cls: type) -> tuple[_Spec, ...]:
    hints = typing.get_type_hints(cls)
    specs = []
    for field in fields(cls):
        hint: Any = hints[field.name]
        args = typing.get_args(hint)
        optional = type(None) in args
        if optional:
            hint = next(a for a in args if a is not type(None))
        if typing.get_origin(hint) is Literal:
            specs.append(_Spec(field.name, str, tuple(typing.get_args(hint)), optional))
        else:
            specs.append(_Spec(field.name, hint, (), optional))
    return tuple(specs)


def _read(spec: _Spec, text: str) -> object:
    if spec.kind is int:
        # isascii: "²" passes isdigit() and then breaks int().
        if not (text.isascii() and text.isdigit()) or len(text) > MAX_NUMBER_DIGITS:
            raise ValueError(text)
        return int(text)
    if not text or (spec.values and text not in spec.values):
        raise ValueError(text)
    return text


class Payload:
    """Base of the payload kinds; subclasses are frozen dataclasses naming their namespace."""

    namespace: ClassVar[str]

    def __init_subclass__(cls, namespace: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if namespace:
            cls.namespace = namespace

    def pack(self) -> str:
        """The payload string; ValueError for a value `unpack` would not give back (a field
        left out before a given one, the separator inside a field but the last, an empty
        text, a negative number, a word outside a Literal), so no button is ever made stale."""
        values = [getattr(self, spec.name) for spec in _specs(type(self))]
        while values and values[-1] is None:
            values.pop()
        packed = SEPARATOR.join([self.namespace, *(str(value) for value in values)])
        try:
            same = type(self).unpack(packed) == self
        except StaleButton:
            same = False
        if not same:
            raise ValueError(f"{self!r} would not read back from {packed!r}")
        return packed

    @classmethod
    def unpack(cls, payload: str | None) -> Self:
        """The payload read back; StaleButton when it is not a well-formed one of this kind."""
        head, sep, rest = (payload or "").partition(SEPARATOR)
        specs = _specs(cls)
        if head != cls.namespace or not sep:
            raise StaleButton(payload)
        # The last field takes the rest, so a free value may hold the separator.
        parts = rest.split(SEPARATOR, len(specs) - 1)
        required = sum(1 for spec in specs if not spec.optional)
        if not required <= len(parts) <= len(specs):
            raise StaleButton(payload)
        try:
            values = {
                spec.name: _read(spec, part) for spec, part in zip(specs, parts, strict=False)
            }
        except ValueError:
            raise StaleButton(payload) from None
        return cls(**values)


# ---------------------------------------------------------------------------- the workers'


@dataclass(frozen=True, slots=True)
class Menu(Payload, namespace="menu"):
    choice: Literal["home"]


@dataclass(frozen=True, slots=True)
class Language(Payload, namespace="lang"):
    code: str  # "choose", or a language code


@dataclass(frozen=True, slots=True)
class Faq(Payload, namespace="faq"):
    """The questions: home, ask, a topic (t, its id) or a group (g, its id, a page)."""

    view: Literal["home", "ask", "t", "g"]
    key: str | None = None
    page: int | None = None


@dataclass(frozen=True, slots=True)
class Begin:
    """Start a form ("<form button>:start"), or start it anew dropping the one set aside
    (":new"). Its namespace is the form's own (join, report, support)."""

    form: str
    how: Literal["start", "new"] = "start"

    def pack(self) -> str:
        return f"{self.form}{SEPARATOR}{self.how}"

    @classmethod
    def unpack(cls, payload: str | None) -> Begin:
        form, _sep, how = (payload or "").partition(SEPARATOR)
        if how == "start":
            return cls(form, "start")
        if how == "new":
            return cls(form, "new")
        raise StaleButton(payload)


@dataclass(frozen=True, slots=True)
class Step(Payload, namespace="f"):
    """An answer at a form's step: a choice's value, or back, skip, cancel, resume."""

    form: str
    step: str
    value: str


@dataclass(frozen=True, slots=True)
class Privacy(Payload, namespace="privacy"):
    choice: Literal["erase", "keep"]


@dataclass(frozen=True, slots=True)
class Question(Payload, namespace="q"):
    """Leave a message for an officer: offered on a topic, write it, drop or keep the draft,
    send it."""

    verb: Literal["offer", "write", "drop", "keep", "send"]
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class MyRequests(Payload, namespace="status"):
    view: Literal["list"]


# The kinds of broadcast a worker may receive (storage.models.SUBSCRIPTION_TOPICS; checked in
# handlers/subscriptions.py, as this module imports nothing of ours).
Topic = Literal["policy", "activities", "support"]


@dataclass(frozen=True, slots=True)
class Subscribe(Payload, namespace="sub"):
    """Which broadcasts to receive: show the choice, turn a topic on or off, take them all,
    done."""

    verb: Literal["show", "on", "off", "all", "done"]
    topic: Topic | None = None


@dataclass(frozen=True, slots=True)
class CaseReply(Payload, namespace="case"):
    """The worker answers an officer on their case."""

    verb: Literal["reply"]
    code: str


@dataclass(frozen=True, slots=True)
class Vote(Payload, namespace="poll"):
    """An answer to a quick poll: the poll (its broadcast's id) and the option's index."""

    poll: int
    option: int


# ---------------------------------------------------------------------------- the officers'

OfficerVerb = Literal["view", "claim", "reply", "note", "move", "up", "give", "close", "admit"]


@dataclass(frozen=True, slots=True)
class OfficerAction(Payload, namespace="o"):
    """One tap on a case: `argument` is the colleague's id for "give"."""

    verb: OfficerVerb
    case_id: int
    argument: int | None = None


BroadcastVerb = Literal["topic", "send", "drop", "approve"]
# bot/services/broadcasts.py TOPICS (handlers/announce.py checks they agree).
BroadcastTopic = Literal["policy", "activities", "support"]


@dataclass(frozen=True, slots=True)
class BroadcastAction(Payload, namespace="bc"):
    """A broadcast composed on Telegram: under a draft's preview, switch its topic, send it or
    drop it (`number` is that preview's, so an older preview's buttons are stale); or
    approve a saved one (`number` is the broadcast's id)."""

    verb: BroadcastVerb
    number: int
    topic: BroadcastTopic | None = None
