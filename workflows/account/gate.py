"""The compliance gate as the episode uses it: every outbound contact (a ladder step, a branch's
contact, an offer letter) is put through `domain.contact.earliest_allowed` and either goes out,
is moved to the earliest allowed instant, or is dropped — a refusal is a `contact_blocked`
action naming the rule, written in one place (`refuse`).

Work for a person (a call, a visit) is not held back: its task window starts at the earliest
allowed instant and ends where the allowed period ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.contact import (
    ContactRecord,
    Decision,
    ProposedContact,
    allowed_until,
    earliest_allowed,
)
from domain.plan import slot_window
from domain.strategy import Step
from domain.vocabulary import CONTACT_CHANNEL, OFFER_LETTERS, TASK_KINDS, ActionKind
from workflows.account import agency_legal, filing
from workflows.account.branches import learned_window, rotate_call_target
from workflows.account.contacts import choose_target, sent_record
from workflows.account.episode import TASK_WINDOW, Episode
from workflows.contracts import (
    ChildTaskDetail,
    ContactBlockedDetail,
    DeferredContact,
    OpenTask,
    UnscheduledContactDetail,
    detail_for,
    task_id_for,
)

# How long a supervisor has to review an unscheduled contact before the review task expires.
REVIEW_DAYS = 7
# What `earliest_allowed` notes about its search, as opposed to obligations of the contact.
SEARCH_NOTES = frozenset({"blocked_by", "blocked_chain", "not_before"})


def fire_step(
    ep: Episode,
    now: datetime,
    step: Step,
    dpd: int,
    rescheduled_by: str | None = None,
    *,
    window: tuple[datetime, datetime] | None = None,
    target: str | None = None,
    party: str = "borrower",
    purpose: str = "collect",
    detail: dict[str, object] | None = None,
) -> None:
    """Put a contact through the compliance gate: act now, move it to the earliest allowed
    instant, or drop it — recording a `contact_blocked` action naming the rule. Steps that are
    not contacts (placements, legal steps, skip traces) go out as they are; a lawsuit filing
    that needs approval, or in-house contact while an agency works the account, is decided by
    the strategy's rules for those (issue 17 item 4)."""
    if _withheld(ep, now, step, dpd):
        return
    channel = CONTACT_CHANNEL.get(step.action)
    if channel is None:
        ep.queue_action(now, step, dpd, window=window, extra=detail)
        return
    ledger = ep.s.ledger
    assert ledger is not None
    attorney = ep.attorney_phone(now) if channel == "call" else None
    if attorney is not None and (target is None or target == attorney):
        # The borrower is represented: the collector calls their attorney (the gate allows
        # party `attorney` under the hold, and still applies the profile's window and caps).
        target, party = attorney, "attorney"
        detail = {
            "represented": "the borrower is represented: call the attorney",
            **(detail or {}),
        }
    if target is None:
        target = (
            rotate_call_target(ep.s.account, ledger)
            if channel in ("call", "voice")
            else choose_target(ep.s.account, ledger, channel)
        )
    if target is None and channel in ("sms", "voice", "call"):
        refuse(
            ep,
            now,
            step.action,
            step.id,
            channel,
            "number.none_reachable",
            "no live number the channel can reach",
            None,
        )
        return
    is_task = step.action in TASK_KINDS
    if is_task and window is None and rescheduled_by:
        # A moved task is worked from the instant it was moved to, not at today's slot
        # (which may lie in a period the rules forbid, and would move it again).
        window = (now, now + TASK_WINDOW)
    if window is None and step.action == "call_task":
        window = learned_window(ep.s.rpc_hours, ep.today(now), ep.tz)
        if window is not None and window[1] <= now:
            window = None
    if is_task:
        window = task_window(ep, now, step, window)
    at = max(window[0], now) if window else now
    proposal = ProposedContact(channel=channel, at=at, target=target, party=party, purpose=purpose)
    decision = earliest_allowed(
        proposal, ledger, ep.s.holds, ep.profile, ep.context, calendars=ep.calendars
    )
    requirements = {k: v for k, v in decision.requirements.items() if k not in SEARCH_NOTES}
    if rescheduled_by:
        requirements["rescheduled_by"] = rescheduled_by
    extra = {**(detail or {}), **requirements}
    if party != "borrower":
        extra.update(party=party, purpose=purpose)
    if is_task:
        assert window is not None
        issue_task(ep, now, step, dpd, proposal, window, decision, extra)
        return
    if _allowed_now(decision, at):
        ep.queue_action(now, step, dpd, target=target, window=window, extra=extra)
        record = sent_record(channel, target, now)
        if record is not None:
            ep.s.ledger = ledger.with_record(record)
        return
    earliest = _refuse_decision(ep, now, step.action, step.id, channel, decision)
    if earliest is not None:
        _defer(ep, step.id, step.action, earliest, _rule_of(decision))


