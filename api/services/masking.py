"""Phone numbers shown to people who need to tell them apart but not to dial them: every digit
but the last four hidden, the way `/messages` shows them and `/actions` shows them to callers who
may not read the account's messages (issue 21 item 8)."""

from __future__ import annotations

import re
from typing import Any

E164 = re.compile(r"(?<![\w+])\+[1-9][0-9]{6,14}(?![0-9])")
"""A number as the API stores every number (domain.account.normalise_phone: E.164)."""


def mask_phone(number: str | None) -> str | None:
    """Every digit but the last four hidden: "+8613800138000" → "+*********8000"."""
    if not number:
        return None
    digits = sum(ch.isdigit() for ch in number)
    hidden, shown = max(0, digits - 4), []
    for ch in number:
        if ch.isdigit() and hidden > 0:
            shown.append("*")
            hidden -= 1
        else:
            shown.append(ch)
    return "".join(shown)


def mask_numbers_in(value: Any) -> Any:
    """A copy of an action's detail with every phone number in it masked, wherever it sits (a
    `to`, an `attorney_phone`, a number quoted in a reason): the detail's shape belongs to the
    workflow and grows, so the numbers are found by their form, not by their keys."""
    if isinstance(value, str):
        return E164.sub(lambda match: mask_phone(match.group()) or "", value)
    if isinstance(value, dict):
        return {key: mask_numbers_in(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_numbers_in(item) for item in value]
    return value
