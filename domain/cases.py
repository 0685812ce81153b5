"""Disputes and complaints as cases (issue 17 item 7), and why a payment was missed (item 6):
the strategy's rules for both, as policy data.

A case's deadline is the strategy's: a complaint is answered within the strategy's complaint
pause (`holds.complaint_days`: collection pauses exactly that long), a dispute within
`cases.dispute_response_days` (collection stays paused until the dispute is resolved). A case
still open at its deadline is escalated to the owner queue's supervisors, once.

Both sections are optional in a strategy file: a strategy version written before them
(`default@1`, `front_light@1`) states neither, so an episode pinned to it keeps the 1.0
behaviour (a hold, no case, no reason codes) and its history replays (docs/versioning.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CaseKind = Literal["dispute", "complaint"]
CASE_KINDS: tuple[CaseKind, ...] = ("dispute", "complaint")

Resolution = Literal["upheld", "rejected"]
RESOLUTIONS: tuple[Resolution, ...] = ("upheld", "rejected")


class CasePolicy(BaseModel):
    """How the strategy handles dispute and complaint cases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dispute_response_days: int = Field(
        ge=1,
        le=180,
        description="days within which a dispute is answered; collection stays paused until "
        "it is resolved, and an unresolved dispute is escalated at its deadline",
    )
    owner_queue: Literal["supervisor"] = Field(
        default="supervisor", description="who works the cases: the supervisors' queue"
    )


class MissedPaymentReason(BaseModel):
    """One reason a borrower gives for missing a payment (PLAYBOOK.md section 2: find out why
    the payment was missed and record a reason code)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1, max_length=120, description="what the code means")


def reason_codes(reasons: list[MissedPaymentReason] | None) -> tuple[str, ...]:
    """The codes a strategy allows, in its order (none when it states no list)."""
    return tuple(r.code for r in reasons or ())


def count_by_reason(codes: Iterable[str]) -> dict[str, int]:
    """The scoreboard's "why they missed the payment": how many times each reason was given,
    most given first (then by code, so the order is total)."""
    counts = Counter(codes)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
