from decimal import Decimal

import pytest

from domain.money import check_precision, currency_precision, quantize, validate_currency


@pytest.mark.parametrize(("currency", "digits"), [("CNY", 2), ("USD", 2), ("JPY", 0)])
def test_currency_precision_follows_iso_minor_units(currency: str, digits: int) -> None:
    assert currency_precision(currency) == digits


def test_quantize_rounds_half_up_not_to_even() -> None:
    assert quantize(Decimal("0.125"), "CNY") == Decimal("0.13")
    assert quantize(Decimal("0.135"), "CNY") == Decimal("0.14")
    assert quantize(Decimal("2.5"), "JPY") == Decimal("3")
    assert quantize(Decimal("-0.125"), "CNY") == Decimal("-0.13")


def test_quantize_pads_to_the_currency_precision() -> None:
    assert str(quantize(Decimal("6"), "CNY")) == "6.00"


def test_amount_within_currency_precision_is_accepted() -> None:
    assert check_precision(Decimal("1200.00"), "CNY") == Decimal("1200.00")
    assert check_precision(Decimal("1200.5"), "CNY") == Decimal("1200.5")
    assert check_precision(Decimal("1200"), "JPY") == Decimal("1200")


def test_trailing_zeros_beyond_precision_are_not_extra_decimals() -> None:
    assert check_precision(Decimal("1200.000"), "CNY") == Decimal("1200.000")
    assert check_precision(Decimal("1200.0"), "JPY") == Decimal("1200.0")


def test_amount_with_more_decimals_than_the_currency_allows_is_refused() -> None:
    with pytest.raises(ValueError, match=r"100\.005 has more decimals than CNY allows"):
        check_precision(Decimal("100.005"), "CNY")
    with pytest.raises(ValueError, match="JPY allows \\(no decimals\\)"):
        check_precision(Decimal("100.5"), "JPY")


@pytest.mark.parametrize("code", ["XYZ", "cny", "RMB", "CN", "", "CNYY"])
def test_unknown_or_malformed_currency_codes_are_refused(code: str) -> None:
    with pytest.raises(ValueError, match="currency"):
        validate_currency(code)


def test_known_currency_codes_pass() -> None:
    assert validate_currency("CNY") == "CNY"
    assert validate_currency("USD") == "USD"
