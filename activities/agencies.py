"""PlacementChannel: hand an account to an outside collection agency, or take it back — the
`oca_placement` and `oca_recall` actions (PLAYBOOK.md sections 1, 2 and 12; issue 5) — and tell
it to stop or resume while a dispute, complaint, cease request or attorney hold lasts (the
`oca_hold_notice` and `oca_resume_notice` actions; issue 4).

There is no agency API to call: the placement *is* the record in the store (store/agencies.py),
from which the agency's daily file and commission statements are made. So the channel is
exactly-once by the store's own keys — a placement by (episode, action seq), a recall by the
recalling action noted on the placement — and a retried activity reports what the first attempt
did. Business refusals (no agency has room, nothing to recall) come back as a `failed` result
with the reason, which the deliverer records on the action; only infrastructure errors raise, so
Temporal retries those.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session

from core.settings import Settings
from store import agencies as registry
from store.engine import as_utc, session_scope
from workflows.contracts import (
    ActionDetail,
    AgencyNoticeDetail,
    DeliveryRequest,
    DeliveryResult,
    PlacementDetail,
    RecallDetail,
)
from workflows.contracts.channels import DeliveryStatus

__all__ = ["NO_CAPACITY", "PlacementChannel"]

log = logging.getLogger(__name__)

NO_CAPACITY = "no agency with free capacity"
NOTHING_TO_RECALL = "the loan is not placed with an agency"
NOTICES = frozenset({"oca_hold_notice", "oca_resume_notice"})


def _placement(detail: ActionDetail) -> PlacementDetail:
    """A placement's detail; a placement written without its own kind's detail is a bug (the
    ActionCommand ties the two together)."""
    if not isinstance(detail, PlacementDetail):
        raise TypeError(f"an oca_placement action carries a {detail.action} detail")
    return detail


class PlacementChannel:
    """The agency channel behind the `deliver` activity; synchronous like the other channels
    (it runs in the activity thread pool)."""

    def __init__(self, settings: Settings) -> None:
        self._url = settings.effective_database_url

    def send(self, request: DeliveryRequest) -> DeliveryResult:
        """Place or recall as the action says; safe to call again for the same action."""
        kind = request.action.kind
        if kind == "oca_placement":
            return self._place(request)
        if kind == "oca_recall":
            return self._recall(request)
        if kind in NOTICES:
            return self._notice(request)
        return self._result(
            request, "failed", detail={"error": f"{kind!r} is not an agency action"}
        )

    @staticmethod
    def _result(
        request: DeliveryRequest,
        status: DeliveryStatus,
        provider_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> DeliveryResult:
        return DeliveryResult.of(request.action, status, provider_id, detail)

    @staticmethod
    def _agency(session: Session, agency_id: str) -> registry.AgencyRow:
        agency = session.get(registry.AgencyRow, agency_id)
        if agency is None:  # the foreign key makes this impossible short of a corrupt store
            raise RuntimeError(f"placement names unknown agency {agency_id}")
        return agency

    def _place(self, request: DeliveryRequest) -> DeliveryResult:
        action = request.action
        # The period is a whole number of days of at least one, checked by the contract
        # (PlacementDetail): a strategy mistake is refused there, never guessed here.
        detail = _placement(action.detail)
        days = detail.placement_days or registry.DEFAULT_PLACEMENT_DAYS
        try:
            with session_scope(self._url) as session:
                placement = registry.place(
                    session,
                    loan_id=request.loan_id,
                    workflow_id=request.workflow_id,
                    episode=request.episode,
                    action_seq=action.seq,
                    at=action.at,
                    amount=request.balance,
                    currency=request.currency,
                    period_days=days,
                    exclude=tuple(detail.exclude_agencies or ()),
                    selection=detail.selection or registry.ROUND_ROBIN,
                )
                agency = None if placement is None else self._agency(session, placement.agency_id)
        except (registry.PlacementConflict, ValueError) as exc:
            return self._result(request, "failed", detail={"error": str(exc)})
        if placement is None or agency is None:
            log.warning("loan %s not placed: %s", request.loan_id, NO_CAPACITY)
            return self._result(request, "failed", detail={"error": NO_CAPACITY})
        assert placement.period_end is not None
        log.info("loan %s placed with %s (%s)", request.loan_id, agency.agency_id, agency.name)
        return self._result(
            request,
            "sent",
            provider_id=placement.placement_id,
            detail={
                "agency": agency.name,
                "agency_id": agency.agency_id,
                "commission_rate": str(placement.commission_rate),
                "period_end": placement.period_end.isoformat(),
                "amount_placed": str(placement.amount_placed),
            },
        )

    def _notice(self, request: DeliveryRequest) -> DeliveryResult:
        """A stop or resume notice goes into the agency's daily file, which is made from the
        store: the action row *is* the notice, so sending it means checking that it names a
        placement of this loan that was still running when the notice was given (a recall in
        the same moment, which comes after it, does not make a retry fail). Nothing is written,
        so a retry answers the same."""
        action = request.action
        notice = action.detail
        if not isinstance(notice, AgencyNoticeDetail):
            raise TypeError(f"a {action.kind} action carries a {notice.action} detail")
        placement_id = notice.placement_id or ""
        with session_scope(self._url) as session:
            placement = session.get(registry.PlacementRow, placement_id)
            running = placement is not None and (
                placement.status == registry.ACTIVE
                or (
                    placement.recalled_at is not None
                    and (as_utc(placement.recalled_at) or action.at) >= action.at
                )
            )
            if placement is None or placement.loan_id != request.loan_id or not running:
                return self._result(request, "failed", detail={"error": NOTHING_TO_RECALL})
            agency = self._agency(session, placement.agency_id)
        log.info("loan %s: %s to %s", request.loan_id, action.kind, agency.agency_id)
        return self._result(
            request,
            "sent",
            provider_id=placement.placement_id,
            detail={
                "agency": agency.name,
                "agency_id": agency.agency_id,
                "hold": notice.hold,
                "notice": "stop collecting" if action.kind == "oca_hold_notice" else "resume",
            },
        )

    def _recall(self, request: DeliveryRequest) -> DeliveryResult:
        action = request.action
        recall = action.detail
        said = recall.recall_reason if isinstance(recall, RecallDetail) else None
        reason = said or recall.reason or "recall"
        with session_scope(self._url) as session:
            placement = registry.recalled_by(session, request.episode, action.seq)
            if placement is None:
                placement = registry.recall(
                    session,
                    request.loan_id,
                    action.at,
                    reason,
                    episode=request.episode,
                    action_seq=action.seq,
                )
            agency = None if placement is None else self._agency(session, placement.agency_id)
        if placement is None or agency is None:
            return self._result(request, "failed", detail={"error": NOTHING_TO_RECALL})
        assert placement.recalled_at is not None
        log.info("loan %s recalled from %s", request.loan_id, agency.agency_id)
        return self._result(
            request,
            "sent",
            provider_id=placement.placement_id,
            detail={
                "agency": agency.name,
                "agency_id": agency.agency_id,
                "placement_status": placement.status,
                "recalled_at": placement.recalled_at.isoformat(),
                "recall_reason": placement.recall_reason,
            },
        )
