"""A deceased borrower's family settles (PLAYBOOK.md section 8; issue 17 item 2).

After a death is verified the write-off subflow offers the related parties a settlement at the
largest discount the strategy allows; the parent sends the letter (gated like any contact) and
keeps the terms. Money paid from then on counts toward it: once the settlement amount is paid,
by the offer's last day on the borrower's calendar, the account is settled — the write-off
subflow is cancelled, the balance left is written off (to the cent, in the action and the
`settlement.accepted` event) and the account closes. A payment after the offer lapsed, or after
the write-off was approved, is an ordinary payment (or a recovery). Pure: no temporalio."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.vocabulary import ActionKind
from workflows.account.episode import Episode
from workflows.contracts import SettlementAcceptedDetail, SettlementTerms

__all__ = ("settle_if_paid", "take_offer")


def take_offer(ep: Episode, child: str, detail: dict[str, Any]) -> None:
    """Keep the terms the write-off subflow offered; money paid from now on counts."""
    ep.s.settlement = SettlementTerms(
        child=child,
        amount=Decimal(str(detail["amount"])),
        balance=Decimal(str(detail.get("balance") or ep.s.book.balance)),
        expires_on=date.fromisoformat(str(detail["expires_on"])),
        payments_from=len(ep.s.book.payments),
    )


def paid_toward(ep: Episode, terms: SettlementTerms) -> Decimal:
    return sum((p.amount for p in ep.s.book.payments[terms.payments_from :]), Decimal(0))


def settle_if_paid(ep: Episode, now: datetime, today: date) -> str | None:
    """When the settlement is paid in time, record it, stop the write-off subflow and say why
    the account closes (the caller moves it to `closed`); None while it is not (yet) paid."""
    terms = ep.s.settlement
    if terms is None:
        return None
    if ep.s.write_off_child != terms.child:
        ep.s.settlement = None  # the write-off ended otherwise: the offer went with it
        return None
    if today > terms.expires_on:
        ep.s.settlement = None  # lapsed: the write-off goes on, later money is a payment
        return None
    paid = paid_toward(ep, terms)
    if paid < terms.amount:
        return None
    written_off = ep.s.book.balance
    currency = ep.s.account.currency
    ep.record_action(
        now,
        "internal",
        SettlementAcceptedDetail(
            action=ActionKind.SETTLEMENT_ACCEPTED,
            reason=f"settlement paid by the related parties: {paid} {currency} of the "
            f"{terms.amount} offered; the balance left, {written_off}, is written off",
            child=terms.child,
            amount=terms.amount,
            paid=paid,
            balance_at_offer=terms.balance,
            written_off=written_off,
            currency=currency,
        ),
    )
    owned = [t for t in ep.s.open_tasks if t.owner == terms.child]
    ep.close_tasks(owned, now, "cancelled", "settled by the related parties: {kind} not needed")
    # The write-off subflow is cancelled, and awaited, as the episode closes
    # (subflows.cancel_children): a parent ending before its child has stopped races it.
    ep.s.settlement = None
    return f"settled by the related parties: paid {paid}, written off {written_off} {currency}"
