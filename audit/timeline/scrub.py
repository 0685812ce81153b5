"""PII out of the timeline: contact fields masked by their key, free text through the log
masker, and the episode's own known names, phones and addresses scrubbed from every text
(`Scrubber`), since a note "Wang Fang disputes the fee" carries no key to mask by."""

from __future__ import annotations

import re
from typing import Any

from audit.timeline.entries import TimelineEntry
from core.logmask import MASK, mask

# Identifiers, money and instants: never PII, and often all digits (a loan system's payment id)
# that the phone masker would otherwise eat.
NOT_PII = frozenset(
    {
        "payment_id",
        "promise_id",
        "task_id",
        "loan_id",
        "provider_id",
        "step_id",
        "template",
        "amount",
        "amount_overdue",
        "balance",
        "paid_at",
        "recorded_at",
        "at",
        "due_date",
        "promised_date",
        "first_due",
        "seq",
        "action_seq",
        "error_code",
    }
)


# Fields whose value is contact data whatever it looks like: a name or an address cannot be
# recognised by its shape once it has left its key (logmask only finds `name=...` inside text).
PII_KEYS = frozenset(
    {
        "name",
        "address",
        "street",
        "addressee",
        "number",
        "phone",
        "phones",
        "dead_phones",
        "attorney_phone",
        "to_number",
        "from_number",
        "email",
        "body",
        "contact_info",
        "contacts",
    }
)


def _is_pii_key(key: str | None) -> bool:
    if key is None:
        return False
    lowered = key.lower()
    return lowered in PII_KEYS or lowered.endswith(("_name", "_address", "_email", "_phone"))


def masked(value: Any, key: str | None = None) -> Any:
    """Decoded inputs as an auditor may read them in a report: contact fields (names,
    addresses, phones, emails) masked by their key, free text through the log masker,
    identifiers, money and dates as they are. The episode's known contact data is scrubbed
    from everything afterwards (`Scrubber`), for free text that names the borrower."""
    if key in NOT_PII:
        return value
    if _is_pii_key(key) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key) for v in value]
    return value


# Words of an address that say nothing about where the borrower lives.
ADDRESS_WORDS = frozenset(
    {
        "road",
        "street",
        "avenue",
        "lane",
        "district",
        "building",
        "room",
        "floor",
        "unit",
        "apartment",
        "block",
        "city",
        "province",
        "county",
        "north",
        "south",
        "east",
        "west",
        "suite",
    }
)


class Scrubber:
    """The episode's own contact data (the borrower's and contacts' names, phones and
    addresses, as the start input, contact-info updates, task outcomes and the channels'
    ledger know them), removed from every text of the timeline: a hold note "Wang Fang
    disputes the fee" or an outcome "moved to 9 Nanjing Road" carries no key to mask by."""

    def __init__(self) -> None:
        self._known: set[str] = set()

    def add_name(self, value: Any) -> None:
        if not isinstance(value, str) or not value.strip():
            return
        text = value.strip()
        self._known.add(text)
        # "Fang" alone, or "Wang", in a note: each part of a name that is word-like.
        self._known.update(part for part in re.split(r"\s+", text) if len(part) >= 3)

    def add_address(self, value: Any) -> None:
        if not isinstance(value, str) or not value.strip():
            return
        text = value.strip()
        self._known.add(text)
        # "1 Renmin Road, Huangpu, Shanghai": a note may quote any one part of it, or one
        # distinctive word ("paid at the Renmin branch").
        self._known.update(p.strip() for p in text.split(",") if len(p.strip()) >= 4)
        self._known.update(
            word
            for word in re.findall(r"[^\W\d_][\w'’-]{3,}", text)
            if word.lower() not in ADDRESS_WORDS
        )

    def add_phone(self, value: Any) -> None:
        if not isinstance(value, str):
            return
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 7:
            self._known.add(value.strip())
            self._known.add(digits)
            if value.strip().startswith("+") and len(digits) > 10:
                self._known.add(digits[-11:])  # the national form a collector might type

    def learn(self, value: Any, key: str | None = None) -> None:
        """Collect contact data from a decoded payload, by the keys it travels under."""
        if isinstance(value, dict):
            for k, v in value.items():
                self.learn(v, k)
            return
        if isinstance(value, list):
            for item in value:
                self.learn(item, key)
            return
        lowered = (key or "").lower()
        if lowered in ("name", "addressee") or lowered.endswith("_name"):
            self.add_name(value)
        elif lowered in ("address", "street") or lowered.endswith("_address"):
            self.add_address(value)
        elif lowered in ("number", "phone", "dead_phones", "to_number", "from_number") or (
            lowered.endswith("_phone")
        ):
            self.add_phone(value)

    def text(self, value: str) -> str:
        if not self._known:
            return value
        for known in sorted(self._known, key=len, reverse=True):
            # Not inside a word or an identifier ("L-SAMPLE-180"), nor a time zone's city
            # ("Asia/Shanghai").
            pattern = rf"(?<![\w/-]){re.escape(known)}(?![\w-])"
            value = re.sub(pattern, MASK, value, flags=re.IGNORECASE)
        return value

    def value(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, str):
            return value if key in NOT_PII else self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, key) for v in value]
        return value

    def entry(self, entry: TimelineEntry) -> None:
        entry.summary = self.text(entry.summary)
        entry.reason = self.text(entry.reason) if entry.reason else entry.reason
        entry.rule = self.text(entry.rule) if entry.rule else entry.rule
        entry.inputs = self.value(entry.inputs)