def _withheld(ep: Episode, now: datetime, step: Step, dpd: int) -> bool:
    """Issue 17 item 4: while placed, the strategy's in-house channels stop (but the notices
    the law requires); after a suit is filed no agency takes the account; a filing waits for
    approval or is withheld below the strategy's minimum balance. Each refusal is recorded."""
    placement = ep.s.placement
    if placement is not None and agency_legal.in_house_stopped(ep, step):
        refuse(
            ep,
            now,
            step.action,
            step.id,
            CONTACT_CHANNEL.get(step.action, step.channel),
            "agency.placed",
            f"placed with {placement['agency']} until {placement['period_end']}: in-house "
            "contact stops while the agency collects",
            None,
        )
        return True
    if filing.stops_placement(ep, step):
        refuse(
            ep,
            now,
            step.action,
            step.id,
            step.channel,
            "legal.suit_filed",
            "a lawsuit is filed: the account is not placed with an agency again",
            None,
        )
        return True
    return filing.takes_over(ep, now, step, dpd)


def _allowed_now(decision: Decision, at: datetime) -> bool:
    return decision.allowed and (decision.earliest is None or decision.earliest <= at)


def _rule_of(decision: Decision) -> str:
    return str(decision.requirements.get("blocked_by") or decision.rule or "unknown")


def withdraw_barred_calls(ep: Episode, now: datetime) -> None:
    """A call task's window is what the rules allowed when it was issued; a later fact can bar
    it (a conversation starts Regulation F's 7-day pause, a third connected call meets the cn
    daily cap). An open call task that may no longer be worked before its window ends is
    cancelled, naming the rule, so no queue offers a call the rules now forbid."""
    ledger = ep.s.ledger
    if ledger is None:
        return
    # Calls to the borrower (or, under an attorney hold, their attorney): a message left with a
    # third party has rules of its own, judged when that task was issued.
    calls = [
        t
        for t in ep.s.open_tasks
        if t.kind == "call" and t.owner is None and t.party in ("borrower", "attorney")
    ]
    for task in calls:
        if task.not_after is None or task.not_after <= now:
            continue
        proposal = ProposedContact(channel="call", at=now, target=task.target, party=task.party)
        decision = earliest_allowed(
            proposal, ledger, ep.s.holds, ep.profile, ep.context, calendars=ep.calendars
        )
        earliest = decision.earliest if decision.allowed else None
        if earliest is None or earliest >= task.not_after:
            reason = f"the contact rules bar this {{kind}} now: {_rule_of(decision)}"
            ep.close_tasks([task], now, "cancelled", reason)


def task_window(
    ep: Episode, now: datetime, step: Step, window: tuple[datetime, datetime] | None
) -> tuple[datetime, datetime]:
    """The window a person may work the task in, before the gate sees it: the one given,
    else today's preferred slot, else the next two hours; never one already over."""
    if window is None:
        window = slot_window(ep.today(now), step.slot, ep.slots, ep.tz)
    if window[1] <= now:
        window = (now, now + TASK_WINDOW)
    return window


def _allowed_until(ep: Episode, proposal: ProposedContact, at: datetime) -> datetime | None:
    """Where the allowed period that holds `proposal` at `at` ends."""
    return allowed_until(
        proposal.model_copy(update={"at": at}),
        ep.s.holds,
        ep.profile,
        ep.context,
        calendars=ep.calendars,
    )


