"""Building delivery requests and reading letters back, as the mail vendor and an auditor would."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pypdf import PdfReader
from sqlmodel import select

from core.settings import Settings
from store.engine import session_scope
from store.letters import LetterRow
from workflows.contracts import ActionCommand, DeliveryRequest, DeliveryTarget

# 17:30 UTC on 7 December is 01:30 on 8 December in Shanghai: the letter is dated the 8th.
SHANGHAI_EARLY_MORNING = datetime(2026, 12, 7, 17, 30, tzinfo=UTC)

OFFER = {
    "new_instalment_amount": "400.00",
    "instalment_count": 6,
    "waiver_amount": "150.00",
    "expires_on": "2026-12-21",
}

SETTLEMENT = {
    "amount": "6000.00",
    "balance": "8400.00",
    "discount_pct": "0.2857",
    "expires_on": "2026-12-21",
    "currency": "CNY",
    "to": "related_parties",
}
OFFERS: dict[str, dict[str, Any]] = {"restructure_offer": OFFER, "settlement_offer": SETTLEMENT}

SHANGHAI_ADDRESS = "上海市浦东新区世纪大道100号\n20楼2001室"
SPRINGFIELD_ADDRESS = "12 Main St\nSpringfield, IL 62701"


def letter_request(
    *,
    kind: str = "reminder_letter",
    seq: int = 7,
    episode: str | None = None,
    loan_id: str = "L-1001",
    name: str = "张伟",
    locale: str = "zh-CN",
    timezone: str = "Asia/Shanghai",
    address: str | None = SHANGHAI_ADDRESS,
    currency: str = "CNY",
    amount_overdue: str = "1200.00",
    dpd: int = 12,
    at: datetime = SHANGHAI_EARLY_MORNING,
    detail: dict[str, Any] | None = None,
    action_kind: str | None = None,
) -> DeliveryRequest:
    """A letter action as the workflow would hand it to the channel."""
    if action_kind is None:  # the strategy's actions: letter, lawyer_letter, restructure_offer
        offers = ("lawyer_letter", "restructure_offer", "settlement_offer")
        action_kind = kind if kind in offers else "letter"
    if detail is None:
        detail = dict(OFFERS.get(kind, {}))
    return DeliveryRequest(
        loan_id=loan_id,
        workflow_id=f"account-{loan_id}",
        episode=episode or str(uuid.uuid4()),
        action=ActionCommand(
            seq=seq,
            at=at,
            kind=action_kind,
            channel="legal" if action_kind == "lawyer_letter" else "mail",
            stage="front_end",
            template=kind,
            detail=detail,
        ),
        target=DeliveryTarget(name=name, locale=locale, timezone=timezone, address=address),
        currency=currency,
        amount_overdue=Decimal(amount_overdue),
        balance=Decimal("8400.00"),
        dpd=dpd,
        due_date=date(2026, 11, 25),
    )


def pdf_text(path: str | Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(str(path)).pages)


def compact(text: str) -> str:
    """Text without whitespace: line breaks fall anywhere in Chinese, and pypdf adds spaces."""
    return "".join(text.split())


def contains(text: str, *needles: str) -> bool:
    haystack = compact(text)
    return all(compact(n) in haystack for n in needles)


def letter_rows(settings: Settings) -> list[LetterRow]:
    with session_scope(settings.effective_database_url) as session:
        return list(session.exec(select(LetterRow)).all())


def pdf_files(settings: Settings) -> list[Path]:
    return sorted((Path(settings.data_dir) / "letters").glob("*/*.pdf"))


def stray_temp_files(settings: Settings) -> list[Path]:
    return sorted((Path(settings.data_dir) / "letters").rglob("*.tmp"))
