"""A conversation's personal parts, sealed at rest: what a half-filled form holds (name,
phone, the story, the workplace), a form set aside, a question typed for the FAQ, the
outreach link the person came through (a workplace's poster says where they work), the case
the person is answering (beside their chat id it would name the author of an anonymous one).

The dispatcher opens a person's state when it loads it and seals it when it writes it back
(the janitor, bot/retention.py, too); handlers only ever see it open. The rest of the state
(which flow, which step, when a form started) stays readable, so expiry can be found by a
query, and tells nothing about the person.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.services.crypto import Vault

SEALED = "sealed"
ANSWERS = "answers"
PAUSED = "paused"
DRAFT = "draft"
OUTREACH = "outreach"  # bot/services/outreach.py STATE
CASE = "case"  # handlers/case_reply.py, handlers/officer.py
PERSONAL = (ANSWERS, DRAFT, OUTREACH, CASE)


def seal(vault: Vault, state: Mapping[str, Any]) -> dict[str, Any]:
    """The state as stored: its personal parts in one sealed value."""
    stored = dict(state)
    personal: dict[str, Any] = {}
    for key in PERSONAL:
        if key in stored:
            personal[key] = stored.pop(key)
    paused = stored.get(PAUSED)
    if isinstance(paused, dict) and ANSWERS in paused:
        paused = dict(paused)
        personal[PAUSED] = paused.pop(ANSWERS)
        stored[PAUSED] = paused
    if personal:
        stored[SEALED] = vault.seal(json.dumps(personal, ensure_ascii=False)).decode()
    return stored


def open_(vault: Vault, stored: Mapping[str, Any]) -> dict[str, Any]:
    """The state as handlers read it."""
    state = dict(stored)
    token = state.pop(SEALED, None)
    if not isinstance(token, str):
        return state
    try:
        personal = json.loads(vault.open(token.encode()))
    except ValueError:
        return state  # a key no longer held: the draft is lost, the rest goes on
    for key in PERSONAL:
        if key in personal:
            state[key] = personal[key]
    if PAUSED in personal and isinstance(state.get(PAUSED), dict):
        state[PAUSED] = {**state[PAUSED], ANSWERS: personal[PAUSED]}
    return state
