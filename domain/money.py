"""Money rules: every amount is a Decimal held at its currency's minor-unit precision.

Floats never enter the domain: a binary float cannot represent 0.10 exactly, and a collections
ledger that is off by a fen cannot be reconciled with the loan system's books.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any

from babel.numbers import get_currency_precision, list_currencies
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = [
    "Money",
    "check_precision",
    "currency_precision",
    "quantize",
    "validate_currency",
]


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def validate_currency(code: str) -> str:
    """Reject codes babel does not know: babel's precision lookup silently answers 2 for them."""
    if not isinstance(code, str) or len(code) != 3 or not code.isalpha() or not code.isupper():
        raise ValueError(
            f"The currency {code!r} is not an ISO 4217 code; use three capital letters such as CNY."
        )
    if code not in _known_currencies():
        raise ValueError(f"The currency {code} is not a known ISO 4217 currency.")
    return code


def currency_precision(currency: str) -> int:
    """Minor-unit digits (CNY and USD 2, JPY 0), from the CLDR data shipped with babel."""
    return int(get_currency_precision(validate_currency(currency)))


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_precision(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round half up, the rounding consumer-loan contracts and regulators in our markets use."""
    return amount.quantize(_quantum(currency), rounding=ROUND_HALF_UP)


def check_precision(amount: Decimal, currency: str) -> Decimal:
    """Refuse amounts finer than the currency's minor unit instead of silently rounding them.

    A payment of 100.005 CNY is a caller bug; rounding it would make our books disagree with
    the loan system's.
    """
    digits = currency_precision(currency)
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"The amount {amount} is not a finite number.")
    if -exponent > digits and amount != quantize(amount, currency):
        unit = "no decimals" if digits == 0 else f"at most {digits} decimal places"
        raise ValueError(f"The amount {amount} has more decimals than {currency} allows ({unit}).")
    return amount


def to_decimal(value: Any) -> Any:
    """Accept decimal strings and integers for money; refuse floats, which carry binary error."""
    if isinstance(value, bool):
        raise ValueError('An amount must be a decimal string such as "1200.00", not a boolean.')
    if isinstance(value, float):
        raise ValueError(
            'An amount must be a decimal string such as "1200.00", not a floating-point number.'
        )
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(
                f'The amount {value!r} is not a decimal number such as "1200.00".'
            ) from None
    return value


MONEY_PATTERN = r"^\s*[+-]?[0-9]+(\.[0-9]+)?\s*$"

Money = Annotated[
    Decimal,
    BeforeValidator(to_decimal),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
    # What the API documents: a decimal string (floats are refused; see to_decimal).
    WithJsonSchema(
        {
            "type": "string",
            "pattern": MONEY_PATTERN,
            "description": "a decimal string, never a float; at most the currency's decimals",
            "examples": ["1200.00"],
        }
    ),
]
"""A Decimal amount that parses from strings and serialises to a JSON string (never a float)."""


# Load babel's CLDR tables now, at import, outside any workflow: babel reads them from files on
# first use, and a Temporal workflow sandbox refuses file access while decoding workflow input.
_known_currencies()
get_currency_precision("CNY")
