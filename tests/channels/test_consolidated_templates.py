"""A reminder that names several loans of the borrower (docs/borrowers.md "Consolidation"):
every overdue SMS and voice template, in zh-CN and en, names each loan and the total; a single
loan's text is what it always was; the worst case with four loans still fits the strategy's
segments (validated with the others)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from activities.channels.templates import MessageFacts, render_sms, render_voice
from domain.contact.consolidation import NamedLoan

OVERDUE_SMS = ("overdue_reminder", "overdue_reminder_2", "mid_range_reminder", "hard_core_notice")
LOANS = (
    NamedLoan(loan_id="L-7001", currency="CNY", amount_overdue=Decimal("1200.00")),
    NamedLoan(loan_id="L-7002", currency="CNY", amount_overdue=Decimal("800.50")),
    NamedLoan(loan_id="L-7003", currency="CNY", amount_overdue=Decimal("0.25")),
)
FACTS = MessageFacts(
    name="王芳",
    currency="CNY",
    amount_due=Decimal("1200.00"),
    amount_overdue=Decimal("1200.00"),
    balance=Decimal("5000.00"),
    due_date=date(2026, 12, 1),
    dpd=3,
)


@pytest.mark.parametrize("template", OVERDUE_SMS)
def test_every_overdue_text_names_each_loan_and_the_total_in_chinese(template: str) -> None:
    text = render_sms(template, "zh-CN", replace(FACTS, loans=LOANS)).text
    assert "3笔借款" in text and "尾号7001、7002、7003" in text, text
    assert "¥2,000.75" in text, text


@pytest.mark.parametrize("template", OVERDUE_SMS)
def test_every_overdue_text_names_each_loan_and_the_total_in_english(template: str) -> None:
    text = render_sms(template, "en-US", replace(FACTS, loans=LOANS)).text
    assert "3 loans ending 7001, 7002, 7003" in text and "CN¥2,000.75" in text, text


@pytest.mark.parametrize("template", OVERDUE_SMS)
def test_a_single_loan_text_is_unchanged(template: str) -> None:
    one = replace(FACTS, loans=LOANS[:1])
    assert render_sms(template, "zh-CN", one).text == render_sms(template, "zh-CN", FACTS).text
    assert "笔借款" not in render_sms(template, "zh-CN", FACTS).text


@pytest.mark.parametrize(("locale", "words"), [("zh-CN", "尾号7002的借款"), ("en", "ending 7002")])
def test_the_recorded_call_says_each_loan_and_what_is_overdue_on_it(
    locale: str, words: str
) -> None:
    spoken = render_voice("overdue_voice", locale, replace(FACTS, loans=LOANS)).text
    assert words in spoken and "800.50" in spoken, spoken
    single = render_voice("overdue_voice", locale, FACTS).text
    assert "7002" not in single
