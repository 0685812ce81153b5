"""Disputes and complaints as cases (PLAYBOOK.md section 10: judge whether the complaint is
valid, help the customer separate it from the duty to repay; issue 17 item 7), decided by
workflows/account/cases.py with made-up instants."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from workflows.account import cases, holds, ladder
from workflows.account.episode import Episode, Refused
from workflows.contracts.cases import CaseEvidenceRequest, CaseResolution
from workflows.contracts.state import OpenCase

from .conftest import DUE, REGISTRY, EpisodeFactory, at, calling, kinds, pinned_to_1_0

OPENED = at(DUE + timedelta(days=2), 10)


def _open(ep: Episode, kind: str = "dispute") -> OpenCase:
    hold = holds.add_hold(ep, OPENED, kind, {"reason": "disputes the fee", "reported_by": "alice"})
    case = cases.open_case(ep, OPENED, hold)
    assert case is not None
    return case


def test_a_dispute_opens_a_case_answered_within_the_strategys_dispute_response_days(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    case = _open(ep)
    assert case.kind == "dispute"
    assert case.deadline == OPENED + timedelta(days=30)  # default@2
    assert kinds(ep) == ["hold_placed", "case_opened"]
    opened = ep.out.actions[-1].detail
    assert opened.case_id == case.case_id and opened.owner_queue == "supervisor"  # type: ignore[union-attr]
    assert opened.reason == "disputes the fee" and opened.by == "alice"  # type: ignore[union-attr]


def test_a_complaint_is_answered_within_the_strategys_complaint_pause_not_a_fixed_14_days(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    case = _open(ep, "complaint")
    [hold] = ep.s.holds
    assert hold.until == case.deadline == OPENED + timedelta(days=ep.strategy.holds.complaint_days)
    light = REGISTRY.strategy(REGISTRY.current("strategy", "front_light"))
    assert cases.case_deadline(light, "complaint", OPENED) == OPENED + timedelta(days=10)


def test_an_episode_pinned_to_a_strategy_without_cases_opens_none_as_release_1_0_did() -> None:
    ep = calling(pinned_to_1_0())
    hold = holds.add_hold(ep, OPENED, "dispute", {"reason": "disputes the fee"})
    assert cases.open_case(ep, OPENED, hold) is None
    assert ep.s.cases == [] and kinds(ep) == ["hold_placed"]
    assert cases.next_deadline(ep) is None


def test_an_upheld_dispute_takes_the_adjustment_off_penalty_first_then_principal_to_the_cent(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    case = _open(ep)
    now = at(DUE + timedelta(days=5), 11)
    ep.s.book.accrue_to(ep.today(now))
    penalty = ep.s.book.penalty_outstanding
    before = ep.s.book.balance
    assert penalty > 0
    answer = cases.resolve(
        ep,
        now,
        CaseResolution(
            case_id=case.case_id,
            resolution="upheld",
            adjustment=penalty + Decimal("10.01"),
            resolved_by="carol",
        ),
    )
    assert answer.balance == before - penalty - Decimal("10.01")
    assert ep.s.book.penalty_outstanding == 0
    assert ep.s.book.instalments[0].unpaid == Decimal("1200.00") - Decimal("10.01")
    assert ep.s.cases == [] and not ep.paused(now)  # the hold ended: collection resumes
    resolved = [a.detail for a in ep.out.actions if a.kind == "case_resolved"][0]
    assert resolved.adjustment == str(penalty + Decimal("10.01"))  # type: ignore[union-attr]
    assert kinds(ep)[-2:] == ["case_resolved", "hold_released"]


def test_an_adjustment_above_the_balance_or_finer_than_a_cent_is_refused_and_changes_nothing(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    case = _open(ep)
    now = at(DUE + timedelta(days=3), 11)
    balance = ep.accrued_book(ep.today(now)).balance
    for amount in (balance + Decimal("0.01"), Decimal("-1.00"), Decimal("1.001")):
        request = CaseResolution(
            case_id=case.case_id, resolution="upheld", adjustment=amount, resolved_by="carol"
        )
        with pytest.raises(Refused) as refused:
            cases.check_resolution(ep, now, request)
        assert refused.value.type == cases.INVALID_ADJUSTMENT
    rejected_with_money = CaseResolution(
        case_id=case.case_id, resolution="rejected", adjustment=Decimal("5"), resolved_by="c"
    )
    with pytest.raises(Refused):
        cases.check_resolution(ep, now, rejected_with_money)
    whole = CaseResolution(
        case_id=case.case_id, resolution="upheld", adjustment=balance, resolved_by="carol"
    )
    cases.check_resolution(ep, now, whole)  # the whole balance may be written back
    assert ep.s.cases == [case]


def test_a_rejected_case_takes_nothing_off_and_collection_resumes_where_the_ladder_stands(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    case = _open(ep)
    now = at(DUE + timedelta(days=6), 11)
    before = ep.accrued_book(ep.today(now)).balance
    answer = cases.resolve(
        ep, now, CaseResolution(case_id=case.case_id, resolution="rejected", resolved_by="carol")
    )
    assert answer.balance == before and answer.status == "rejected"
    assert not ep.paused(now)
    ep.out.actions.clear()
    ladder.advance(ep, at(DUE + timedelta(days=7), 10))
    assert "call_task" in kinds(ep)  # the ladder goes on from DPD 7


def test_a_resolved_case_cannot_be_resolved_again_or_take_evidence(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    case = _open(ep)
    request = CaseResolution(case_id=case.case_id, resolution="rejected", resolved_by="carol")
    cases.resolve(ep, OPENED + timedelta(hours=1), request)
    with pytest.raises(Refused) as refused:
        cases.check_resolution(ep, OPENED + timedelta(hours=2), request)
    assert refused.value.type == cases.CASE_CLOSED
    with pytest.raises(Refused):
        cases.check_open(ep, case.case_id)


def test_evidence_is_recorded_on_the_open_case_with_who_added_it(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    case = _open(ep)
    cases.add_evidence(
        ep,
        OPENED + timedelta(hours=3),
        CaseEvidenceRequest(case_id=case.case_id, text="statement", document="D-1", added_by="c"),
    )
    evidence = ep.out.actions[-1].detail
    assert ep.out.actions[-1].kind == "case_evidence"
    assert (evidence.text, evidence.document, evidence.by) == ("statement", "D-1", "c")  # type: ignore[union-attr]


def test_a_case_unresolved_at_its_deadline_is_escalated_once_and_the_dispute_stays_paused(
    new_episode: EpisodeFactory,
) -> None:
    ep = calling(new_episode())
    case = _open(ep)
    assert ladder.plan_next(ep, OPENED) <= case.deadline  # type: ignore[operator]
    ep.out.actions.clear()
    assert cases.escalate_overdue(ep, case.deadline - timedelta(minutes=1)) == []
    ladder.advance(ep, case.deadline)
    assert kinds(ep).count("case_overdue") == 1
    ladder.advance(ep, case.deadline + timedelta(days=1))
    assert kinds(ep).count("case_overdue") == 1
    assert ep.paused(case.deadline + timedelta(days=1))  # a dispute waits for its answer
    assert cases.next_deadline(ep) is None
