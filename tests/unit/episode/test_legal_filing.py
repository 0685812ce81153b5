"""Filing a lawsuit and the agency's placement (PLAYBOOK.md section 1: hard core "lawsuit
preparation", legal 150+ "judicial action"; mid range "outside collection agency"; issue 17
item 4), decided by `workflows.account.filing` and `agency_legal` under `default@2`: the filing
needs a legal approver other than the requester and a balance at the strategy's minimum; while
an agency works the account our own calls, texts, letters and visits stop except the notice the
law requires; a placement period never overlaps a filing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.outcomes import OutcomeIn
from domain.policy import pin_policy
from workflows.account import agency_legal, filing, gate, outcomes
from workflows.account.episode import Episode, Refused
from workflows.contracts import (
    AccountWorkflowInput,
    ActionCommand,
    ContactBlockedDetail,
    LegalFilingDetail,
    TaskOutcome,
)

from .conftest import (
    DUE,
    REGISTRY,
    STRATEGY,
    EpisodeFactory,
    at,
    calling,
    delinquent,
    kinds,
    make_account,
)

NOW = at(DUE + timedelta(days=150), 10)
PERIOD_END = at(DUE + timedelta(days=200), 0)


def _step(step_id: str):  # type: ignore[no-untyped-def]
    return next(s for s in STRATEGY.treatment_for("standard") if s.id == step_id)


FILING = _step("legal_lawsuit_150")


def _owing(new_episode: EpisodeFactory, amount: str) -> Episode:
    """In collection, owing exactly `amount` (no penalty: its rate is zero)."""
    return delinquent(
        new_episode(
            instalments=[{"seq": 7, "due_date": DUE.isoformat(), "amount": amount}],
            penalty_rate_daily="0",
        )
    )


def _place(ep: Episode) -> Episode:
    ep.s.placement = {
        "placement_id": "PL-1",
        "agency_id": "A-1",
        "agency": "First Agency",
        "commission_rate": "0.18",
        "period_end": PERIOD_END.isoformat(),
    }
    ep.s.placed_agencies = ["A-1"]
    return ep


def _asked(ep: Episode) -> ActionCommand:
    gate.fire_step(ep, NOW, FILING, 150)
    [asked] = ep.out.actions
    ep.out.actions.clear()
    return asked


def _answer(ep: Episode, code: str, by: str) -> str:
    [task] = [t for t in ep.s.open_tasks if filing.is_filing_approval(t)]
    request = TaskOutcome(
        task_id=task.task_id,
        task_kind="approval",
        action_seq=task.action_seq,
        recorded_by=by,
        recorded_at=NOW + timedelta(hours=1),
        outcome=OutcomeIn(outcome=code),
    )
    outcomes.check_task_outcome(ep, NOW + timedelta(hours=1), request)
    return outcomes.take_outcome(ep, NOW + timedelta(hours=1), request).effect


def _decision(ep: Episode) -> LegalFilingDetail:
    [detail] = [a.detail for a in ep.out.actions if isinstance(a.detail, LegalFilingDetail)]
    return detail


# ------------------------------------------------------------------------ filing needs approval


def test_the_legal_stage_filing_asks_a_legal_approver_instead_of_filing_at_once(
    new_episode: EpisodeFactory,
) -> None:
    ep = _owing(new_episode, "2400.00")
    asked = _asked(ep)
    assert asked.kind == "approval_task"
    detail = asked.detail.stored()
    assert detail["approves"] == "lawsuit_filing"
    assert detail["amount"] == "2400.00" and detail["currency"] == "CNY"
    assert detail["requested_by"] == f"strategy {STRATEGY.ref} step legal_lawsuit_150"
    [task] = ep.s.open_tasks
    assert task.kind == "approval" and filing.is_filing_approval(task)
    assert task.not_after == NOW + timedelta(days=STRATEGY.branches.legal.approval_days)
    assert "lawsuit" not in kinds(ep)


def test_the_requester_is_the_collector_who_holds_the_account_and_may_not_approve_four_eyes(
    new_episode: EpisodeFactory,
) -> None:
    ep = _owing(new_episode, "2400.00")
    ep.s.holder = "alice"
    assert _asked(ep).detail.stored()["requested_by"] == "alice"
    with pytest.raises(Refused, match="another person must decide it"):
        _answer(ep, "approved", "alice")
    assert ep.s.filing_request is not None  # still waiting for someone else


def test_no_suit_is_approved_while_a_hold_binds_the_account_but_it_may_be_rejected(
    new_episode: EpisodeFactory,
) -> None:
    from workflows.account import holds

    ep = _owing(new_episode, "2400.00")
    _asked(ep)
    holds.add_hold(ep, NOW, "dispute", {"reported_by": "alice"})
    ep.out.actions.clear()
    with pytest.raises(Refused, match=r"on hold \(dispute\)"):
        _answer(ep, "approved", "frank")
    assert _answer(ep, "rejected", "frank") == "filing rejected by frank"
    assert kinds(ep) == ["legal_filing"]


def test_an_approved_filing_is_filed_and_records_who_approved_and_the_balance(
    new_episode: EpisodeFactory,
) -> None:
    ep = _owing(new_episode, "2400.00")
    _asked(ep)
    assert _answer(ep, "approved", "frank") == "filing approved by frank: suit filed"
    assert kinds(ep) == ["legal_filing", "lawsuit"]
    decision = _decision(ep)
    assert (decision.decision, decision.decided_by) == ("approved", "frank")
    assert decision.balance == Decimal("2400.00")
    assert ep.out.actions[1].template == "lawsuit_filing"
    assert ep.s.suit_filed and ep.s.filing_request is None


def test_a_rejected_filing_files_no_suit_and_collection_goes_on(
    new_episode: EpisodeFactory,
) -> None:
    ep = _owing(new_episode, "2400.00")
    _asked(ep)
    assert _answer(ep, "rejected", "frank") == "filing rejected by frank"
    assert kinds(ep) == ["legal_filing"]
    assert _decision(ep).decision == "rejected"
    assert not ep.s.suit_filed and ep.s.filing_request is None
    # Collection goes on: the ladder's contacts still go out (no hold, no pause).
    assert not ep.paused(NOW)


def test_an_approval_nobody_decides_in_time_expires_and_no_suit_is_filed(
    new_episode: EpisodeFactory,
) -> None:
    ep = _owing(new_episode, "2400.00")
    _asked(ep)
    later = NOW + timedelta(days=STRATEGY.branches.legal.approval_days, minutes=1)
    ep.expire_tasks(later)
    filing.expire(ep, later)
    assert kinds(ep) == ["legal_filing"]
    assert _decision(ep).decision == "expired"
    assert ep.s.filing_request is None and not ep.s.suit_filed


# ------------------------------------------------------------------------ the minimum balance


def test_no_suit_is_asked_for_a_balance_one_cent_below_the_strategy_minimum(
    new_episode: EpisodeFactory,
) -> None:
    assert STRATEGY.branches.legal.min_suit_balance == Decimal("1000.00")
    ep = _owing(new_episode, "999.99")
    gate.fire_step(ep, NOW, FILING, 150)
    assert kinds(ep) == ["legal_filing"]
    decision = _decision(ep)
    assert decision.decision == "withheld"
    assert (decision.balance, decision.min_suit_balance) == (Decimal("999.99"), Decimal("1000.00"))
    assert "999.99" in (decision.reason or "") and "1000.00" in (decision.reason or "")
    assert ep.s.open_tasks == [] and ep.s.filing_request is None


def test_a_balance_exactly_at_the_strategy_minimum_is_put_to_the_legal_approver(
    new_episode: EpisodeFactory,
) -> None:
    ep = _owing(new_episode, "1000.00")
    assert _asked(ep).kind == "approval_task"


def test_an_approval_after_the_balance_fell_below_the_minimum_files_nothing(
    new_episode: EpisodeFactory,
) -> None:
    from domain.account import PaymentIn

    ep = _owing(new_episode, "1000.00")
    _asked(ep)
    ep.take_payment(NOW, PaymentIn(payment_id="P-1", amount=Decimal("0.01"), paid_at=NOW))
    ep.out.payments.clear()
    _answer(ep, "approved", "frank")
    assert kinds(ep) == ["legal_filing"]
    assert _decision(ep).decision == "withheld"
    assert _decision(ep).balance == Decimal("999.99")


# ------------------------------------------------------------------------ agency and filing


def test_an_approved_filing_recalls_the_agency_first_so_the_placement_never_overlaps_it(
    new_episode: EpisodeFactory,
) -> None:
    ep = _place(_owing(new_episode, "2400.00"))
    _asked(ep)
    _answer(ep, "approved", "frank")
    assert kinds(ep) == ["oca_recall", "legal_filing", "lawsuit"]
    assert ep.s.placement is None
    assert _decision(ep).recalled_from == "First Agency"
    assert ep.out.actions[0].detail.stored()["recall_reason"] == "a lawsuit is being filed"


def test_once_a_suit_is_filed_no_agency_takes_the_account(new_episode: EpisodeFactory) -> None:
    ep = _place(_owing(new_episode, "2400.00"))
    ep.s.suit_filed = True
    agency_legal.advance_placement(ep, PERIOD_END)  # the period ends: nobody replaces it
    assert kinds(ep) == ["oca_recall"]
    ep.out.actions.clear()
    gate.fire_step(ep, NOW, _step("mr_oca_60"), 150)
    [blocked] = [a.detail for a in ep.out.actions]
    assert isinstance(blocked, ContactBlockedDetail) and blocked.rule == "legal.suit_filed"


# ------------------------------------------------------------------------ while placed


def test_while_placed_in_house_calls_texts_letters_and_visits_stop(
    new_episode: EpisodeFactory,
) -> None:
    ep = _place(_owing(new_episode, "2400.00"))
    now = at(DUE + timedelta(days=70), 10)
    for step_id in ("mr_call_70", "mr_sms_75", "mr_letter_30", "mr_field_45"):
        gate.fire_step(ep, now, _step(step_id), 70)
    rules = [a.detail for a in ep.out.actions]
    assert kinds(ep) == ["contact_blocked"] * 4
    assert all(isinstance(d, ContactBlockedDetail) and d.rule == "agency.placed" for d in rules)
    assert ep.s.open_tasks == []


def test_while_placed_the_notice_the_law_requires_and_the_legal_steps_still_go_out(
    new_episode: EpisodeFactory,
) -> None:
    ep = _place(_owing(new_episode, "2400.00"))
    now = at(DUE + timedelta(days=91), 10)
    assert "hard_core_notice" in STRATEGY.branches.agency.while_placed.required_notices
    gate.fire_step(ep, now, _step("hc_sms_91"), 91)
    gate.fire_step(ep, now, _step("hc_asset_preservation_105"), 91)
    assert kinds(ep) == ["sms_reminder", "asset_preservation"]


def test_placing_the_account_cancels_our_open_calls(new_episode: EpisodeFactory) -> None:
    ep = calling(new_episode())
    [call] = ep.s.open_tasks
    now = at(DUE + timedelta(days=2), 11)
    sent = ActionCommand(
        seq=99, at=now, kind="oca_placement", channel="agency", stage="front_end", detail=None
    )
    delivery = {
        "seq": 99,
        "kind": "oca_placement",
        "status": "sent",
        "provider_id": "PL-9",
        "detail": {
            "agency_id": "A-9",
            "agency": "Ninth Agency",
            "commission_rate": "0.2",
            "period_end": PERIOD_END.isoformat(),
        },
    }
    agency_legal.learn_placements_and_cases(ep, now, [sent], [delivery])
    assert ep.s.open_tasks == []
    [update] = ep.out.task_updates
    assert (update.task_id, update.status) == (call.task_id, "cancelled")
    assert "Ninth Agency" in update.reason


# ------------------------------------------------------------------------ older strategies


def test_a_strategy_without_the_legal_rules_files_at_once_as_before() -> None:
    """default@1 (and the histories of episodes pinned to it) file without approval."""
    account = make_account()
    pinned = pin_policy(REGISTRY, REGISTRY.ref_of("strategy", "default", 1), "CN")
    ep = Episode(AccountWorkflowInput(account=account, policy=pinned), pinned.resolve(REGISTRY))
    ep.s.episode = "0123456789abcdef"
    delinquent(ep)
    gate.fire_step(ep, NOW, FILING, 150)
    assert kinds(ep) == ["lawsuit"]
    _place(ep)
    ep.out.actions.clear()
    gate.fire_step(ep, NOW, _step("mr_call_70"), 70)
    assert kinds(ep) == ["call_task"]
