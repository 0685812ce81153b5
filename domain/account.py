"""What the loan system and collectors send us, validated before anything reaches a workflow.

The error messages are returned to API callers as 422 details, so they are written as sentences
a loan-system developer can act on.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal, Self

import phonenumbers
from babel import Locale, UnknownLocaleError
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from domain.calendar import validate_timezone
from domain.limits import (
    ADDRESS_LENGTH,
    EARLIEST_DUE_DATE,
    LATEST_DUE_DATE,
    LOAN_ID_LENGTH,
    NAME_LENGTH,
    PAY_TO_LENGTH,
    PAYMENT_ID_LENGTH,
    REASON_LENGTH,
    RELATION_LENGTH,
    SEGMENT_LENGTH,
)
from domain.money import Money, check_precision, validate_currency

__all__ = [
    "Account",
    "Borrower",
    "Consents",
    "ContactPerson",
    "CreditHistory",
    "Instalment",
    "PaymentIn",
    "Phone",
    "PhoneNumber",
    "SEGMENT_SLUG",
    "check_segment",
    "PromiseIn",
    "normalise_phone",
]


def normalise_phone(number: str) -> str:
    """E.164 keeps one spelling per number, so dedup, dead-number marks and caps work on it.

    Only international format is accepted: a national number is ambiguous until the country is
    known, and the account's jurisdiction is not a reliable hint for the borrower's phone.
    """
    message = (
        "The phone number is not a valid international number; write it in E.164 form "
        "with the country code, for example +8613800000000."
    )
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        raise ValueError(message) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(message)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# Babel reads its global CLDR tables on first use; load them at import, outside any workflow
# sandbox (which refuses file access while decoding workflow input).
Locale.parse("en_US")

PhoneNumber = Annotated[str, AfterValidator(normalise_phone)]

SEGMENT_SLUG = re.compile(r"(?!.*[0-9]{6})[a-z][a-z0-9_-]{0,39}")
"""What a segment may look like (Account.segment): a lowercase slug that starts with a letter
and has no run of six digits, so neither a name nor a phone or ID number fits by accident."""


def check_segment(value: str) -> str:
    """Search attributes are not encrypted by the payload codec (DESIGN.md): a slug cannot hold
    a name, a phone number or an ID number by accident. Checked where an account comes in
    (api/onboarding.py), not on the model: the model is also the workflow's input, and a
    running episode started before this rule must still load when its history is replayed."""
    if not SEGMENT_SLUG.fullmatch(value):
        raise ValueError(
            "segment must be a slug: lowercase letters, digits, '-' and '_', starting with "
            "a letter, at most 40 characters and no run of six digits (e.g. 'standard'). It "
            "is stored unencrypted as a search attribute, so it must never carry personal "
            "data."
        )
    return value


"""A phone number normalised to E.164."""

PositiveMoney = Annotated[Money, Field(gt=0)]


class _Input(BaseModel):
    """Unknown fields are refused so a misspelt field is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Phone(_Input):
    """One of the borrower's numbers, in international (E.164) form."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"kind": "mobile", "number": "+8613800138000"}]}
    )

    kind: Literal["mobile", "home", "work"]
    number: PhoneNumber


class Consents(_Input):
    """Channels the borrower agreed to; missing consent means the channel may not be used."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"sms": True, "voice": False}]})

    sms: bool = True
    voice: bool = True


class Borrower(_Input):
    """Who owes: how to reach them, in which language and time zone, and what they consented to."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Wang Fang",
                    "locale": "zh-CN",
                    "timezone": "Asia/Shanghai",
                    "phones": [{"kind": "mobile", "number": "+8613800138000"}],
                    "address": "1 Renmin Road, Huangpu, Shanghai",
                    "consents": {"sms": True, "voice": True},
                }
            ]
        }
    )

    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=LOAN_ID_LENGTH,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="The loan system's key for the person (CONTRACT.md Borrowers): loans with "
        "the same id share one contact budget and one set of borrower holds. Goes into a "
        "workflow id, which is not encrypted: never put PII in it.",
        # Left out when absent: every workflow input carries the account, and inputs are
        # kept small (tests/workflows/test_continue_as_new.py).
        exclude_if=lambda value: value is None,
    )
    name: str = Field(min_length=1, max_length=NAME_LENGTH)
    locale: str = "zh-CN"
    timezone: str = "Asia/Shanghai"
    phones: list[Phone] = Field(min_length=1)
    address: str | None = Field(default=None, max_length=ADDRESS_LENGTH)
    consents: Consents = Field(default_factory=Consents)

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        # Templates are chosen by locale; an unknown one would fail at the first SMS.
        try:
            Locale.parse(value.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            raise ValueError(
                f"The locale {value!r} is not a known locale such as zh-CN or en-US."
            ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return validate_timezone(value)


class ContactPerson(_Input):
    """A contact person the borrower named (a guarantor may be asked to pay)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Li Wei",
                    "relation": "spouse",
                    "phone": "+8613900139000",
                    "guarantor": False,
                }
            ]
        }
    )

    name: str = Field(min_length=1, max_length=NAME_LENGTH)
    relation: str = Field(min_length=1, max_length=RELATION_LENGTH)
    phone: PhoneNumber
    guarantor: bool = False


