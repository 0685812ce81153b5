"""The stage ladder (PLAYBOOK.md section 1) and the episode's clock: bring the state up to an
instant (accrue, judge the promise, move state, bucket and stage, fire the steps whose moment has
come) and compute the next moment that matters.

The ladder climbs from the oldest unpaid due date (the anchor); a payment that moves the anchor
starts a new climb from the current DPD, so no step fires twice and none is skipped. Every
message re-computes the next moment from the state, never from a daily tick.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from domain.calendar import local_date, local_instant, start_of_local_day, zone
from domain.contact import active_holds
from domain.plan import due_steps, latest_per_action, next_step, step_key
from domain.promise import deadline
from domain.strategy import Step
from domain.vocabulary import CLOSED_STATES, AccountState, ActionKind
from workflows.account import agency_legal, cases, filing, gate, outcomes, promises, settlement
from workflows.account.episode import Episode
from workflows.contracts import MigrationArrivalDetail, NextAction, TransitionRecord

# Placements and legal cases end with the episode; this is the reason the records show.
PAID_IN_FULL = "paid in full"


def transition(
    ep: Episode,
    now: datetime,
    to_state: AccountState,
    dpd: int,
    reason: str,
    bucket: str | None = None,
    stage: str | None = None,
) -> None:
    """Move the account's state (and bucket and stage); an episode that closes ends its
    agency placement and legal case. The store and the search attributes hear of it."""
    from_state, from_bucket = ep.s.state, ep.s.bucket
    if to_state in (AccountState.PAID_ON_TIME, AccountState.CURED):
        bucket, stage = "current", ep.s.stage
    bucket = bucket or ep.strategy.bucket_for(dpd)
    stage = stage or ep.strategy.stage_for(dpd)
    ep.s.state, ep.s.bucket, ep.s.stage = to_state, bucket, stage
    if bucket != from_bucket:
        ep.s.path.append(bucket)
    if to_state in CLOSED_STATES and from_state not in CLOSED_STATES:
        agency_legal.end_external_work(
            ep,
            now,
            PAID_IN_FULL
            if to_state in (AccountState.CURED, AccountState.CLOSED, AccountState.PAID_ON_TIME)
            else reason,
        )
    ep.s.transition_seq += 1
    ep.out.transitions.append(
        TransitionRecord(
            seq=ep.s.transition_seq,
            at=now,
            from_state=from_state,
            to_state=to_state,
            from_bucket=from_bucket,
            to_bucket=bucket,
            dpd=dpd,
            reason=reason,
        )
    )
    ep.upsert_search_attributes()


def advance(ep: Episode, now: datetime) -> None:
    """Bring the state up to `now`: accrue, judge the promise, move state and bucket, and
    queue the ladder steps whose moment has come."""
    today = ep.today(now)
    book = ep.s.book
    if today > ep.first_due():
        book.accrue_to(today)
    promises.judge(ep, now, today)
    ep.expire_tasks(now)
    filing.expire(ep, now)
    dpd = book.dpd(today)
    overdue = book.amount_overdue(today)
    settled = settlement.settle_if_paid(ep, now, today)
    if settled is not None:
        # Before the cure below: a settlement pays what is overdue, but it closes the account.
        transition(ep, now, AccountState.CLOSED, dpd, settled, "current")
        return

    if ep.s.state == AccountState.PRE_DUE:
        if today > ep.first_due():
            if overdue == 0:
                transition(
                    ep, now, AccountState.PAID_ON_TIME, dpd, "paid by the end of the due date"
                )
                return
            transition(ep, now, AccountState.DELINQUENT, dpd, "not paid by the end of the due date")
            if not ep.s.account.history.ever_paid:
                # Section 12: a loan never paid since it was made is a skip from day 1.
                outcomes.enter_skip(ep, now, dpd, "never paid since the loan was made")
    elif ep.s.state == AccountState.DELINQUENT and overdue == 0:
        transition(ep, now, AccountState.CURED, dpd, "paid everything overdue: back to Current")
        return
    elif (
        ep.s.state == AccountState.RESTRUCTURED
        and ep.s.restructure_child is None
        and book.balance == 0
    ):
        # The plan's subflow saw every instalment paid while penalty on a late one was still
        # owed; that is paid now, to the last cent.
        ep.s.restructure_stage = None
        transition(
            ep, now, AccountState.CLOSED, dpd, "restructure plan paid: nothing owed", "current"
        )
        return

    if ep.s.state == AccountState.DELINQUENT:
        bucket = ep.strategy.bucket_for(dpd)
        stage = ep.strategy.stage_for(dpd)
        if bucket != ep.s.bucket or stage != ep.s.stage:
            transition(
                ep,
                now,
                AccountState.DELINQUENT,
                dpd,
                f"DPD {dpd}: {bucket}, {stage}",
                bucket,
                stage,
            )

        charge_off(ep, today, dpd)

    cases.escalate_overdue(ep, now)
    agency_legal.advance_placement(ep, now)
    agency_legal.tell_holds_ended(ep, now)
    reanchor(ep, today, dpd)
    paused = ep.paused(now)
    calls_only = paused and ep.attorney_only(now)
    if ep.s.anchor is not None and (not paused or calls_only) and in_window(ep, now):
        _queue_due_steps(ep, now, dpd, calls_only=calls_only)
    if ep.s.deferred and (not paused or calls_only):
        gate.fire_deferred(ep, now, dpd, calls_only=calls_only)
    if ep.s.skip_since is not None and not ep.paused(now):
        outcomes.advance_skip(ep, now, dpd)


def charge_off(ep: Episode, today: date, dpd: int) -> None:
    """The strategy's charge-off day (e.g. DPD 180): an account still delinquent is submitted
    for write-off whatever the cause — the write-off subflow's review and four-eyes approval —
    and its penalty stops accruing today, so the amount written off is the balance at the
    charge-off day less what is paid meanwhile. Once per episode; not while a write-off (death,
    bankruptcy) is already under way."""
    day = ep.strategy.branches.write_off.charge_off_dpd
    if day is None or dpd < day or ep.s.charged_off_on is not None or ep.s.write_off_child:
        return
    ep.s.charged_off_on = today
    ep.s.book.accrual_stopped_on = today
    ep.out.children.append("charge_off")


def charge_off_day(ep: Episode) -> date | None:
    """The local day the account reaches the charge-off DPD, while that is still to come."""
    day = ep.strategy.branches.write_off.charge_off_dpd
    if day is None or ep.s.charged_off_on is not None or ep.s.state != AccountState.DELINQUENT:
        return None
    anchor = ep.s.anchor
    return None if anchor is None else anchor + timedelta(days=day)


def in_window(ep: Episode, now: datetime) -> bool:
    """Ladder steps act only inside the strategy's contact window, borrower local time."""
    window = ep.strategy.contact_window
    local = now.astimezone(zone(ep.tz)).time()
    return window.start <= local < window.end


