"""policy_versions: the content hash of every policy document version a worker has served, so a
file changed without a new version stops the next worker at start (domain/policy.py)

Written by hand (store/models.py PolicyVersionRow is the model it must match; the schema tests
compare them with Alembic).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", "version"),
    )


def downgrade() -> None:
    op.drop_table("policy_versions")
