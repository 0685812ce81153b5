"""collector work queue (claims, outcomes)

Who claimed a task and when, who recorded its outcome and when, and an index for the queue's
hot path (open tasks whose window has opened). Written by hand with batch_alter_table so the same
revision runs on SQLite (which rebuilds the table) and PostgreSQL (plain ALTER TABLE).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("outcome_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_tasks_queue", ["status", "not_before"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_queue")
        batch_op.drop_column("outcome_at")
        batch_op.drop_column("outcome_by")
        batch_op.drop_column("claimed_at")
