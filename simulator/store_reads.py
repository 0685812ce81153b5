"""What the simulator reads of the store at each stop (issue 19): the actions written since the
last stop, and only the account snapshots that changed, judged from a narrow fingerprint of
every row. Apart from the engine so the engine stays one job: driving the people and the clock."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Text, cast, func
from sqlalchemy import select as sa_select

from store.engine import session_scope
from store.models import AccountRow, ActionRow

__all__ = ["read_store"]


def read_store(
    database_url: str, after_id: int, seen: dict[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    """The actions written since the last stop, and the snapshots that changed since then
    (issue 19: not every account's at every stop). Which changed is judged from a narrow
    read of every row: the snapshot's instant, its columns and the length of its status
    document (a hold added, ended or lifted changes it), against what the last stop saw
    (`seen`); only those rows are read whole. Returns the new fingerprints too."""
    actions: Any = ActionRow.__table__.c  # type: ignore[attr-defined]
    accounts: Any = AccountRow.__table__.c  # type: ignore[attr-defined]
    with session_scope(database_url) as session:
        connection = session.connection()
        new = connection.execute(
            sa_select(
                actions.id,
                actions.loan_id,
                actions.at,
                actions.kind,
                actions.channel,
                actions.status,
                actions.detail,
            )
            .where(actions.id > after_id)
            .order_by(actions.id)
        ).mappings()
        new_actions = [dict(r) for r in new]
        # One text per row, made by the database: no per-column conversion (money, times)
        # in Python for the rows that did not change.
        parts = (
            accounts.updated_at,
            accounts.state,
            accounts.dpd,
            accounts.bucket,
            accounts.amount_overdue,
            accounts.paid_total,
            accounts.closed_at,
            func.length(cast(accounts.status, Text)),
        )
        texts: list[Any] = [func.coalesce(cast(part, Text), "") for part in parts]
        mark = functools.reduce(lambda left, right: left + "|" + right, texts)
        marks = connection.execute(sa_select(accounts.loan_id, mark)).all()
        fingerprints: dict[str, str] = {loan: text for loan, text in marks}
        changed = [loan for loan, text in fingerprints.items() if seen.get(loan) != text]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(changed), 500):
            rows = connection.execute(
                sa_select(
                    accounts.loan_id,
                    accounts.state,
                    accounts.dpd,
                    accounts.bucket,
                    accounts.status,
                ).where(accounts.loan_id.in_(changed[start : start + 500]))
            ).mappings()
            found.update((r["loan_id"], dict(r)) for r in rows)
    # In the table's order, as a read of every row gave them.
    snapshots = [found[loan] for loan in changed if loan in found]
    return new_actions, snapshots, fingerprints
