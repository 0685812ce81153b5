"""The one masking rule for borrower data shown outside the data itself: log lines
(core/logmask.py), uvicorn's access lines, the timeline, and phone numbers in `/actions` and
`/messages` for callers who may not read them (api/services/masking.py). One rule, so a number
never reads one way in a log and another in the API (issue 21 item 6, issue 18 item 3):

- a phone number keeps its last four digits, every other digit becomes `*`, its `+`, spaces and
  dashes stay: `+8613800138000` → `+*********8000` (what `/messages` always showed: enough to tell
  two numbers apart, not enough to dial);
- phone numbers are found by `phonenumbers.PhoneNumberMatcher` (libphonenumber's own finder),
  which knows real numbering plans: international numbers in any format, and national numbers of
  the regions we collect in; dates, amounts, UUIDs and IP addresses are not numbers to it, where a
  regex had to be taught each exception;
- text that is URL-encoded (`To=%2B8613800138000` in a Twilio request log) is decoded first, so
  an encoding is no hiding place;
- names and addresses cannot be recognised by their shape: they are found by the key they travel
  under (`name=`, `"name": "..."`, `borrower_name`, `address`, ...) and become `***`;
- in a URL's query string every value is masked except those of keys known to carry no borrower
  data (`state`, `bucket`, `cursor`, ...): a search `?q=Wang%20Fang` must not land in an access log.

Loan ids, workflow ids, amounts and dates are not PII here and stay readable.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from phonenumbers import Leniency, PhoneNumberMatcher

MASK = "***"
SHOWN_DIGITS = 4

# National (no `+`) numbers are looked for in these numbering plans: the jurisdictions whose
# borrowers we contact. International numbers are found whatever their country.
NATIONAL_REGIONS = ("CN", "US")

_NAME_KEYS = r"(?:borrower_|contact_|full_|first_|last_)?name|address|street|addressee"
_QUOTED_FIELD = re.compile(
    rf"""(?P<key>['"]?\b(?:{_NAME_KEYS})\b['"]?\s*[:=]\s*)"""
    r"""(?P<quote>['"])(?P<value>(?:\\.|(?!(?P=quote)).)*)(?P=quote)""",
    re.IGNORECASE,
)
_BARE_FIELD = re.compile(
    r"(?P<key>\b(?:(?:borrower_|contact_|full_|first_|last_)?name|addressee)=)"
    r"""(?P<value>[^\s,;)'"&]+)""",
    re.IGNORECASE,
)
# Query-string parameters whose values are ours (filters, paging), never a borrower's.
SAFE_QUERY_KEYS = frozenset(
    {
        "after",
        "bucket",
        "channel",
        "cursor",
        "days",
        "format",
        "holder",
        "hours",
        "kind",
        "limit",
        "segment",
        "stage",
        "state",
        "status",
        "strategy",
    }
)
_QUERY = re.compile(r"\?(?P<query>[^\s\"#]*)")


def mask_phone(number: str | None) -> str | None:
    """Every digit but the last four hidden: "+8613800138000" → "+*********8000"."""
    if not number:
        return None
    hidden = max(0, sum(ch.isdigit() for ch in number) - SHOWN_DIGITS)
    shown: list[str] = []
    for ch in number:
        if ch.isdigit() and hidden > 0:
            shown.append("*")
            hidden -= 1
        else:
            shown.append(ch)
    return "".join(shown)


# Digit runs that are never numbers, skipped before libphonenumber is asked: ISO dates (with the
# hour of a following time), decimals (amounts), IPv4 addresses.
_NOT_A_PHONE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{1,2})?|\d+\.\d+|\d{1,3}(?:\.\d{1,3}){3}")


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans: set[tuple[int, int]] = set()
    international = text.lstrip().startswith("+")
    for region in (None,) if international else NATIONAL_REGIONS:
        for match in PhoneNumberMatcher(text, region, leniency=Leniency.VALID):
            spans.add((match.start, match.end))
    # Overlapping finds of two regions: keep the widest.
    kept: list[tuple[int, int]] = []
    for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
        if kept and start < kept[-1][1]:
            continue
        kept.append((start, end))
    return kept


# Where a number could be: a run of 7+ digits with the separators numbers are written with. Only
# these runs go to libphonenumber (about 50 µs each), not every line with a digit in it (a
# whole-line search costs milliseconds: too much for every log record).
_CANDIDATE = re.compile(r"(?<![\w])\+?(?:[\s().-]{0,2}\d){7,}")


def mask_phones(text: str) -> str:
    """The text with every phone number in it masked (the numbers found by libphonenumber)."""
    out: list[str] = []
    last = 0
    for candidate in _CANDIDATE.finditer(text):
        if _NOT_A_PHONE.fullmatch(candidate.group().strip()):
            continue
        offset = candidate.start()
        for start, end in _phone_spans(candidate.group()):
            out.append(text[last : offset + start])
            out.append(mask_phone(text[offset + start : offset + end]) or "")
            last = offset + end
    out.append(text[last:])
    return "".join(out)


def _mask_query(match: re.Match[str]) -> str:
    pairs = []
    for pair in match.group("query").split("&"):
        key, sep, value = pair.partition("=")
        if sep and value and unquote(key).lower() not in SAFE_QUERY_KEYS:
            value = MASK
        pairs.append(f"{key}{sep}{value}")
    return "?" + "&".join(pairs)


def mask_query_strings(text: str) -> str:
    """Every query-string value masked but those of SAFE_QUERY_KEYS (access lines, URLs in
    errors): a path's loan id stays, `?q=Wang%20Fang` does not."""
    return _QUERY.sub(_mask_query, text) if "?" in text else text


def mask(text: str) -> str:
    """The text with names, addresses and phone numbers masked, whatever its URL encoding."""
    if "%" in text:
        text = unquote(text)
    text = _QUOTED_FIELD.sub(
        lambda m: f"{m.group('key')}{m.group('quote')}{MASK}{m.group('quote')}", text
    )
    text = _BARE_FIELD.sub(lambda m: f"{m.group('key')}{MASK}", text)
    return mask_phones(text)


def mask_numbers_in(value: Any) -> Any:
    """A copy of a structure (an action's detail) with every phone number in it masked, wherever
    it sits (a `to`, an `attorney_phone`, a number quoted in a reason): the detail's shape
    belongs to the workflow and grows, so the numbers are found by their form, not by their keys."""
    if isinstance(value, str):
        return mask_phones(value)
    if isinstance(value, dict):
        return {key: mask_numbers_in(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_numbers_in(item) for item in value]
    return value
