"""The supervisor's operating figures for a period (issue 15): promise-kept rate, right-party
contact rate, contacts by local hour and channel, collector productivity and the agency league
table. Read from the store's records (promises, tasks and their outcomes, actions, placements and
payments); nothing decided here changes an account. The roll and cure rates are
`store.reports`'s (`/v1/reports/roll-rates`, `/v1/reports/cure-rates`).

Period: local days `start`..`end` inclusive in `tz`, i.e. [start 00:00, end+1 00:00) there.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, time, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from domain.calendar import local_instant, zone
from domain.cases import count_by_reason
from domain.outcomes import RIGHT_PARTY_OUTCOMES
from domain.vocabulary import ActionKind
from store.agencies import AgencyRow, PlacementRow
from store.engine import as_utc, session_scope
from store.models import ActionRow, PaymentRow, PromiseRow, TaskRow

AUTOMATED_CHANNELS = ("sms", "voice", "letter")
"""Contacts the workflow makes itself (actions); calls and visits are people's (task outcomes)."""

PERSON_KINDS = ("call", "field_visit")


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


class PromiseFigures(BaseModel):
    """Promises made in the period and how they ended: kept / (kept + broken)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"made": 10, "kept": 6, "broken": 2, "open": 2, "kept_rate": 0.75}]
        }
    )

    made: int
    kept: int
    broken: int
    open: int
    kept_rate: float


class ContactFigures(BaseModel):
    """Calls and visits worked in the period; right-party contacts among them."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"worked": 40, "right_party": 12, "rate": 0.3}]}
    )

    worked: int
    right_party: int
    rate: float


class Productivity(BaseModel):
    """One person's outcomes in the period."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"person": "alice", "worked": 25, "right_party": 8, "promises": 5}]
        }
    )

    person: str
    worked: int
    right_party: int
    promises: int


class AgencyLine(BaseModel):
    """One agency: what was placed with it in the period and what it recovered on those
    placements by the period's end."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "agency_id": "A-1",
                    "name": "First Agency",
                    "placements": 3,
                    "placed": "3600.00",
                    "recovered": "900.00",
                    "rate": 0.25,
                }
            ]
        }
    )

    agency_id: str
    name: str
    placements: int
    placed: Decimal
    recovered: Decimal
    rate: float


