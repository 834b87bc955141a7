"""officer work: invites, officers' groups, escalation origin, first response time

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere ids are 64-bit.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "officer_groups",
        sa.Column("id", ID, nullable=False),
        sa.Column("union_id", ID, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["union_id"], ["unions.id"], name=op.f("fk_officer_groups_union_id_unions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officer_groups")),
        sa.UniqueConstraint("channel", "chat_id", name=op.f("uq_officer_groups_channel_chat_id")),
    )
    with op.batch_alter_table("officer_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_officer_groups_union_id"), ["union_id"], unique=False)
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invite_tag", sa.String(length=64)))
        batch_op.add_column(sa.Column("invite_expires_at", sa.DateTime(timezone=True)))
        batch_op.create_unique_constraint(batch_op.f("uq_officers_invite_tag"), ["invite_tag"])
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin_union_id", ID))
        batch_op.add_column(sa.Column("first_response_at", sa.DateTime(timezone=True)))
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_origin_union_id_unions"), "unions", ["origin_union_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cases_origin_union_id_unions"), type_="foreignkey")
        batch_op.drop_column("first_response_at")
        batch_op.drop_column("origin_union_id")
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_officers_invite_tag"), type_="unique")
        batch_op.drop_column("invite_expires_at")
        batch_op.drop_column("invite_tag")
    with op.batch_alter_table("officer_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officer_groups_union_id"))
    op.drop_table("officer_groups")
