"""accounts.timezone: the borrower's zone, so a timeline built from the store alone (after
Temporal's retention dropped the history) still shows the borrower's local times

Written by hand (store/models.py AccountRow is the model it must match; the schema tests compare
them with Alembic).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("timezone")
