"""Outside agencies and legal cases (PLAYBOOK.md sections 1, 2 and 12; issue 5): the placement
the store made is learned from the delivery results, recalled at the end of its period (then the
next agency tries, and after the last the account goes to legal), told to stop while a hold binds
whoever collects, and ended with the episode; so is an open legal case.
"""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from domain.contact import Hold, active_holds
from domain.strategy import Step
from domain.vocabulary import AccountState, ActionKind
from workflows.account.contacts import agency_record
from workflows.account.episode import Episode, hold_key
from workflows.contracts import (
    ActionCommand,
    AgencyContactsDetail,
    AgencyContactsRequest,
    AgencyContactsResult,
    AgencyNoticeDetail,
    PlacementDetail,
)

# Agency contacts already in the ledger, remembered so a re-sent daily file counts once.
MAX_REMEMBERED_AGENCY_CONTACTS = 2000


def learn_placements_and_cases(
    ep: Episode, now: datetime, sent: list[ActionCommand], deliveries: list[dict[str, Any]]
) -> None:
    """The agency a placement went to, and the legal case an action opened or closed, are
    facts the store decided; the workflow learns them from the delivery results (issue 5:
    recall at the end of the period, commission on payments, a case ended by payment)."""
    if not any(
        d.get("kind") in ("oca_placement", "lawsuit", "asset_preservation") for d in deliveries
    ):
        return
    commands = {a.seq: a for a in sent}
    for delivery in deliveries:
        kind, detail = delivery.get("kind"), delivery.get("detail") or {}
        command = commands.get(int(delivery.get("seq") or 0))
        if kind == "oca_placement" and delivery.get("status") == "sent":
            agency_id = str(detail.get("agency_id"))
            ep.s.placement = {
                "placement_id": str(delivery.get("provider_id")),
                "agency_id": agency_id,
                "agency": str(detail.get("agency")),
                "commission_rate": str(detail.get("commission_rate")),
                "period_end": str(detail.get("period_end")),
            }
            if agency_id not in ep.s.placed_agencies:
                ep.s.placed_agencies.append(agency_id)
            stop_in_house_work(ep, now)
        elif kind == "oca_placement" and command and _secondary(command):
            # No other agency could take it: the account goes to legal instead.
            send_to_legal(ep, now, "no secondary agency had room")
        elif kind in ("lawsuit", "asset_preservation") and delivery.get("status") == "sent":
            closed = detail.get("case_status") == "closed"
            ep.s.legal_case = None if closed else str(detail.get("case_id"))
    if ep.out.actions:
        ep.wake = True  # what was learned queued work: flush it on the next turn


# The kinds of task a person works on a step channel: what stops when the channel does.
TASKS_ON_CHANNEL = MappingProxyType({"phone": "call", "field": "field_visit"})


def in_house_stopped(ep: Episode, step: Step) -> bool:
    """Issue 17 item 4: while an agency works the account, the strategy's in-house channels
    stop (`branches.agency.while_placed`), except the notices the law requires."""
    return ep.s.placement is not None and ep.strategy.branches.agency.while_placed.stops(
        step.channel, step.template
    )


def stop_in_house_work(ep: Episode, now: datetime) -> None:
    """The account has just been placed: our own open calls and visits on the strategy's
    stopped channels are cancelled (the agency collects now)."""
    placement = ep.s.placement
    stopped = ep.strategy.branches.agency.while_placed.stop_channels
    kinds = {TASKS_ON_CHANNEL[c] for c in stopped if c in TASKS_ON_CHANNEL}
    if placement is None or not kinds:
        return
    tasks = [t for t in ep.s.open_tasks if t.owner is None and t.kind in kinds]
    ep.close_tasks(
        tasks,
        now,
        "cancelled",
        f"placed with {placement['agency']}: in-house {{kind}} work stops while the agency "
        "collects",
    )
    if tasks:
        ep.wake = True  # the store hears of the cancellations on the next turn


def _secondary(command: ActionCommand) -> bool:
    """A placement with the agencies already tried left out: a secondary one."""
    return isinstance(command.detail, PlacementDetail) and bool(command.detail.exclude_agencies)


def advance_placement(ep: Episode, now: datetime) -> None:
    """A placement whose period has ended is recalled (and replaced unless collection is
    paused)."""
    end = ep.placement_end()
    if end is not None and now >= end:
        recall(ep, now, "placement period ended", replace=not ep.paused(now))


def recall(ep: Episode, now: datetime, reason: str, replace: bool) -> None:
    """Take the account back from its agency; then, when `replace`, the next agency tries
    (up to the strategy's max_placements), and after the last one the account goes to
    legal (issue 5, agency lifecycle)."""
    placement = ep.s.placement
    if placement is None:
        return
    ep.s.placement = None
    dpd = ep.dpd(now)
    ep.queue_action(
        now,
        ep.branch_steps["branch.oca_recall"],
        dpd,
        extra={
            "reason": f"recalled from {placement['agency']}: {reason}",
            "recall_reason": reason,
            "placement_id": placement["placement_id"],
            "agency_id": placement["agency_id"],
        },
    )
    if not replace or ep.s.suit_filed:
        return  # a filed suit is never overlapped by another agency's placement
    policy = ep.strategy.branches.agency
    if len(ep.s.placed_agencies) < policy.max_placements:
        ep.queue_action(
            now,
            ep.branch_steps["branch.oca_secondary"],
            dpd,
            extra={
                "reason": f"re-placed with a secondary agency after {reason}",
                "exclude_agencies": list(ep.s.placed_agencies),
            },
        )
    else:
        send_to_legal(ep, now, f"{len(ep.s.placed_agencies)} agencies tried")


