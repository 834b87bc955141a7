"""waiting rows: the hot queries' indexes hold only waiting updates and unsent messages

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05

A claim looks for the waiting updates, oldest first, and for the waiting updates of some
chats. The indexes over every row, (status, id) and (chat, id), kept an entry for each update
handled until the next vacuum (a handled update's status and chat change: PostgreSQL writes
new entries and leaves the old ones), and a claim went through all of them: at 500 updates/s
a few milliseconds more per batch after 20 seconds, and more the longer until the vacuum.
One partial index over the waiting rows, by channel and chat (what a claim asks for), holds no
entry for a handled update's new version.

The same for the outbox: before each batch's replies go, the sender asks whether another
process still has an unsent message to their chats (`others_first`); by (channel, chat_id)
alone that read every message the chat was ever sent (a sent one gets a new version, and its
old entry stays until the vacuum): after 20 s at 1,000 updates/s it was the database's
busiest query. A partial index over the unsent messages, by chat, answers it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("status = 'pending'")
UNSENT = sa.text("sent_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_inbox_pending", table_name="inbox")
    op.drop_index("ix_inbox_chat", table_name="inbox")
    _create_partial("ix_inbox_waiting", "inbox", ["channel", "chat", "id"], WAITING)
    _create_partial("ix_outbox_unsent", "outbox", ["channel", "chat_id", "id"], UNSENT)


def _create_partial(name: str, table: str, columns: list[str], where: sa.TextClause) -> None:
    op.create_index(name, table, columns, postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    op.drop_index("ix_outbox_unsent", table_name="outbox")
    op.drop_index("ix_inbox_waiting", table_name="inbox")
    op.create_index("ix_inbox_chat", "inbox", ["chat", "id"])
    op.create_index("ix_inbox_pending", "inbox", ["status", "id"])
