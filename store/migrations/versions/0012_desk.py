"""staff_users and account_directory: the desk's sign-in and the account search by borrower name
or phone ending (issue 15)

Written by hand (store/staff.py StaffUserRow and AccountDirectoryRow are the models it must
match; tests/desk/test_schema.py compares them with Alembic).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_table(
        "account_directory",
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("phone_endings", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("loan_id"),
    )
    with op.batch_alter_table("account_directory", schema=None) as batch_op:
        batch_op.create_index("ix_account_directory_borrower_id", ["borrower_id"], unique=False)
        batch_op.create_index("ix_account_directory_name_key", ["name_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("account_directory", schema=None) as batch_op:
        batch_op.drop_index("ix_account_directory_name_key")
        batch_op.drop_index("ix_account_directory_borrower_id")
    op.drop_table("account_directory")
    op.drop_table("staff_users")
