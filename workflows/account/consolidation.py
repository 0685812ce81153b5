"""The account's side of consolidation across its borrower's loans (docs/borrowers.md
"Consolidation"; issue 16 item 2).

A loan with a borrower id tells its borrower, with every grant request, what it owes now
(`LoanDue`) and which of its candidates are reminders or call tasks of an overdue loan
(`CandidateShape`). The borrower answers a candidate another loan's message or call task
already covers as covered: `apply_result` takes it back (nothing is sent or queued, no contact
counted) and records a `consolidated` action naming what covers it. A granted message or call
task that names several loans carries them in its detail (`loans`), which the templates and the
collector's task show.

An outcome on a call task that names several loans applies to each: the task's loan takes its
own share (`own_share`: a promise split as the strategy says), records a `shared_outcome`
action naming the loans, and passes the outcome to its borrower in its next request, who passes
it on; each other loan records it (`apply_shared_outcome`) without counting the call again.

Plain decisions on the Episode; the workflow class does the asking. A loan without a borrower id
never reaches any of this.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from domain.account import PromiseIn
from domain.contact.consolidation import (
    CandidateShape,
    DueLine,
    LoanDue,
    NamedLoan,
    SharedOutcome,
    allocate_promise,
)
from domain.outcomes import RIGHT_PARTY_OUTCOMES
from domain.vocabulary import AccountState, ActionKind
from workflows.account import borrower, promises
from workflows.account.episode import INVALID_PROMISE, Episode, Refused
from workflows.contracts import (
    ActionCommand,
    ConsolidatedDetail,
    OpenTask,
    SharedOutcomeDetail,
    StepDetail,
    TaskOutcome,
)
from workflows.contracts.borrowers import BorrowerOutcomeSignal, GrantRequest, GrantResult

# Reminders a borrower gets once a day per channel (a letter: per day and template).
MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        ActionKind.SMS_REMINDER: "sms",
        ActionKind.VOICE_REMINDER: "voice",
        ActionKind.LETTER: "letter",
    }
)


def dues_of(ep: Episode, now: datetime) -> LoanDue:
    """What the loan owes today, as its borrower will name it in another loan's message."""
    today = ep.today(now)
    book = ep.s.book
    return LoanDue(
        loan_id=ep.s.account.loan_id,
        currency=ep.s.account.currency,
        as_of=today,
        amount_overdue=book.amount_overdue(today) if ep.s.state == AccountState.DELINQUENT else 0,
        balance=book.balance,
        # An episode that has ended owes nothing through this workflow: a later instalment
        # falling due opens a new episode, which reports for itself.
        unpaid=[]
        if ep.closed
        else [DueLine(due_date=i.due_date, unpaid=i.unpaid) for i in book.instalments if i.unpaid],
    )


def grant_request(
    ep: Episode,
    now: datetime,
    told: borrower.Told | None,
    last_dues: LoanDue | None,
    asked: set[str],
) -> GrantRequest | None:
    """`borrower.grant_request` with what consolidation needs: the loan's money, the shape of
    each candidate, and the outcomes to pass on. Also asked (a report) when only the loan's
    unpaid instalments changed since it last told its borrower (a payment, a new instalment),
    so other loans' messages name it with what it really owes; penalty accruing alone asks
    nothing."""
    if borrower.borrower_id(ep) is None or ep.s.ledger is None:
        return None
    request = borrower.grant_request(ep, told, asked)
    dues = dues_of(ep, now)
    shared = [s for s in _shared_outcomes(ep) if s.key not in asked]
    if request is None:
        if not shared and last_dues is not None and last_dues.unpaid == dues.unpaid:
            return None
        request = GrantRequest(
            loan_id=ep.s.account.loan_id,
            facts=borrower.facts_of(ep),
            policy=ep.pinned,
            context=ep.context,
            ledger=ep.s.ledger,
            channels_base=told.channels if told else None,
        )
    return request.model_copy(
        update={
            "dues": dues,
            "shapes": _shapes(ep, request),
            "shared_outcomes": shared,
        }
    )


def _action(ep: Episode, grant_id: str) -> ActionCommand | None:
    seq = int(grant_id.rsplit(":", 1)[1])
    return next((a for a in ep.out.actions if a.seq == seq), None)


