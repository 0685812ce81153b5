"""Hand a moment's outbound contacts to their channels: SMS and voice through Twilio (or the
sandbox gateway), letters as PDFs in the mail vendor's dispatch batch.

It runs inside the `apply_moment` activity, after the moment is recorded, so one activity per
moment still carries all of its effects (DESIGN.md: cheap episodes). Each channel is exactly-once
on its own, keyed by (workflow id, episode, action seq), so a retried moment re-delivers nothing
that already went out; the action row's status follows what the channel reports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError

from activities.liveness import heartbeat
from activities.metrics import CONTACTS, Tally
from core.settings import Settings
from domain.vocabulary import ActionKind
from store.engine import session_scope
from store.models import ActionRow
from workflows.contracts import (
    ActionCommand,
    DeliveryRequest,
    DeliveryResult,
    DeliveryTarget,
    MomentRecord,
    StepDetail,
)

log = logging.getLogger(__name__)


class Channel(Protocol):
    def send(self, request: DeliveryRequest) -> DeliveryResult: ...


# Action kind -> channel name. Calls, visits and skip traces are tasks for people instead.
DELIVERED_BY: dict[str, str] = {
    ActionKind.SMS_REMINDER: "sms",
    ActionKind.VOICE_REMINDER: "voice",
    ActionKind.LETTER: "letter",
    ActionKind.LAWYER_LETTER: "letter",
    ActionKind.RESTRUCTURE_OFFER: "letter",
    ActionKind.SETTLEMENT_OFFER: "letter",
    ActionKind.OCA_PLACEMENT: "agency",
    ActionKind.OCA_RECALL: "agency",
    ActionKind.OCA_HOLD_NOTICE: "agency",
    ActionKind.OCA_RESUME_NOTICE: "agency",
    ActionKind.LAWSUIT: "legal",
    ActionKind.ASSET_PRESERVATION: "legal",
}


def _sms(settings: Settings) -> Channel:
    from activities.channels.sms import SmsChannel

    return SmsChannel(settings)


def _voice(settings: Settings) -> Channel:
    from activities.channels.voice import VoiceChannel

    return VoiceChannel(settings)


def _letter(settings: Settings) -> Channel:
    from activities.letters import LetterChannel

    return LetterChannel(settings)


def _agency(settings: Settings) -> Channel:
    from activities.agencies import PlacementChannel

    return PlacementChannel(settings)


def _legal(settings: Settings) -> Channel:
    from activities.legal import LegalChannel

    return LegalChannel(settings)


FACTORIES: dict[str, Callable[[Settings], Channel]] = {
    "sms": _sms,
    "voice": _voice,
    "letter": _letter,
    "agency": _agency,
    "legal": _legal,
}


class Deliverer:
    """Builds each channel once per worker process (clients hold connection pools)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._channels: dict[str, Channel] = {}

    def _channel(self, name: str) -> Channel:
        if name not in self._channels:
            self._channels[name] = FACTORIES[name](self._settings)
        return self._channels[name]

    def deliver(self, database_url: str, moment: MomentRecord) -> list[DeliveryResult]:
        """Send, then mark the action row in a short transaction of its own: channels write
        their attempt rows in theirs, and SQLite allows one writer at a time.

        One action's trouble never costs the others their delivery. A permanent failure (no
        phone number, a missing template, a refusal by the provider, a letter that cannot be
        reproduced) becomes that action's `failed` result with the reason, and the moment goes
        on: raising it would fail `apply_moment`, and with it the account's workflow. A transient
        failure (provider unavailable, a crash) is raised only after every other action of the
        moment was delivered, so Temporal retries the moment; each channel is exactly-once, so
        the retry re-sends nothing that already went out."""
        results = []
        tally = Tally()
        transient: BaseException | None = None
        for command in moment.actions:
            channel = DELIVERED_BY.get(command.kind)
            if channel is None:
                continue
            heartbeat()
            try:
                result = self._channel(channel).send(request_for(moment, command))
            except Exception as exc:
                failed = permanent_failure(command, exc)
                if failed is None:
                    transient = transient or exc
                    continue
                result = failed
            with session_scope(database_url) as session:
                first = _mark(session, moment, command, result)
            if first and command.channel and result.status in ("sent", "failed"):
                tally.add(CONTACTS, channel=command.channel, decision=result.status, rule="none")
            results.append(result)
        tally.publish()
        if transient is not None:
            raise transient
        return results


def permanent_failure(command: ActionCommand, exc: Exception) -> DeliveryResult | None:
    """The `failed` result an exception stands for when retrying cannot help, else None.

    Permanent: a non-retryable ApplicationError (NoPhoneNumber, TemplateMissing, ...) and a
    LetterIntegrityError (a recorded letter whose PDF is gone and cannot be reproduced: someone
    has to restore it, which is why it is logged as an error)."""
    from activities.letters.channel import LetterIntegrityError

    if isinstance(exc, ApplicationError) and exc.non_retryable:
        reason, error = exc.message, exc.type or "ApplicationError"
    elif isinstance(exc, LetterIntegrityError):
        reason, error = str(exc), "LetterIntegrityError"
    else:
        return None
    log.error("action %s (%s) failed for good: %s: %s", command.seq, command.kind, error, reason)
    return DeliveryResult(
        seq=command.seq,
        kind=command.kind,
        channel=command.channel,
        status="failed",
        detail={"error": error, "reason": reason},
    )


def request_for(moment: MomentRecord, command: ActionCommand) -> DeliveryRequest:
    borrower: dict[str, Any] = moment.borrower
    status = moment.status
    # A ladder step says whom it goes to and where the account stood when it was decided.
    step = command.detail if isinstance(command.detail, StepDetail) else None
    return DeliveryRequest(
        loan_id=moment.loan_id,
        workflow_id=moment.workflow_id,
        episode=moment.episode,
        action=command,
        target=DeliveryTarget(
            name=str(borrower.get("name") or ""),
            locale=str(borrower.get("locale") or "zh-CN"),
            timezone=str(borrower.get("timezone") or "Asia/Shanghai"),
            phone=step.to if step else None,
            address=borrower.get("address"),
        ),
        currency=status.currency,
        amount_overdue=(
            step.amount_overdue
            if step and step.amount_overdue is not None
            else status.amount_overdue
        ),
        balance=status.balance,
        dpd=(step.dpd if step else None) or status.dpd,
    )


def _mark(
    session: Session, moment: MomentRecord, command: ActionCommand, result: DeliveryResult
) -> bool:
    """Record the delivery on the action; whether this was the first result it got (a retried
    moment finds its sent actions already marked, and is not counted again)."""
    row = session.exec(
        select(ActionRow).where(ActionRow.episode == moment.episode, ActionRow.seq == command.seq)
    ).first()
    if row is None:
        return False
    first = row.status != result.status
    row.status = result.status
    delivery = {"provider_id": result.provider_id, "error_code": result.error_code}
    row.detail = {**row.detail, **{k: v for k, v in delivery.items() if v is not None}}
    if result.detail:
        row.detail = {**row.detail, "delivery": result.detail}
    session.add(row)
    return first
