"""Dispute and complaint cases in the explained timeline (issue 17 item 7): a case opened with
its deadline, evidence added, escalated at its deadline, resolved (with what came off the
balance). The workflow's case actions are the store's entries; the evidence and resolution
requests are also history messages, so those two come from the store only when the history is
gone (as holds do)."""

from __future__ import annotations

from typing import Any

from audit.timeline.entries import EPOCH, TimelineEntry
from audit.timeline.messages import local_label
from audit.timeline.scrub import masked
from core.logmask import mask
from domain.vocabulary import ActionKind
from store.engine import as_utc
from workflows.contracts import CaseDetail, read_detail

CASE_ACTIONS = (
    ActionKind.CASE_OPENED,
    ActionKind.CASE_EVIDENCE,
    ActionKind.CASE_OVERDUE,
    ActionKind.CASE_RESOLVED,
)
HISTORY_TOO = (ActionKind.CASE_EVIDENCE, ActionKind.CASE_RESOLVED)
"""Case actions whose request is also a history message (`case_evidence`, `resolve_case`)."""


def case_entry(
    row: dict[str, Any], strategy: str | None, timezone: str | None, withhold_notes: bool
) -> TimelineEntry:
    at = as_utc(row["at"]) or EPOCH
    detail = read_detail(row["kind"], row.get("detail") or {})
    assert isinstance(detail, CaseDetail)
    what = f"{detail.case_kind or 'a'} case {detail.case_id}"
    kind = row["kind"]
    reason: str | None = None
    if kind == ActionKind.CASE_OPENED:
        summary = (
            f"{what} opened by {detail.by or '?'} for the {detail.owner_queue or 'supervisor'} "
            f"queue, to be answered by {local_label(detail.deadline, timezone)}"
        )
        reason = None if withhold_notes else detail.reason
    elif kind == ActionKind.CASE_EVIDENCE:
        document = f" (document {detail.document})" if detail.document else ""
        summary = f"evidence added to {what} by {detail.by or '?'}{document}"
        reason = None if withhold_notes else detail.text
    elif kind == ActionKind.CASE_OVERDUE:
        summary = (
            f"{what} unresolved at its deadline {local_label(detail.deadline, timezone)}: "
            "escalated to the supervisors"
        )
        reason = "a case is answered by its deadline (the strategy's)"
    else:
        summary = f"{what} {detail.resolution} by {detail.by or '?'}" + _money(detail)
        reason = "; ".join(
            p
            for p in (
                "the case's hold ends; collection resumes where the ladder stands",
                None if withhold_notes else detail.notes,
            )
            if p
        )
    inputs = {
        k: v
        for k, v in {
            "case_id": detail.case_id,
            "case_kind": detail.case_kind,
            "deadline": detail.deadline,
            "resolution": detail.resolution,
            "adjustment": detail.adjustment,
            "balance_before": detail.balance_before,
            "balance_after": detail.balance_after,
            "currency": detail.currency,
            "document": detail.document,
        }.items()
        if v is not None
    }
    return TimelineEntry(
        at=at,
        kind="case",
        summary=summary,
        reason=mask(reason) if reason else None,
        strategy=strategy,
        inputs=masked(inputs),
        source="store",
        ref=f"action {row['seq']}",
    )


def _money(detail: CaseDetail) -> str:
    if detail.adjustment is None:
        return ""
    return (
        f": {detail.adjustment} {detail.currency or ''} off the balance "
        f"({detail.balance_before} → {detail.balance_after})"
    )


def describe_case_message(
    name: str, body: dict[str, Any], result: dict[str, Any]
) -> tuple[str, str, str | None, dict[str, Any] | None] | None:
    """The history's `case_evidence` and `resolve_case` updates; None for any other name."""
    case = f"{result.get('kind') or ''} case {body.get('case_id')}".strip()
    if name == "case_evidence":
        document = f" (document {body['document']})" if body.get("document") else ""
        return (
            "case",
            f"evidence added to {case} by {body.get('added_by', '?')}{document}",
            body.get("text"),
            {"case_id": body.get("case_id"), "document": body.get("document")},
        )
    if name == "resolve_case":
        adjustment = result.get("adjustment")
        off = f": {adjustment} off the balance, now {result.get('balance')}" if adjustment else ""
        return (
            "case",
            f"{case} {body.get('resolution')} by {body.get('resolved_by', '?')}{off}",
            "; ".join(
                p
                for p in (
                    "the case's hold ends; collection resumes where the ladder stands",
                    body.get("notes"),
                )
                if p
            ),
            {
                "case_id": body.get("case_id"),
                "resolution": body.get("resolution"),
                "adjustment": adjustment,
                "balance": result.get("balance"),
            },
        )
    return None