def issue_task(
    ep: Episode,
    now: datetime,
    step: Step,
    dpd: int,
    proposal: ProposedContact,
    window: tuple[datetime, datetime],
    decision: Decision,
    extra: dict[str, object],
) -> None:
    """Issue work for a person only for a window the rules allow as a whole: it starts at
    the earliest allowed instant and ends where the allowed period ends (a window closing
    in any of the borrower's zones, a holiday, a hold). What is left of the window when the
    start is refused beyond it moves to the earliest allowed instant (branch work) or waits
    there (ladder steps), recorded as `contact_blocked`."""
    at = max(window[0], now)
    channel = proposal.channel
    earliest = decision.earliest if decision.allowed else None
    rule = _rule_of(decision)
    if earliest is not None and earliest < window[1]:
        until = _allowed_until(ep, proposal, earliest)
        end = window[1] if until is None else min(window[1], until)
        if end > earliest:
            if earliest > at:
                refuse(ep, now, step.action, step.id, channel, rule, decision.reason, earliest)
                extra["rescheduled_by"] = rule
            start = earliest if earliest > at else window[0]
            queue_task(ep, now, step, dpd, proposal, (start, end), extra)
            return
    refuse(ep, now, step.action, step.id, channel, rule, decision.reason, earliest)
    if earliest is None:
        return
    if step.id.startswith("branch."):
        until = _allowed_until(ep, proposal, earliest)
        end = earliest + (window[1] - window[0])
        end = end if until is None else min(end, until)
        extra["rescheduled_by"] = rule
        queue_task(ep, now, step, dpd, proposal, (earliest, end), extra)
        return
    _defer(ep, step.id, step.action, earliest, rule)


def queue_task(
    ep: Episode,
    now: datetime,
    step: Step,
    dpd: int,
    proposal: ProposedContact,
    window: tuple[datetime, datetime],
    extra: dict[str, object],
) -> None:
    """Queue the task; a call it may bring counts against the caps from its `not_before`
    until its outcome replaces it, or it expires or is cancelled."""
    target = proposal.target
    ep.queue_action(now, step, dpd, target=target, window=window, extra=extra)
    if proposal.channel != "call" or target is None:
        return
    ledger = ep.s.ledger
    assert ledger is not None
    task_id = task_id_for(ep.s.account.loan_id, ep.s.episode, ep.s.action_seq)
    ep.s.ledger = ledger.with_record(
        ContactRecord.model_validate(
            {
                "at": window[0],
                "channel": "call",
                "target": target,
                "party": proposal.party,
                "purpose": proposal.purpose,
                "result": "unanswered",
                "pending_task": task_id,
            }
        )
    )


def refuse(
    ep: Episode,
    now: datetime,
    action: str,
    step_id: str,
    channel: str,
    rule: str,
    reason: str,
    earliest: datetime | None,
) -> None:
    """A `contact_blocked` action: the one record of a refused or moved contact. Besides the
    rule and the instant it moved the contact to, it carries where the account stood (dpd,
    bucket, amount overdue) so the timeline can say what was held back at which point."""
    today = ep.today(now)
    ep.record_action(
        now,
        channel,
        ContactBlockedDetail(
            action=ActionKind.CONTACT_BLOCKED,
            rule=rule,
            reason=reason,
            blocked_action=action,
            step_id_blocked=step_id,
            profile=ep.profile.name,
            rescheduled_to=earliest.isoformat() if earliest else None,
            strategy=ep.strategy.ref,
            dpd=ep.s.book.dpd(today),
            bucket=ep.s.bucket,
            amount_overdue=ep.s.book.amount_overdue(today),
            currency=ep.s.account.currency,
        ),
    )


def _refuse_decision(
    ep: Episode, now: datetime, action: str, step_id: str, channel: str, decision: Decision
) -> datetime | None:
    """Record the gate's refusal of a contact that cannot go now; the instant it may go, or
    None when only a change of facts could allow it."""
    earliest = decision.earliest if decision.allowed else None
    refuse(ep, now, action, step_id, channel, _rule_of(decision), decision.reason, earliest)
    return earliest


def _defer(
    ep: Episode,
    step_id: str,
    action: str,
    due_at: datetime,
    rule: str,
    detail: dict[str, object] | None = None,
) -> None:
    ep.s.deferred.append(
        DeferredContact(
            step_id=step_id, action=action, due_at=due_at, blocked_by=rule, detail=detail
        )
    )


