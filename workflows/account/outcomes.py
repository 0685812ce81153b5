"""The playbook's branches (PLAYBOOK.md sections 6-12): what a person's outcome for a task, or
the borrower's situation, changes in the episode — the next call's slot and number after no
answer, the skip path when every number is dead, hardship (a payment plan, a grace period or a
restructure offer), refusals (complaint, grievance against the collector, fraud), bankruptcy
and death.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.calendar import zone
from domain.outcomes import RIGHT_PARTY_OUTCOMES, HardshipIn, outcome_error
from domain.restructure import eligible
from domain.vocabulary import ActionKind
from workflows.account import cases, deliveries, filing, gate, holds, promises, reasons
from workflows.account.branches import live_numbers, next_slot_window
from workflows.account.contacts import DEAD, UNANSWERED, outcome_record
from workflows.account.episode import (
    INVALID_OUTCOME,
    NOT_ALLOWED,
    TASK_CLOSED,
    TASK_NOT_OPEN,
    Episode,
    Refused,
)
from workflows.contracts import (
    ChildTaskOutcome,
    ComplaintRoutingDetail,
    OpenTask,
    ReassignmentDetail,
    ReassignRequest,
    ReassignResult,
    RestructureAnswer,
    TaskOutcome,
    TaskOutcomeResult,
)

MAX_REMEMBERED_TASKS = 500
# The skip path's later steps and the strategy setting that says after how many days each comes.
SKIP_STEPS = (
    ("branch.field_investigation", "field_investigation_after_days"),
    ("branch.skip_oca", "oca_after_days"),
)


def check_task_outcome(ep: Episode, now: datetime, request: TaskOutcome) -> None:
    """Refuse an outcome for a task that is not open, or one its kind cannot have; a promise or
    a plan it carries is checked as if made directly."""
    if request.task_id in ep.s.done_tasks:
        return
    if ep.closed:
        raise Refused(f"The account is {ep.s.state}; its tasks are closed.", NOT_ALLOWED)
    task = next((t for t in ep.s.open_tasks if t.task_id == request.task_id), None)
    if task is None:
        raise Refused(
            f"Task {request.task_id} is not an open task of this account (it expired, was "
            "cancelled, or never existed).",
            TASK_CLOSED,
        )
    problem = outcome_error(task.kind, request.outcome)
    if problem:
        raise Refused(problem, INVALID_OUTCOME)
    filing.check_decision(ep, now, task, request)
    if not_open_yet(task, now) and not request.outcome.unscheduled:
        raise Refused(window_message(task), TASK_NOT_OPEN)
    if request.outcome.outcome == "promise_to_pay" and request.outcome.promise is not None:
        promises.check_promise(
            ep, now, request.outcome.promise, supervisor_override=request.by_supervisor
        )
    promises.check_plan(ep, now, request.outcome.hardship)
    reasons.check_reason(ep, task, request)


def not_open_yet(task: OpenTask, now: datetime) -> bool:
    """An outcome reported before the task's window opened (issue 17: a probe booked dozens
    of call attempts in a week this way)."""
    return task.not_before is not None and now < task.not_before


def window_message(task: OpenTask) -> str:
    """Why an outcome is refused before the window: the window, and what to do instead."""
    return (
        f"Task {task.task_id} is not open yet: its window is {task.not_before} to "
        f"{task.not_after}. A {task.kind} that really happened before it can be recorded with "
        "`unscheduled: true` (audited against the contact rules and flagged for a supervisor)."
    )


def take_outcome(ep: Episode, now: datetime, request: TaskOutcome) -> TaskOutcomeResult:
    """A person's outcome for a task this workflow created; counted once per task id (the
    API also sends it with update id `outcome-{task_id}`, but that dedup ends with the run)."""
    if request.task_id in ep.s.done_tasks:
        return TaskOutcomeResult(task_id=request.task_id, effect="already recorded")
    task = next(t for t in ep.s.open_tasks if t.task_id == request.task_id)
    ep.s.open_tasks = [t for t in ep.s.open_tasks if t.task_id != request.task_id]
    ep.drop_pending(request.task_id)
    ep.s.done_tasks = (ep.s.done_tasks + [request.task_id])[-MAX_REMEMBERED_TASKS:]
    if request.outcome.unscheduled and not_open_yet(task, now):
        # Audited before the outcome adds the contact to the ledger: the rules judge it
        # against what happened before it.
        gate.audit_unscheduled(ep, now, task, request.outcome.outcome, request.recorded_by)
    reasons.record_reason(ep, now, task, request)
    effect = apply_outcome(ep, now, task, request)
    gate.withdraw_barred_calls(ep, now)
    ep.wake = True
    return TaskOutcomeResult(
        task_id=request.task_id, outcome=request.outcome.outcome, effect=effect
    )


def apply_outcome(ep: Episode, now: datetime, task: OpenTask, request: TaskOutcome) -> str:
    """What the outcome changes in the episode: the branches of PLAYBOOK.md sections 6-12."""
    outcome = request.outcome
    code = outcome.outcome
    decided = filing.decide(ep, now, task, request)
    if decided is not None:
        return decided
    if task.owner is None and task.kind == "approval":
        # A supervisor's review of an unscheduled contact: on record, nothing else changes.
        return f"review {code} by {request.recorded_by}"
    if task.owner is not None:
        assert task.task_key is not None
        ep.signal_child(
            task.owner,
            "task_outcome",
            ChildTaskOutcome(
                task_key=task.task_key,
                task_id=task.task_id,
                outcome=code,
                recorded_by=request.recorded_by,
                at=now,
                notes=outcome.notes,
            ),
        )
        return f"{code} passed to {task.owner}"
    if reached_borrower(task, code):
        ep.s.reached = True
    _learn_from_outcome(ep, now, task, code)
    if outcome.broken_promise_reason:
        promises.explain_broken_promise(ep, outcome.broken_promise_reason)
    dpd = ep.dpd(now)
    by = request.recorded_by
    if code in UNANSWERED:
        return after_no_answer(ep, now, task, dpd)
    ep.s.unanswered_in_row, ep.s.no_answer_followed_up = 0, []
    if code in DEAD or code == "address_invalid":
        return after_dead_contact(ep, now, dpd)
    if code == "callback_requested" and outcome.at is not None:
        gate.fire_step(
            ep,
            now,
            ep.branch_steps["branch.call"],
            dpd,
            window=(outcome.at, outcome.at + timedelta(minutes=30)),
            target=task.target,
            party=task.party,
            detail={"reason": f"callback requested by the borrower for {outcome.at}"},
        )
        return f"callback at {outcome.at}"
    if code in ("deceased_reported", "bankruptcy_reported"):
        kind = "deceased" if code == "deceased_reported" else "bankruptcy"
        holds.add_hold(ep, now, kind, {"reported_by": by})
        return f"{kind} hold; write-off subflow started"
    if code == "found" and outcome.contact_info is not None:
        deliveries.apply_contact_info(ep, outcome.contact_info)
        return "new contact details: normal treatment resumes"
    if code in ("hardship", "visited_met") and outcome.hardship is not None:
        return after_hardship(ep, now, outcome.hardship, by, dpd)
    if code == "refused":
        return after_refusal(ep, now, outcome.reason or "other", by, dpd)
    if code in ("restructure_accepted", "restructure_declined"):
        decision = "accept" if code == "restructure_accepted" else "decline"
        answer_offer(ep, now, decision, by)
        return f"restructure offer: {decision}"
    if code in ("promise_to_pay", "visited_met") and outcome.promise is not None:
        view = promises.make_promise(ep, now, outcome.promise)
        return f"promise {view.promise_id} recorded"
    return f"{code} recorded"


def reached_borrower(task: OpenTask, code: str) -> bool:
    """Whether this outcome was a conversation with the borrower themself (the playbook's
    right-party contact): someone else answering (`third_party`), a contact person asked to
    pass a message, or the borrower's attorney is not reaching the borrower, so the DPD-20
    field visit for borrowers not reached still goes out."""
    return (
        task.kind in ("call", "field_visit")
        and task.party == "borrower"
        and code in RIGHT_PARTY_OUTCOMES
    )


def answer_offer(ep: Episode, now: datetime, decision: str, by: str) -> None:
    """The borrower's answer to the open restructure offer goes to the restructure subflow."""
    child = ep.s.restructure_child
    if child is not None:
        ep.signal_child(
            child, "answer", RestructureAnswer(decision=decision, recorded_by=by, at=now)
        )


