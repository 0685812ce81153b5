"""Holds and contact facts (CONTRACT.md): disputes, complaints, bankruptcy, death, cease requests,
attorney representation, and new or dead contact details.

Each goes to the account's workflow as an update whose validator refuses what cannot apply (a
closed account, releasing a hold that is not there) before it enters history, so a 202 means the
workflow has it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client

from api.auth import Role
from api.deps import CollectorDep, TemporalClientDep
from api.errors import ApiError
from api.openapi import accepted
from api.services.access import collector_holds_account
from api.services.episodes import update_account
from domain.account import PhoneNumber
from domain.outcomes import ContactInfo
from workflows.contracts import (
    AccountUpdate,
    ContactInfoRequest,
    ContactInfoResult,
    HoldKindIn,
    HoldRelease,
    HoldRequest,
    HoldView,
)
from workflows.contracts.cases import HoldPlaced

router = APIRouter(
    prefix="/v1/accounts", tags=["holds"], dependencies=[Depends(collector_holds_account)]
)

# Holds a collector may not end: the automatic stay and a reported death stop collection until a
# supervisor (or the write-off's verification finding the report untrue) decides otherwise.
SUPERVISOR_RELEASES = frozenset({"bankruptcy", "deceased"})


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [example]}
    )


HOLD_EXAMPLE = {"kind": "dispute", "since": "2026-12-06T02:00:00Z", "until": None}
HOLD_ACCEPTED = accepted({"accepted": True, "loan_id": "L-1001", "hold": HOLD_EXAMPLE})


class ReasonBody(_Body):
    """Why the borrower disputes or complains, in their words or the collector's."""

    model_config = _example(
        {"reason": "the borrower disputes the late fee", "notes": "says they paid on the 1st"}
    )

    reason: str = Field(min_length=1, max_length=500, examples=["the borrower disputes the fee"])
    notes: str | None = Field(default=None, max_length=2000)


class ReportBody(_Body):
    """A life event (bankruptcy, death) and who told us."""

    model_config = _example({"reported_by": "the spouse, by phone", "notes": None})

    reported_by: str = Field(
        min_length=1, max_length=200, description="who told us: the spouse, a court, ..."
    )
    notes: str | None = Field(default=None, max_length=2000)


class NotesBody(_Body):
    """Optional notes for the record."""

    model_config = _example({"notes": "the borrower asked by letter dated 2026-12-04"})

    notes: str | None = Field(default=None, max_length=2000)


class AttorneyBody(_Body):
    """The attorney representing the borrower: from now on only they are contacted."""

    model_config = _example({"name": "Zhang Lei", "phone": "+8613700137000", "notes": None})

    name: str = Field(min_length=1, max_length=200)
    phone: PhoneNumber
    notes: str | None = Field(default=None, max_length=2000)


async def _hold(client: Client, loan_id: str, request: HoldRequest) -> dict[str, Any]:
    result = await update_account(
        client, loan_id, AccountUpdate.ADD_HOLD, request, f"record a {request.kind}", HoldPlaced
    )
    hold = HoldView.model_validate(result.model_dump()).model_dump(mode="json")
    answer = {"accepted": True, "loan_id": loan_id, "hold": hold}
    if result.case_id is not None:
        # A dispute or complaint opens a case (issue 17 item 7): GET /v1/cases/{case_id}.
        answer["case"] = {"case_id": result.case_id, "deadline": hold_deadline(result)}
    return answer


def hold_deadline(result: HoldPlaced) -> str | None:
    return result.deadline.isoformat() if result.deadline else None


def _reported_hold(kind: HoldKindIn) -> Callable[..., Awaitable[dict[str, Any]]]:
    """The endpoint of a hold someone reports with a reason (dispute, complaint)."""

    async def endpoint(
        loan_id: str,
        body: ReasonBody,
        who: CollectorDep,
        client: TemporalClientDep,
    ) -> dict[str, Any]:
        request = HoldRequest(kind=kind, reason=body.reason, notes=body.notes, reported_by=who.user)
        return await _hold(client, loan_id, request)

    return endpoint


def _event_hold(kind: HoldKindIn) -> Callable[..., Awaitable[dict[str, Any]]]:
    """The endpoint of a hold for a life event told to us by someone (bankruptcy, death)."""

    async def endpoint(
        loan_id: str,
        body: ReportBody,
        who: CollectorDep,
        client: TemporalClientDep,
    ) -> dict[str, Any]:
        request = HoldRequest(
            kind=kind,
            reason=f"reported by {body.reported_by}",
            notes=body.notes,
            reported_by=who.user,
        )
        return await _hold(client, loan_id, request)

    return endpoint