def _shapes(ep: Episode, request: GrantRequest) -> list[CandidateShape]:
    """The candidates that are reminders or borrower calls of this loan while it is overdue,
    and its pre-due reminders before its due date (a message of their own kind: they name the
    loans falling due, not the loans overdue)."""
    if ep.s.state == AccountState.PRE_DUE:
        return _pre_due_shapes(ep, request)
    if ep.s.state != AccountState.DELINQUENT:
        return []
    shapes = []
    for candidate in request.candidates:
        action = _action(ep, candidate.grant_id)
        if action is None:
            continue
        at = candidate.record.at
        if action.kind in MESSAGES:
            shapes.append(
                CandidateShape(
                    grant_id=candidate.grant_id,
                    kind="message",
                    channel=MESSAGES[action.kind],
                    day=ep.today(at),
                    at=at,
                    template=action.template or None,
                )
            )
        elif action.kind == ActionKind.CALL_TASK:
            task = next((t for t in ep.s.open_tasks if t.action_seq == action.seq), None)
            if task is None or task.party != "borrower" or task.not_after is None:
                continue
            shapes.append(
                CandidateShape(
                    grant_id=candidate.grant_id,
                    kind="call",
                    channel="call",
                    day=ep.today(at),
                    at=at,
                    until=task.not_after,
                    task_id=task.task_id,
                )
            )
    return shapes


def _pre_due_shapes(ep: Episode, request: GrantRequest) -> list[CandidateShape]:
    """The pre-due reminders among the candidates, each with the loan's due date it is about
    (the earliest unpaid instalment not yet past on the reminder's day)."""
    shapes = []
    for candidate in request.candidates:
        action = _action(ep, candidate.grant_id)
        if action is None or action.kind not in MESSAGES or action.kind == ActionKind.LETTER:
            continue
        at = candidate.record.at
        day = ep.today(at)
        due = min(
            (i.due_date for i in ep.s.book.instalments if i.unpaid and i.due_date >= day),
            default=None,
        )
        if due is None:
            continue
        shapes.append(
            CandidateShape(
                grant_id=candidate.grant_id,
                kind="message",
                channel=MESSAGES[action.kind],
                day=day,
                at=at,
                stage="pre_due",
                due_until=due,
                template=action.template or None,
            )
        )
    return shapes


def apply_result(ep: Episode, now: datetime, request: GrantRequest, result: GrantResult) -> None:
    """Take back what another loan's contact covers (recorded as `consolidated`), and let a
    granted message or call task name every loan it stands for."""
    by_id = {c.grant_id: c for c in request.candidates}
    for grant_id, coverage in result.covered.items():
        action = _action(ep, grant_id)
        candidate = by_id.get(grant_id)
        if action is None or candidate is None:
            continue
        borrower.take_back(ep, action, candidate)
        step = action.detail if isinstance(action.detail, StepDetail) else None
        what = "call task" if coverage.task_id else f"{coverage.channel} message"
        ep.record_action(
            now,
            action.channel or coverage.channel,
            ConsolidatedDetail(
                action=ActionKind.CONSOLIDATED,
                reason=f"covered by the {what} of loan {coverage.by_loan}, which names this loan",
                covered_action=action.kind,
                step_id_covered=action.step_id or None,
                covered_channel=coverage.channel,
                by_loan=coverage.by_loan,
                by_action=coverage.by_grant,
                into_task=coverage.task_id,
                dpd=step.dpd if step else None,
                amount_overdue=step.amount_overdue if step else None,
                currency=step.currency if step else None,
            ),
        )
    for grant_id, names in result.names.items():
        action = _action(ep, grant_id)
        if action is None or not isinstance(action.detail, StepDetail):
            continue
        action.detail = action.detail.model_copy(update={"loans": names})
        for task in ep.s.open_tasks:
            if task.action_seq == action.seq:
                task.loans = list(names)


# ------------------------------------------------------------------ outcomes across loans


def _named(ep: Episode, now: datetime, task: OpenTask) -> list[NamedLoan]:
    """The loans the task names, this loan's own figures as of now (the others' as named)."""
    today = ep.today(now)
    book = ep.accrued_book(today)
    own = ep.s.account.loan_id
    return [
        n.model_copy(update={"amount_overdue": book.amount_overdue(today), "balance": book.balance})
        if n.loan_id == own
        else n
        for n in task.loans
    ]


def _shares(ep: Episode, now: datetime, task: OpenTask, amount: Decimal) -> dict[str, Decimal]:
    loans = _named(ep, now, task)
    shares = allocate_promise(amount, loans, ep.strategy.promises.allocation, ep.s.account.currency)
    owed = sum((n.balance if n.balance is not None else n.amount_overdue for n in loans), 0)
    if sum(shares.values(), Decimal(0)) < amount:
        raise Refused(
            f"The promise of {amount} is more than the {len(loans)} loans this call task names "
            f"owe ({owed}).",
            INVALID_PROMISE,
            [f"amount above what the loans named owe ({owed})"],
        )
    return shares


def open_task(ep: Episode, task_id: str) -> OpenTask | None:
    """The open task of this id, or None."""
    return next((t for t in ep.s.open_tasks if t.task_id == task_id), None)