class Instalment(_Input):
    """One unpaid instalment: its number in the loan's schedule, due date and amount."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"seq": 7, "due_date": "2026-12-01", "amount": "1200.00"}]}
    )

    seq: int = Field(ge=1)
    due_date: date = Field(ge=EARLIEST_DUE_DATE, le=LATEST_DUE_DATE)
    amount: PositiveMoney


class CreditHistory(_Input):
    """What the loan system knows of the borrower's past: earlier delinquencies, ever paid."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"prior_delinquencies": 0, "ever_paid": True}]}
    )

    prior_delinquencies: int = Field(default=0, ge=0)
    ever_paid: bool = True


class Migration(_Input):
    """An account brought over from another collection system, already overdue: it starts at
    its current stage's entry actions, with no legal step on arrival (domain/onboarding.py)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "portfolio moved from the old collection system"}]
        }
    )

    reason: str = Field(min_length=1, max_length=REASON_LENGTH, description="why it starts overdue")


class Account(_Input):
    """An account as the loan system sends it one day before an instalment falls due."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "loan_id": "L-1001",
                    "borrower": {
                        "name": "Wang Fang",
                        "locale": "zh-CN",
                        "timezone": "Asia/Shanghai",
                        "phones": [{"kind": "mobile", "number": "+8613800138000"}],
                        "address": "1 Renmin Road, Huangpu, Shanghai",
                        "consents": {"sms": True, "voice": True},
                    },
                    "contacts": [
                        {"name": "Li Wei", "relation": "spouse", "phone": "+8613900139000"}
                    ],
                    "currency": "CNY",
                    "instalments": [
                        {"seq": 7, "due_date": "2026-12-01", "amount": "1200.00"},
                        {"seq": 8, "due_date": "2027-01-01", "amount": "1200.00"},
                    ],
                    "penalty_rate_daily": "0.0005",
                    "segment": "standard",
                    "jurisdiction": "CN",
                    "history": {"prior_delinquencies": 0, "ever_paid": True},
                }
            ]
        }
    )

    loan_id: str = Field(
        min_length=1,
        max_length=LOAN_ID_LENGTH,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Goes into the workflow id, which is not encrypted: never put PII in it.",
    )
    borrower: Borrower
    contacts: list[ContactPerson] = Field(default_factory=list)
    currency: str = "CNY"
    instalments: list[Instalment] = Field(min_length=1)
    penalty_rate_daily: Money = Field(ge=0, lt=1)
    segment: str = Field(
        default="standard",
        min_length=1,
        max_length=SEGMENT_LENGTH,
        description="A portfolio segment slug such as `standard` or `subprime`: it becomes a "
        "search attribute, which is stored unencrypted, so it may never carry PII.",
    )
    jurisdiction: str | None = None
    history: CreditHistory = Field(default_factory=CreditHistory)
    migration: Migration | None = Field(
        default=None,
        description="set when the account comes from another system already overdue by more "
        "than the strategy's `onboarding.max_days_late`",
    )

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        return validate_currency(value)

    @field_validator("instalments")
    @classmethod
    def _schedule_is_consistent(cls, value: list[Instalment]) -> list[Instalment]:
        # Sorted by seq so that "oldest unpaid first" and the schedule order are the same thing.
        seqs = [i.seq for i in value]
        repeated = sorted({s for s in seqs if seqs.count(s) > 1})
        if repeated:
            listed = ", ".join(str(s) for s in repeated)
            raise ValueError(f"Each instalment seq must appear once; repeated: {listed}.")
        ordered = sorted(value, key=lambda i: i.seq)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if b.due_date <= a.due_date:
                raise ValueError(
                    f"Instalment {b.seq} falls due on {b.due_date}, not after instalment "
                    f"{a.seq} ({a.due_date}); due dates must increase with seq."
                )
        return ordered

    @model_validator(mode="after")
    def _amounts_fit_currency(self) -> Self:
        for instalment in self.instalments:
            try:
                check_precision(instalment.amount, self.currency)
            except ValueError as exc:
                raise ValueError(f"Instalment {instalment.seq}: {exc}") from None
        return self


class PaymentIn(_Input):
    """A payment reported by the loan system; `payment_id` makes repeated reports count once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "payment_id": "PAY-20261205-000183",
                    "amount": "600.00",
                    "paid_at": "2026-12-05T10:31:00+08:00",
                }
            ]
        }
    )

    payment_id: str = Field(min_length=1, max_length=PAYMENT_ID_LENGTH)
    amount: PositiveMoney
    paid_at: AwareDatetime


class PromiseIn(_Input):
    """A promise to pay captured by a collector: amount, date and where the money goes."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"amount": "1200.00", "promised_date": "2026-12-10", "pay_to": "the app"}]
        }
    )

    amount: PositiveMoney
    promised_date: date
    pay_to: str | None = Field(default=None, max_length=PAY_TO_LENGTH)
