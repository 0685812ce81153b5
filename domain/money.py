"""Money rules: every amount is a Decimal held at its currency's minor-unit precision.

Floats never enter the domain: a binary float cannot represent 0.10 exactly, and a collections
ledger that is off by a fen cannot be reconciled with the loan system's books.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Annotated, Any

from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from domain.limits import MAX_AMOUNT

__all__ = [
    "Money",
    "check_precision",
    "currency_precision",
    "quantize",
    "validate_currency",
]


@cache
def _known_currencies() -> frozenset[str]:
    """Currencies that are, or were, legal tender in some territory (CLDR, shipped with babel).

    ISO 4217 also lists codes that are no money anyone owes: `XXX` ("no currency"), `XTS`
    (testing), precious metals (`XAU`) and fund units (`CLF`, `XDR`). babel's list_currencies
    holds them all, so the tender data is the maintained list to judge by. The whole date range
    is used, so the set depends on babel's version only, never on the day it is computed (the
    workflows validate with it too, and must decide the same on replay).
    """
    known: set[str] = set()
    for territory in get_global("territory_currencies"):
        known.update(
            get_territory_currencies(
                territory,
                start_date=date.min,
                end_date=date.max,
                tender=True,
                non_tender=False,
            )
        )
    return frozenset(known)


def validate_currency(code: str) -> str:
    """Reject codes that are not a real currency: babel's precision lookup silently answers 2
    for them, and a loan is never owed in `XXX`."""
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


PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
"""Money as the contract writes it: digits, optionally a point and more digits. Python's Decimal
also reads `NaN`, `sNaN`, `Infinity` and exponent forms (`1E+2`); none of them is money, and a
NaN or an infinity reaching a model crashes the error handler's JSON or books an infinite
payment."""


def to_decimal(value: Any) -> Any:
    """Accept plain decimal strings and integers for money; refuse floats (binary error), and
    every string Decimal reads that is not a plain decimal (NaN, infinities, exponents)."""
    if isinstance(value, bool):
        raise ValueError('An amount must be a decimal string such as "1200.00", not a boolean.')
    if isinstance(value, float):
        raise ValueError(
            'An amount must be a decimal string such as "1200.00", not a floating-point number.'
        )
    if isinstance(value, str):
        text = value.strip()
        if not PLAIN_DECIMAL.fullmatch(text):
            raise ValueError(
                f'The amount {value!r} is not a decimal number such as "1200.00" (plain '
                "digits: no exponent, NaN or infinity)."
            )
        value = Decimal(text)
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"The amount {value} is not a finite number.")
    if isinstance(value, Decimal | int) and abs(Decimal(value)) > MAX_AMOUNT:
        raise ValueError(f"The amount {value} is larger than the largest accepted, {MAX_AMOUNT}.")
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