def own_share(ep: Episode, now: datetime, request: TaskOutcome) -> TaskOutcome:
    """The outcome as this loan takes it: a promise on a call task that names several loans
    becomes this loan's share of it (none, when the strategy's split gives it nothing). Raises
    `Refused` for a promise above what the loans named owe. Any other outcome is unchanged."""
    task = open_task(ep, request.task_id)
    promise = request.outcome.promise
    if (
        task is None
        or len(task.loans) < 2
        or request.outcome.outcome != "promise_to_pay"
        or promise is None
        or request.task_id in ep.s.done_tasks
    ):
        return request
    share = _shares(ep, now, task, promise.amount).get(ep.s.account.loan_id, Decimal(0))
    mine = promise.model_copy(update={"amount": share}) if share > 0 else None
    outcome = request.outcome.model_copy(update={"promise": mine})
    return request.model_copy(update={"outcome": outcome})


def share_outcome(ep: Episode, now: datetime, task: OpenTask | None, request: TaskOutcome) -> None:
    """After the outcome is taken here: on a task that names several loans, a `shared_outcome`
    action naming them (and each one's share of a promise); the next grant request passes it
    to the borrower, who passes it on."""
    if task is None or len(task.loans) < 2:
        return
    promise = request.outcome.promise
    shares = (
        _shares(ep, now, task, promise.amount)
        if request.outcome.outcome == "promise_to_pay" and promise is not None
        else None
    )
    own = ep.s.account.loan_id
    ep.record_action(
        now,
        "call",
        SharedOutcomeDetail(
            action=ActionKind.SHARED_OUTCOME,
            reason=f"{request.outcome.outcome} on call task {task.task_id} applies to every "
            "loan it names",
            shared_task=task.task_id,
            outcome=request.outcome.outcome,
            from_loan=own,
            loans=[n.loan_id for n in task.loans],
            shares=shares,
            share=shares.get(own) if shares else None,
            promised_date=promise.promised_date if shares and promise else None,
            promise_id=ep.s.promise.promise_id if shares and ep.s.promise else None,
            recorded_by=request.recorded_by,
            currency=ep.s.account.currency,
        ),
    )
    ep.wake = True


def _shared_outcomes(ep: Episode) -> list[SharedOutcome]:
    """This loan's shared outcomes in the moment, for its borrower to pass on."""
    own = ep.s.account.loan_id
    found = []
    for action in ep.out.actions:
        detail = action.detail
        if not isinstance(detail, SharedOutcomeDetail) or detail.from_loan != own:
            continue
        if not detail.loans or detail.shared_task is None or detail.outcome is None:
            continue
        found.append(
            SharedOutcome(
                key=f"{own}:{ep.s.episode}:{action.seq}",
                task_id=detail.shared_task,
                from_loan=own,
                outcome=detail.outcome,
                at=action.at,
                loans=list(detail.loans),
                shares=dict(detail.shares or {}),
                promised_date=detail.promised_date,
                recorded_by=detail.recorded_by,
            )
        )
    return found


def apply_shared_outcome(ep: Episode, now: datetime, message: BorrowerOutcomeSignal) -> bool:
    """An outcome recorded on another loan's call task that names this loan: recorded here as
    a `shared_outcome` (the call itself is counted once, on the task's loan, so nothing joins
    this loan's ledger); a conversation with the borrower reaches this loan too; a promise's
    share opens this loan's promise (never above its balance, never over an open one)."""
    if ep.closed:
        return False
    shared = message.outcome
    own = ep.s.account.loan_id
    share = shared.shares.get(own)
    promise_id = None
    if (
        shared.outcome == "promise_to_pay"
        and share is not None
        and share > 0
        and shared.promised_date is not None
        and ep.s.promise is None
        and ep.s.state == AccountState.DELINQUENT
    ):
        balance = ep.accrued_book(ep.today(now)).balance
        amount = min(share, balance)
        if amount > 0:
            view = promises.make_promise(
                ep,
                now,
                PromiseIn(amount=amount, promised_date=shared.promised_date, pay_to=shared.pay_to),
            )
            promise_id = view.promise_id
    if shared.outcome in RIGHT_PARTY_OUTCOMES:
        ep.s.reached = True
    ep.record_action(
        now,
        "call",
        SharedOutcomeDetail(
            action=ActionKind.SHARED_OUTCOME,
            reason=f"{shared.outcome} recorded on call task {shared.task_id} of loan "
            f"{shared.from_loan}, which names this loan",
            shared_task=shared.task_id,
            outcome=shared.outcome,
            from_loan=shared.from_loan,
            loans=list(shared.loans),
            shares=dict(shared.shares) or None,
            share=share,
            promised_date=shared.promised_date if promise_id else None,
            promise_id=promise_id,
            recorded_by=shared.recorded_by,
            currency=ep.s.account.currency,
        ),
    )
    ep.wake = True
    return True
