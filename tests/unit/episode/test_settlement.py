"""The heirs' settlement (PLAYBOOK.md section 8; issue 17 item 2) with made-up instants: paid in
time it closes the account and writes off what is left, to the cent; paid after the offer's last
day, or short of it, it is an ordinary payment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.account import PaymentIn
from workflows.account import ladder, settlement
from workflows.account.episode import Episode
from workflows.contracts import SettlementAcceptedDetail

from .conftest import DUE, EpisodeFactory, at, delinquent

CHILD = "write-off-L-UNIT-1"


def _payment(amount: str, payment_id: str) -> PaymentIn:
    return PaymentIn.model_construct(
        payment_id=payment_id, amount=Decimal(amount), paid_at=datetime(2026, 3, 12, tzinfo=UTC)
    )


def _offered(new_episode: EpisodeFactory, amount: str, expires_in_days: int = 30) -> Episode:
    ep = delinquent(new_episode())
    ep.s.write_off_child = CHILD
    offered_on = DUE + timedelta(days=2)
    settlement.take_offer(
        ep,
        CHILD,
        {
            "amount": amount,
            "balance": "2401.20",
            "expires_on": (offered_on + timedelta(days=expires_in_days)).isoformat(),
        },
    )
    return ep


def test_the_settled_amount_paid_in_time_closes_the_account_and_writes_off_the_rest(
    new_episode: EpisodeFactory,
) -> None:
    ep = _offered(new_episode, "1200.60")
    now = at(DUE + timedelta(days=3))
    ep.take_payment(now, _payment("1000.00", "H-1"))
    ladder.advance(ep, now)
    assert ep.s.state == "delinquent"
    ep.take_payment(now, _payment("200.60", "H-2"))
    left = ep.s.book.balance
    ladder.advance(ep, now)
    assert ep.s.state == "closed"
    [settled] = [a.detail for a in ep.out.actions if a.kind == "settlement_accepted"]
    assert isinstance(settled, SettlementAcceptedDetail)
    assert (settled.paid, settled.written_off) == (Decimal("1200.60"), left)
    assert left > 0 and ep.s.settlement is None


def test_a_settlement_paid_after_the_offers_last_day_is_an_ordinary_payment(
    new_episode: EpisodeFactory,
) -> None:
    ep = _offered(new_episode, "1200.60", expires_in_days=1)
    late = at(DUE + timedelta(days=4))  # the offer's last day was DUE + 3
    ep.take_payment(late, _payment("1200.60", "H-1"))
    ladder.advance(ep, late)
    assert ep.s.state != "closed"
    assert "settlement_accepted" not in [a.kind for a in ep.out.actions]
    assert ep.s.settlement is None