def _learn_from_outcome(ep: Episode, now: datetime, task: OpenTask, code: str) -> None:
    """The contact ledger counts the attempt; a right-party contact teaches the account's
    best hour (section 6); a dead number leaves the rotation."""
    ledger = ep.s.ledger
    if ledger is None:
        return
    record = outcome_record(task.kind, code, task.target, now, party=task.party)
    if record is not None:
        ledger = ledger.with_record(record)
    if code in DEAD and task.target:
        ledger = ledger.with_dead_number(task.target)
    ep.s.ledger = ledger
    if code in RIGHT_PARTY_OUTCOMES and task.kind == "call" and task.party != "attorney":
        local = now.astimezone(zone(ep.tz))
        ep.s.rpc_hours = (ep.s.rpc_hours + [local.hour])[-20:]


def after_no_answer(ep: Episode, now: datetime, task: OpenTask, dpd: int) -> str:
    """Section 11: another slot and number next time; after N unanswered an SMS and a
    letter; after M the contact persons are asked to pass a message."""
    policy = ep.strategy.branches.no_answer
    ep.s.unanswered_in_row += 1
    streak = ep.s.unanswered_in_row
    done = ep.s.no_answer_followed_up
    effects = [f"{streak} unanswered in a row"]
    if streak >= policy.sms_and_letter_after and policy.sms_and_letter_after not in done:
        done.append(policy.sms_and_letter_after)
        for step_id in ("branch.no_answer.sms", "branch.no_answer.letter"):
            gate.fire_step(ep, now, ep.branch_steps[step_id], dpd)
        effects.append("SMS and letter")
    persons = [c for c in ep.s.account.contacts if not c.guarantor]
    if streak >= policy.contact_persons_after and policy.contact_persons_after not in done:
        done.append(policy.contact_persons_after)
        for person in persons:
            gate.fire_step(
                ep,
                now,
                ep.branch_steps["branch.contact_persons"],
                dpd,
                target=person.phone,
                party="third_party",
                purpose="message",
                detail={
                    "reason": f"{streak} calls unanswered: ask {person.relation} to pass "
                    "a message (never mention the debt)",
                    "contact_relation": person.relation,
                },
            )
        effects.append(f"{len(persons)} contact person(s) asked to pass a message")
    slot, window = next_slot_window(now, task.slot or 0, ep.slots, ep.tz)
    gate.fire_step(
        ep,
        now,
        ep.branch_steps["branch.call"],
        dpd,
        window=window,
        detail={"reason": f"no answer ({streak} in a row): next slot {slot}, next number"},
    )
    return "; ".join(effects)