for _path, _endpoint, _summary in (
    (
        "disputes",
        _reported_hold("dispute"),
        "The borrower disputes the debt: collection pauses until it is resolved",
    ),
    (
        "complaints",
        _reported_hold("complaint"),
        "A complaint: collection pauses for the strategy's complaint hold",
    ),
    (
        "bankruptcy",
        _event_hold("bankruptcy"),
        "Bankruptcy reported: every contact stops at once (automatic stay)",
    ),
    (
        "deceased",
        _event_hold("deceased"),
        "The borrower is reported dead: no contact with the borrower",
    ),
):
    router.add_api_route(
        f"/{{loan_id}}/{_path}",
        _endpoint,
        methods=["POST"],
        status_code=202,
        summary=_summary,
        description=_summary + ". Sent to the account's workflow as the `add_hold` update; a 202 "
        "means it is in the workflow's history. Unknown loan → 404; a closed account → 409.",
        name=f"post_{_path}",
        responses=HOLD_ACCEPTED,
    )


@router.post(
    "/{loan_id}/cease-communication",
    status_code=202,
    summary="The borrower asked us to stop contacting them: only notices by letter remain",
    description="A `cease_communication` hold (the `add_hold` update): calls, SMS and visits "
    "stop; only notices the law requires go out, by letter. Unknown loan → 404; a closed account "
    "→ 409.",
    responses=HOLD_ACCEPTED,
)
async def post_cease_communication(
    loan_id: str,
    body: NotesBody,
    who: CollectorDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    request = HoldRequest(kind="cease_communication", notes=body.notes, reported_by=who.user)
    return await _hold(client, loan_id, request)


@router.post(
    "/{loan_id}/attorney",
    status_code=202,
    summary="The borrower is represented by an attorney: contact the attorney only",
    description="An `attorney` hold (the `add_hold` update): the borrower is no longer "
    "contacted; the attorney's number is. Unknown loan → 404; a closed account → 409.",
    responses=HOLD_ACCEPTED,
)
async def post_attorney(
    loan_id: str,
    body: AttorneyBody,
    who: CollectorDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    request = HoldRequest(
        kind="attorney",
        reason=f"represented by {body.name}",
        notes=body.notes,
        reported_by=who.user,
        attorney_phone=body.phone,
    )
    return await _hold(client, loan_id, request)


@router.post(
    "/{loan_id}/holds/{kind}/release",
    status_code=202,
    summary="End a hold that has no end date (a dispute resolved, a complaint closed)",
    description="Collection resumes by itself when the last hold ends. Collectors may end "
    "dispute, complaint, cease-communication and attorney holds; bankruptcy and deceased holds "
    "only a supervisor (403 otherwise). Releasing a hold the account does not have → 409.",
    responses=accepted({"accepted": True, "loan_id": "L-1001", "released": HOLD_EXAMPLE}),
)
async def release_hold(
    loan_id: str,
    kind: HoldKindIn,
    body: NotesBody,
    who: CollectorDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    if kind in SUPERVISOR_RELEASES and who.role is not Role.SUPERVISOR:
        raise ApiError(
            403,
            "forbidden",
            f"Only a supervisor may end a {kind} hold: it stops collection for good unless the "
            "report proves untrue.",
        )
    request = HoldRelease(kind=kind, released_by=who.user, notes=body.notes)
    result = await update_account(
        client, loan_id, AccountUpdate.RELEASE_HOLD, request, f"release a {kind} hold", HoldView
    )
    return {"accepted": True, "loan_id": loan_id, "released": result.model_dump(mode="json")}


@router.post(
    "/{loan_id}/contact-info",
    status_code=202,
    summary="New or dead phones and addresses, and consent changes",
    description="New details resume normal treatment of a lost account; dead numbers are never "
    'called again; `consents: {"sms": false}` revokes SMS consent.',
    responses=accepted(
        {
            "accepted": True,
            "loan_id": "L-1001",
            "contact": {"phones_added": 1, "dead_numbers": 0, "consents": {"sms": False}},
        }
    ),
)
async def post_contact_info(
    loan_id: str,
    body: ContactInfo,
    who: CollectorDep,
    client: TemporalClientDep,
) -> dict[str, Any]:
    request = ContactInfoRequest(info=body, recorded_by=who.user)
    result = await update_account(
        client,
        loan_id,
        AccountUpdate.CONTACT_INFO,
        request,
        "change contact details",
        ContactInfoResult,
    )
    return {"accepted": True, "loan_id": loan_id, "contact": result.model_dump(mode="json")}
