"""Dispute and complaint cases between the API and the AccountWorkflow (issue 17 item 7): the
updates that add evidence to an open case and resolve it, and what they answer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from domain.cases import Resolution
from workflows.contracts.status import HoldView


class CaseEvidenceRequest(BaseModel):
    """Evidence for an open case (`case_evidence` update): what it says and, optionally, the
    reference of a document kept elsewhere (a scan, a letter, a recording)."""

    case_id: str
    text: str
    document: str | None = None
    added_by: str


class CaseResolution(BaseModel):
    """The decision on an open case (`resolve_case` update). `upheld` takes `adjustment` off
    the balance (0.00 when the borrower was right but nothing is owed back); `rejected` takes
    nothing off. Either way the case's hold ends and collection resumes where the ladder
    stands."""

    case_id: str
    resolution: Resolution
    adjustment: Decimal | None = None
    notes: str | None = None
    resolved_by: str


class CaseAnswer(BaseModel):
    """What the workflow did: the case, and the balance after a resolution."""

    case_id: str
    kind: str
    status: str = Field(description="open | upheld | rejected")
    deadline: datetime
    evidence: int | None = None
    adjustment: Decimal | None = None
    balance: Decimal | None = None


class HoldPlaced(HoldView):
    """The `add_hold` update's answer: the hold, and the case a dispute or complaint opened
    (None when the account's strategy keeps no cases)."""

    case_id: str | None = None
    deadline: datetime | None = None