def after_dead_contact(ep: Episode, now: datetime, dpd: int) -> str:
    """Section 12: with no live number left the account becomes a skip."""
    ledger = ep.s.ledger
    if ledger is not None and not live_numbers(ep.s.account, ledger):
        enter_skip(ep, now, dpd, "every number is dead or wrong")
        return "no live number left: skip tracing"
    return "number dropped from the rotation"


def enter_skip(ep: Episode, now: datetime, dpd: int, why: str) -> None:
    """Section 12: a skip is traced at once (a skip-trace task for the old logs, the scanned
    documents, the credit bureau and the sales channel)."""
    if ep.s.skip_since is not None:
        return
    ep.s.skip_since, ep.s.skip_done = now, []
    ep.queue_action(
        now,
        ep.branch_steps["branch.skip_trace"],
        dpd,
        window=(
            now,
            now + timedelta(days=ep.strategy.branches.skip.field_investigation_after_days),
        ),
        extra={
            "reason": f"skip: {why}",
            "sources": [
                "old call logs for numbers that once worked",
                "scanned application documents",
                "credit-bureau report",
                "sales channel",
            ],
        },
    )


def _skip_steps_left(ep: Episode) -> list[tuple[str, datetime]]:
    since = ep.s.skip_since
    if since is None:
        return []
    policy = ep.strategy.branches.skip
    return [
        (step_id, since + timedelta(days=getattr(policy, setting)))
        for step_id, setting in SKIP_STEPS
        if step_id not in ep.s.skip_done
    ]


