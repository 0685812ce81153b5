"""legal_cases.filed_on and legal_cases.case_number: the court's filing date and case number,
reported by the legal team through the legal status API (issue 17 item 4; branch `legal`)

Written by hand (store/legal.py LegalCaseRow is the model it must match; tests/agencies/
test_schema.py compares them with Alembic).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("legal_cases") as batch:
        batch.add_column(sa.Column("filed_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("case_number", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("legal_cases") as batch:
        batch.drop_column("case_number")
        batch.drop_column("filed_on")
