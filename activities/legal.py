"""LegalChannel: the `lawsuit` and `asset_preservation` actions of the hard-core and legal stages
(PLAYBOOK.md section 1; issue 5), recorded as a legal case with its status history.

- `lawsuit` with template `lawsuit_preparation` opens the loan's case in `preparing` (or notes
  the preparation on the case already open);
- `lawsuit` with template `lawsuit_filing` opens the case if there is none and moves it to
  `filed`;
- `lawsuit` with template `case_closure` closes the loan's open case (the account was paid in
  full, so the claim is satisfied);
- `asset_preservation` notes "asset preservation applied" on the open case, opening one in
  `preparing` if there is none (preservation may be sought before the suit is filed).

The lawyers work from the store, so the record is the effect, and it is exactly-once by the
store's keys: a case opened by an action is keyed by (episode, action seq), an event written by
an action by `{episode}:{seq}:{step}`. Business refusals (a case already past `filed`, a closed
case) come back as `failed` with the reason; infrastructure errors raise for Temporal to retry.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session

from core.settings import Settings
from store import legal
from store.engine import session_scope
from workflows.contracts import DeliveryRequest, DeliveryResult, LegalDetail
from workflows.contracts.channels import DeliveryStatus

__all__ = ["ASSET_PRESERVATION_NOTE", "LAWSUIT_TEMPLATES", "LegalChannel"]

log = logging.getLogger(__name__)

ASSET_PRESERVATION_NOTE = "asset preservation applied"
LAWSUIT_TEMPLATES: tuple[str, ...] = ("lawsuit_preparation", "lawsuit_filing", "case_closure")


class LegalChannel:
    """The legal channel behind the `deliver` activity; synchronous like the other channels."""

    def __init__(self, settings: Settings) -> None:
        self._url = settings.effective_database_url

    def send(self, request: DeliveryRequest) -> DeliveryResult:
        """Record what the action asks for on the loan's case; safe to call again."""
        action = request.action
        try:
            if action.kind == "lawsuit":
                template = action.template or action.detail.template
                if template not in LAWSUIT_TEMPLATES:
                    error = f"unknown lawsuit template {template!r} (one of {LAWSUIT_TEMPLATES})"
                    return self._failed(request, error)
                with session_scope(self._url) as session:
                    if template == "lawsuit_preparation":
                        case = self._prepare(session, request)
                    elif template == "case_closure":
                        found = self._close(session, request)
                        if found is None:
                            return self._failed(request, "the loan has no open legal case")
                        case = found
                    else:
                        case = self._file(session, request)
                    note = self._last_note(session, case.case_id)
            elif action.kind == "asset_preservation":
                with session_scope(self._url) as session:
                    case = self._case(session, request, "case opened for asset preservation")
                    case = legal.note_case(
                        session,
                        case.case_id,
                        action.at,
                        ASSET_PRESERVATION_NOTE,
                        key=self._key(request, "asset_preservation"),
                    )
                    note = ASSET_PRESERVATION_NOTE
            else:
                return self._failed(request, f"{action.kind!r} is not a legal action")
        except legal.LegalError as exc:
            return self._failed(request, str(exc))
        log.info("loan %s: legal case %s is %s", request.loan_id, case.case_id, case.status)
        return self._result(
            request,
            "sent",
            provider_id=case.case_id,
            detail={
                "case_id": case.case_id,
                "case_status": case.status,
                "note": note,
                "amount_claimed": str(case.amount_claimed),
            },
        )

    # ------------------------------------------------------------------------------ steps

    @staticmethod
    def _key(request: DeliveryRequest, step: str) -> str:
        return f"{request.episode}:{request.action.seq}:{step}"

    def _case(self, session: Session, request: DeliveryRequest, note: str) -> legal.LegalCaseRow:
        """The case this action opened (a retry), else the loan's open case, else a new one."""
        action = request.action
        found = legal.case_for_action(session, request.episode, action.seq)
        found = found or legal.open_case_for_loan(session, request.loan_id)
        if found is not None:
            return found
        return legal.open_case(
            session,
            loan_id=request.loan_id,
            workflow_id=request.workflow_id,
            episode=request.episode,
            action_seq=action.seq,
            at=action.at,
            amount_claimed=request.balance,
            currency=request.currency,
            note=note,
        )

    def _prepare(self, session: Session, request: DeliveryRequest) -> legal.LegalCaseRow:
        case = self._case(session, request, "lawsuit preparation started")
        if case.episode == request.episode and case.action_seq == request.action.seq:
            return case  # this action opened it: the opening event says so
        # A case opened earlier (e.g. for asset preservation): the preparation is an event on it.
        return legal.note_case(
            session,
            case.case_id,
            request.action.at,
            "lawsuit preparation started",
            key=self._key(request, "preparation"),
        )

    def _file(self, session: Session, request: DeliveryRequest) -> legal.LegalCaseRow:
        case = self._case(session, request, "case opened for filing")
        return legal.advance_case(
            session,
            case.case_id,
            "filed",
            request.action.at,
            "lawsuit filed",
            key=self._key(request, "filed"),
        )

    def _close(self, session: Session, request: DeliveryRequest) -> legal.LegalCaseRow | None:
        """The episode ended (a payment in full): the case this action closed on a retry, else
        the case the workflow names, else the loan's open case."""
        action = request.action
        key = self._key(request, "closed")
        named = action.detail.case_id if isinstance(action.detail, LegalDetail) else None
        case = None
        if named:
            case = next(
                (c for c in legal.cases_for_loan(session, request.loan_id) if c.case_id == named),
                None,
            )
        case = case or legal.open_case_for_loan(session, request.loan_id)
        if case is None:
            return None
        if case.status == legal.CLOSED:
            return case  # closed already (by this action's first attempt, or by the court)
        reason = action.detail.reason or "episode ended"
        return legal.advance_case(session, case.case_id, legal.CLOSED, action.at, reason, key=key)

    @staticmethod
    def _last_note(session: Session, case_id: str) -> str:
        events = legal.case_events(session, case_id)
        return events[-1].note if events else ""

    # ---------------------------------------------------------------------------- results

    @staticmethod
    def _result(
        request: DeliveryRequest,
        status: DeliveryStatus,
        provider_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> DeliveryResult:
        return DeliveryResult.of(request.action, status, provider_id, detail)

    def _failed(self, request: DeliveryRequest, error: str) -> DeliveryResult:
        log.warning(
            "loan %s: legal action %s not recorded: %s", request.loan_id, request.action.kind, error
        )
        return self._result(request, "failed", detail={"error": error})
