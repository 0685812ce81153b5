"""`GET /v1/accounts/{loan_id}/compliance`: what the compliance gate allows next on each channel,
and why (issue 15, CONTRACT.md v1.1 addition).

Answered by the workflow's `compliance` query, which puts each channel to the gate's own decision
code with the episode's contact ledger, holds and pinned profile: the store holds no ledger, so
this is the only exact answer. Phone numbers show only their last four digits, as `/messages`
shows them. Readers as `/messages`: a collector on the accounts they hold or nobody holds,
supervisors and auditors on every account.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.deps import AccountReaderDep, TemporalClientDep
from api.services.access import collector_holds_account
from api.services.episodes import STATUS_ANSWER_SECONDS, open_handle
from api.services.masking import mask_phone
from api.state import business_now
from workflows.contracts import AccountQuery, ComplianceStatus

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

_RETRIED = frozenset({RPCStatusCode.NOT_FOUND, RPCStatusCode.DEADLINE_EXCEEDED})


def masked(status: ComplianceStatus) -> ComplianceStatus:
    """The answer with each channel's number cut to its last four digits."""
    channels = [
        c.model_copy(update={"target": mask_phone(c.target) if c.target else None})
        for c in status.channels
    ]
    return status.model_copy(update={"channels": channels})


async def read_compliance(request: Request, client: Client, loan_id: str) -> ComplianceStatus:
    """The open episode's compliance status at the business now, numbers masked; 404 for an
    unknown loan, 409 for a closed account (nothing is contacted any more)."""
    handle = await open_handle(client, loan_id, "read what the contact rules allow")
    as_of = await business_now(request)
    for attempt in (1, 2):
        try:
            status: ComplianceStatus = await handle.query(
                AccountQuery.COMPLIANCE,
                as_of,
                result_type=ComplianceStatus,
                rpc_timeout=timedelta(seconds=STATUS_ANSWER_SECONDS),
            )
            return masked(status)
        except RPCError as err:
            # A run that just continued as new: asked again, the query finds the new run.
            # Anything else is answered as every Temporal failure is (503, api/errors.py).
            if attempt == 2 or err.status not in _RETRIED:
                raise
    raise AssertionError("unreachable: the second attempt returns or raises")


@router.get(
    "/{loan_id}/compliance",
    summary="What the contact rules allow next, per channel, and why",
    description="For each channel (sms, voice, call, letter, field_visit): allowed now or not, "
    "the earliest allowed instant (UTC and in the borrower's local time), the first rule that "
    "refuses, the gate's own sentence, the number it judged (last four digits; for `call` the "
    "one to call now) and each frequency cap's attempts used and left in its window of local "
    "days. Decided by the workflow with the compliance gate's own code. A collector reads the "
    "accounts they hold or nobody holds. Unknown loan → 404; a closed account → 409.",
    response_model=ComplianceStatus,
    dependencies=[Depends(collector_holds_account)],
)
async def get_compliance(
    loan_id: str,
    request: Request,
    _who: AccountReaderDep,
    client: TemporalClientDep,
) -> ComplianceStatus:
    return await read_compliance(request, client, loan_id)