def send_offer(
    ep: Episode, now: datetime, kind: str, detail: dict[str, object], rescheduled_by: str = ""
) -> None:
    """An offer letter a subflow asks for (restructure offer, settlement offer to the
    estate) is a contact like any other: it passes the gate, waits for the earliest allowed
    instant (a public holiday, a complaint hold), or is dropped when only a change of facts
    could allow it (bankruptcy, cease-communication, attorney)."""
    ledger = ep.s.ledger
    assert ledger is not None
    decision = earliest_allowed(
        ProposedContact(channel="letter", at=now, party=OFFER_LETTERS[kind]),
        ledger,
        ep.s.holds,
        ep.profile,
        ep.context,
        calendars=ep.calendars,
    )
    if _allowed_now(decision, now):
        extra = {"rescheduled_by": rescheduled_by} if rescheduled_by else {}
        ep.record_action(now, "mail", detail_for(kind, **detail, **extra))
        record = sent_record("letter", None, now)
        if record is not None:
            ep.s.ledger = ledger.with_record(record)
        return
    step_id = f"branch.{kind}"
    earliest = _refuse_decision(ep, now, kind, step_id, "letter", decision)
    if earliest is not None:
        _defer(ep, step_id, kind, earliest, _rule_of(decision), detail)


def fire_deferred(ep: Episode, now: datetime, dpd: int, *, calls_only: bool = False) -> None:
    """Contacts the gate moved whose instant has come go through the gate again."""
    due = [
        d for d in ep.s.deferred if d.due_at <= now and (not calls_only or d.action == "call_task")
    ]
    if not due:
        return
    ep.s.deferred = [d for d in ep.s.deferred if d not in due]
    steps = {**ep.branch_steps, **{s.id: s for s in ep.treatment}}
    for item in due:
        if item.action in OFFER_LETTERS:
            send_offer(ep, now, item.action, dict(item.detail or {}), item.blocked_by)
            continue
        step = steps.get(item.step_id)
        if step is not None:
            fire_step(ep, now, step, dpd, rescheduled_by=item.blocked_by)


def audit_unscheduled(ep: Episode, now: datetime, task: OpenTask, outcome: str, by: str) -> None:
    """A call or visit reported before its task's window opened really happened, so it goes on
    the record, but not on trust: the gate judges it as if it had been proposed at `now` (the
    contact rules' verdict, or the rule it broke), and a supervisor gets an approval task to
    review it (four eyes: not the collector who reported it)."""
    ledger = ep.s.ledger
    assert ledger is not None
    channel = "call" if task.kind == "call" else "field_visit"
    decision = earliest_allowed(
        ProposedContact(channel=channel, at=now, target=task.target, party=task.party),
        ledger,
        ep.s.holds,
        ep.profile,
        ep.context,
        calendars=ep.calendars,
    )
    allowed = _allowed_now(decision, now)
    review_seq = ep.s.action_seq + 2  # the review task's action follows this one
    review_id = task_id_for(ep.s.account.loan_id, ep.s.episode, review_seq)
    ep.record_action(
        now,
        "internal",
        UnscheduledContactDetail(
            action=ActionKind.UNSCHEDULED_CONTACT,
            reason=f"{task.kind} reported before its window opened; supervisor review",
            reported_task=task.task_id,
            outcome=outcome,
            task_kind=task.kind,
            to=task.target,
            party=task.party if task.party != "borrower" else None,
            window_opens=task.not_before.isoformat() if task.not_before else None,
            window_closes=task.not_after.isoformat() if task.not_after else None,
            recorded_by=by,
            allowed=allowed,
            rule=None if allowed else _rule_of(decision),
            review="supervisor",
            review_task=review_id,
        ),
    )
    verdict = "allowed by the contact rules" if allowed else f"breaks {_rule_of(decision)}"
    asked = ep.ask_person(
        now,
        "approval",
        (now, now + timedelta(days=REVIEW_DAYS)),
        ChildTaskDetail(
            action=ActionKind.APPROVAL_TASK,
            reason=f"review the unscheduled {task.kind} of task {task.task_id} "
            f"({outcome}, {verdict})",
            task_kind="approval",
            requested_by=by,
        ),
        priority=ep.s.book.balance,
    )
    assert asked == review_id
