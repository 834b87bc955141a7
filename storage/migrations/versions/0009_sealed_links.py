"""sealed links: a person's anonymous cases as a sealed list, outbox bodies sealed, wrong PINs
counted per case

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On SQLite the outbox is rebuilt with AUTOINCREMENT, so a deleted last row's id is never
    # given to a new message (the sender and the web chat track messages by id).
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "outbox",
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True},
    ) as batch_op:
        batch_op.add_column(sa.Column("sealed", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cases_sealed", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pin_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("pin_failed_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("pin_failed_on")
        batch_op.drop_column("pin_failures")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("sealed")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("version")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("cases_sealed")
