"""champion/challenger arm assignments (the reports split by arm)

Written by hand (store/models.py ArmAssignmentRow is the model it must match; the schema test in
tests/reports compares them with Alembic). Plain CREATE TABLE runs the same on SQLite and
PostgreSQL; the index goes through batch_alter_table like the earlier revisions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arm_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("experiment", sa.String(length=200), nullable=False),
        sa.Column("arm", sa.String(length=20), nullable=False),
        sa.Column("strategy_ref", sa.String(length=80), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("loan_id", "experiment", name="uq_arm_assignments_loan_experiment"),
    )
    with op.batch_alter_table("arm_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_arm_assignments_loan_id"), ["loan_id"])


def downgrade() -> None:
    with op.batch_alter_table("arm_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_arm_assignments_loan_id"))
    op.drop_table("arm_assignments")
