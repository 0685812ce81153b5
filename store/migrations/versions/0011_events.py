"""events: the business facts the loan system hears, in order, with their delivery state
(store/events.py EventRow is the model it must match; the schema tests compare them)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=400), nullable=True),
        sa.UniqueConstraint("key", name="uq_events_key"),
    )
    op.create_index("ix_events_loan_id", "events", ["loan_id"])
    op.create_index("ix_events_undelivered", "events", ["delivered_at", "loan_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_undelivered", table_name="events")
    op.drop_index("ix_events_loan_id", table_name="events")
    op.drop_table("events")
