"""outreach and polls: outreach links and their counts, quick polls' answers

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "outreach_links",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("union_id", ID, nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("workplace_id", ID, nullable=True),
        sa.Column("ward_id", ID, nullable=True),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _fk("outreach_links", "union_id", "unions"),
        _fk("outreach_links", "workplace_id", "workplaces"),
        _fk("outreach_links", "ward_id", "wards"),
        _fk("outreach_links", "created_by", "officers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_links")),
        sa.UniqueConstraint("code", name=op.f("uq_outreach_links_code")),
    )
    op.create_index(op.f("ix_outreach_links_union_id"), "outreach_links", ["union_id"])
    op.create_table(
        "outreach_counts",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=12), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint("step IN ('arrival', 'question')", name=op.f("ck_outreach_counts_step")),
        sa.PrimaryKeyConstraint("month", "link_id", "step", name=op.f("pk_outreach_counts")),
    )
    op.create_table(
        "poll_answers",
        sa.Column("broadcast_id", ID, nullable=False),
        sa.Column("respondent", sa.String(length=64), nullable=False),
        sa.Column("option", sa.Integer(), nullable=False),
        sa.Column("union_id", ID, nullable=True),
        sa.Column("ward_id", ID, nullable=True),
        sa.Column("workplace_id", ID, nullable=True),
        sa.Column("work", sa.String(length=20), nullable=True),
        sa.Column("answered_at", TIME, nullable=False),
        _fk("poll_answers", "broadcast_id", "broadcasts"),
        _fk("poll_answers", "union_id", "unions"),
        _fk("poll_answers", "ward_id", "wards"),
        _fk("poll_answers", "workplace_id", "workplaces"),
        sa.PrimaryKeyConstraint("broadcast_id", "respondent", name=op.f("pk_poll_answers")),
    )
    with op.batch_alter_table("broadcasts") as batch_op:
        batch_op.add_column(sa.Column("poll_options", JSON, nullable=True))
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("outreach_link_id", ID, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_cases_outreach_link_id_outreach_links"),
            "outreach_links", ["outreach_link_id"], ["id"],
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_constraint(
            op.f("fk_cases_outreach_link_id_outreach_links"), type_="foreignkey"
        )
        batch_op.drop_column("outreach_link_id")
    with op.batch_alter_table("broadcasts") as batch_op:
        batch_op.drop_column("poll_options")
    op.drop_table("poll_answers")
    op.drop_table("outreach_counts")
    op.drop_index(op.f("ix_outreach_links_union_id"), "outreach_links")
    op.drop_table("outreach_links")
