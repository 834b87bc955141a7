"""scale out: the inbox's per-chat ordering key, the outbox's owner, leases

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("inbox", sa.Column("chat", sa.String(length=32), nullable=True))
    op.create_index("ix_inbox_chat", "inbox", ["chat", "id"])
    # Updates waiting since before chats were recorded: each its own chat, as before.
    op.execute(
        "UPDATE inbox SET chat = 'legacy-' || CAST(id AS VARCHAR(20)) "
        "WHERE chat IS NULL AND status = 'pending'"
    )
    op.add_column("outbox", sa.Column("owner", sa.String(length=80), nullable=True))
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=80), nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_column("outbox", "owner")
    op.drop_index("ix_inbox_chat", table_name="inbox")
    op.drop_column("inbox", "chat")
