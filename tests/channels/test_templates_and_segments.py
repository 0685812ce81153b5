"""What a reminder says and what it costs: templates per locale with locale money and dates, the
carriers' segment arithmetic, and the strategy check that refuses a template before it runs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from activities.channels import templates
from activities.channels.segments import count_segments
from activities.channels.templates import (
    MessageFacts,
    TemplateMissing,
    normalise_locale,
    render_sms,
    render_voice,
    template_locale,
    validate_strategy_templates,
)
from domain.strategy import STRATEGIES_DIR, StrategyError, load_strategy, parse_strategy

FACTS = MessageFacts(
    name="王芳",
    currency="CNY",
    amount_due=Decimal("1200.50"),
    amount_overdue=Decimal("1234.56"),
    balance=Decimal("12345.67"),
    due_date=date(2026, 12, 1),
    dpd=5,
)


# ------------------------------------------------------------------------------- segments


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),  # split: 153 per segment from now on
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters cost two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 152 + "€", "GSM-7", 154, 1),  # still within 160 in one message
        ("a" * 160 + "[", "GSM-7", 162, 2),
        ("a" * 152 + "{" + "a" * 152, "GSM-7", 306, 3),  # "{" never straddles: 152+153+1
        ("a" * 69 + "Ł", "UCS-2", 70, 1),  # one non-GSM letter makes the whole text UCS-2
        ("a" * 70 + "Ł", "UCS-2", 71, 2),
        ("还" * 70, "UCS-2", 70, 1),
        ("还" * 71, "UCS-2", 71, 2),
        ("还" * 134, "UCS-2", 134, 2),
        ("还" * 135, "UCS-2", 135, 3),
        ("还" * 66 + "😀", "UCS-2", 68, 1),  # an emoji is a surrogate pair: two units
        ("还" * 66 + "😀" + "还" * 66, "UCS-2", 134, 3),  # and never split: 66+67+1
    ],
)
def test_segments_are_counted_as_carriers_bill_them(
    text: str, encoding: str, units: int, segments: int
) -> None:
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)


def test_the_gsm_alphabet_includes_its_accented_letters_and_excludes_others() -> None:
    assert count_segments("Ça coûte ¥100 à Zürich; £5 @ Ñandú").encoding == "UCS-2"  # û, ú
    assert count_segments("Ça coute ¥100 à Zürich; £5 @ Ñandu").encoding == "GSM-7"


# ------------------------------------------------------------------------------ rendering


def test_a_chinese_reminder_formats_money_and_dates_for_china() -> None:
    sms = render_sms("overdue_reminder", "zh-CN", FACTS)
    assert sms.text == (
        "【逾期提醒】尊敬的王芳，您2026年12月1日到期的应还款¥1,234.56已逾期5天，"
        "请尽快还款，以免罚息继续增加。"
    )
    assert (sms.locale, sms.count.encoding, sms.count.segments) == ("zh-CN", "UCS-2", 1)


def test_an_english_reminder_formats_money_and_dates_in_english() -> None:
    facts = MessageFacts(**{**FACTS.__dict__, "name": "Jane Roe"})
    sms = render_sms("pre_due_reminder", "en", facts)
    assert sms.text == (
        "Jane Roe, your loan instalment of CN¥1,200.50 is due on December 1, 2026. "
        "Please pay on time to keep your credit record clean."
    )
    assert (sms.count.encoding, sms.count.segments) == ("GSM-7", 1)
    usd = MessageFacts(**{**facts.__dict__, "currency": "USD"})
    assert "$1,200.50" in render_sms("pre_due_reminder", "en-US", usd).text


def test_a_pre_due_reminder_without_a_known_due_date_says_tomorrow() -> None:
    # The ladder sends it the day before the due date (DPD -1).
    undated = MessageFacts(**{**FACTS.__dict__, "due_date": None})
    assert "将于明天到期" in render_sms("pre_due_reminder", "zh-CN", undated).text
    assert "is due tomorrow." in render_sms("pre_due_reminder", "en", undated).text


def test_a_regional_locale_uses_the_language_templates_with_its_own_date_format() -> None:
    british = render_sms("pre_due_reminder", "en-GB", FACTS)
    assert british.locale == "en" and "due on 1 December 2026" in british.text
    assert render_sms("pre_due_reminder", "en_us", FACTS).locale == "en"


@pytest.mark.parametrize(
    ("locale", "folder"),
    [("zh-CN", "zh-CN"), ("zh_Hans_CN", "zh-CN"), ("zh-TW", "zh-CN"), ("fr-FR", "en"), ("", "en")],
)
def test_locales_without_templates_fall_back_to_the_closest_language(
    locale: str, folder: str
) -> None:
    assert template_locale("sms", "overdue_reminder", locale) == folder


def test_an_unknown_template_name_is_an_error_not_a_silent_blank() -> None:
    with pytest.raises(TemplateMissing):
        render_sms("no_such_template", "zh-CN", FACTS)
    with pytest.raises(TemplateMissing):
        template_locale("sms", "../voice/en/overdue_voice", "en")
    assert normalise_locale("ZH_cn") == "zh-CN"


def test_a_long_name_is_cut_so_the_validated_worst_case_holds() -> None:
    facts = MessageFacts(**{**FACTS.__dict__, "name": "名" * 100})
    assert "名" * templates.NAME_MAX + "，" in render_sms("overdue_reminder", "zh-CN", facts).text
    assert (
        "名" * (templates.NAME_MAX + 1) not in render_sms("overdue_reminder", "zh-CN", facts).text
    )


def test_a_voice_reminder_speaks_the_amount_in_words_in_the_borrowers_language() -> None:
    chinese = render_voice("overdue_voice", "zh-CN", FACTS)
    assert chinese.language == "zh-CN"
    assert chinese.twiml.count('<Say language="zh-CN">王芳您好') == 2
    assert "逾期金额1,234.56人民币" in chinese.text
    english = render_voice(
        "overdue_voice", "en-GB", MessageFacts(**{**FACTS.__dict__, "name": "A&B"})
    )
    assert english.language == "en-GB" and "1,234.56 Chinese yuan" in english.text
    assert "Hello A&amp;B." in english.twiml  # TwiML is XML: the name is escaped


# ----------------------------------------------------------------------------- validation


def test_every_shipped_strategy_has_valid_templates() -> None:
    files = sorted(STRATEGIES_DIR.glob("*.yaml"))
    assert files
    for path in files:
        strategy = parse_strategy(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)
        validate_strategy_templates(strategy)


def test_a_template_that_could_exceed_max_segments_is_rejected() -> None:
    strict = load_strategy("default").model_copy(update={"max_sms_segments": 2})
    with pytest.raises(StrategyError) as info:
        validate_strategy_templates(strict)
    message = str(info.value)
    assert "sms template 'pre_due_reminder' (zh-CN) can need 3 segments" in message
    assert "more than max_sms_segments 2" in message


def test_a_too_long_template_file_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "templates"
    for source in templates.TEMPLATES_DIR.rglob("*.j2"):
        target = folder / source.relative_to(templates.TEMPLATES_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    chatty = "{{ name }}, " + "please remember to pay your loan. " * 5 + "Owed: {{ balance }}."
    (folder / "sms" / "en" / "hard_core_notice.j2").write_text(chatty, encoding="utf-8")
    monkeypatch.setattr(templates, "TEMPLATES_DIR", folder)
    templates._environment.cache_clear()
    try:
        with pytest.raises(StrategyError) as info:
            validate_strategy_templates(load_strategy("default"))
    finally:
        templates._environment.cache_clear()
    assert "hc_sms_91: sms template 'hard_core_notice' (en) can need 4 segments" in str(info.value)
    assert "pre_due_reminder" not in str(info.value)


def test_a_missing_template_or_an_undefined_variable_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = yaml.safe_load((STRATEGIES_DIR / "default.yaml").read_text(encoding="utf-8"))
    raw["treatments"]["default"][0]["template"] = "not_written_yet"
    with pytest.raises(StrategyError) as info:
        validate_strategy_templates(parse_strategy(raw))
    assert "sms template 'not_written_yet' (zh-CN) is missing" in str(info.value)
    assert "sms template 'not_written_yet' (en) is missing" in str(info.value)

    folder = tmp_path / "templates"
    for source in templates.TEMPLATES_DIR.rglob("*.j2"):
        target = folder / source.relative_to(templates.TEMPLATES_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "voice" / "en" / "overdue_voice.j2").write_text("Hi {{ nmae }}", encoding="utf-8")
    monkeypatch.setattr(templates, "TEMPLATES_DIR", folder)
    templates._environment.cache_clear()
    try:
        with pytest.raises(StrategyError) as info:
            validate_strategy_templates(load_strategy("default"))
    finally:
        templates._environment.cache_clear()
    assert "voice template 'overdue_voice' (en) does not render" in str(info.value)
    assert "'nmae' is undefined" in str(info.value)
