"""payments attributed to agencies, and recoveries after write-off

A payment made while the loan is placed with an agency carries the placement, the agency and
the commission it earns (the agency's statement and its recovery rate are sums over these rows);
a payment after write-off is booked as a `recovery`, not a payment in collection. Added columns
only, nullable or with a default, so the revision runs the same on SQLite and PostgreSQL.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agency_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("placement_id", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("commission", sa.Numeric(18, 4), nullable=True))
        batch_op.add_column(
            sa.Column(
                "booked_as", sa.String(length=20), nullable=False, server_default="collection"
            )
        )
        batch_op.create_index(batch_op.f("ix_payments_placement_id"), ["placement_id"])


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_placement_id"))
        batch_op.drop_column("booked_as")
        batch_op.drop_column("commission")
        batch_op.drop_column("placement_id")
        batch_op.drop_column("agency_id")
