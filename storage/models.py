"""Typed SQLAlchemy 2 models: singular classes, plural tables.

Timestamps are always timezone-aware UTC in Python (UTCDateTime), whatever the database
stores. JSON columns are JSONB on PostgreSQL. Every table here has a migration in
storage/migrations; tests/storage/test_migrations.py fails on drift.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, orm_insert_sentinel
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere ids are 64-bit.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")

CASE_KINDS = ("membership", "grievance", "support", "question")
CASE_STATUSES = ("new", "assigned", "waiting_worker", "resolved", "closed")
EVIDENCE_STATUSES = ("pending", "ready", "rejected", "failed")
UNION_LEVELS = ("federation", "cluster", "grassroots")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _check_in(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: Json}


class Union(Base):
    """A union in the federation tree: the root federation, ward clusters, grassroots unions."""

    __tablename__ = "unions"
    __table_args__ = (_check_in("level", UNION_LEVELS, "level"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unions.id"))
    # The ward FK is added after the wards table exists (wards point back at unions).
    ward_id: Mapped[int | None] = mapped_column(
        ForeignKey("wards.id", use_alter=True, name="fk_unions_ward_id_wards")
    )


class Ward(Base):
    """A ward (phường/xã) after the 2025 merger; aliases hold the old ward names it absorbed."""

    __tablename__ = "wards"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    aliases: Mapped[list[str]] = mapped_column(Json, default=list)
    organizing_union_id: Mapped[int] = mapped_column(ForeignKey("unions.id"))


class Workplace(Base):
    """An enterprise or employer in the directory, with its grassroots union if it has one."""

    __tablename__ = "workplaces"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    aliases: Mapped[list[str]] = mapped_column(Json, default=list)
    tax_code: Mapped[str | None] = mapped_column(String(20), unique=True)
    ward_id: Mapped[int] = mapped_column(ForeignKey("wards.id"))
    union_id: Mapped[int | None] = mapped_column(ForeignKey("unions.id"))
    workers: Mapped[int | None] = mapped_column(Integer)


class Person(Base):
    """Someone who wrote to the bot on one channel. No name is kept; the phone only encrypted."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    channel_user_id: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="vi")
    consent_at: Mapped[datetime | None]
    phone_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The ids of the person's anonymous cases, sealed: only the key links them to the person,
    # and nothing shared between those cases groups them (bot/services/reporters.py).
    cases_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the person last wrote, to the minute, sealed (bot/services/reach.py): a messenger's
    # reply window (Zalo's) is counted from it, and a time in clear could be matched to a case's.
    heard_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The day only (people.first_seen): an exact time could be matched to a case's.
    created_at: Mapped[datetime]


class Conversation(Base):
    """Where a person is in the dialogue (active form, drafts); one row per person."""

    __tablename__ = "conversations"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The day only (storage/conversations.py), so changes are told apart by this count.
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


def partial_index(name: str, *columns: str, where: TextClause) -> Index:
    """An index over the rows `where` holds for, on both backends."""
    return Index(name, *columns, postgresql_where=where, sqlite_where=where)


WAITING = text("status = 'pending'")
UNSENT = text("sent_at IS NULL")


class InboxItem(Base):
    """One update as the channel delivered it, stored before it is acknowledged.

    Unique on (channel, external_id) so a redelivery is a no-op. Once processed, the payload
    is cleared: only what deduplication needs is kept.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        # The claims' index: only the updates waiting to be processed (migration 0018), so a
        # handled update leaves no entry for them to step over.
        partial_index("ix_inbox_waiting", "channel", "chat", "id", where=WAITING),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(200))
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    # Whose update it is, as a hash of channel and sender: one chat's updates are processed
    # one at a time and in order, across processes (storage/inbox.py). Cleared once handled.
    chat: Mapped[str | None] = mapped_column(String(32))


class OutboxItem(Base):
    """A message to send, written in the same transaction as the effects that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "sent_at", "id"),
        # The web chat reads a visitor's replies by chat.
        Index("ix_outbox_chat", "channel", "chat_id", "id"),
        # Whether another process has an unsent message to a chat (migration 0018): only the
        # unsent ones, so a chat's history is not stepped over each time.
        partial_index("ix_outbox_unsent", "channel", "chat_id", "id", where=UNSENT),
        # Ids are never reused on SQLite either: the sender and the web chat's readers track
        # messages by id, and old rows are deleted (retention).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # Lets SQLite insert a batch of rows in one statement and still hand back their ids in
    # order (its autoincrement ids cannot serve as the sentinel); holds nothing afterwards.
    _sentinel: Mapped[int | None] = orm_insert_sentinel()
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(64))
    # Rows written since 0009 keep the text and buttons only in `sealed` (bot/outbox.py):
    # a receipt's code and PIN are never in clear; `text` and `buttons` stay empty.
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[list[list[str]]]] = mapped_column(Json, default=list)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    failed: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(String(200))
    # Held until the person writes again: the messenger no longer lets us reach them (Zalo's
    # reply window closed, or they unfollowed); `last_error` says why.
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The process that sends it (bot/outbox.py): the one that wrote it, or the one that took
    # it over when that process died.
    owner: Mapped[str | None] = mapped_column(String(80))


