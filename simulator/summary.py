"""The run's scoreboard: summary.json from the store and what the simulator observed.

Roll and cure rates come from `domain.scoreboard` over the store's `transitions` table (plus one
opening fact per account: every episode starts `pre_due`, i.e. Current, at the run's start).
The roll-rate matrix is taken between the period boundaries: the run's start, every month end
inside the run, and the run's end, so a run shorter than two months still has a matrix.
Compliance is checked by the independent auditor `domain.contact.audit_ledger` over every
contact the run made (automated sends from the store, calls and visits as the collectors worked
them), with the holds the account snapshots showed and the numbers reported dead.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import select

from domain.calendar import zone
from domain.cases import count_by_reason
from domain.contact import (
    BORROWER_HOLDS,
    BorrowerContext,
    ContactRecord,
    audit_ledger,
    profile_for,
)
from domain.contact.audit import Violation
from domain.contact.holds import Hold
from domain.policy import installed_registry
from domain.scoreboard import TransitionFact, cure_rates, month_ends, roll_rate_matrix, status_at
from domain.vocabulary import ActionKind
from simulator.engine import NOT_REACHED, SimulationState
from simulator.scenario import Scenario
from store.engine import as_utc, session_scope
from store.models import ActionRow, PaymentRow, PromiseRow, TransitionRow

__all__ = ["build_summary", "load_facts"]


def load_facts(database_url: str, state: SimulationState) -> list[TransitionFact]:
    """The store's transitions as scoreboard facts, after an opening fact per account."""
    with session_scope(database_url) as session:
        rows = session.exec(
            select(TransitionRow).order_by(TransitionRow.at, TransitionRow.id)  # type: ignore[arg-type]
        ).all()
        transitions = [(r.loan_id, as_utc(r.at), r.to_state, r.to_bucket, r.dpd) for r in rows]
    facts = [
        TransitionFact(a.loan_id, state.start, "pre_due", "current", state.arms[a.loan_id], 0)
        for a in state.accounts
    ]
    for loan_id, at, to_state, to_bucket, dpd in transitions:
        assert at is not None
        facts.append(TransitionFact(loan_id, at, to_state, to_bucket, state.arms.get(loan_id), dpd))
    return facts


def _contact_records(state: SimulationState) -> dict[str, list[ContactRecord]]:
    records: dict[str, list[ContactRecord]] = defaultdict(list)
    for sent in state.automated:
        channel = "voice" if sent["channel"] == "voice" else sent["channel"]
        result = "unanswered" if channel == "voice" else "sent"
        records[sent["loan_id"]].append(
            ContactRecord(
                at=sent["at"],
                channel=channel,
                target=sent["target"] if channel in ("sms", "voice") else None,
                result=result,
            )
        )
    for work in state.work:
        if work.status != 200 or not work.dialled:
            continue
        if work.kind == "call" and work.target:
            third = work.purpose == "message" or work.outcome == "third_party"
            reached = work.outcome not in NOT_REACHED
            dead = work.outcome in ("wrong_number", "number_dead")
            records[work.loan_id].append(
                ContactRecord(
                    at=work.at,
                    channel="call",
                    target=work.target,
                    result="connected" if reached else ("failed" if dead else "unanswered"),
                    party="third_party" if third else "borrower",
                    conversation=reached,
                    purpose="message" if work.purpose == "message" else "collect",
                )
            )
        elif work.kind == "field_visit":
            records[work.loan_id].append(
                ContactRecord(
                    at=work.at,
                    channel="field_visit",
                    result="visited" if work.outcome == "visited_met" else "not_met",
                )
            )
    return records


def _holds(state: SimulationState, loan_id: str) -> list[Hold]:
    holds = []
    for (kind, since), until in state.holds.get(loan_id, {}).items():
        start = datetime.fromisoformat(since)
        holds.append(Hold(kind=kind, since=start, until=until))
    return holds


def _people(state: SimulationState) -> dict[str, list[str]]:
    """Each person's loans: the accounts sent with one `borrower.id` (scenario.multi_loan_share),
    and every other account its own person."""
    people: dict[str, list[str]] = defaultdict(list)
    for account in state.accounts:
        people[account.body["borrower"].get("id") or account.loan_id].append(account.loan_id)
    return dict(people)


