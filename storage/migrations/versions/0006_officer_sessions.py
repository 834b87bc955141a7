"""officer sessions: dashboard logins

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere ids are 64-bit.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "officer_sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("token_tag", sa.String(length=64), nullable=False),
        sa.Column("officer_id", ID, nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officers.id"], name=op.f("fk_officer_sessions_officer_id_officers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officer_sessions")),
        sa.UniqueConstraint("token_tag", name=op.f("uq_officer_sessions_token_tag")),
    )
    with op.batch_alter_table("officer_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_officer_sessions_officer_id"), ["officer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("officer_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officer_sessions_officer_id"))
    op.drop_table("officer_sessions")
