"""loan system outbox (write-offs posted to the loan system)

Written by hand (store/loan_system.py is the model it must match; the schema test compares
them with Alembic). Plain CREATE TABLE runs the same on SQLite and PostgreSQL; the index goes
through batch_alter_table like the earlier revisions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loan_system_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_loan_system_outbox_idempotency_key"),
    )
    with op.batch_alter_table("loan_system_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loan_system_outbox_loan_id"), ["loan_id"])


def downgrade() -> None:
    with op.batch_alter_table("loan_system_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loan_system_outbox_loan_id"))
    op.drop_table("loan_system_outbox")
