"""PDF letters and mail dispatch batches

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Written by hand to match store/letters.py (plain sa.String, so the script needs no sqlmodel
    # import and runs the same on SQLite and PostgreSQL).
    op.create_table(
        "letters",
        sa.Column("letter_id", sa.String(length=120), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=100), nullable=False),
        sa.Column("episode", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("locale", sa.String(length=20), nullable=False),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("addressee", sa.String(length=200), nullable=False),
        sa.Column("dispatch_date", sa.Date(), nullable=False),
        sa.Column("batch_file", sa.String(length=400), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("letter_id"),
        sa.UniqueConstraint("episode", "seq", name="uq_letters_episode_seq"),
    )
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_letters_loan_id"), ["loan_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_letters_dispatch_date"), ["dispatch_date"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_letters_dispatch_date"))
        batch_op.drop_index(batch_op.f("ix_letters_loan_id"))

    op.drop_table("letters")