def advance_skip(ep: Episode, now: datetime, dpd: int) -> None:
    """A skip still lost is visited, then placed with an agency (section 12)."""
    since = ep.s.skip_since
    for step_id, at in _skip_steps_left(ep):
        if now >= at:
            assert since is not None
            ep.s.skip_done.append(step_id)
            gate.fire_step(
                ep,
                now,
                ep.branch_steps[step_id],
                dpd,
                detail={"reason": f"skip since {since.date()}: still not found"},
            )


def skip_moments(ep: Episode) -> list[datetime]:
    """When the skip path's next steps are due."""
    return [at for _, at in _skip_steps_left(ep)]


def after_hardship(ep: Episode, now: datetime, hardship: HardshipIn, by: str, dpd: int) -> str:
    """Section 9: short term → a payment plan or a grace hold; long term → restructuring when
    eligible; otherwise normal treatment, with the hardship on record."""
    ep.s.hardships.append(
        {
            "cause": hardship.cause,
            "term": hardship.term,
            "surmountable": str(hardship.surmountable),
            "recorded_by": by,
            "at": now.isoformat(),
        }
    )
    if hardship.term == "short" and hardship.plan:
        first, *rest = hardship.plan
        promises.make_promise(ep, now, first)
        ep.s.promise_plan = list(rest)
        return (
            f"short-term hardship: payment plan of {len(hardship.plan)} promises, "
            f"the first {first.amount} by {first.promised_date}"
        )
    if hardship.term == "short":
        until = holds.grant_grace(ep, now, hardship.cause)
        return f"short-term hardship: grace until {until.date()}"
    ok, why = eligible(
        ep.s.account.history.prior_delinquencies,
        dpd,
        ep.s.restructure_stage is not None,
        ep.strategy.branches.restructure,
        surmountable=hardship.surmountable,
    )
    if ok and ep.s.restructure_child is None:
        ep.out.children.append("restructure")
        return f"long-term hardship: restructuring offered ({why})"
    return f"long-term hardship recorded; not eligible for restructuring: {why}"


def after_refusal(ep: Episode, now: datetime, reason: str, by: str, dpd: int) -> str:
    """Section 10: unwilling to pay."""
    if reason == "complaint":
        ep.record_action(
            now,
            "internal",
            ComplaintRoutingDetail(
                action=ActionKind.COMPLAINT_ROUTING,
                reason="the borrower complained during a call",
                recorded_by=by,
            ),
        )
        cases.open_case(ep, now, holds.add_hold(ep, now, "complaint", {"reported_by": by}))
        return "complaint routed; complaint hold"
    if reason == "collector_grievance":
        if by not in ep.s.never_assign:
            ep.s.never_assign.append(by)
        if ep.s.holder == by:
            ep.s.holder = None
        ep.record_action(
            now,
            "internal",
            ReassignmentDetail(
                action=ActionKind.REASSIGNMENT,
                reason="the borrower has a grievance against the collector",
                from_=by,
                never_to=list(ep.s.never_assign),
            ),
        )
        return f"reassigned away from {by}"
    if reason == "fraud_suspected":
        for step_id in ("branch.fraud_warning", "branch.fraud_visit"):
            gate.fire_step(
                ep,
                now,
                ep.branch_steps[step_id],
                dpd,
                detail={"reason": "fraud suspected: legal warning and an early visit"},
            )
        return "fraud suspected: legal warning letter and early field visit"
    return "refusal recorded"


def reassign(ep: Episode, now: datetime, request: ReassignRequest) -> ReassignResult:
    """Section 5: a supervisor reassigns the account, or a collector hands it to the team lead;
    the new holder gets the account's open work (a `reassignment` action the store acts on)."""
    s = ep.s
    ep.record_action(
        now,
        "internal",
        ReassignmentDetail(
            action=ActionKind.REASSIGNMENT,
            reason=f"{request.kind} by {request.by}: {request.reason}",
            kind=request.kind,
            from_=s.holder or "",
            to=request.to,
            by=request.by,
            never_to=list(s.never_assign),
        ),
    )
    s.holder = request.to
    return ReassignResult(holder=request.to, kind=request.kind)
