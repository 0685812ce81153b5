"""drop loan_system_outbox: the loan system hears write-offs as events (issue 16)

The outbox only ever held approved write-offs, and nothing delivered it; since migration 0011
every write-off was also recorded as a `write_off.approved` event in the same transaction, and
now `post_write_off` records only the event. Any outbox row without its event (one written
before the event log existed) is copied into `events` first, under the key the activity uses
(`<loan>:write_off:<workflow id>`), so nothing the loan system was owed is lost. Written by
hand; downgrade recreates the empty table.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    meta = sa.MetaData()
    outbox = sa.Table("loan_system_outbox", meta, autoload_with=bind)
    events = sa.Table("events", meta, autoload_with=bind)
    known = {key for (key,) in bind.execute(sa.select(events.c.key))}
    rows = bind.execute(sa.select(outbox).order_by(outbox.c.id)).mappings().all()
    for row in rows:
        key = f"{row['loan_id']}:write_off:{row['idempotency_key']}"
        if key in known:
            continue
        bind.execute(
            events.insert().values(
                key=key,
                at=row["created_at"],
                loan_id=row["loan_id"],
                type="write_off.approved",
                data={"reference": f"LSO-{row['id']:08d}", **(row["payload"] or {})},
                attempts=0,
            )
        )
    with op.batch_alter_table("loan_system_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loan_system_outbox_loan_id"))
    op.drop_table("loan_system_outbox")


def downgrade() -> None:
    op.create_table(
        "loan_system_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_loan_system_outbox_idempotency_key"),
    )
    with op.batch_alter_table("loan_system_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loan_system_outbox_loan_id"), ["loan_id"])