def send_to_legal(ep: Episode, now: datetime, why: str) -> None:
    if ep.s.legal_case is not None or ep.s.state != AccountState.DELINQUENT:
        return
    ep.queue_action(
        now,
        ep.branch_steps["branch.legal_after_agency"],
        ep.dpd(now),
        extra={"reason": f"sent to legal: {why}"},
    )


def end_external_work(ep: Episode, now: datetime, why: str) -> None:
    """An episode that ends takes the account back from its agency and ends its legal case
    (a payment in full ends the case)."""
    recall(ep, now, why, replace=False)
    if ep.s.legal_case is not None:
        ep.queue_action(
            now,
            ep.branch_steps["branch.case_closure"],
            ep.dpd(now),
            extra={"reason": f"legal case ended: {why}", "case_id": ep.s.legal_case},
        )


def notify_hold(ep: Episode, now: datetime, hold: Hold) -> None:
    """A hold the placed agency must respect (the strategy's `holds.agency_notice`: bankruptcy
    and death recall the account instead) starts: the agency is told to stop collecting, and
    the hold is remembered so its end can be told too."""
    if hold.kind in ep.strategy.holds.agency_notice and ep.s.placement is not None:
        _tell_agency(ep, now, ActionKind.OCA_HOLD_NOTICE, hold, now)
        ep.s.agency_hold_notices.append(hold_key(hold))


def _tell_agency(
    ep: Episode,
    now: datetime,
    kind: Literal[ActionKind.OCA_HOLD_NOTICE, ActionKind.OCA_RESUME_NOTICE],
    hold: Hold,
    since: datetime,
) -> None:
    """An `oca_hold_notice` / `oca_resume_notice` to the agency the account is placed with
    (the agency channel records it for the agency's daily file). A hold that pauses our
    collection pauses the agency's: a dispute, complaint, cease request or attorney binds
    whoever collects the debt."""
    placement = ep.s.placement
    assert placement is not None
    still = sorted(
        {
            h.kind
            for h in active_holds(ep.s.holds, now)
            if h.kind in ep.strategy.holds.agency_notice and hold_key(h) != hold_key(hold)
        }
    )
    stop = kind == ActionKind.OCA_HOLD_NOTICE
    ep.record_action(
        now,
        "agency",
        AgencyNoticeDetail(
            action=kind,
            reason=(
                f"{placement['agency']} told to stop collecting: {hold.kind} hold"
                if stop
                else f"{placement['agency']} told the {hold.kind} hold has ended"
                + (f" (still on hold: {', '.join(still)})" if still else "")
            ),
            hold=hold.kind,
            hold_since=since.isoformat(),
            hold_until=hold.until.isoformat() if hold.until else None,
            placement_id=placement["placement_id"],
            agency_id=placement["agency_id"],
            agency=placement["agency"],
            still_on_hold=still,
            may_resume=None if stop else not still,
        ),
    )


def tell_holds_ended(ep: Episode, now: datetime) -> None:
    """The holds the agency was told to stop for and that have ended since (released, or
    a complaint's days run out) each send an `oca_resume_notice`; a recalled account has
    nothing to resume."""
    if not ep.s.agency_hold_notices:
        return
    active = {hold_key(h): h for h in active_holds(ep.s.holds, now)}
    notices = ep.s.agency_hold_notices
    ended = [key for key in notices if key not in active]
    if not ended:
        return
    ep.s.agency_hold_notices = [key for key in notices if key in active]
    if ep.s.placement is None:
        return
    holds = {hold_key(h): h for h in ep.s.holds}
    for key in ended:
        hold = holds.get(key)
        if hold is not None:
            _tell_agency(ep, now, ActionKind.OCA_RESUME_NOTICE, hold, hold.since)


def record_agency_contacts(
    ep: Episode, now: datetime, request: AgencyContactsRequest
) -> AgencyContactsResult:
    """Contacts an agency made (its daily contact file, relayed by the bank's systems) join
    the contact ledger with actor `agency`, so the caps count our collectors and the
    agencies together. The same (agency_id, contact_id) counts once, in this run and the
    ones after continue-as-new. An `agency_contacts` action records what came in."""
    ledger = ep.s.ledger
    assert ledger is not None
    seen = set(ep.s.agency_contact_keys)
    new = []
    for contact in request.contacts:
        if contact.key in seen:
            continue
        seen.add(contact.key)
        new.append(contact)
        ledger = ledger.with_record(
            agency_record(contact.channel, contact.number, contact.result, contact.at)
        )
    ep.s.ledger = ledger
    ep.s.agency_contact_keys = (ep.s.agency_contact_keys + [c.key for c in new])[
        -MAX_REMEMBERED_AGENCY_CONTACTS:
    ]
    duplicates = len(request.contacts) - len(new)
    if new:
        ep.record_action(
            now,
            "internal",
            AgencyContactsDetail(
                action=ActionKind.AGENCY_CONTACTS,
                reason=f"{len(new)} agency contact(s) reported by "
                f"{request.reported_by} joined the contact ledger",
                recorded=len(new),
                duplicates=duplicates,
                agency_ids=sorted({c.agency_id for c in new}),
                contact_ids=[c.contact_id for c in new],
                by_result={
                    f"{channel}/{result}": sum(
                        1 for c in new if (c.channel, c.result) == (channel, result)
                    )
                    for channel, result in sorted({(c.channel, c.result) for c in new})
                },
                first_at=min(c.at for c in new).isoformat(),
                last_at=max(c.at for c in new).isoformat(),
            ),
        )
        ep.wake = True
    return AgencyContactsResult(recorded=len(new), duplicates=duplicates)
