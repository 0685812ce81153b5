"""The contact ledger: what was done to reach the borrower, and the facts about channels.

It lives in workflow state and is carried across continue-as-new, so it is a small pydantic
model that round-trips through JSON (sorted lists, no sets) and every change returns a new
ledger. `pruned` keeps it small: records older than the longest rule window are dropped.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from domain.account import PhoneNumber, normalise_phone
from domain.contact.vocabulary import (
    PHONE_CHANNELS,
    Actor,
    Channel,
    ConsentChannel,
    Party,
    Purpose,
)

__all__ = ["UNREACHABLE_AFTER_FAILED_CALLS", "ContactLedger", "ContactRecord"]

FAILED_RESULTS: frozenset[str] = frozenset({"unanswered", "failed"})
UNREACHABLE_AFTER_FAILED_CALLS = 3
"""Calls to the borrower that failed in a row before the borrower counts as unreachable."""


def check_target(channel: str, target: str | None) -> None:
    """Phone channels name the number dialled or texted; letters and visits name none."""
    if channel in PHONE_CHANNELS and target is None:
        raise ValueError(f"A {channel} contact needs the target phone number.")
    if channel not in PHONE_CHANNELS and target is not None:
        raise ValueError(f"A {channel} contact has no target phone number; leave target empty.")


class ContactRecord(BaseModel):
    """One contact that happened (or was attempted).

    `connected`: a human conversation on a call; `unanswered`: an attempt without one (no
    answer, busy, voicemail). `conversation`: a telephone conversation with the party about the
    debt (what starts Regulation F's 7-day pause). `purpose` defaults to `collect`, the strictest
    reading, so an audit never excuses a contact whose purpose was not recorded.
    """

    at: AwareDatetime
    channel: Channel
    party: Party = "borrower"
    target: PhoneNumber | None = None
    result: Literal["connected", "unanswered", "sent", "failed", "visited", "not_met"]
    actor: Actor = "us"
    conversation: bool = False
    purpose: Purpose = "collect"
    pending_task: str | None = None
    """Set on the possible contact of an open task (e.g. a call task not yet worked): the caps
    count it at the task's `not_before`, whatever its result will be, until the outcome
    replaces it or the task expires or is cancelled."""

    @model_validator(mode="after")
    def _target_fits_channel(self) -> Self:
        check_target(self.channel, self.target)
        return self


def _is_borrower_call(record: ContactRecord) -> bool:
    """A call to the borrower that happened (an open task's pending attempt has not)."""
    return record.channel == "call" and record.party == "borrower" and record.pending_task is None


class ContactLedger(BaseModel):
    """Contact history (sorted by time) plus dead numbers and consent (`sms`, `voice`).

    A missing consent key means the account did not restrict the channel; `False` forbids it.
    `revoked_numbers_sms`: numbers that replied STOP (SMS to them is refused whatever
    `consents["sms"]` says, until restored for that number).
    `no_sms_numbers`: numbers that cannot take texts (a landline, or texts to it kept failing;
    see `domain.contact.delivery`): SMS is refused, calls are not.
    `undelivered_sms`: undelivered texts in a row per number, towards `no_sms_numbers`.
    """

    records: list[ContactRecord] = Field(default_factory=list)
    dead_numbers: list[PhoneNumber] = Field(default_factory=list)
    consents: dict[str, bool] = Field(default_factory=dict)
    revoked_numbers_sms: list[PhoneNumber] = Field(default_factory=list)
    no_sms_numbers: list[PhoneNumber] = Field(default_factory=list)
    undelivered_sms: dict[str, int] = Field(default_factory=dict)

    @field_validator("records")
    @classmethod
    def _chronological(cls, value: list[ContactRecord]) -> list[ContactRecord]:
        return sorted(value, key=lambda r: r.at)

    @field_validator("dead_numbers", "revoked_numbers_sms", "no_sms_numbers")
    @classmethod
    def _sorted_unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @field_validator("consents")
    @classmethod
    def _known_channels(cls, value: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(value) - {"sms", "voice"})
        if unknown:
            raise ValueError(f"Consent is kept for sms and voice only, not {', '.join(unknown)}.")
        return dict(sorted(value.items()))

    # ------------------------------------------------------------------------------ changes

    def with_record(self, record: ContactRecord) -> ContactLedger:
        """A new ledger with `record` in time order (after any record at the same instant)."""
        records = list(self.records)
        index = bisect_right([r.at for r in records], record.at)
        records.insert(index, record)
        return self.model_copy(update={"records": records})

    def without_pending(self, task_id: str) -> ContactLedger:
        """The ledger without the pending attempt of task `task_id` (its outcome arrived, or
        it expired or was cancelled)."""
        records = [r for r in self.records if r.pending_task != task_id]
        if len(records) == len(self.records):
            return self
        return self.model_copy(update={"records": records})

    def with_dead_number(self, number: str) -> ContactLedger:
        dead = sorted({*self.dead_numbers, normalise_phone(number)})
        return self.model_copy(update={"dead_numbers": dead})

    def without_dead_number(self, number: str) -> ContactLedger:
        """The number works again (e.g. skip tracing confirmed it)."""
        gone = normalise_phone(number)
        return self.model_copy(update={"dead_numbers": [n for n in self.dead_numbers if n != gone]})

    def with_no_sms_number(self, number: str) -> ContactLedger:
        """The number cannot take texts (SMS refused, calls allowed); its count is done."""
        normal = normalise_phone(number)
        no_sms = sorted({*self.no_sms_numbers, normal})
        counts = {n: c for n, c in self.undelivered_sms.items() if n != normal}
        return self.model_copy(update={"no_sms_numbers": no_sms, "undelivered_sms": counts})

    def with_undelivered_sms(self, number: str) -> ContactLedger:
        """One more undelivered text in a row to `number`."""
        normal = normalise_phone(number)
        counts = dict(
            sorted({**self.undelivered_sms, normal: self.undelivered_sms_to(normal) + 1}.items())
        )
        return self.model_copy(update={"undelivered_sms": counts})

    def with_sms_working(self, number: str) -> ContactLedger:
        """The number showed it takes texts again (it replied, or a contact-info update listed
        it): it leaves `no_sms_numbers` and its count of undelivered texts restarts."""
        normal = normalise_phone(number)
        if normal not in self.no_sms_numbers and normal not in self.undelivered_sms:
            return self
        return self.model_copy(
            update={
                "no_sms_numbers": [n for n in self.no_sms_numbers if n != normal],
                "undelivered_sms": {n: c for n, c in self.undelivered_sms.items() if n != normal},
            }
        )

    def with_consent(
        self, channel: ConsentChannel, granted: bool, number: str | None = None
    ) -> ContactLedger:
        """Grant or revoke consent for a channel, or (SMS only) for one number.

        A STOP reply revokes SMS for the number it came from; granting the channel again does
        not undo a number's STOP, which needs its own grant (conservative on purpose).
        """
        if channel not in ("sms", "voice"):
            raise ValueError(f"Consent is kept for sms and voice only, not {channel}.")
        if number is None:
            consents = dict(sorted({**self.consents, channel: granted}.items()))
            return self.model_copy(update={"consents": consents})
        if channel != "sms":
            raise ValueError("Consent per number is kept for SMS only.")
        normal = normalise_phone(number)
        revoked = set(self.revoked_numbers_sms)
        if granted:
            revoked.discard(normal)
        else:
            revoked.add(normal)
        return self.model_copy(update={"revoked_numbers_sms": sorted(revoked)})

    def pruned(
        self, before: datetime, keep_calls: int = UNREACHABLE_AFTER_FAILED_CALLS
    ) -> ContactLedger:
        """Drop records older than `before`, but keep the last `keep_calls` calls to the
        borrower, which decide whether the borrower is unreachable however old they are.

        `before` must not be later than `at - ContactProfile.retention` for any instant `at`
        still to be decided; `ContactProfile.prune_before(now)` gives it."""
        calls = [i for i, r in enumerate(self.records) if _is_borrower_call(r)]
        keep = set(calls[-keep_calls:]) if keep_calls > 0 else set()
        records = [r for i, r in enumerate(self.records) if r.at >= before or i in keep]
        return self.model_copy(update={"records": records})

    # ------------------------------------------------------------------------------ queries

    def consecutive_failed_attempts(self) -> int:
        """Calls to the borrower that failed (unanswered or failed) since the last one that
        connected. After pruning at most the last few calls are kept, so the answer is exact up
        to `UNREACHABLE_AFTER_FAILED_CALLS`."""
        count = 0
        for record in reversed(self.records):
            if not _is_borrower_call(record):
                continue
            if record.result not in FAILED_RESULTS:
                break
            count += 1
        return count

    def borrower_unreachable(
        self, phones: list[str], failed_in_a_row: int = UNREACHABLE_AFTER_FAILED_CALLS
    ) -> bool:
        """Every known number is dead (or there is none), or the last calls all failed."""
        dead = set(self.dead_numbers)
        all_dead = all(normalise_phone(p) in dead for p in phones)
        return all_dead or self.consecutive_failed_attempts() >= failed_in_a_row

    def consent_given(self, channel: ConsentChannel) -> bool:
        return self.consents.get(channel, True)

    def sms_allowed_to(self, number: str) -> bool:
        return self.consent_given("sms") and normalise_phone(number) not in self.revoked_numbers_sms

    def sms_capable(self, number: str) -> bool:
        """False for a number known to take no texts (it may still take calls)."""
        return normalise_phone(number) not in self.no_sms_numbers

    def undelivered_sms_to(self, number: str) -> int:
        """Undelivered texts in a row to `number` since it last showed it works."""
        return self.undelivered_sms.get(normalise_phone(number), 0)

    def is_dead(self, number: str) -> bool:
        return normalise_phone(number) in self.dead_numbers
