"""A scenario: the synthetic portfolio's mix of borrower models, collector capacity and unit costs.

Read from YAML (`scenarios/default.yaml`); unknown keys and unknown models are errors, so a
misspelt model never silently drops out of the mix.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from simulator.behaviour import MODELS, Borrower, rng_for

__all__ = [
    "DEFAULT_SCENARIO",
    "Collectors",
    "Instalments",
    "Scenario",
    "SyntheticAccount",
    "load_scenario",
    "portfolio",
]

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "default.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Instalments(_Strict):
    count: int = Field(default=3, ge=1, le=24)
    gap_days: int = Field(default=30, ge=7, le=92)
    amount_min: Decimal = Field(default=Decimal("600.00"), gt=0)
    amount_max: Decimal = Field(default=Decimal("3000.00"), gt=0)


class Collectors(_Strict):
    calls_per_day: int = Field(default=60, ge=0)
    visits_per_day: int = Field(default=8, ge=0)
    other_per_day: int = Field(default=30, ge=0)
    approvals_per_day: int = Field(default=50, ge=0)


class AgencySpec(_Strict):
    """An outside collection agency registered in the simulator's store before the run."""

    name: str
    commission: Decimal = Field(gt=0, lt=1)
    capacity: int = Field(ge=1)


class Scenario(_Strict):
    name: str = "default"
    timezone: str = "Asia/Shanghai"
    jurisdiction: str = "CN"
    currency: str = "CNY"
    mix: dict[str, float]
    segment: str = "standard"
    instalments: Instalments = Field(default_factory=Instalments)
    penalty_rate_daily: Decimal = Decimal("0.0005")
    due_spread_days: int = Field(default=7, ge=1, le=60)
    collectors: Collectors = Field(default_factory=Collectors)
    unit_costs: dict[str, Decimal] = Field(default_factory=dict)
    agencies: list[AgencySpec] = Field(default_factory=list)
    multi_loan_share: float = Field(default=0.0, ge=0, le=0.9)
    """About this share of the accounts belong to borrowers with two or three loans (one
    `borrower.id`, one person: name, phones, address, behaviour), so one contact budget."""

    @field_validator("mix")
    @classmethod
    def _known_models(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(MODELS))
        if unknown:
            raise ValueError(
                f"unknown behaviour models {', '.join(unknown)}; known: {', '.join(MODELS)}"
            )
        if not value or sum(value.values()) <= 0 or any(w < 0 for w in value.values()):
            raise ValueError("the mix needs at least one model with a positive weight")
        return value

    def model_for(self, seed: int, loan_id: str) -> str:
        """The behaviour model of an account: a seeded draw from the mix (stable per loan)."""
        names = sorted(self.mix)
        rng = rng_for(seed, f"model:{loan_id}")
        return rng.choices(names, weights=[self.mix[n] for n in names])[0]

    def unit_cost(self, channel: str) -> Decimal:
        return self.unit_costs.get(channel, Decimal("0"))


def load_scenario(path: Path | str | None = None) -> Scenario:
    source = Path(path) if path is not None else DEFAULT_SCENARIO
    data: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
    return Scenario.model_validate(data)


class SyntheticAccount(BaseModel):
    """One account of the portfolio: what the loan system sends, and who the borrower is."""

    loan_id: str
    model: str
    first_due: date
    body: dict[str, Any]


def _mobile(rng: Any) -> str:
    # 139 + eight digits: valid Chinese mobiles, clear of the sandbox's special 138000004xx.
    return f"+86139{rng.randrange(10**8):08d}"


def borrower_groups(share: float, accounts: int, seed: int) -> list[int]:
    """Which account's person each account is (an index into the portfolio): consecutive runs of
    two or three accounts share the first one's person, about `share` of all accounts, drawn
    from the seed alone so a portfolio is the same at every run."""
    rng = rng_for(seed, "borrowers")
    # A run of 2 or 3 (mean 2.5) starts where a single would: starting one with probability q
    # puts 2.5q / (1 - q + 2.5q) of the accounts into runs; solved for `share`.
    start = share / (2.5 - 1.5 * share) if share > 0 else 0.0
    owner: list[int] = []
    while len(owner) < accounts:
        first = len(owner)
        size = rng.choice((2, 3)) if rng.random() < start else 1
        owner.extend([first] * min(size, accounts - first))
    return owner


def portfolio(scenario: Scenario, accounts: int, seed: int, today: date) -> list[SyntheticAccount]:
    """The synthetic accounts in a fixed order, each drawn from its own seeded generator; with a
    `multi_loan_share`, some of them belong to one person (`borrower.id`, borrower_groups)."""
    result = _single_loans(scenario, accounts, seed, today)
    owner = borrower_groups(scenario.multi_loan_share, accounts, seed)
    loans_of = Counter(owner)
    for index, account in enumerate(result):
        first = owner[index]
        if loans_of[first] < 2:
            continue
        person = result[first]
        account.body["borrower"] = {
            **person.body["borrower"],
            "id": f"SIM-{seed}-B{first:05d}",
        }
        account.model = person.model
    return result


def _single_loans(
    scenario: Scenario, accounts: int, seed: int, today: date
) -> list[SyntheticAccount]:
    result = []
    plan = scenario.instalments
    cents = Decimal("0.01")
    for i in range(accounts):
        loan_id = f"SIM-{seed}-{i:05d}"
        model = scenario.model_for(seed, loan_id)
        rng = rng_for(seed, f"account:{loan_id}")
        due = today + timedelta(days=1 + rng.randrange(scenario.due_spread_days))
        low, high = int(plan.amount_min * 100), int(plan.amount_max * 100)
        amount = (Decimal(rng.randint(low, high)) / 100).quantize(cents)
        params = MODELS[model]
        phones = [{"kind": "mobile", "number": _mobile(rng)}]
        if rng.random() < 0.4:
            phones.append({"kind": "work", "number": _mobile(rng)})
        body = {
            "loan_id": loan_id,
            "borrower": {
                "name": f"Borrower {i}",
                "locale": "zh-CN",
                "timezone": scenario.timezone,
                "phones": phones,
                "address": f"{1 + rng.randrange(999)} Renmin Road, Shanghai",
                "consents": {"sms": True, "voice": True},
            },
            "contacts": (
                [{"name": f"Contact {i}", "relation": "sibling", "phone": _mobile(rng)}]
                if rng.random() < 0.5
                else []
            ),
            "currency": scenario.currency,
            "instalments": [
                {
                    "seq": 1 + n,
                    "due_date": (due + timedelta(days=plan.gap_days * n)).isoformat(),
                    "amount": str(amount),
                }
                for n in range(plan.count)
            ],
            "penalty_rate_daily": str(scenario.penalty_rate_daily),
            "segment": scenario.segment,
            "jurisdiction": scenario.jurisdiction,
            "history": {
                "prior_delinquencies": params.prior_delinquencies,
                "ever_paid": params.ever_paid,
            },
        }
        result.append(SyntheticAccount(loan_id=loan_id, model=model, first_due=due, body=body))
    return result


def borrower_for(seed: int, account: SyntheticAccount) -> Borrower:
    return Borrower(
        loan_id=account.loan_id, model=account.model, rng=rng_for(seed, account.loan_id)
    )