def window_opening_after(ep: Episode, at: datetime) -> datetime:
    """The earliest instant at or after `at` inside the contact window."""
    if in_window(ep, at):
        return at
    window = ep.strategy.contact_window
    day = local_date(at, ep.tz)
    opening = local_instant(day, window.start, ep.tz)
    return opening if opening > at else local_instant(day + timedelta(days=1), window.start, ep.tz)


def reanchor(ep: Episode, today: date, dpd: int) -> None:
    """The ladder climbs from the oldest unpaid due date; a new anchor starts a new climb
    from the current DPD so no step fires twice and none below it is replayed."""
    if ep.s.state == AccountState.PRE_DUE:
        anchor: date | None = ep.first_due()
    else:
        anchor = ep.s.book.oldest_unpaid_due(today)
    if anchor == ep.s.anchor:
        return
    # Only the episode's very first anchor climbs from the bottom of the ladder (a migrated
    # account's from the entry of its current stage); any later anchor (a partial payment
    # moved it) climbs on from the current DPD.
    first_climb = ep.s.anchor is None
    if not first_climb:
        ep.s.floor = dpd
    elif ep.s.account.migration is not None and ep.s.state == AccountState.DELINQUENT:
        ep.s.floor = stage_entry(ep, dpd) - 1
    else:
        ep.s.floor = min(s.dpd for s in ep.treatment) - 1
    ep.s.anchor = anchor


def stage_entry(ep: Episode, dpd: int) -> int:
    """The DPD at which the stage the account is in at `dpd` begins."""
    stage = ep.strategy.stage_for(dpd)
    return next(r.min for r in ep.strategy.stages if r.name == stage)


def _queue_due_steps(ep: Episode, now: datetime, dpd: int, *, calls_only: bool) -> None:
    """Fire the ladder's steps whose moment has come (the latest of each action only)."""
    anchor = ep.s.anchor
    assert anchor is not None
    due = due_steps(steps_now(ep, calls_only), anchor, ep.s.floor, ep.fired, now, ep.slots, ep.tz)
    keep, superseded = latest_per_action(due)
    for step in superseded:
        ep.fired.add(step_key(anchor, step.id))
    if ep.s.account.migration is not None and not ep.s.arrived:
        keep = _arrive(ep, now, dpd, keep)
    for step in keep:
        ep.fired.add(step_key(anchor, step.id))
        if step.when == "not_reached" and ep.s.reached:
            continue
        gate.fire_step(ep, now, step, dpd)


