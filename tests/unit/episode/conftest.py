"""An episode built in memory, as AccountWorkflow builds it, for the decision modules' unit
tests: no server, no clock. Instants are made up, in the borrower's zone (Asia/Shanghai), on
ordinary working days of March 2026 (no public holiday in the shipped calendars)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from domain.account import Account
from domain.calendar import local_instant
from domain.policy import POLICY_DIR, PolicyRegistry, pin_policy
from workflows.account import ladder
from workflows.account.episode import Episode
from workflows.contracts import AccountWorkflowInput

TZ = "Asia/Shanghai"
DUE = date(2026, 3, 10)  # a Tuesday
MOBILE = "+8613800000000"
HOME = "+862161234567"


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """An instant on `day` at the borrower's local hour."""
    return local_instant(day, time(hour, minute), TZ)


def make_account(**changes: Any) -> Account:
    payload: dict[str, Any] = {
        "loan_id": "L-UNIT",
        "borrower": {
            "name": "Zhang San",
            "locale": "zh-CN",
            "timezone": TZ,
            "phones": [
                {"kind": "mobile", "number": MOBILE},
                {"kind": "home", "number": HOME},
            ],
            "address": "1 Example Road, Shanghai",
            "consents": {"sms": True, "voice": True},
        },
        "contacts": [{"name": "Li Si", "relation": "spouse", "phone": "+8613912345678"}],
        "currency": "CNY",
        "instalments": [
            {"seq": 7, "due_date": DUE.isoformat(), "amount": "1200.00"},
            {"seq": 8, "due_date": "2026-04-10", "amount": "1200.00"},
        ],
        "penalty_rate_daily": "0.0005",
        "segment": "standard",
        "jurisdiction": "CN",
        "history": {"prior_delinquencies": 0, "ever_paid": True},
    }
    payload.update(changes)
    return Account.model_validate(payload)


EpisodeFactory = Callable[..., Episode]


@pytest.fixture
def new_episode() -> EpisodeFactory:
    """An episode at its start (pre-due), as the workflow's first run builds it."""

    def build(**changes: Any) -> Episode:
        account = make_account(**changes)
        pinned = pin_policy(REGISTRY, STRATEGY_REF, account.jurisdiction)
        ep = Episode(AccountWorkflowInput(account=account, policy=pinned), pinned.resolve(REGISTRY))
        ep.s.episode = "0123456789abcdef"
        return ep

    return build


def pinned_to_1_0(**changes: Any) -> Episode:
    """An episode pinned to default@1, the strategy version written before disputes and
    complaints became cases and outcomes took reason codes (issue 17 items 6-7)."""
    account = make_account(**changes)
    pinned = pin_policy(REGISTRY, REGISTRY.ref_of("strategy", "default", 1), account.jurisdiction)
    ep = Episode(AccountWorkflowInput(account=account, policy=pinned), pinned.resolve(REGISTRY))
    ep.s.episode = "0123456789abcdef"
    return ep


REGISTRY = PolicyRegistry.load(POLICY_DIR)
STRATEGY_REF = REGISTRY.current("strategy", "default")
STRATEGY = REGISTRY.strategy(STRATEGY_REF)


def kinds(ep: Episode) -> list[str]:
    """The kinds of the actions waiting in the outbox, in order."""
    return [a.kind for a in ep.out.actions]


def delinquent(ep: Episode) -> Episode:
    """The episode brought into collection (DPD 1, before its first step), outbox emptied."""
    ladder.advance(ep, at(DUE + timedelta(days=1), 9))
    ep.out.actions.clear()
    return ep


def calling(ep: Episode) -> Episode:
    """The episode at DPD 2 with the ladder's first call task open (slot 0, 10:00-11:30), outbox
    emptied."""
    delinquent(ep)
    ladder.advance(ep, at(DUE + timedelta(days=2), 10))
    assert [t.kind for t in ep.s.open_tasks] == ["call"]
    ep.out.actions.clear()
    return ep
