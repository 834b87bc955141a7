"""promotion sends: broadcasts that went to a Zalo follower as a promotion message, by day

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "promotion_sends",
        sa.Column("delivery_id", ID, autoincrement=False, nullable=False),
        sa.Column("person_id", ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_promotion_sends_person_id_people")
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_promotion_sends")),
    )
    op.create_index(
        "ix_promotion_sends_person_day", "promotion_sends", ["person_id", "day"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_promotion_sends_person_day", table_name="promotion_sends")
    op.drop_table("promotion_sends")
