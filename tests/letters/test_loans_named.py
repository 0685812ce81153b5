"""A letter that names several overdue loans of the borrower (docs/borrowers.md
"Consolidation"): one row per loan and the total in the facts table, and a sentence saying the
letter is about all of them, in zh-CN and en; a letter about one loan is unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from activities.letters.content import LetterContentError, LetterFacts, compose

LOANS = [
    {"loan_id": "L-1001", "currency": "CNY", "amount_overdue": "1200.00"},
    {"loan_id": "L-1002", "currency": "CNY", "amount_overdue": "800.50"},
]


def facts(locale: str, detail: dict[str, Any]) -> LetterFacts:
    return LetterFacts(
        kind="reminder_letter",
        letter_id="L-1001-e-7",
        loan_id="L-1001",
        name="王芳",
        address_lines=("上海市浦东新区世纪大道100号",),
        locale=locale,
        timezone="Asia/Shanghai",
        at=datetime(2026, 12, 8, 2, tzinfo=UTC),
        currency="CNY",
        amount_overdue=Decimal("1200.00"),
        balance=Decimal("5000.00"),
        dpd=7,
        due_date=date(2026, 12, 1),
        detail=detail,
    )


def section(locale: str, detail: dict[str, Any], name: str) -> tuple[str, ...]:
    return next(s.lines for s in compose(facts(locale, detail)).sections if s.name == name)


@pytest.mark.parametrize(
    ("locale", "row", "total", "sentence"),
    [
        ("zh-CN", "逾期借款 L-1002 | ¥800.50", "逾期金额合计 | ¥2,000.50", "2笔借款逾期"),
        (
            "en",
            "Overdue on loan L-1002 | CN¥800.50",
            "Overdue on all loans | CN¥2,000.50",
            "2 overdue loans",
        ),
    ],
)
def test_a_consolidated_letter_lists_each_loan_and_the_total(
    locale: str, row: str, total: str, sentence: str
) -> None:
    table = section(locale, {"loans": LOANS}, "facts")
    assert row in table and total in table, table
    assert any(sentence in line for line in section(locale, {"loans": LOANS}, "body"))


def test_a_letter_about_one_loan_is_unchanged() -> None:
    alone = compose(facts("zh-CN", {}))
    assert compose(facts("zh-CN", {"loans": LOANS[:1]})) == alone
    assert not any("L-1002" in line for s in alone.sections for line in s.lines)


def test_an_unreadable_list_of_loans_is_a_business_failure_not_a_crash() -> None:
    with pytest.raises(LetterContentError):
        compose(facts("en", {"loans": [{"loan_id": "L-1"}, {"amount_overdue": "x"}]}))
