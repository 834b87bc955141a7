"""handlers/payloads.py on its own: every kind of button payload reads back what it packed,
and a string that is not a well-formed payload of the kind is refused (StaleButton), so a
forged or outdated press never reaches a handler as a value."""

from __future__ import annotations

import pytest

from handlers import payloads
from handlers.payloads import (
    Begin,
    BroadcastAction,
    CaseReply,
    Faq,
    Language,
    Menu,
    MyRequests,
    OfficerAction,
    Payload,
    Privacy,
    Question,
    Step,
    Subscribe,
    Vote,
)
from handlers.types import StaleButton

# Each kind with every field, and with its trailing optional fields left out.
EXAMPLES = {
    Menu: [(Menu("home"), "menu:home")],
    Language: [(Language("choose"), "lang:choose"), (Language("vi"), "lang:vi")],
    Faq: [
        (Faq("home"), "faq:home"),
        (Faq("t", "rights.dialogue"), "faq:t:rights.dialogue"),
        (Faq("g", "wages", 2), "faq:g:wages:2"),
    ],
    Step: [
        (Step("grievance", "category", "wages"), "f:grievance:category:wages"),
        (Step("join", "when", "a:b"), "f:join:when:a:b"),  # the last field takes the rest
    ],
    Privacy: [(Privacy("erase"), "privacy:erase"), (Privacy("keep"), "privacy:keep")],
    Question: [(Question("send"), "q:send"), (Question("write", "wages.x"), "q:write:wages.x")],
    MyRequests: [(MyRequests("list"), "status:list")],
    Subscribe: [(Subscribe("show"), "sub:show"), (Subscribe("on", "policy"), "sub:on:policy")],
    CaseReply: [(CaseReply("reply", "KN-2026-000001"), "case:reply:KN-2026-000001")],
    Vote: [(Vote(7, 0), "poll:7:0")],
    OfficerAction: [
        (OfficerAction("claim", 42), "o:claim:42"),
        (OfficerAction("give", 42, 9), "o:give:42:9"),
        (OfficerAction("view", 999_999_999_999), "o:view:999999999999"),  # 12 digits
    ],
    BroadcastAction: [
        (BroadcastAction("send", 3), "bc:send:3"),
        (BroadcastAction("topic", 3, "support"), "bc:topic:3:support"),
    ],
}
CASES = [example for kind in EXAMPLES.values() for example in kind]


def test_every_kind_of_payload_has_examples_here():
    # By name: dataclass(slots=True) makes a new class, and the first stays a subclass too.
    kinds = {getattr(payloads, kind.__name__) for kind in Payload.__subclasses__()}
    assert set(EXAMPLES) == kinds


@pytest.mark.parametrize(("value", "packed"), CASES, ids=[p for _, p in CASES])
def test_every_kind_reads_back_what_it_packed(value, packed):
    assert value.pack() == packed
    assert type(value).unpack(packed) == value
    assert payloads.namespace(packed) == type(value).namespace


@pytest.mark.parametrize("how", ["start", "new"])
def test_starting_a_form_reads_back_what_it_packed(how):
    assert Begin("report", how).pack() == f"report:{how}"
    assert Begin.unpack(f"report:{how}") == Begin("report", how)


MALFORMED = [
    # Not this kind, or no payload at all.
    (OfficerAction, None), (OfficerAction, ""), (OfficerAction, "x:claim:1"),
    (OfficerAction, "O:claim:1"), (OfficerAction, "claim:1"), (Menu, "o:home"),
    (Menu, "menu"), (Begin, "report"), (Begin, "report:"),
    # Missing parts.
    (OfficerAction, "o"), (OfficerAction, "o:"), (OfficerAction, "o:claim"),
    (OfficerAction, "o:claim:"), (Vote, "poll:7"), (Step, "f:grievance:category"),
    (CaseReply, "case:reply"), (Step, "f:grievance::wages"), (Language, "lang:"),
    # Extra parts.
    (OfficerAction, "o:claim:1:2:3"), (OfficerAction, "o:give:42:9:"), (Menu, "menu:home:x"),
    (Vote, "poll:7:0:1"), (Faq, "faq:g:wages:2:3"), (MyRequests, "status:list:more"),
    (Privacy, "privacy:erase:now"), (Begin, "report:start:x"),
    # Numbers that are not plain ASCII digits, or too long to be an id.
    (OfficerAction, "o:claim:²"), (OfficerAction, "o:claim:١٢"), (OfficerAction, "o:claim:１"),
    (OfficerAction, "o:claim:-1"), (OfficerAction, "o:claim:+1"), (OfficerAction, "o:claim: 1"),
    (OfficerAction, "o:claim:1.0"), (OfficerAction, "o:claim:1e3"),
    (OfficerAction, "o:claim:" + "9" * 13), (Vote, "poll:" + "0" * 5000 + "1:0"),
    (Faq, "faq:g:wages:²"), (BroadcastAction, "bc:send:٣"),
    # Values outside a Literal.
    (OfficerAction, "o:fly:1"), (OfficerAction, "o:CLAIM:1"), (Menu, "menu:away"),
    (Faq, "faq:x"), (Privacy, "privacy:sell"), (Question, "q:shout"),
    (MyRequests, "status:all"), (Subscribe, "sub:on:weather"), (CaseReply, "case:edit:KN-1"),
    (BroadcastAction, "bc:topic:3:gossip"), (BroadcastAction, "bc:burn:3"),
    (Begin, "report:again"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "payload"), MALFORMED, ids=[repr(p) for _, p in MALFORMED])
def test_a_malformed_payload_is_refused(kind, payload):
    with pytest.raises(StaleButton):
        kind.unpack(payload)


@pytest.mark.parametrize(
    "value",
    [
        Faq("g", None, 2),  # a missing field before a given one
        Step("grievance", "a:b", "wages"),  # the separator inside a field but the last
        Step("grievance", "category", ""),  # an empty value
        OfficerAction("claim", -1),  # a number unpack would not read
        OfficerAction("fly", 1),  # outside the Literal
    ],
    ids=repr,
)
def test_a_value_that_would_not_read_back_is_not_packed(value):
    """A button is never made with a payload its own handler would refuse as stale."""
    with pytest.raises(ValueError, match="would not read back"):
        value.pack()
