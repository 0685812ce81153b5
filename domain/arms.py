"""Champion/challenger: which arm of a strategy experiment an account belongs to.

The arm is a pure function of the experiment's unit, so the API, a replay and the simulator all
put the same account in the same arm without storing a random draw. The unit is the person: the
borrower id when the loan has one (a borrower's loans share one contact budget and one reminder a
day, so a person split across arms would have one arm's treatment spend the other's contacts),
else the loan id; sha256 (not Python's `hash`, which
is salted per process) keeps it stable across processes and releases.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Arm = Literal["champion", "challenger"]
CHAMPION: Arm = "champion"
CHALLENGER: Arm = "challenger"

__all__ = ["Arm", "CHAMPION", "CHALLENGER", "arm_for", "experiment_unit"]


def experiment_unit(loan_id: str, borrower_id: str | None) -> str:
    """Whom an experiment assigns to an arm: the borrower, or the loan when it has none."""
    return f"borrower:{borrower_id}" if borrower_id else loan_id


def arm_for(loan_id: str, split_percent: int, experiment: str = "") -> Arm:
    """`split_percent` of accounts (0–100) go to the challenger. `experiment` names the trial,
    so a new trial reshuffles accounts instead of reusing the last trial's arms."""
    if not 0 <= split_percent <= 100:
        raise ValueError(f"split must be between 0 and 100 percent, got {split_percent}")
    digest = hashlib.sha256(f"{experiment}\x00{loan_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    return CHALLENGER if bucket < split_percent else CHAMPION
