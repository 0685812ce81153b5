"""sandbox and Twilio messages, inbound replies, consent changes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbound_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=100), nullable=False),
        sa.Column("episode", sa.String(length=64), nullable=False),
        sa.Column("action_seq", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("template", sa.String(length=80), nullable=True),
        sa.Column("locale", sa.String(length=20), nullable=False),
        sa.Column("to_number", sa.String(length=32), nullable=False),
        sa.Column("from_number", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=True),
        sa.Column("encoding", sa.String(length=10), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("provider_status", sa.String(length=20), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("answered_by", sa.String(length=30), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("reconciled", sa.Boolean(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signal_outcome", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "workflow_id", "episode", "action_seq", name="uq_outbound_contacts_attempt"
        ),
        sa.UniqueConstraint("provider_sid"),
    )
    with op.batch_alter_table("outbound_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbound_contacts_loan_id"), ["loan_id"])
        batch_op.create_index(batch_op.f("ix_outbound_contacts_to_number"), ["to_number"])
        batch_op.create_index(batch_op.f("ix_outbound_contacts_state"), ["state"])

    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=False),
        sa.Column("from_number", sa.String(length=32), nullable=False),
        sa.Column("to_number", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("keyword", sa.String(length=20), nullable=True),
        sa.Column("loan_id", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signal_outcome", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_sid"),
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_messages_from_number"), ["from_number"])
        batch_op.create_index(batch_op.f("ix_inbound_messages_loan_id"), ["loan_id"])

    op.create_table(
        "consent_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("keyword", sa.String(length=20), nullable=True),
        sa.Column("inbound_sid", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signal_outcome", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_changes_number"), ["number"])
        batch_op.create_index(batch_op.f("ix_consent_changes_loan_id"), ["loan_id"])
        batch_op.create_index(batch_op.f("ix_consent_changes_inbound_sid"), ["inbound_sid"])


def downgrade() -> None:
    with op.batch_alter_table("consent_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_changes_inbound_sid"))
        batch_op.drop_index(batch_op.f("ix_consent_changes_loan_id"))
        batch_op.drop_index(batch_op.f("ix_consent_changes_number"))
    op.drop_table("consent_changes")

    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_messages_loan_id"))
        batch_op.drop_index(batch_op.f("ix_inbound_messages_from_number"))
    op.drop_table("inbound_messages")

    with op.batch_alter_table("outbound_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_contacts_state"))
        batch_op.drop_index(batch_op.f("ix_outbound_contacts_to_number"))
        batch_op.drop_index(batch_op.f("ix_outbound_contacts_loan_id"))
    op.drop_table("outbound_contacts")
