"""agency registry, placements, legal cases and their status history

Written by hand (store/agencies.py and store/legal.py are the models it must match; the schema
tests compare them with Alembic). Plain CREATE TABLE runs the same on SQLite and PostgreSQL;
indexes go through batch_alter_table like the earlier revisions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("agency_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("commission_rate", sa.Numeric(6, 5), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agency_id"),
        sa.UniqueConstraint("name"),
    )

    op.create_table(
        "placements",
        sa.Column("placement_id", sa.String(length=120), nullable=False),
        sa.Column("placement_no", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=100), nullable=False),
        sa.Column("episode", sa.String(length=64), nullable=False),
        sa.Column("action_seq", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.String(length=40), nullable=False),
        sa.Column("commission_rate", sa.Numeric(6, 5), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_placed", sa.Numeric(18, 4), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("recalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recall_reason", sa.String(length=200), nullable=True),
        sa.Column("recall_episode", sa.String(length=64), nullable=True),
        sa.Column("recall_action_seq", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.agency_id"]),
        sa.PrimaryKeyConstraint("placement_id"),
        sa.UniqueConstraint("episode", "action_seq", name="uq_placements_episode_action_seq"),
        sa.UniqueConstraint("placement_no"),
    )
    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_placements_loan_id"), ["loan_id"])
        batch_op.create_index(batch_op.f("ix_placements_status"), ["status"])
        batch_op.create_index("ix_placements_agency_status", ["agency_id", "status"])

    op.create_table(
        "legal_cases",
        sa.Column("case_id", sa.String(length=120), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=100), nullable=False),
        sa.Column("episode", sa.String(length=64), nullable=False),
        sa.Column("action_seq", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount_claimed", sa.Numeric(18, 4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("court", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("case_id"),
        sa.UniqueConstraint("episode", "action_seq", name="uq_legal_cases_episode_action_seq"),
    )
    with op.batch_alter_table("legal_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_cases_loan_id"), ["loan_id"])
        batch_op.create_index(batch_op.f("ix_legal_cases_status"), ["status"])

    op.create_table(
        "legal_case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=120), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["legal_cases.case_id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("legal_case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_case_events_case_id"), ["case_id"])


def downgrade() -> None:
    with op.batch_alter_table("legal_case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_case_events_case_id"))
    op.drop_table("legal_case_events")

    with op.batch_alter_table("legal_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_cases_status"))
        batch_op.drop_index(batch_op.f("ix_legal_cases_loan_id"))
    op.drop_table("legal_cases")

    with op.batch_alter_table("placements", schema=None) as batch_op:
        batch_op.drop_index("ix_placements_agency_status")
        batch_op.drop_index(batch_op.f("ix_placements_status"))
        batch_op.drop_index(batch_op.f("ix_placements_loan_id"))
    op.drop_table("placements")

    op.drop_table("agencies")