def _audit(
    state: SimulationState, scenario: Scenario, jurisdiction: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Violations per loan, and per person: a borrower's loans share one contact budget, so
    their contacts are judged together (with the holds about the person, reported on any of
    them: BORROWER_HOLDS), as a regulator counts contacts with the person."""
    profile = profile_for(scenario.jurisdiction, jurisdiction)
    # The public holidays the episodes were bound by: the calendars of the policy directory the
    # simulated workers serve (the episodes pin theirs from it), not this process's defaults.
    registry = installed_registry()
    calendars = registry.calendars(r for r in registry.references() if r.kind == "calendar")
    records = _contact_records(state)
    country, _, subdivision = scenario.jurisdiction.upper().partition("-")
    body_of = {a.loan_id: a.body for a in state.accounts}

    def judge(loans: list[str], person_only: bool) -> list[Violation]:
        numbers = (p["number"] for loan in loans for p in body_of[loan]["borrower"]["phones"])
        phones = list(dict.fromkeys(numbers))
        ctx = BorrowerContext(
            timezone=scenario.timezone,
            phones=phones,
            country=country,
            subdivision=subdivision or None,
        )
        holds = [
            hold
            for loan in loans
            for hold in _holds(state, loan)
            if not person_only or hold.kind in BORROWER_HOLDS
        ]
        dead: dict[str, datetime] = {}
        for loan in loans:
            dead.update(state.dead_since.get(loan, {}))
        ledger = sorted((r for loan in loans for r in records.get(loan, [])), key=lambda r: r.at)
        return audit_ledger(ledger, holds, profile, ctx, dead_since=dead, calendars=calendars)

    by_loan = [
        {"loan_id": loan, "rule": v.rule, "at": v.at.isoformat(), "reason": v.reason}
        for account in state.accounts
        for loan in [account.loan_id]
        for v in judge([loan], person_only=False)
    ]
    by_person = [
        {"borrower_id": person, "loans": loans, "rule": v.rule, "at": v.at.isoformat()}
        for person, loans in _people(state).items()
        if len(loans) > 1
        for v in judge(loans, person_only=True)
    ]
    return by_loan, by_person


def _contacts(
    state: SimulationState, loans: set[str], tz: str
) -> tuple[dict[str, int], dict[str, int]]:
    """Contacts by channel (automated sends that went out, every call or visit a collector
    made, skip traces) and by the borrower's local hour (SMS, voice, calls and visits)."""
    by_channel: Counter[str] = Counter()
    by_hour: Counter[int] = Counter()
    local = zone(tz)
    for sent in state.automated:
        if sent["loan_id"] in loans:
            channel = "lawyer_letter" if sent["kind"] == "lawyer_letter" else sent["channel"]
            by_channel[channel] += 1
            if channel in ("sms", "voice"):  # a letter's hour is when it was posted
                by_hour[sent["at"].astimezone(local).hour] += 1
    for work in state.work:
        if (
            work.loan_id in loans
            and work.status == 200
            and work.dialled
            and work.kind in ("call", "field_visit")
        ):
            by_channel[work.kind] += 1
            by_hour[work.at.astimezone(local).hour] += 1
    for work in state.work:
        if work.loan_id in loans and work.status == 200 and work.kind == "skip_trace":
            by_channel["skip_trace"] += 1
    return dict(sorted(by_channel.items())), {str(h): by_hour.get(h, 0) for h in range(24)}


def _scoreboard(
    facts: list[TransitionFact], boundaries: list[datetime], start: datetime, end: datetime
) -> dict[str, Any]:
    roll = roll_rate_matrix(facts, boundaries)
    cure = cure_rates(facts, start, end)
    return {
        "roll_rates": {
            "boundaries": [b.isoformat() for b in roll.month_ends],
            "statuses": list(roll.statuses),
            "counts": roll.counts,
            "totals": roll.totals,
            "rates": {r: {c: round(v, 4) for c, v in row.items()} for r, row in roll.rates.items()},
        },
        "cure_rate": round(cure.rate, 4),
        "became_delinquent": cure.became_delinquent,
        "cured_total": cure.cured_total,
        "spell_outcomes": cure.outcomes,
        "cure_rate_by_bucket": {
            b: {"entered": c.entered, "cured": c.cured, "rate": round(c.rate, 4)}
            for b, c in cure.by_bucket.items()
        },
        "cure_curve": [round(x, 4) for x in cure.cure_curve],
    }


def _section(
    state: SimulationState,
    scenario: Scenario,
    loans: set[str],
    facts: list[TransitionFact],
    boundaries: list[datetime],
    payments: list[tuple[str, Decimal]],
    promises: list[tuple[str, str]],
    events: dict[str, int],
    violations: list[dict[str, Any]],
    reasons: list[tuple[str, str]],
) -> dict[str, Any]:
    assert state.end is not None
    mine = [f for f in facts if f.loan_id in loans]
    final = status_at(mine, state.end)
    states = Counter(
        state.rows[loan]["state"] if loan in state.rows else "not_started" for loan in loans
    )
    by_channel, by_hour = _contacts(state, loans, scenario.timezone)
    costs = {ch: str(scenario.unit_cost(ch) * n) for ch, n in by_channel.items()}
    kept = sum(1 for loan, status in promises if loan in loans and status == "kept")
    broken = sum(1 for loan, status in promises if loan in loans and status == "broken")
    models: dict[str, list[int]] = defaultdict(list)
    pairs: dict[str, list[int]] = defaultdict(list)
    for account in state.accounts:
        if account.loan_id in loans and account.loan_id in events:
            models[account.model].append(events[account.loan_id])
            kinds = state.event_kinds.get(account.loan_id, {})
            pairs[account.model].append(kinds.get("timers", 0) + kinds.get("activities", 0))
    return {
        "accounts": len(loans),
        "final_states": dict(sorted(states.items())),
        "final_scoreboard_status": dict(sorted(Counter(final.values()).items())),
        **_scoreboard(mine, boundaries, state.start, state.end),
        "ptp": {
            "made": sum(1 for loan, _ in promises if loan in loans),
            "kept": kept,
            "broken": broken,
            "kept_rate": round(kept / (kept + broken), 4) if kept + broken else None,
        },
        # PLAYBOOK.md section 2: why they missed the payment, per reason given on a call or visit.
        "missed_payment_reasons": count_by_reason(code for loan, code in reasons if loan in loans),
        "contacts_by_channel": by_channel,
        "contacts_by_hour": by_hour,
        "cost_by_channel": costs,
        "cost_total": str(sum((Decimal(c) for c in costs.values()), Decimal("0"))),
        "amount_recovered": str(sum((a for loan, a in payments if loan in loans), Decimal("0"))),
        "compliance_violations": sum(1 for v in violations if v["loan_id"] in loans),
        "history_events_per_episode": {
            model: {
                "episodes": len(values),
                "mean": round(sum(values) / len(values), 1),
                "max": max(values),
                "timers_plus_activities_mean": round(sum(pairs[model]) / len(values), 1),
            }
            for model, values in sorted(models.items())
        },
    }


def build_summary(
    state: SimulationState,
    scenario: Scenario,
    database_url: str,
    strategies: tuple[str, ...],
    split: int,
    seed: int,
    events: dict[str, int],
    jurisdiction: str = "CN",
) -> dict[str, Any]:
    """summary.json: the whole portfolio, then the same per arm when a challenger ran."""
    assert state.end is not None
    facts = load_facts(database_url, state)
    last_day = (state.end - timedelta(microseconds=1)).astimezone(zone(scenario.timezone)).date()
    ends = month_ends(
        state.start.astimezone(zone(scenario.timezone)).date(), last_day, scenario.timezone
    )
    boundaries = sorted({state.start, *[e for e in ends if e < state.end], state.end})
    with session_scope(database_url) as session:
        payments = [(p.loan_id, p.amount) for p in session.exec(select(PaymentRow)).all()]
        promises = [(p.loan_id, p.status) for p in session.exec(select(PromiseRow)).all()]
        reasons = [
            (a.loan_id, str((a.detail or {}).get("code")))
            for a in session.exec(
                select(ActionRow).where(ActionRow.kind == ActionKind.MISSED_PAYMENT_REASON)
            ).all()
        ]
    violations, person_violations = _audit(state, scenario, jurisdiction)
    everyone = {a.loan_id for a in state.accounts}
    people = _people(state)
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "strategies": list(strategies),
        "split": split if len(strategies) > 1 else None,
        "seed": seed,
        "start": state.start.isoformat(),
        "end": state.end.isoformat(),
        "days": (state.end - state.start).days + 1,
        "mix": dict(sorted(Counter(a.model for a in state.accounts).items())),
        **_section(
            state,
            scenario,
            everyone,
            facts,
            boundaries,
            payments,
            promises,
            events,
            violations,
            reasons,
        ),
        "states_by_day": state.day_curve,
        "violations": violations[:50],
        # The same rules judged per person across their loans (one contact budget).
        "borrowers": len(people),
        "multi_loan_borrowers": sum(1 for loans in people.values() if len(loans) > 1),
        "compliance_violations_by_borrower": len(person_violations),
        "borrower_violations": person_violations[:50],
        "simulator_errors": dict(sorted(state.errors.items())),
        "timings": {"wall_seconds": round(state.wall_seconds, 1)},
    }
    if len(strategies) > 1:
        summary["arms"] = {}
        for arm, name in (("champion", strategies[0]), ("challenger", strategies[1])):
            loans = {loan for loan, a in state.arms.items() if a == arm}
            summary["arms"][arm] = {
                "strategy": name,
                **_section(
                    state,
                    scenario,
                    loans,
                    facts,
                    boundaries,
                    payments,
                    promises,
                    events,
                    violations,
                    reasons,
                ),
            }
    return summary
