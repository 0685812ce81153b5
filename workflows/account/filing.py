"""Filing a lawsuit (PLAYBOOK.md section 1, legal stage 150+: judicial action; issue 17 item 4):
preparation in the hard core goes on as before, but the filing itself waits for the legal team.

Under a strategy that says so (`branches.legal`, from `default@2`):

- the `lawsuit` step with template `lawsuit_filing` does not file at once. A balance below the
  strategy's `min_suit_balance` files nothing: a `legal_filing` action `withheld` names the
  balance and the minimum, and nobody is asked. Otherwise an `approval` task goes to the legal
  role (`approves: lawsuit_filing`), and the suit is filed only when a legal approver answers
  `approved`.
- Four eyes: the requester is the collector who holds the account (whose file it is), or, when
  nobody holds it, the strategy's step itself; the approver must be someone else (the API
  answers 403 `four_eyes`, and the workflow refuses it too).
- `approved` records a `legal_filing` action `approved` (the `legal.approved` event: who
  approved, the balance) and files in the same moment; an account still placed with an agency is
  recalled first, so a placement period never overlaps a filing, and once a suit is filed no
  agency takes the account again.
- `rejected`, or no answer before the task's window ends (`expired`), files nothing: the
  decision is recorded and collection goes on without a suit (the hard-core steps, the
  charge-off day).

A strategy without `branches.legal` (`default@1`, `front_light@1`) files as it always did, so
the histories of episodes pinned to it replay unchanged (docs/versioning.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from domain.contact import active_holds
from domain.strategy import Step
from domain.vocabulary import ActionKind
from workflows.account import agency_legal
from workflows.account.episode import NOT_ALLOWED, Episode, Refused
from workflows.contracts import (
    ChildTaskDetail,
    FilingRequest,
    LegalFilingDetail,
    OpenTask,
    TaskOutcome,
)

FILING_TEMPLATE = "lawsuit_filing"
APPROVES = "lawsuit_filing"
"""The `approves` of a filing approval task: the API gives these to the legal role."""
TASK_KEY_PREFIX = "legal-filing:"


def is_filing(step: Step) -> bool:
    return step.action == "lawsuit" and step.template == FILING_TEMPLATE


def below_minimum(balance: Decimal, minimum: Decimal | None) -> bool:
    """No suit for less than the strategy's minimum: a balance equal to it is filed."""
    return minimum is not None and balance < minimum


def balance_at(ep: Episode, now: datetime) -> Decimal:
    """What is owed at `now`, penalty accrued to the day (a decision in a handler comes between
    wake-ups, when the book itself was last accrued)."""
    return ep.accrued_book(ep.today(now)).balance


def requester(ep: Episode, step: Step) -> str:
    """Who asks for the filing: the account's holder, else the strategy's step."""
    return ep.s.holder or f"strategy {ep.strategy.ref} step {step.id}"


def takes_over(ep: Episode, now: datetime, step: Step, dpd: int) -> bool:
    """A filing step under a strategy that withholds small suits or needs approval is decided
    here (True); any other step goes on as before (False)."""
    policy = ep.strategy.branches.legal
    if not is_filing(step) or (not policy.filing_approval and policy.min_suit_balance is None):
        return False
    balance = balance_at(ep, now)
    if below_minimum(balance, policy.min_suit_balance):
        _record(
            ep,
            now,
            "withheld",
            step.id,
            f"no suit filed: the balance {balance} {ep.s.account.currency} is below the "
            f"strategy's minimum of {policy.min_suit_balance}",
        )
        return True
    if not policy.filing_approval:
        return False
    if ep.s.filing_request is not None or ep.s.suit_filed:
        return True  # asked once; the answer decides
    _ask_approval(ep, now, step, dpd, balance)
    return True


def _ask_approval(ep: Episode, now: datetime, step: Step, dpd: int, balance: Decimal) -> None:
    """An `approval` task for the legal role, open for the strategy's `approval_days`."""
    by = requester(ep, step)
    task_key = f"{TASK_KEY_PREFIX}{step.id}"
    task_id = ep.ask_person(
        now,
        "approval",
        (now, now + timedelta(days=ep.strategy.branches.legal.approval_days)),
        ChildTaskDetail(
            action=ActionKind.APPROVAL_TASK,
            reason=f"approve filing the lawsuit at DPD {dpd} (step {step.id}): balance "
            f"{balance} {ep.s.account.currency}",
            task_kind="approval",
            task_key=task_key,
            requested_by=by,
            amount=balance,
            currency=ep.s.account.currency,
            approves=APPROVES,
        ),
        priority=balance,
        task_key=task_key,
    )
    ep.s.filing_request = FilingRequest(
        task_id=task_id, step_id=step.id, requested_by=by, balance=balance, at=now
    )


