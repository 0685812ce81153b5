"""The account's side of its borrower's contact authority (docs/borrowers.md).

A loan whose borrower has an id asks the BorrowerWorkflow before a moment's contacts go out:
`grant_request` gathers the contacts the gate let through this moment (each one's ledger record,
keyed by the action's seq) and the borrower holds placed or released here; `apply_answers` takes
back what the borrower refused (the action, its open task, its ledger record) and records the
refusal as the gate would, a `contact_blocked` naming the rule, the contact waiting for the
instant the borrower allows. `apply_borrower_hold` is a hold another loan of the borrower
reported. Plain decisions on the Episode: the workflow class does the asking.

A loan without a borrower id never asks: it is its own borrower, as before.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.contact import ContactRecord, active_holds
from domain.contact.borrower import (
    BORROWER_HOLDS,
    BorrowerFacts,
    GrantAnswer,
    GrantCandidate,
    HolderEvent,
    HoldEvent,
)
from domain.contact.person_channels import PersonChannels, adopt, channels_of, first_base
from domain.vocabulary import CONTACT_CHANNEL, OFFER_LETTERS, TASK_KINDS, ActionKind
from workflows.account import gate, holds, outcomes
from workflows.account.episode import Episode
from workflows.account.gate import refuse
from workflows.contracts import (
    ActionCommand,
    DeferredContact,
    HoldDetail,
    HoldRelease,
    ReassignmentDetail,
    ReassignRequest,
)
from workflows.contracts.borrowers import (
    BorrowerHolderSignal,
    BorrowerHoldSignal,
    BorrowerWithdrawSignal,
    GrantRequest,
    GrantResult,
)
from workflows.contracts.inputs import task_id_for

# Who placed or released a hold that came from another loan: such a hold is not reported back.
PASSED_ON = "borrower "
# In a flush's `asked`: the loan's numbers and consents went with a request already.
FACTS_ASKED = "numbers and consents"


class Told(BaseModel):
    """What this loan and its borrower last exchanged: the loan's contact records as the
    borrower heard them, and the person's numbers and consents as the loan last took them
    (None: never). Workflow memory only; after a continue-as-new the loan asks afresh."""

    records: list[ContactRecord] | None = None
    channels: PersonChannels | None = None


def borrower_id(ep: Episode) -> str | None:
    return ep.s.account.borrower.id


def facts_of(ep: Episode) -> BorrowerFacts:
    account = ep.s.account
    return BorrowerFacts(
        name=account.borrower.name,
        timezone=account.borrower.timezone,
        jurisdiction=(account.jurisdiction or ep.strategy.jurisdiction).upper(),
    )


def _grant_id(ep: Episode, seq: int) -> str:
    return f"{ep.s.account.loan_id}:{ep.s.episode}:{seq}"


def _channel_of(action: ActionCommand) -> str | None:
    if action.kind in OFFER_LETTERS:
        return "letter"
    return CONTACT_CHANNEL.get(action.kind)


def _take_record(
    ep: Episode, action: ActionCommand, records: list[ContactRecord]
) -> ContactRecord | None:
    """The ledger record the gate added for `action` (removed from `records`), if it adds one:
    a sent reminder or letter at the action's instant, or a call task's pending call."""
    channel = _channel_of(action)
    if channel is None:
        return None
    if action.kind in TASK_KINDS:
        task_id = task_id_for(ep.s.account.loan_id, ep.s.episode, action.seq)
        match = [r for r in records if r.pending_task == task_id]
    else:
        # What `contacts.sent_record` adds: a recorded voice reminder is an unanswered attempt.
        result = "unanswered" if channel == "voice" else "sent"
        match = [
            r
            for r in records
            if r.at == action.at
            and r.channel == channel
            and r.result == result
            and r.pending_task is None
            and r.actor == "us"
        ]
    if not match:
        return None
    # The newest among equals: a record at the same instant from an earlier moment is older.
    records.remove(match[-1])
    return match[-1]


def _hold_event(ep: Episode, action: ActionCommand) -> HoldEvent | None:
    detail = action.detail
    if not isinstance(detail, HoldDetail) or detail.hold not in BORROWER_HOLDS:
        return None
    who = detail.reported_by or detail.released_by or ""
    if who.startswith(PASSED_ON):
        return None
    words = {
        k: str(v)
        for k, v in {
            "notes": detail.notes,
            "reported_by": detail.reported_by,
            "attorney_phone": detail.attorney_phone,
        }.items()
        if v
    }
    return HoldEvent(
        key=_grant_id(ep, action.seq),
        loan_id=ep.s.account.loan_id,
        kind=detail.hold,
        placed=action.kind == ActionKind.HOLD_PLACED,
        at=action.at,
        detail=words,
    )


def _holder_event(ep: Episode, action: ActionCommand) -> HolderEvent | None:
    """A reassignment or escalation made on this loan (not one passed on from another)."""
    detail = action.detail
    if not isinstance(detail, ReassignmentDetail) or detail.kind is None or detail.to is None:
        return None
    if (detail.by or "").startswith(PASSED_ON):
        return None
    return HolderEvent(
        key=_grant_id(ep, action.seq),
        loan_id=ep.s.account.loan_id,
        to=detail.to,
        kind=detail.kind,
        reason=detail.reason or detail.kind,
        at=action.at,
    )


def channels_changed(ep: Episode, told: Told | None) -> bool:
    """The loan's numbers or consents differ from the person's as it last took them: the
    borrower must hear it even in a moment that writes nothing (a dead number's outcome)."""
    if borrower_id(ep) is None or ep.s.ledger is None:
        return False
    own = channels_of(ep.s.ledger)
    taken = told.channels if told is not None and told.channels is not None else first_base(own)
    return not own.same_facts(taken)


def grant_request(ep: Episode, told: Told | None, asked: set[str]) -> GrantRequest | None:
    """What to ask the borrower before this moment is written, or None: no borrower id, or
    nothing new (no contact or borrower hold not yet asked about, the loan's records as last
    reported, its numbers and consents as last taken). `asked`: the grant ids and hold events
    already answered in this flush (a message handled while the workflow awaited the answer
    may have added more)."""
    if borrower_id(ep) is None or ep.s.ledger is None:
        return None
    # Numbers and consents are asked about once per flush: an authority that could not answer
    # them (fail closed, no `channels` in its answer) must not be asked again and again.
    facts_new = channels_changed(ep, told) and FACTS_ASKED not in asked
    told = told or Told()
    own = list(ep.s.ledger.records)
    candidates: list[GrantCandidate] = []
    events: list[HoldEvent] = []
    moves: list[HolderEvent] = []
    for action in ep.out.actions:
        grant_id = _grant_id(ep, action.seq)
        if grant_id in asked:
            continue  # granted already: its record stays among the loan's own
        record = _take_record(ep, action, own)
        if record is not None:
            candidates.append(GrantCandidate(grant_id=grant_id, record=record))
        event = _hold_event(ep, action)
        if event is not None:
            events.append(event)
        moved = _holder_event(ep, action)
        if moved is not None:
            moves.append(moved)
    if not candidates and not events and not moves and own == told.records and not facts_new:
        return None
    asked.add(FACTS_ASKED)
    return GrantRequest(
        loan_id=ep.s.account.loan_id,
        facts=facts_of(ep),
        policy=ep.pinned,
        context=ep.context,
        ledger=ep.s.ledger.model_copy(update={"records": own}),
        candidates=candidates,
        hold_events=events,
        holder_events=moves,
        channels_base=told.channels,
    )


def refuse_all(request: GrantRequest, reason: str) -> GrantResult:
    """The borrower could not be asked (its facts conflict): nothing goes out, compliance
    first; the contacts wait for a change of facts."""
    return GrantResult(
        answers=[
            GrantAnswer(
                grant_id=c.grant_id, granted=False, rule="borrower.unavailable", reason=reason
            )
            for c in request.candidates
        ]
    )


def apply_answers(
    ep: Episode, now: datetime, request: GrantRequest, result: GrantResult, told: Told | None
) -> Told:
    """Take back what the borrower refused and record each refusal, and take the person's
    numbers and consents; what the loan and the borrower now share (what the next request
    compares with)."""
    by_id = {c.grant_id: c for c in request.candidates}
    for answer in result.answers:
        if answer.granted or answer.grant_id not in by_id:
            continue
        _withdraw(ep, now, int(answer.grant_id.rsplit(":", 1)[1]), by_id[answer.grant_id], answer)
    _follow(ep, now, result)
    channels = told.channels if told else None
    person = result.channels
    if person is not None and (channels is None or person.version >= channels.version):
        # What this loan reported is the base: the answer adds what the other loans know.
        _take_channels(ep, now, channels_of(request.ledger), person)
        channels = person
    assert ep.s.ledger is not None
    return Told(records=list(ep.s.ledger.records), channels=channels)


def _take_channels(
    ep: Episode, now: datetime, base: PersonChannels, person: PersonChannels
) -> bool:
    """The person's numbers and consents into this loan's ledger (its own changes since `base`
    kept); an open call to a number now dead is withdrawn, naming the rule. True on a change."""
    ledger = ep.s.ledger
    if ledger is None or ep.closed:
        return False
    adopted = adopt(ledger, base, person)
    if adopted == ledger:
        return False
    ep.s.ledger = adopted
    if set(adopted.dead_numbers) - set(ledger.dead_numbers):
        gate.withdraw_barred_calls(ep, now)
    return True


def adopt_channels(
    ep: Episode, now: datetime, told: Told | None, person: PersonChannels
) -> tuple[Told | None, bool]:
    """Another loan changed the person's numbers or consents (a dead number, a STOP, a consent
    withdrawn or given again): this loan takes them. An older copy than the one the loan holds
    is ignored. What the loan and its borrower now share, and whether the ledger changed."""
    had = told.channels if told else None
    if ep.s.ledger is None or (had is not None and person.version <= had.version):
        return told, False
    base = had if had is not None else first_base(channels_of(ep.s.ledger))
    changed = _take_channels(ep, now, base, person)
    return Told(records=told.records if told else None, channels=person), changed


def _follow(ep: Episode, now: datetime, result: GrantResult) -> None:
    """A loan that joined the borrower later (or missed a signal) takes on the borrower holds
    it lacks and, having no holder, the borrower's. Releases come only by signal: a hold this
    loan placed while it awaited the answer is not in it yet."""
    by = f"{PASSED_ON}{borrower_id(ep)}"
    for hold in result.holds:
        held = any(h.kind == hold.kind for h in active_holds(ep.s.holds, now))
        if hold.kind in BORROWER_HOLDS and not held and not ep.closed:
            holds.add_hold(ep, now, hold.kind, {**hold.detail, "reported_by": by})
    holder = result.holder
    if holder and ep.s.holder is None and holder not in ep.s.never_assign and not ep.closed:
        outcomes.reassign(
            ep,
            now,
            ReassignRequest(to=holder, by=by, reason="the borrower's holder on their other loans"),
        )


def take_back(ep: Episode, action: ActionCommand, candidate: GrantCandidate) -> None:
    """Unmake a contact of this moment before it is written (refused by the borrower, or
    covered by another loan's): its action, its open task or its ledger record."""
    ep.out.actions.remove(action)
    assert ep.s.ledger is not None
    if candidate.record.pending_task is not None:
        ep.s.open_tasks = [t for t in ep.s.open_tasks if t.action_seq != action.seq]
        ep.drop_pending(candidate.record.pending_task)
    else:
        records = list(ep.s.ledger.records)
        if candidate.record in records:
            records.remove(candidate.record)
        ep.s.ledger = ep.s.ledger.model_copy(update={"records": records})


def _withdraw(
    ep: Episode, now: datetime, seq: int, candidate: GrantCandidate, answer: GrantAnswer
) -> None:
    actions = [a for a in ep.out.actions if a.seq == seq]
    if not actions:
        return
    action = actions[0]
    take_back(ep, action, candidate)
    channel = _channel_of(action) or action.channel
    step_id = action.step_id or f"branch.{action.kind}"
    rule = answer.rule or "borrower"
    refuse(ep, now, action.kind, step_id, channel, rule, answer.reason, answer.earliest)
    if answer.earliest is None:
        return
    detail = None
    if action.kind in OFFER_LETTERS:
        detail = action.detail.model_dump(exclude={"action"}, exclude_none=True)
    ep.s.deferred.append(
        DeferredContact(
            step_id=step_id,
            action=action.kind,
            due_at=answer.earliest,
            blocked_by=rule,
            detail=detail,
        )
    )


def apply_borrower_hold(ep: Episode, now: datetime, message: BorrowerHoldSignal) -> bool:
    """A borrower hold placed or released on another loan holds or releases this one too;
    True when something changed. Recorded as passed on, so it is not reported back."""
    if ep.closed:
        return False
    by = f"{PASSED_ON}{message.borrower_id} (reported on loan {message.from_loan})"
    held = any(h.kind == message.kind for h in active_holds(ep.s.holds, now))
    if message.placed and not held:
        holds.add_hold(ep, now, message.kind, {**message.detail, "reported_by": by})
        return True
    if not message.placed and held:
        holds.release_hold(
            ep,
            now,
            HoldRelease.model_validate({"kind": message.kind, "released_by": by}),
        )
        return True
    return False


def withdraw_barred_tasks(ep: Episode, now: datetime, message: BorrowerWithdrawSignal) -> bool:
    """Open call tasks the borrower's contacts on other loans now bar are cancelled naming the
    rule, as the account's own `withdraw_barred_calls` does for its own facts (a task a
    collector has claimed is theirs to finish); True when one was."""
    wanted = set(message.task_ids)
    tasks = [t for t in ep.s.open_tasks if t.task_id in wanted and t.owner is None]
    reason = f"the contact rules bar this {{kind}} now: {message.rule} (the borrower's other loans)"
    ep.close_tasks(tasks, now, "cancelled", reason)
    return bool(tasks)


def apply_borrower_holder(ep: Episode, now: datetime, message: BorrowerHolderSignal) -> bool:
    """Another loan of the borrower was reassigned or escalated: this one goes to the same
    holder (its open work with it), recorded as passed on; True when it moved. Not to a
    collector the borrower complained about on this loan (section 10): that loan stays."""
    if ep.closed or ep.s.holder == message.to or message.to in ep.s.never_assign:
        return False
    by = f"{PASSED_ON}{message.borrower_id} (loan {message.from_loan})"
    outcomes.reassign(
        ep,
        now,
        ReassignRequest.model_validate(
            {"to": message.to, "by": by, "reason": message.reason[:200], "kind": message.kind}
        ),
    )
    return True
