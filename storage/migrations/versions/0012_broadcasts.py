"""broadcasts: subscriptions, broadcasts and one delivery row per recipient

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("person_id", ID, nullable=False),
        sa.Column("topic", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "topic IN ('policy', 'activities', 'support')", name=op.f("ck_subscriptions_topic")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_subscriptions_person_id_people")
        ),
        sa.PrimaryKeyConstraint("person_id", "topic", name=op.f("pk_subscriptions")),
    )
    op.create_table(
        "broadcasts",
        sa.Column("id", ID, nullable=False),
        sa.Column("union_id", ID, nullable=False),
        sa.Column("author_id", ID, nullable=True),
        sa.Column("approved_by", ID, nullable=True),
        sa.Column("topic", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=True),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("audience", JSON, nullable=False),
        sa.Column("whole_federation", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.CheckConstraint(
            "status IN ('awaiting_approval', 'scheduled', 'sending', 'paused', 'cancelled', "
            "'done')",
            name=op.f("ck_broadcasts_status"),
        ),
        sa.ForeignKeyConstraint(
            ["union_id"], ["unions.id"], name=op.f("fk_broadcasts_union_id_unions")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["officers.id"], name=op.f("fk_broadcasts_author_id_officers")
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"], ["officers.id"], name=op.f("fk_broadcasts_approved_by_officers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    op.create_index("ix_broadcasts_due", "broadcasts", ["status", "send_at"])
    op.create_table(
        "broadcast_deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("broadcast_id", ID, nullable=False),
        sa.Column("person_id", ID, nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=60), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'unreachable', 'uncertain', "
            "'skipped')",
            name=op.f("ck_broadcast_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["broadcast_id"], ["broadcasts.id"],
            name=op.f("fk_broadcast_deliveries_broadcast_id_broadcasts"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_broadcast_deliveries_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_deliveries")),
        sa.UniqueConstraint(
            "broadcast_id", "person_id",
            name=op.f("uq_broadcast_deliveries_broadcast_id_person_id"),
        ),
    )  # fmt: skip
    op.create_index(
        "ix_broadcast_deliveries_due",
        "broadcast_deliveries",
        ["channel", "status", "broadcast_id", "id"],
    )
    op.create_index(
        op.f("ix_broadcast_deliveries_person_id"), "broadcast_deliveries", ["person_id"]
    )


def downgrade() -> None:
    op.drop_table("broadcast_deliveries")
    op.drop_table("broadcasts")
    op.drop_table("subscriptions")