class OperationsReport(BaseModel):
    """The period's operating figures (see the module docstring)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-12-01",
                    "to": "2026-12-31",
                    "tz": "Asia/Shanghai",
                    "promises": {"made": 10, "kept": 6, "broken": 2, "open": 2, "kept_rate": 0.75},
                    "contacts": {"worked": 40, "right_party": 12, "rate": 0.3},
                    "by_hour": {"10": {"call": 12, "sms": 30}},
                    "productivity": [
                        {"person": "alice", "worked": 25, "right_party": 8, "promises": 5}
                    ],
                    "agencies": [
                        {
                            "agency_id": "A-1",
                            "name": "First Agency",
                            "placements": 3,
                            "placed": "3600.00",
                            "recovered": "900.00",
                            "rate": 0.25,
                        }
                    ],
                    "missed_payment_reasons": {"short_of_cash": 7, "forgot": 4, "illness": 1},
                }
            ]
        },
    )

    from_: date = Field(alias="from")
    to: date
    tz: str
    promises: PromiseFigures
    contacts: ContactFigures
    by_hour: dict[str, dict[str, int]] = Field(
        description="local hour (0-23, in tz) → channel → contacts made then"
    )
    productivity: list[Productivity]
    agencies: list[AgencyLine] = Field(description="best recovery rate first")
    missed_payment_reasons: dict[str, int] = Field(
        default_factory=dict,
        description="PLAYBOOK.md section 2, why they missed the payment: the reason codes "
        "given on calls and visits in the period, most given first",
    )


def operations_report(url: str, first: date, last: date, tz: str) -> OperationsReport:
    start = local_instant(first, time(0), tz)
    end = local_instant(last + timedelta(days=1), time(0), tz)
    with session_scope(url) as session:
        promises = session.exec(
            select(PromiseRow).where(
                col(PromiseRow.made_at) >= start, col(PromiseRow.made_at) < end
            )
        ).all()
        tasks = session.exec(
            select(TaskRow).where(
                col(TaskRow.kind).in_(PERSON_KINDS),
                col(TaskRow.status) == "done",
                col(TaskRow.outcome_at) >= start,
                col(TaskRow.outcome_at) < end,
            )
        ).all()
        actions = session.exec(
            select(ActionRow).where(
                col(ActionRow.channel).in_(AUTOMATED_CHANNELS),
                col(ActionRow.kind) != "contact_blocked",
                col(ActionRow.at) >= start,
                col(ActionRow.at) < end,
            )
        ).all()
        placements = session.exec(
            select(PlacementRow).where(
                col(PlacementRow.placed_at) >= start, col(PlacementRow.placed_at) < end
            )
        ).all()
        ids = [p.placement_id for p in placements]
        payments = (
            session.exec(
                select(PaymentRow).where(
                    col(PaymentRow.placement_id).in_(ids), col(PaymentRow.paid_at) < end
                )
            ).all()
            if ids
            else []
        )
        names = {a.agency_id: a.name for a in session.exec(select(AgencyRow)).all()}
        reasons = session.exec(
            select(ActionRow).where(
                col(ActionRow.kind) == ActionKind.MISSED_PAYMENT_REASON,
                col(ActionRow.at) >= start,
                col(ActionRow.at) < end,
            )
        ).all()

    statuses = Counter(p.status for p in promises)
    kept, broken = statuses.get("kept", 0), statuses.get("broken", 0)
    outcome_of = {t.task_id: str((t.outcome or {}).get("outcome", "")) for t in tasks}
    rpc = [t for t in tasks if outcome_of[t.task_id] in RIGHT_PARTY_OUTCOMES]

    local = zone(tz)
    by_hour: dict[str, Counter[str]] = defaultdict(Counter)
    for action in actions:
        at = as_utc(action.at)
        assert at is not None
        by_hour[str(at.astimezone(local).hour)][action.channel] += 1
    for task in tasks:
        at = as_utc(task.outcome_at)
        assert at is not None
        by_hour[str(at.astimezone(local).hour)][task.kind] += 1

    people: dict[str, Counter[str]] = defaultdict(Counter)
    for task in tasks:
        person = task.outcome_by or "—"
        people[person]["worked"] += 1
        people[person]["right_party"] += task in rpc
        people[person]["promises"] += outcome_of[task.task_id] == "promise_to_pay"

    recovered: Counter[str] = Counter()
    for payment in payments:
        if payment.placement_id is not None:
            recovered[payment.placement_id] += payment.amount  # type: ignore[assignment]
    league: dict[str, dict[str, Decimal | int]] = defaultdict(
        lambda: {"placements": 0, "placed": Decimal(0), "recovered": Decimal(0)}
    )
    for placement in placements:
        line = league[placement.agency_id]
        line["placements"] += 1
        line["placed"] += placement.amount_placed
        line["recovered"] += Decimal(recovered.get(placement.placement_id, 0))
    agencies = [
        AgencyLine(
            agency_id=agency,
            name=names.get(agency, agency),
            placements=int(line["placements"]),
            placed=Decimal(line["placed"]),
            recovered=Decimal(line["recovered"]),
            rate=float(round(Decimal(line["recovered"]) / Decimal(line["placed"]), 4))
            if line["placed"]
            else 0.0,
        )
        for agency, line in league.items()
    ]
    agencies.sort(key=lambda a: (-a.rate, a.name))
    return OperationsReport(
        from_=first,
        to=last,
        tz=tz,
        promises=PromiseFigures(
            made=len(promises),
            kept=kept,
            broken=broken,
            open=statuses.get("open", 0),
            kept_rate=_rate(kept, kept + broken),
        ),
        contacts=ContactFigures(
            worked=len(tasks), right_party=len(rpc), rate=_rate(len(rpc), len(tasks))
        ),
        by_hour={
            hour: dict(sorted(c.items()))
            for hour, c in sorted(by_hour.items(), key=lambda i: int(i[0]))
        },
        productivity=[
            Productivity(
                person=person,
                worked=c["worked"],
                right_party=c["right_party"],
                promises=c["promises"],
            )
            for person, c in sorted(people.items(), key=lambda i: (-i[1]["worked"], i[0]))
        ],
        agencies=agencies,
        missed_payment_reasons=count_by_reason(str((a.detail or {}).get("code")) for a in reasons),
    )
