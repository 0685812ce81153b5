"""Money received after write-off (PLAYBOOK.md section 8): booked as a recovery, not as a
payment in collection.

A written-off account's workflow has ended, so there is no episode to signal; the payment is
the store's to keep, keyed like every payment by (loan_id, payment_id), so the loan system may
send it again safely. Recoveries count in the recovered amount of reports, apart from what
collection brought in.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from domain.account import PaymentIn
from domain.vocabulary import AccountState
from store.models import AccountRow, PaymentRow

__all__ = ["RECOVERY", "book_recovery", "recoveries_for_loan", "written_off"]

RECOVERY = "recovery"


def written_off(session: Session, loan_id: str) -> AccountRow | None:
    """The account's snapshot when its last episode ended in write-off, else None."""
    row = session.get(AccountRow, loan_id)
    return row if row is not None and row.state == AccountState.WRITTEN_OFF else None


def book_recovery(session: Session, account: AccountRow, payment: PaymentIn) -> bool:
    """Book the payment as a recovery once; False when this payment_id is already booked."""
    existing = session.exec(
        select(PaymentRow).where(
            PaymentRow.loan_id == account.loan_id, PaymentRow.payment_id == payment.payment_id
        )
    ).first()
    if existing is not None:
        return False
    session.add(
        PaymentRow(
            loan_id=account.loan_id,
            payment_id=payment.payment_id,
            amount=payment.amount,
            paid_at=payment.paid_at,
            dpd=account.dpd,
            bucket=account.bucket,  # where the account stood when it was written off
            booked_as=RECOVERY,
        )
    )
    return True


def recoveries_for_loan(session: Session, loan_id: str) -> list[PaymentRow]:
    return list(
        session.exec(
            select(PaymentRow)
            .where(PaymentRow.loan_id == loan_id, PaymentRow.booked_as == RECOVERY)
            .order_by(col(PaymentRow.paid_at))
        ).all()
    )
