"""case intake: due times per stage, routing, details, sealed contact and reporter

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_response_due_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("resolution_due_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("route_rule", sa.Integer()))
        batch_op.add_column(sa.Column("workplace_id", ID))
        batch_op.add_column(sa.Column("ward_id", ID))
        batch_op.add_column(
            sa.Column("details", JSON, nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(sa.Column("contact_sealed", sa.LargeBinary()))
        batch_op.add_column(sa.Column("reporter_sealed", sa.LargeBinary()))
        batch_op.add_column(sa.Column("reporter_tag", sa.String(length=64)))
        batch_op.add_column(sa.Column("pin_tag", sa.String(length=64)))
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_workplace_id_workplaces"), "workplaces", ["workplace_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_ward_id_wards"), "wards", ["ward_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_cases_reporter_tag"), ["reporter_tag"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_reporter_tag"))
        batch_op.drop_constraint(batch_op.f("fk_cases_ward_id_wards"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_cases_workplace_id_workplaces"), type_="foreignkey")
        for column in (
            "pin_tag", "reporter_tag", "reporter_sealed", "contact_sealed", "details", "ward_id",
            "workplace_id", "route_rule", "resolution_due_at", "first_response_due_at",
        ):  # fmt: skip
            batch_op.drop_column(column)
