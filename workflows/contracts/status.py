"""What the AccountWorkflow's `status` query answers (CONTRACT.md AccountStatus) and the views
it is made of: the open promise, the holds, the next action, the pinned strategy."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from domain.vocabulary import AccountState

__all__ = [
    "AccountStatus",
    "HoldView",
    "InstalmentView",
    "NextAction",
    "PromiseView",
    "RestructurePlanView",
    "StrategyRef",
]


class PromiseView(BaseModel):
    """A promise to pay as the workflow holds it: open, kept or broken, and its deadline."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "promise_id": "L-1001-4be1c2d0-P1",
                    "amount": "1200.00",
                    "promised_date": "2026-12-10",
                    "pay_to": None,
                    "status": "open",
                    "made_at": "2026-12-04T03:12:00Z",
                    "deadline": "2026-12-11",
                }
            ]
        }
    )

    promise_id: str
    amount: Decimal
    promised_date: date
    pay_to: str | None = None
    status: str
    made_at: datetime
    deadline: date


class HoldView(BaseModel):
    """A hold pausing collection (dispute, complaint, bankruptcy, ...), since when, until when."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"kind": "dispute", "since": "2026-12-06T02:00:00Z", "until": None},
            ]
        }
    )

    kind: str
    since: datetime
    until: datetime | None = None


class NextAction(BaseModel):
    """What the workflow will do next, and when."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"kind": "sms_reminder", "at": "2026-12-02T02:00:00Z"}]}
    )

    kind: str
    at: datetime


class StrategyRef(BaseModel):
    """The strategy (policy as data) and version an episode is pinned to."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "default", "version": 1}]})

    name: str
    version: int


class InstalmentView(BaseModel):
    """One instalment of the episode's schedule: its terms and what is still unpaid of it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "seq": 7,
                    "due_date": "2026-12-01",
                    "amount": "1200.00",
                    "unpaid": "1200.00",
                    "paid": "0",
                    "dpd": 3,
                }
            ]
        }
    )

    seq: int
    due_date: date
    amount: Decimal
    unpaid: Decimal = Field(description="what is still outstanding of it")
    paid: Decimal = Field(default=Decimal("0"), description="what has been paid of it")
    dpd: int = Field(
        default=0,
        description="days this instalment is past due as of the status's instant: 0 once it is "
        "paid or before it falls due",
    )


class RestructurePlanView(BaseModel):
    """The restructure plan of the episode (issue 15): an open offer the borrower may still
    answer (`offered`), or the plan accepted, whose instalments are now on the book
    (`accepted`, `replaced` holding the instalments it replaced as they stood)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "stage": "offered",
                    "total": "2350.00",
                    "waiver": "51.80",
                    "expires_on": "2026-12-14",
                    "instalments": [
                        {
                            "seq": 1,
                            "due_date": "2027-01-06",
                            "amount": "783.33",
                            "unpaid": "783.33",
                            "paid": "0",
                            "dpd": 0,
                        }
                    ],
                    "replaced": [],
                }
            ]
        }
    )

    stage: str = Field(description="offered (the borrower may accept or decline) or accepted")
    total: Decimal | None = Field(default=None, description="what the plan collects")
    waiver: Decimal | None = Field(default=None, description="the penalty the plan forgives")
    expires_on: date | None = Field(
        default=None, description="the last borrower-local day the offer can be accepted"
    )
    instalments: list[InstalmentView] = Field(
        default_factory=list,
        description="the plan's instalments; while offered, with what was paid since the offer "
        "counted toward them in order",
    )
    replaced: list[InstalmentView] = Field(
        default_factory=list, description="the instalments an accepted plan replaced"
    )


class AccountStatus(BaseModel):
    """CONTRACT.md AccountStatus, answered by the workflow's query."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "loan_id": "L-1001",
                    "state": "delinquent",
                    "dpd": 3,
                    "bucket": "M1",
                    "stage": "front_end",
                    "amount_overdue": "1200.00",
                    "penalty_accrued": "1.80",
                    "promise": None,
                    "broken_promises": 0,
                    "holds": [],
                    "next_action": {"kind": "call_task", "at": "2026-12-04T02:00:00Z"},
                    "strategy": {"name": "default", "version": 1},
                    "currency": "CNY",
                    "paid_total": "0",
                    "balance": "2401.80",
                    "path": ["current", "M1"],
                    "as_of": "2026-12-04T01:00:00Z",
                }
            ]
        }
    )

    loan_id: str
    state: AccountState
    dpd: int
    bucket: str
    stage: str
    amount_overdue: Decimal
    penalty_accrued: Decimal
    promise: PromiseView | None = None
    broken_promises: int = 0
    holds: list[HoldView] = Field(default_factory=list)
    next_action: NextAction | None = None
    strategy: StrategyRef
    currency: str = "CNY"
    paid_total: Decimal = Decimal("0")
    balance: Decimal = Decimal("0")
    path: list[str] = Field(default_factory=list, description="buckets visited, in order")
    as_of: datetime | None = None
    holder: str | None = Field(default=None, description="the collector who holds the account")
    agency: str | None = Field(default=None, description="the agency the account is placed with")
    agency_period_end: datetime | None = None
    legal_case: str | None = Field(default=None, description="the open legal case")
    policy: list[str] = Field(
        default_factory=list,
        description="what the episode decides with, pinned at its start: strategy, contact "
        "profile and calendar years, each as `kind name@version#hash`",
    )
    unrecorded_moments: int = Field(
        default=0,
        description="moments whose effects the store could not hold (an operator looks at the "
        "worker's log); the episode went on without them",
    )
    instalments: list[InstalmentView] = Field(
        default_factory=list,
        description="the episode's schedule, each instalment with what is still unpaid of it "
        "(a closed episode's snapshot tells which instalments it settled)",
    )
    restructure: RestructurePlanView | None = Field(
        default=None,
        description="the open restructure offer or the accepted plan (v1.1, issue 15); none "
        "without one",
    )