class Lease(Base):
    """Something one process holds at a time, until `expires_at` unless renewed: a duty
    (storage/leases.py), or a process's own liveness."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[datetime]


class LoginFailure(Base):
    """Wrong dashboard passwords in a row for one login name as typed, kept under its keyed
    hash (a password typed into the login field stays unreadable), shared by every process
    (storage/logins.py; bot/web/auth.py decides what they mean)."""

    __tablename__ = "login_failures"

    name_tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int]
    last_at: Mapped[datetime]


class ShownChoices(Base):
    """The options last shown as numbered lines in a chat whose messenger cannot show them as
    buttons (too many, or labels too long): the number typed back picks one. Sealed."""

    __tablename__ = "shown_choices"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # The day only; the janitor forgets them after a week.
    shown_at: Mapped[datetime]


class Credential(Base):
    """A messenger's API tokens (Zalo's access and single-use refresh token), sealed, with
    the lease that lets exactly one process refresh them (bot/channels/zalo.py)."""

    __tablename__ = "credentials"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    access_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_expires_at: Mapped[datetime | None]
    # When the refresh token was issued: it lasts about three months.
    refreshed_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    # Set when the messenger refused the refresh token: an admin must authorise again.
    broken: Mapped[str | None] = mapped_column(String(200))
    broken_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Officer(Base):
    """A union officer: belongs to a union; role officer or admin."""

    __tablename__ = "officers"
    __table_args__ = (_check_in("role", ("officer", "admin"), "role"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    union_id: Mapped[int] = mapped_column(ForeignKey("unions.id"))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10), default="officer")
    login: Mapped[str | None] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    telegram_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # A one-time code the officer sends to the bot to link their Telegram account: only its
    # keyed hash is kept, until it is used or expires.
    invite_tag: Mapped[str | None] = mapped_column(String(64), unique=True)
    invite_expires_at: Mapped[datetime | None]


class OfficerSession(Base):
    """A dashboard login. The cookie holds a random token; only its hash is stored, so a
    copy of the database opens no session. Logout deletes the row."""

    __tablename__ = "officer_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_tag: Mapped[str] = mapped_column(String(64), unique=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class CannedReply(Base):
    """A ready answer officers can send in one tap; admins maintain the list."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    updated_at: Mapped[datetime]


