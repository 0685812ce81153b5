"""Hand a moment's outbound contacts to their channels: SMS and voice through Twilio (or the
sandbox gateway), letters as PDFs in the mail vendor's dispatch batch.

It runs inside the `apply_moment` activity, after the moment is recorded, so one activity per
moment still carries all of its effects (DESIGN.md: cheap episodes). Each channel is exactly-once
on its own, keyed by (workflow id, episode, action seq), so a retried moment re-delivers nothing
that already went out; the action row's status follows what the channel reports.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from sqlmodel import Session, select

from arrears.settings import Settings
from store.engine import session_scope
from store.models import ActionRow
from workflows.messages import (
    ActionCommand,
    DeliveryRequest,
    DeliveryResult,
    DeliveryTarget,
    MomentRecord,
)


class Channel(Protocol):
    def send(self, request: DeliveryRequest) -> DeliveryResult: ...


# Action kind -> channel name. Calls, visits and skip traces are tasks for people instead.
DELIVERED_BY: dict[str, str] = {
    "sms_reminder": "sms",
    "voice_reminder": "voice",
    "letter": "letter",
    "lawyer_letter": "letter",
    "restructure_offer": "letter",
    "oca_placement": "agency",
    "oca_recall": "agency",
    "lawsuit": "legal",
    "asset_preservation": "legal",
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
        their attempt rows in theirs, and SQLite allows one writer at a time."""
        results = []
        for command in moment.actions:
            channel = DELIVERED_BY.get(command.kind)
            if channel is None:
                continue
            result = self._channel(channel).send(request_for(moment, command))
            with session_scope(database_url) as session:
                _mark(session, moment, command, result)
            results.append(result)
        return results


def request_for(moment: MomentRecord, command: ActionCommand) -> DeliveryRequest:
    borrower: dict[str, Any] = moment.borrower
    status = moment.status
    return DeliveryRequest(
        loan_id=moment.loan_id,
        workflow_id=moment.workflow_id,
        episode=moment.episode,
        action=command,
        target=DeliveryTarget(
            name=str(borrower.get("name") or ""),
            locale=str(borrower.get("locale") or "zh-CN"),
            timezone=str(borrower.get("timezone") or "Asia/Shanghai"),
            phone=command.detail.get("to"),
            address=borrower.get("address"),
        ),
        currency=status.currency,
        amount_overdue=Decimal(str(command.detail.get("amount_overdue") or status.amount_overdue)),
        balance=status.balance,
        dpd=int(command.detail.get("dpd") or status.dpd),
    )


def _mark(
    session: Session, moment: MomentRecord, command: ActionCommand, result: DeliveryResult
) -> None:
    row = session.exec(
        select(ActionRow).where(ActionRow.episode == moment.episode, ActionRow.seq == command.seq)
    ).first()
    if row is None:
        return
    row.status = result.status
    delivery = {"provider_id": result.provider_id, "error_code": result.error_code}
    row.detail = {**row.detail, **{k: v for k, v in delivery.items() if v is not None}}
    if result.detail:
        row.detail = {**row.detail, "delivery": result.detail}
    session.add(row)
