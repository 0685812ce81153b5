"""What the channels teach the episode: delivery results of the moment's activity, status
callbacks and inbound replies, new or dead contact details, and conversations told through the
API. Each becomes a fact in the contact ledger the gate reads (a dead number, no more texts, a
revoked consent, a right-party conversation), and a failed delivery a `delivery_failure` action.
"""

from __future__ import annotations

from datetime import datetime

from domain.contact import (
    TEMPORARY_FAILURES_BEFORE_NO_SMS,
    VERDICT_RULES,
    delivery_verdict,
    verdict_reason,
)
from domain.outcomes import ContactInfo
from domain.vocabulary import ActionKind
from workflows.account import agency_legal, gate
from workflows.account.contacts import choose_target, context_of, conversation_record
from workflows.account.episode import Episode
from workflows.contracts import (
    ActionCommand,
    ContactEvent,
    ContactInfoResult,
    DeliveryFailureDetail,
    StepDetail,
)


def learn_from_deliveries(
    ep: Episode, now: datetime, sent: list[ActionCommand], result: object
) -> None:
    """What the moment's `apply_moment` activity reports: placements and legal cases the store
    made, and every provider refusal, judged by error code."""
    if not isinstance(result, dict):
        return
    deliveries = result.get("deliveries") or []
    agency_legal.learn_placements_and_cases(ep, now, sent, deliveries)
    if ep.s.ledger is None:
        return
    targets = {a.seq: a.detail.to for a in sent if isinstance(a.detail, StepDetail)}
    failed = [d for d in deliveries if d.get("status") == "failed" and targets.get(d.get("seq"))]
    if not failed:
        return
    for delivery in failed:
        code = delivery.get("error_code")
        learn_failure(
            ep,
            now,
            str(delivery.get("channel") or "sms"),
            str(targets[delivery.get("seq")]),
            int(code) if code is not None else None,
            source="provider refusal",
            detail={"failed_seq": delivery.get("seq"), "failed_kind": delivery.get("kind")},
        )
    ep.wake = True  # the verdicts are actions: flush them on the next turn


def learn_failure(
    ep: Episode,
    now: datetime,
    channel: str,
    number: str,
    error_code: int | None,
    *,
    said_dead: bool = False,
    source: str,
    detail: dict[str, object] | None = None,
) -> None:
    """Judge one failed delivery by the policy of `domain.contact.delivery` (dead number,
    no SMS, unsubscribed, or temporary: three undelivered texts in a row mean no SMS), put
    the verdict in the ledger the gate reads, and record it as a `delivery_failure` action
    so the timeline shows why a later text went elsewhere or was refused."""
    ledger = ep.s.ledger
    assert ledger is not None
    verdict = delivery_verdict(channel, error_code, said_dead=said_dead)
    in_a_row = 0
    if verdict == "dead":
        ledger = ledger.with_dead_number(number)
    elif verdict == "no_sms":
        ledger = ledger.with_no_sms_number(number)
    elif verdict == "unsubscribed":
        ledger = ledger.with_consent("sms", False, number)
    elif verdict == "temporary" and ledger.sms_capable(number):
        ledger = ledger.with_undelivered_sms(number)
        in_a_row = ledger.undelivered_sms_to(number)
        if in_a_row >= TEMPORARY_FAILURES_BEFORE_NO_SMS:
            ledger, verdict = ledger.with_no_sms_number(number), "no_sms"
    ep.s.ledger = ledger
    ep.record_action(
        now,
        "internal",
        DeliveryFailureDetail.model_validate(
            {
                **(detail or {}),
                "action": ActionKind.DELIVERY_FAILURE,
                "to": number,
                "failed_channel": channel,
                "error_code": error_code,
                "verdict": verdict,
                "rule": VERDICT_RULES.get(verdict),
                "undelivered_in_a_row": in_a_row or None,
                "source": source,
                "reason": verdict_reason(verdict, error_code, in_a_row),
            }
        ),
    )


def on_contact_event(ep: Episode, now: datetime, event: ContactEvent) -> None:
    """Facts from the channels (delivery callbacks, inbound replies)."""
    if ep.closed or ep.s.ledger is None:
        return
    ledger = ep.s.ledger
    number = event.number
    if event.kind in ("consent_revoked", "consent_restored"):
        granted = event.kind == "consent_restored"
        ledger = (
            ledger.with_consent("sms", granted, number)
            if number and event.channel == "sms"
            else ledger.with_consent(event.channel, granted)
        )
    elif event.kind in ("number_dead", "delivery_failed") and number:
        said = event.detail
        learn_failure(
            ep,
            now,
            event.channel,
            number,
            said.error_code,
            said_dead=event.kind == "number_dead",
            source=f"status callback: {said.status or event.kind}",
            detail=said.model_dump(
                include={"provider_id", "action_seq", "episode"}, exclude_none=True
            ),
        )
        ledger = ep.s.ledger
    elif event.kind == "inbound_reply":
        ep.s.reached = True
        if number:
            # A reply proves the number takes texts.
            ledger = ledger.with_sms_working(number)
    ep.s.ledger = ledger
    ep.wake = True


def apply_contact_info(ep: Episode, info: ContactInfo) -> ContactInfoResult:
    """New numbers join the rotation, dead ones leave it, consents change at once; new details
    end a skip (section 12). What changed: numbers added, numbers dead, the consents given."""
    ledger = ep.s.ledger
    assert ledger is not None
    borrower = ep.s.account.borrower
    known = {p.number for p in borrower.phones}
    added = [p for p in info.phones if p.number not in known]
    for number in info.dead_phones:
        ledger = ledger.with_dead_number(number)
    for channel, granted in info.consents.items():
        ledger = ledger.with_consent(channel, granted)
    for phone in added:
        ledger = ledger.without_dead_number(phone.number)
    for phone in info.phones:
        # A number the update lists is one the collector just confirmed: it may take texts.
        ledger = ledger.with_sms_working(phone.number)
    address = info.address if info.address else borrower.address
    ep.s.account = ep.s.account.model_copy(
        update={
            "borrower": borrower.model_copy(
                update={"phones": list(borrower.phones) + added, "address": address}
            )
        }
    )
    ep.context = context_of(ep.s.account, ep.strategy)
    ep.s.ledger = ledger
    if (added or info.address) and ep.s.skip_since is not None:
        # Section 12: new contact details resume normal treatment.
        ep.s.skip_since, ep.s.skip_done = None, []
    return ContactInfoResult(
        phones_added=len(added),
        dead_numbers=len(info.dead_phones),
        consents=dict(info.consents),
    )


def record_conversation(ep: Episode, now: datetime, number: str | None) -> None:
    """A telephone conversation with the borrower told through the API (a promise, a
    hardship, an answer to an offer given on the phone) is a right-party call in the
    ledger at this instant: Regulation F's 7-day pause starts from it, and the cn cap on
    connected calls counts it (conservative for an inbound call)."""
    ledger = ep.s.ledger
    if ledger is None:
        return
    phones = [p.number for p in ep.s.account.borrower.phones]
    target = number or choose_target(ep.s.account, ledger, "call") or next(iter(phones), None)
    record = conversation_record(target, now)
    if record is not None:
        ep.s.ledger = ledger.with_record(record)
        gate.withdraw_barred_calls(ep, now)
