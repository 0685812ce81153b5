"""The strategy's settings for the playbook's branches (PLAYBOOK.md sections 6-12), as data.

Every number the branches use lives here with the playbook's default, so a strategy file can
change it and a challenger strategy can try another value.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AgencyPolicy",
    "BranchPolicy",
    "LegalPolicy",
    "WhilePlacedPolicy",
    "NoAnswerPolicy",
    "RestructurePolicy",
    "SkipPolicy",
    "WriteOffPolicy",
]


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoAnswerPolicy(_Policy):
    """Section 11: after N unanswered calls, try other channels, then the contact persons."""

    sms_and_letter_after: int = Field(default=3, ge=1, le=20)
    contact_persons_after: int = Field(default=5, ge=1, le=30)
    retry_hours: int = Field(
        default=4, ge=1, le=72, description="the next attempt, in another slot"
    )


class SkipPolicy(_Policy):
    """Section 12: a lost borrower is traced, visited, then placed with an agency."""

    field_investigation_after_days: int = Field(default=7, ge=1, le=90)
    oca_after_days: int = Field(default=30, ge=1, le=180)


class RestructurePolicy(_Policy):
    """Section 2: who may restructure, and the offer the strategy makes."""

    first_time_min_dpd: int = Field(default=30, ge=1, description="first time past 30 DPD")
    recurring_delinquencies: int = Field(
        default=2, ge=1, description="history.prior_delinquencies at or above this is recurring"
    )
    instalments: int = Field(default=6, ge=1, le=60)
    interval_days: int = Field(default=30, ge=7, le=92)
    penalty_waiver_pct: Decimal = Field(
        default=Decimal("1.00"), ge=0, le=1, description="share of accrued penalty waived"
    )
    offer_valid_days: int = Field(default=7, ge=1, le=60)
    missed_days_to_break: int = Field(
        default=15, ge=1, le=90, description="a plan instalment this late breaks the plan"
    )


class WriteOffPolicy(_Policy):
    """Section 8: bankruptcy or death ends in a write-off after verification and approval."""

    related_party_max_discount_pct: Decimal = Field(
        default=Decimal("0.50"), ge=0, lt=1, description="largest settlement discount for heirs"
    )
    verification_days: int = Field(default=30, ge=1, le=365)
    approval_days: int = Field(default=14, ge=1, le=365)
    charge_off_dpd: int | None = Field(
        default=180,
        ge=1,
        le=3650,
        description="DPD at which an account still delinquent is charged off: the write-off "
        "subflow (review, then four-eyes approval) starts whatever the cause, and penalty stops "
        "accruing; null: never by days past due",
    )


InHouseChannel = Literal["sms", "voice", "phone", "mail", "field"]


class WhilePlacedPolicy(_Policy):
    """Issue 17 item 4: while an outside agency works the account, our own calls, texts, letters
    and visits stop (the agency is the one collecting), except the notices the law requires.
    Both lists are empty by default: a strategy written before they existed (`default@1`,
    `front_light@1`) keeps contacting the borrower while the account is placed, as it did."""

    stop_channels: list[InHouseChannel] = Field(
        default_factory=list,
        description="step channels that stop while the account is placed (in-house contact)",
    )
    required_notices: list[str] = Field(
        default_factory=list,
        description="templates that still go out while placed: notices the law requires",
    )

    def stops(self, channel: str, template: str | None) -> bool:
        """Whether a step on `channel` with `template` is withheld while the account is
        placed."""
        return channel in self.stop_channels and template not in self.required_notices


class AgencyPolicy(_Policy):
    """Outside collection agencies (OCA): how an agency is chosen, how long a placement lasts
    before recall, and how many agencies try before the account goes to legal."""

    placement_days: int = Field(default=90, ge=7, le=365)
    selection: Literal["round_robin", "recovery_rate"] = Field(
        default="round_robin",
        description="round-robin over the registry, or the best recent recovery rate first",
    )
    max_placements: int = Field(
        default=2,
        ge=1,
        le=5,
        description="primary plus secondary agencies per episode; after the last, legal",
    )
    while_placed: WhilePlacedPolicy = Field(default_factory=WhilePlacedPolicy)


class LegalPolicy(_Policy):
    """Issue 17 item 4: filing a lawsuit (the `lawsuit` step with template `lawsuit_filing`)
    needs the legal team's approval (an `approval` task, four eyes), and no suit is filed for
    less than `min_suit_balance`. Off by default: a strategy written before these fields
    existed files as it always did (the histories of episodes pinned to it replay unchanged)."""

    filing_approval: bool = Field(
        default=False, description="a filing waits for a legal approver's `approved`"
    )
    min_suit_balance: Decimal | None = Field(
        default=None,
        ge=0,
        description="no suit is filed while the balance is below this (the account's currency)",
    )
    approval_days: int = Field(
        default=14, ge=1, le=90, description="how long the approval task stays open"
    )


class BranchPolicy(_Policy):
    no_answer: NoAnswerPolicy = Field(default_factory=NoAnswerPolicy)
    skip: SkipPolicy = Field(default_factory=SkipPolicy)
    restructure: RestructurePolicy = Field(default_factory=RestructurePolicy)
    write_off: WriteOffPolicy = Field(default_factory=WriteOffPolicy)
    agency: AgencyPolicy = Field(default_factory=AgencyPolicy)
    legal: LegalPolicy = Field(default_factory=LegalPolicy)
