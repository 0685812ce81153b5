"""Rows the API reads, written straight into a test's store: an account the store knows (its
holder, its currency) without running its workflow, for tests of what the API answers from the
store alone."""

from __future__ import annotations

from typing import Any

from store.engine import session_scope
from store.models import AccountRow


def account_row(loan_id: str, **fields: Any) -> AccountRow:
    """A delinquent CNY account at M1 under default@1; `fields` override any column."""
    defaults: dict[str, Any] = {
        "workflow_id": f"account-{loan_id}",
        "episode": "episode-1",
        "state": "delinquent",
        "bucket": "M1",
        "stage": "front_end",
        "segment": "standard",
        "strategy": "default@1",
        "currency": "CNY",
    }
    return AccountRow(loan_id=loan_id, **{**defaults, **fields})


def seed(url: str, *rows: Any) -> None:
    with session_scope(url) as session:
        session.add_all(rows)