def _arrive(ep: Episode, now: datetime, dpd: int, due: list[Step]) -> list[Step]:
    """A migrated account's first climb: its stage's entry steps go out, the legal steps due on
    arrival do not (a lawyer's letter, asset preservation or a lawsuit needs approval, never an
    import), and the arrival is recorded with its reason."""
    migration = ep.s.account.migration
    assert migration is not None
    ep.s.arrived = True
    withheld = [step for step in due if step.channel == "legal"]
    ep.record_action(
        now,
        "internal",
        MigrationArrivalDetail(
            action=ActionKind.MIGRATION_ARRIVAL,
            reason=migration.reason,
            dpd=dpd,
            entered_at=ep.strategy.stage_for(dpd),
            withheld=[step.id for step in withheld] or None,
        ),
    )
    return [step for step in due if step not in withheld]


def steps_now(ep: Episode, calls_only: bool) -> list[Step]:
    """The ladder's steps for the current phase (pre-due or collection); only its call steps
    while the attorney is the one called (the rest wait, as under any hold, for the release)."""
    in_pre_due = ep.s.state == AccountState.PRE_DUE
    steps = [s for s in ep.treatment if (s.dpd <= 0) == in_pre_due]
    return [s for s in steps if s.action == "call_task"] if calls_only else steps


def plan_next(ep: Episode, now: datetime) -> datetime | None:
    """The next moment that matters; the workflow sleeps until then or a message. Also kept
    as the episode's `next` action for the status query."""
    candidates: list[tuple[datetime, str]] = []
    if ep.s.state == AccountState.PRE_DUE:
        candidates.append(
            (
                start_of_local_day(ep.first_due() + timedelta(days=1), ep.tz),
                "enter_collection_if_unpaid",
            )
        )
    promise = ep.s.promise
    if promise is not None:
        end = deadline(promise, ep.strategy.promises) + timedelta(days=1)
        candidates.append((start_of_local_day(end, ep.tz), "promise_check"))
    if ep.s.state == AccountState.DELINQUENT and ep.s.anchor is not None:
        dpd = ep.dpd(now)
        boundaries = [
            b
            for b in (
                ep.strategy.bucket_table.next_boundary_after(dpd),
                ep.strategy.stage_table.next_boundary_after(dpd),
            )
            if b is not None
        ]
        if boundaries:
            day = ep.s.anchor + timedelta(days=min(boundaries))
            candidates.append((start_of_local_day(day, ep.tz), "bucket_change"))
    charge_off_on = charge_off_day(ep)
    if charge_off_on is not None:
        candidates.append((max(start_of_local_day(charge_off_on, ep.tz), now), "charge_off"))
    paused = ep.paused(now)
    calls_only = paused and ep.attorney_only(now)
    deferred = [d for d in ep.s.deferred if not calls_only or d.action == "call_task"]
    if deferred and (not paused or calls_only):
        first = min(deferred, key=lambda d: d.due_at)
        candidates.append((max(first.due_at, now), first.action))
    if not paused:
        candidates.extend((at, "skip_tracing") for at in outcomes.skip_moments(ep))
    placement_end = ep.placement_end()
    if placement_end is not None:
        candidates.append((max(placement_end, now), "oca_recall"))
    case_deadline = cases.next_deadline(ep)
    if case_deadline is not None:
        candidates.append((max(case_deadline, now), "case_deadline"))
    hold_ends = [h.until for h in active_holds(ep.s.holds, now) if h.until is not None]
    if hold_ends:
        candidates.append((min(hold_ends), "hold_ends"))
    task_ends = [
        t.not_after for t in ep.s.open_tasks if t.not_after is not None and t.owner is None
    ]
    if task_ends:
        # An unworked task is closed when its window ends, even with nothing else to do.
        # (A subflow's tasks end with the subflow's own deadline, which wakes us anyway.)
        candidates.append((max(min(task_ends), now), "task_expiry"))
    if ep.s.anchor is not None and (not paused or calls_only):
        steps = steps_now(ep, calls_only)
        upcoming = next_step(steps, ep.s.anchor, ep.s.floor, ep.fired, now, ep.slots, ep.tz)
        if upcoming is not None:
            candidates.append((upcoming[1], upcoming[0].action))
        if not in_window(ep, now) and due_steps(
            steps, ep.s.anchor, ep.s.floor, ep.fired, now, ep.slots, ep.tz
        ):
            candidates.append((window_opening_after(ep, now), "contact_window_opens"))
    if not candidates:
        ep.next = None
        return None
    at, kind = min(candidates, key=lambda c: c[0])
    ep.next = NextAction(kind=kind, at=at)
    return at
