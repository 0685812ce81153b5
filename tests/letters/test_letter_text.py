"""What the borrower reads: the right words, in their language, with their figures formatted the
way their locale writes them — checked in the PDF itself, as text extracted by pypdf."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from activities.letters import LETTER_KINDS, LetterChannel, resolve_locale
from activities.letters.content import TEMPLATES_DIR, LetterFacts, compose
from activities.letters.layout import FALLBACK_FONT, covered, render_pdf
from core.settings import Settings
from tests.letters.support import (
    OFFERS,
    SPRINGFIELD_ADDRESS,
    contains,
    letter_request,
    pdf_text,
)


def test_a_chinese_letter_names_the_borrower_and_states_the_overdue_amount_in_chinese(
    settings: Settings,
) -> None:
    result = LetterChannel(settings).send(letter_request(kind="reminder_letter", name="张伟"))

    assert result.status == "written"
    text = pdf_text(result.detail["path"])
    assert contains(text, "张伟", "逾期还款提醒函", "逾期", "¥1,200.00", "逾期天数", "12天")
    assert contains(text, "合同编号", "L-1001", "上海市浦东新区世纪大道100号", "20楼2001室")
    assert result.detail["pages"] == len(PdfReader(result.detail["path"]).pages) == 1


def test_an_english_letter_uses_english_wording_and_the_locales_currency_format(
    settings: Settings,
) -> None:
    channel = LetterChannel(settings)
    dollars = channel.send(
        letter_request(
            kind="demand_letter",
            seq=1,
            name="John Smith",
            locale="en-US",
            timezone="America/New_York",
            address=SPRINGFIELD_ADDRESS,
            currency="USD",
        )
    )
    yuan = channel.send(letter_request(kind="demand_letter", seq=2, name="John Smith", locale="en"))

    dollars_text = pdf_text(dollars.detail["path"])
    assert contains(dollars_text, "Dear John Smith", "Demand for payment of overdue amount")
    assert contains(dollars_text, "Amount overdue", "$1,200.00", "12 days past due")
    assert contains(dollars_text, "12 Main St", "Springfield, IL 62701")
    assert "CN¥" not in dollars_text
    assert contains(pdf_text(yuan.detail["path"]), "CN¥1,200.00")


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("kind", LETTER_KINDS)
def test_every_letter_kind_is_written_in_both_languages(kind: str, locale: str) -> None:
    content = compose(
        LetterFacts(
            kind=kind,
            letter_id="L-1001-0a1b2c3d-7",
            loan_id="L-1001",
            name="张伟" if locale == "zh-CN" else "Jane Doe",
            address_lines=("上海市浦东新区世纪大道100号",),
            locale=locale,
            timezone="Asia/Shanghai",
            at=datetime(2026, 12, 7, 17, 30, tzinfo=UTC),
            currency="CNY",
            amount_overdue=Decimal("1200.00"),
            balance=Decimal("8400.00"),
            dpd=12,
            due_date=None,
            detail=OFFERS.get(kind, {}),
        )
    )
    pdf = render_pdf(content)

    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert pdf.pages >= 1
    assert contains(text, content.title, "L-1001", "L-1001-0a1b2c3d-7")
    if locale == "zh-CN":
        assert contains(text, "张伟", "¥1,200.00", "12天", "2026年12月8日")
    else:
        assert contains(text, "Jane Doe", "CN¥1,200.00", "12 days", "December 8, 2026")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("zh-CN", ["每期还款金额", "¥400.00", "6期", "减免金额", "¥150.00", "2026年12月21日"]),
        (
            "en",
            [
                "New instalment amount",
                "CN¥400.00",
                "Number of instalments",
                "Amount waived",
                "CN¥150.00",
                "December 21, 2026",
            ],
        ),
    ],
)
def test_a_restructure_offer_states_the_new_instalment_count_waiver_and_expiry(
    settings: Settings, locale: str, expected: list[str]
) -> None:
    result = LetterChannel(settings).send(letter_request(kind="restructure_offer", locale=locale))

    assert result.status == "written"
    assert contains(pdf_text(result.detail["path"]), *expected)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "zh-CN",
            ["家属", "结清金额", "¥6,000.00", "¥8,400.00", "28.57%", "¥2,400.00", "2026年12月21日"],
        ),
        (
            "en",
            [
                "To the family and legal representatives of the late 张伟",
                "Settlement amount",
                "CN¥6,000.00",
                "Outstanding balance",
                "CN¥8,400.00",
                "Amount forgiven",
                "CN¥2,400.00",
                "28.57%",
                "December 21, 2026",
            ],
        ),
    ],
)
def test_the_heirs_settlement_offer_states_the_amount_the_discount_and_what_is_forgiven(
    settings: Settings, locale: str, expected: list[str]
) -> None:
    """PLAYBOOK.md section 8: a related party may settle at the largest allowed discount."""
    result = LetterChannel(settings).send(letter_request(kind="settlement_offer", locale=locale))

    assert result.status == "written"
    assert contains(pdf_text(result.detail["path"]), *expected)


@pytest.mark.parametrize(
    ("requested", "template", "formatting"),
    [
        ("zh-CN", "zh-CN", "zh_Hans_CN"),
        ("en", "en", "en"),
        ("en-US", "en", "en_US"),
        ("en-GB", "en", "en_GB"),
        ("fr-FR", "zh-CN", "zh_CN"),
        ("not a locale", "zh-CN", "zh_CN"),
        ("", "zh-CN", "zh_CN"),
    ],
)
def test_a_borrower_reads_their_language_and_an_unknown_locale_gets_chinese(
    requested: str, template: str, formatting: str
) -> None:
    assert resolve_locale(requested) == (template, formatting)


def test_a_british_borrower_gets_the_english_letter_with_british_dates(settings: Settings) -> None:
    result = LetterChannel(settings).send(
        letter_request(locale="en-GB", name="Jane Doe", timezone="Europe/London")
    )

    assert result.detail["locale"] == "en"
    assert contains(pdf_text(result.detail["path"]), "Dear Jane Doe", "7 December 2026")


def test_a_name_with_markup_characters_is_printed_as_written(settings: Settings) -> None:
    name = "Tom & <Jerry> [body]"
    result = LetterChannel(settings).send(letter_request(locale="en", name=name))

    text = pdf_text(result.detail["path"])
    assert result.status == "written"
    assert contains(text, f"Dear {name},")
    assert text.count("Reminder: your loan payment is overdue") == 1


def test_a_rare_character_outside_the_bundled_font_still_prints_and_extracts(
    settings: Settings,
) -> None:
    assert not covered("䶮")  # CJK Extension A: not in the bundled subset
    result = LetterChannel(settings).send(letter_request(name="王䶮"))

    assert contains(pdf_text(result.detail["path"]), "王䶮（收）", "尊敬的王䶮")
    fonts = {
        str(font["/BaseFont"])
        for page in PdfReader(result.detail["path"]).pages
        for font in page["/Resources"]["/Font"].values()  # type: ignore[index]
    }
    assert f"/{FALLBACK_FONT}" in fonts


def test_the_letters_fonts_are_embedded_so_every_printer_shows_the_same_glyphs(
    settings: Settings,
) -> None:
    result = LetterChannel(settings).send(letter_request())

    for page in PdfReader(result.detail["path"]).pages:
        for ref in page["/Resources"]["/Font"].values():  # type: ignore[index]
            font = ref.get_object()
            descriptor = font["/FontDescriptor"].get_object()
            assert "/FontFile2" in descriptor, f"{font['/BaseFont']} is not embedded"
            assert "/ToUnicode" in font


def test_every_character_our_templates_print_is_in_the_bundled_font() -> None:
    jinja = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
    missing: dict[str, set[str]] = {}
    for template in sorted(TEMPLATES_DIR.glob("*/*.j2")):
        literal = jinja.sub("", template.read_text(encoding="utf-8"))
        gaps = {c for c in literal if not c.isspace() and not covered(c)}
        if gaps:
            missing[str(template.relative_to(TEMPLATES_DIR))] = gaps
    assert missing == {}


def test_the_same_letter_renders_to_the_same_bytes() -> None:
    facts = LetterFacts(
        kind="demand_letter",
        letter_id="L-1-0a1b2c3d-3",
        loan_id="L-1",
        name="张伟",
        address_lines=("上海市",),
        locale="zh-CN",
        timezone="Asia/Shanghai",
        at=datetime(2026, 12, 7, 17, 30, tzinfo=UTC),
        currency="CNY",
        amount_overdue=Decimal("1200.00"),
        balance=Decimal("0"),
        dpd=30,
        due_date=None,
        detail={},
    )

    assert render_pdf(compose(facts)).data == render_pdf(compose(facts)).data