def is_filing_approval(task: OpenTask) -> bool:
    return task.kind == "approval" and (task.task_key or "").startswith(TASK_KEY_PREFIX)


def check_decision(ep: Episode, now: datetime, task: OpenTask, request: TaskOutcome) -> None:
    """Four eyes, in case anything bypassed the API's check: the requester does not decide.
    No suit is filed while a hold binds the account (a dispute, a complaint, an attorney...):
    an approval then is refused (409) until the hold ends; a rejection is always taken."""
    pending = ep.s.filing_request
    if not is_filing_approval(task) or pending is None or pending.task_id != task.task_id:
        return
    if request.recorded_by == pending.requested_by:
        raise Refused(
            f"{request.recorded_by} asked for this filing; another person must decide it.",
            NOT_ALLOWED,
        )
    held = sorted({h.kind for h in active_holds(ep.s.holds, now)})
    if request.outcome.outcome == "approved" and held:
        raise Refused(
            f"The account is on hold ({', '.join(held)}): no suit is filed while it holds. "
            "Approve after the hold ends, or reject.",
            NOT_ALLOWED,
        )


def decide(ep: Episode, now: datetime, task: OpenTask, request: TaskOutcome) -> str | None:
    """A legal approver's answer to a filing approval (None: the task is not one)."""
    pending = ep.s.filing_request
    if not is_filing_approval(task) or pending is None or pending.task_id != task.task_id:
        return None
    ep.s.filing_request = None
    by, code = request.recorded_by, request.outcome.outcome
    notes = request.outcome.notes
    if code != "approved":
        _record(
            ep,
            now,
            "rejected",
            pending.step_id,
            f"lawsuit filing rejected by {by}: collection goes on without a suit",
            pending,
            by,
            notes,
        )
        return f"filing rejected by {by}"
    step = _step(ep, pending.step_id)
    minimum = ep.strategy.branches.legal.min_suit_balance
    balance = balance_at(ep, now)
    if step is None or below_minimum(balance, minimum):
        # Paid down below the minimum while the approval waited: still no suit.
        _record(
            ep,
            now,
            "withheld",
            pending.step_id,
            f"approved by {by}, but the balance {balance} is now below the strategy's minimum "
            f"of {minimum}: no suit filed",
            pending,
            by,
            notes,
        )
        return f"approved by {by}; balance below the minimum: no suit"
    placed = ep.s.placement
    if placed is not None:
        agency_legal.recall(ep, now, "a lawsuit is being filed", replace=False)
    _record(
        ep,
        now,
        "approved",
        pending.step_id,
        f"lawsuit filing approved by {by}",
        pending,
        by,
        notes,
        recalled_from=placed["agency"] if placed else None,
    )
    ep.s.suit_filed = True
    ep.queue_action(
        now,
        step,
        ep.dpd(now),
        extra={"reason": f"lawsuit filed after approval by {by} (asked by {pending.requested_by})"},
    )
    return f"filing approved by {by}: suit filed"


def expire(ep: Episode, now: datetime) -> None:
    """An approval whose task closed without an answer (its window ended): no suit."""
    pending = ep.s.filing_request
    if pending is None or any(t.task_id == pending.task_id for t in ep.s.open_tasks):
        return
    ep.s.filing_request = None
    _record(
        ep,
        now,
        "expired",
        pending.step_id,
        "no legal approver decided the filing in time: no suit filed, collection goes on",
        pending,
    )


def stops_placement(ep: Episode, step: Step) -> bool:
    """Once a suit is filed no agency takes the account: the placement and the filing never
    overlap."""
    return ep.s.suit_filed and step.action == "oca_placement"


def _step(ep: Episode, step_id: str) -> Step | None:
    steps = {s.id: s for s in ep.treatment} | ep.branch_steps
    return steps.get(step_id)


def _record(
    ep: Episode,
    now: datetime,
    decision: Literal["withheld", "approved", "rejected", "expired"],
    step_id: str,
    reason: str,
    pending: FilingRequest | None = None,
    by: str | None = None,
    notes: str | None = None,
    recalled_from: str | None = None,
) -> None:
    ep.record_action(
        now,
        "legal",
        LegalFilingDetail(
            action=ActionKind.LEGAL_FILING,
            reason=reason,
            decision=decision,
            step=step_id,
            balance=balance_at(ep, now),
            min_suit_balance=ep.strategy.branches.legal.min_suit_balance,
            currency=ep.s.account.currency,
            requested_by=pending.requested_by if pending else None,
            decided_by=by,
            approval_task=pending.task_id if pending else None,
            case_id=ep.s.legal_case,
            recalled_from=recalled_from,
            notes=notes,
        ),
    )
