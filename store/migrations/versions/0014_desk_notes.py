"""account_notes: what collectors and supervisors write on an account (issue 15, the desk)

Written by hand (store/notes.py AccountNoteRow is the model it must match;
tests/api/test_notes.py compares them with Alembic).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("account_notes", schema=None) as batch_op:
        batch_op.create_index("ix_account_notes_loan_id", ["loan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("account_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_account_notes_loan_id")
    op.drop_table("account_notes")
