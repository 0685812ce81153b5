"""Promises to pay (PLAYBOOK.md section 7) and payment plans (section 9): making one, checking
one before it enters history, judging it kept or broken when its deadline passes.

An open promise pauses the ladder; a broken one is a negative credit record, unless our own
debit file was at fault. A kept promise of a plan opens the next one.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from domain.account import PromiseIn
from domain.outcomes import HardshipIn
from domain.promise import (
    Promise,
    deadline,
    judge_promise,
    needs_supervisor,
    validate_plan,
    validate_promise,
)
from domain.vocabulary import AccountState, ActionKind
from workflows.account import gate
from workflows.account.episode import (
    INVALID_PROMISE,
    NOT_ALLOWED,
    SUPERVISOR_REQUIRED,
    Episode,
    Refused,
)
from workflows.contracts import NegativeCreditDetail, PromiseView

BROKEN_PROMISE_WEIGHT = 2
"""How much a broken promise's follow-up call outranks an ordinary call on the same money."""


def make_promise(ep: Episode, now: datetime, promised: PromiseIn) -> PromiseView:
    """Open a promise (already checked); the store hears of it with the moment."""
    ep.s.promise_count += 1
    made = Promise(
        promise_id=f"{ep.s.account.loan_id}-{ep.s.episode[:8]}-P{ep.s.promise_count}",
        amount=promised.amount,
        promised_date=promised.promised_date,
        pay_to=promised.pay_to,
        made_on=ep.today(now),
    )
    ep.s.promise = made
    view = ep.promise_view(made)
    ep.out.promises.append(view)
    return view


def check_promise(
    ep: Episode, now: datetime, promised: PromiseIn, supervisor_override: bool
) -> None:
    """Raise `Refused` (the API's 409/422) when this promise cannot be made."""
    if ep.s.state != AccountState.DELINQUENT:
        raise Refused(
            f"A promise can only be recorded on a delinquent account; this one is {ep.s.state}.",
            NOT_ALLOWED,
        )
    if ep.s.promise is not None:
        raise Refused(
            f"Promise {ep.s.promise.promise_id} is still open until "
            f"{deadline(ep.s.promise, ep.strategy.promises)}.",
            NOT_ALLOWED,
        )
    today = ep.today(now)
    rules = ep.strategy.promises
    if needs_supervisor(ep.s.broken_dates, today, rules) and not supervisor_override:
        raise Refused(
            f"{rules.broken_limit} or more promises were broken in the last "
            f"{rules.broken_window_months} months: a supervisor must record this promise.",
            SUPERVISOR_REQUIRED,
        )
    # The book is accrued only to the last wake-up; judge against today's balance.
    book = ep.accrued_book(today)
    errors = validate_promise(promised.amount, promised.promised_date, today, book.balance, rules)
    if errors:
        raise Refused(" ".join(errors), INVALID_PROMISE, errors)


def check_plan(ep: Episode, now: datetime, hardship: HardshipIn | None) -> None:
    """A payment plan is a series of promises: refused like a promise would be (an open
    promise → 409; dates, amounts, gaps → 422)."""
    if hardship is None or not hardship.plan:
        return
    check_promise(ep, now, hardship.plan[0], supervisor_override=False)
    today = ep.today(now)
    errors = validate_plan(
        [(p.amount, p.promised_date) for p in hardship.plan],
        today,
        ep.accrued_book(today).balance,
        ep.strategy.promises,
    )
    if errors:
        raise Refused(" ".join(errors), INVALID_PROMISE, errors)


def _paid_since(ep: Episode, day: date) -> Decimal:
    return sum((p.amount for p in ep.s.book.payments if p.on >= day), Decimal(0))


def judge(ep: Episode, now: datetime, today: date) -> None:
    """Judge the open promise by what was paid since it was made: still open, kept (the plan's
    next promise opens), or broken (a negative credit record; a broken plan ends)."""
    promise = ep.s.promise
    if promise is None:
        return
    rules = ep.strategy.promises
    paid = _paid_since(ep, promise.made_on) - promise.credited_before
    verdict = judge_promise(promise, paid, today, rules)
    if verdict == "open":
        return
    promise.status, promise.resolved_on, promise.paid_toward = verdict, today, paid
    ep.s.promise = None
    ep.out.promises.append(ep.promise_view(promise))
    if verdict == "kept" and ep.s.promise_plan:
        # Section 9, payment plan: the next promise of the series becomes the open one.
        following = ep.s.promise_plan.pop(0)
        make_promise(ep, now, following)
        assert ep.s.promise is not None
        ep.s.promise.credited_before = _paid_since(ep, today)
    if verdict == "broken":
        if ep.s.promise_plan:
            ep.s.promise_plan = []  # a broken plan promise ends the plan
        ep.s.broken_dates.append(today)
        ep.record_action(
            now,
            "internal",
            NegativeCreditDetail(
                action=ActionKind.NEGATIVE_CREDIT_RECORD,
                reason=f"promise {promise.promise_id} broken: paid {paid} of "
                f"{promise.amount} by {deadline(promise, rules)}",
                promise_id=promise.promise_id,
                broken_promises=ep.s.broken_count,
            ),
        )
        follow_up_broken(ep, now, promise, paid)


def follow_up_broken(ep: Episode, now: datetime, promise: Promise, paid: Decimal) -> None:
    """Section 7: a borrower who broke a promise usually still means to pay and is a priority —
    a follow-up call (why it broke; the new promise's amount, date and account), ranked above
    ordinary calls on the same money (its priority is the overdue amount × BROKEN_PROMISE_WEIGHT).
    It passes the compliance gate like any call."""
    before = len(ep.out.actions)
    gate.fire_step(
        ep,
        now,
        ep.branch_steps["branch.call"],
        ep.dpd(now),
        detail={
            "reason": f"promise {promise.promise_id} broken (paid {paid} of {promise.amount}): "
            "follow up, ask why and for a new promise (amount, date, account)",
            "broken_promise": promise.promise_id,
        },
    )
    for index in range(before, len(ep.out.actions)):
        action = ep.out.actions[index]
        if action.kind == ActionKind.CALL_TASK:
            ep.out.actions[index] = action.model_copy(
                update={"priority": action.priority * BROKEN_PROMISE_WEIGHT}
            )


def explain_broken_promise(ep: Episode, reason: str) -> None:
    """Section 7: why the last promise broke; our own late or wrong debit file does not
    count against the borrower."""
    if not ep.s.broken_dates:
        return
    ep.s.broken_reasons[str(ep.s.broken_count)] = reason
    if reason == "debit_file_error":
        ep.s.broken_dates = ep.s.broken_dates[:-1]