class OfficerGroup(Base):
    """A messenger group of a union's officers, registered to be told of new cases there.
    Groups not registered get nothing."""

    __tablename__ = "officer_groups"
    __table_args__ = (UniqueConstraint("channel", "chat_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    union_id: Mapped[int] = mapped_column(ForeignKey("unions.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class CaseCounter(Base):
    """The last number handed out per code prefix and year (KN-2026-000042)."""

    __tablename__ = "case_counters"

    prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Case(Base):
    """A request in a union's queue: membership interest, grievance, support or question."""

    __tablename__ = "cases"
    __table_args__ = (
        _check_in("kind", CASE_KINDS, "kind"),
        _check_in("status", CASE_STATUSES, "status"),
        Index("ix_cases_queue", "union_id", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    category: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="new")
    union_id: Mapped[int] = mapped_column(ForeignKey("unions.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # Due times per stage, in working days from opening (bot/services/calendar.py).
    first_response_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    # How the router decided (rule 1-4), and the workplace and ward it used.
    route_rule: Mapped[int | None] = mapped_column(Integer)
    workplace_id: Mapped[int | None] = mapped_column(ForeignKey("workplaces.id"))
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("wards.id"))
    # The form's answers that identify nobody (category, since when, how many...).
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Name, phone and contact time, sealed (bot/services/crypto.py); officers open them.
    contact_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Anonymous cases have no person_id: the reporter is sealed (to relay replies), and the
    # person's own sealed list (people.cases_sealed) finds it for "My requests".
    reporter_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Before 0009 a keyed hash of the reporter, shared by their anonymous cases; read once to
    # move such cases into the sealed list, then cleared (bot/services/reporters.py).
    reporter_tag: Mapped[str | None] = mapped_column(String(64), index=True)
    # A keyed hash of the code and the PIN given to an anonymous reporter, so they can look
    # the case up from another account (/tracuu CODE PIN).
    pin_tag: Mapped[str | None] = mapped_column(String(64))
    # Wrong PINs tried on this case today (/tracuu): counted per case, not per visitor.
    pin_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pin_failed_on: Mapped[date | None] = mapped_column(Date)
    # Escalation moves the case to the parent union; the union it came from first keeps
    # read access.
    origin_union_id: Mapped[int | None] = mapped_column(ForeignKey("unions.id"))
    first_response_at: Mapped[datetime | None]
    # The outreach link the worker came through (a membership request only: the funnel
    # counts them; an anonymous case never carries it).
    outreach_link_id: Mapped[int | None] = mapped_column(ForeignKey("outreach_links.id"))


class Evidence(Base):
    """A photo, voice message or document a worker sent with a report or request.

    It is recorded when it arrives (with the channel's file reference, nothing of the
    sender) and fetched in the background: images are re-encoded and PDF metadata removed
    before `content` is stored, and the reference is then dropped. Until the form is sent,
    case_id is empty and the row is only known to the worker's form state.
    """

    __tablename__ = "evidence"
    __table_args__ = (
        _check_in("status", EVIDENCE_STATUSES, "status"),
        Index("ix_evidence_pending", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(12))  # photo, voice, document
    mime: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    fetched_at: Mapped[datetime | None]
    # Loaded only when asked for: lists of evidence never carry the bytes.
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class CaseMessage(Base):
    """One entry in a case's thread: from the worker, an officer, the system, or a note."""

    __tablename__ = "case_messages"
    __table_args__ = (_check_in("author", ("worker", "officer", "system", "note"), "author"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author: Mapped[str] = mapped_column(String(10))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class AuditEntry(Base):
    """Who did what to which case, and when. Never holds message text or identities."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(20))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    action: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class UnansweredQuestion(Base):
    """A question the FAQ search could not answer confidently, grouped with similar ones so
    officers see what content is missing. Numbers long enough to be a phone or an id number
    are masked before the text is stored."""

    __tablename__ = "unanswered_questions"
    __table_args__ = (UniqueConstraint("language", "key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    # The question's content words, folded and sorted: similar wordings share one row.
    key: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)  # the latest wording
    suggestions: Mapped[list[str]] = mapped_column(Json, default=list)
    count: Mapped[int] = mapped_column(Integer, default=1)
    # Keyed hashes of who asked (not who they are), so a person's /xoadulieu can erase
    # their askings; text_by is the one whose wording is kept.
    askers: Mapped[list[str]] = mapped_column(Json, default=list)
    text_by: Mapped[str | None] = mapped_column(String(64))
    first_asked_at: Mapped[datetime]
    last_asked_at: Mapped[datetime] = mapped_column(index=True)


class Lesson(Base):
    """A wording officers taught the FAQ matcher (bot/services/teaching.py): the topic it
    belongs to, or "out_of_scope". Numbers, e-mail addresses and names are masked before it
    is stored; it is a wording, not a person's message."""

    __tablename__ = "lessons"
    __table_args__ = (UniqueConstraint("language", "text"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(String(500))
    topic: Mapped[str] = mapped_column(String(80))
    taught_by: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    taught_at: Mapped[datetime]


# What a worker may subscribe to (handlers/subscriptions.py); a broadcast goes to one of them.
SUBSCRIPTION_TOPICS = ("policy", "activities", "support")
BROADCAST_STATUSES = (
    "awaiting_approval", "scheduled", "sending", "paused", "cancelled", "done",
)  # fmt: skip
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "unreachable", "uncertain", "skipped")


class Subscription(Base):
    """A worker's choice to receive one kind of broadcast; stopping deletes the row."""

    __tablename__ = "subscriptions"
    __table_args__ = (_check_in("topic", SUBSCRIPTION_TOPICS, "topic"),)

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(20), primary_key=True)
    # The day only, like every time kept of a person.
    created_at: Mapped[datetime]


class Broadcast(Base):
    """A message from a union to the subscribed workers of an audience (bot/broadcaster.py
    delivers it). `audience` holds the filters as chosen (bot/services/broadcasts.py)."""

    __tablename__ = "broadcasts"
    __table_args__ = (
        _check_in("status", BROADCAST_STATUSES, "status"),
        Index("ix_broadcasts_due", "status", "send_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # Whose broadcast it is: the author's union, or the union whose subtree it goes to.
    union_id: Mapped[int] = mapped_column(ForeignKey("unions.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    topic: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # To everyone the federation reaches: needs a second admin's approval.
    whole_federation: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    send_at: Mapped[datetime]
    created_at: Mapped[datetime]
    approved_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Recipients fixed when sending started (the audience counted again then).
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Deliveries counted by "status" or "status:reason", kept when the janitor deletes the
    # delivery rows of a finished broadcast (bot/retention.py), so its report stays whole.
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A quick poll's answers (2 to POLL_OPTIONS), shown as buttons under the text; None for
    # a plain message. Answers: PollAnswer.
    poll_options: Mapped[list[str] | None] = mapped_column(Json)


class BroadcastImage(Base):
    """A broadcast's picture, sent with its text: a JPEG re-encoded from the pixels alone
    (bot/services/scrubber.py), so nothing of where or with what it was taken goes out. Its
    own table, so that lists of broadcasts never load it."""

    __tablename__ = "broadcast_images"

    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


class BroadcastDelivery(Base):
    """One recipient of one broadcast: unique, so nobody gets it twice, whatever restarts or
    how many processes. `sending` is claimed: the send may have happened."""

    __tablename__ = "broadcast_deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "person_id"),
        _check_in("status", DELIVERY_STATUSES, "status"),
        Index("ix_broadcast_deliveries_due", "channel", "status", "broadcast_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"))
    # Cleared when the person erases their data; the row stays counted.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    # Why it failed or could not be sent (a reason code, never a message's text).
    reason: Mapped[str | None] = mapped_column(String(60))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class PromotionSend(Base):
    """A broadcast that went to a Zalo follower as a promotion message (tin truyền thông),
    counted against Zalo's quota per follower per day and per calendar month (Vietnam time).
    One row per delivery, so a retried send is counted once; the day only, like every time
    kept of a person (storage/promotions.py)."""

    __tablename__ = "promotion_sends"
    __table_args__ = (Index("ix_promotion_sends_person_day", "person_id", "day"),)

    delivery_id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    day: Mapped[date] = mapped_column(Date)


POLL_OPTIONS = 6  # at most, as buttons (numbered lines on Zalo)


class PollAnswer(Base):
    """One worker's answer to a quick poll, replaced when they change it. `respondent` is a
    keyed hash of the poll and the person (bot/services/polls.py), never the person's id: the
    results are counts by answer and by the segment facts kept beside it."""

    __tablename__ = "poll_answers"

    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"), primary_key=True)
    respondent: Mapped[str] = mapped_column(String(64), primary_key=True)
    option: Mapped[int] = mapped_column(Integer)
    # What the worker already told the bot (a case filed under their name), for the results
    # by segment; None where it is not known.
    union_id: Mapped[int | None] = mapped_column(ForeignKey("unions.id"))
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("wards.id"))
    workplace_id: Mapped[int | None] = mapped_column(ForeignKey("workplaces.id"))
    work: Mapped[str | None] = mapped_column(String(20))  # kind of work (labels.CONTRACTS)
    # The day only, like every time kept of a person.
    answered_at: Mapped[datetime]


class OutreachLink(Base):
    """A link an officer hands out (a poster's QR code) for a workplace, a ward or a campaign.
    `code` is random and carries nothing about anyone; arrivals are only counted."""

    __tablename__ = "outreach_links"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    union_id: Mapped[int] = mapped_column(ForeignKey("unions.id"), index=True)
    label: Mapped[str] = mapped_column(String(120))
    # Pre-filled for routing when a worker who came through it fills in a form.
    workplace_id: Mapped[int | None] = mapped_column(ForeignKey("workplaces.id"))
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("wards.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    created_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


OUTREACH_STEPS = ("arrival", "question")


class OutreachCount(Base):
    """How many people took a step of the membership funnel in a month, through a link
    (`link_id`) or at all (`link_id` 0): counts only, nobody in them. The later steps
    (interest, contacted, admitted) are counted from the membership cases."""

    __tablename__ = "outreach_counts"
    __table_args__ = (_check_in("step", OUTREACH_STEPS, "step"),)

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # '2026-12', Vietnam time
    link_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[str] = mapped_column(String(12), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
