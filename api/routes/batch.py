"""Bulk onboarding (issue 7): `POST /v1/accounts:batch`, the loan system's morning call with every
account whose instalment falls due tomorrow.

Each item is validated on its own (the body is read as a list of raw objects, so one malformed item
cannot fail the parsing of the others) and started through the same path as `POST /v1/accounts`
(api/services/onboarding.py `start_episode`), a bounded number at a time. The answer is 200
with one result per item, in order: `started` (what `POST /v1/accounts` answers 201 for, with
the status), `already_open` (its 200, with the open episode's status), `invalid` (its 422, with
the item's error in the contract's error shape, nothing started), or `failed` (a 5xx for that
item, e.g. Temporal unreachable: nothing was started for it, send the item again).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client

from api.deps import LoanSystemDep, SettingsDep, TemporalClientDep
from api.errors import ApiError, ErrorBody, error_body, validation_error_body
from api.services.episodes import open_in_store
from api.services.onboarding import start_episode
from api.state import business_now, database_url
from core.settings import Settings
from domain.account import Account
from workflows.contracts import AccountStatus

router = APIRouter(prefix="/v1", tags=["accounts"])
log = logging.getLogger(__name__)

MAX_ITEMS = 1000
CONCURRENCY = 64
"""Starts in flight at once: each is a start and a first query (no describe: the store says which
loans are open, in one read for the batch), and the first query waits for a worker to run the
new workflow's first task, so most of a start's time is waiting, not work (issue 19)."""

ItemResult = Literal["started", "already_open", "invalid", "failed"]

_STATUS_EXAMPLE: dict[str, Any] = {
    "loan_id": "L-1001",
    "state": "pre_due",
    "dpd": 0,
    "bucket": "current",
    "stage": "pre_due",
    "amount_overdue": "0.00",
    "penalty_accrued": "0.00",
    "promise": None,
    "broken_promises": 0,
    "holds": [],
    "next_action": {"kind": "sms_reminder", "at": "2026-11-30T02:00:00Z"},
    "strategy": {"name": "default", "version": 1},
    "currency": "CNY",
    "paid_total": "0.00",
    "balance": "1200.00",
    "path": ["current"],
    "as_of": "2026-11-30T01:00:00Z",
}


class BatchItem(BaseModel):
    """One account's result, at the same index as the account in the request."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "index": 0,
                    "loan_id": "L-1001",
                    "result": "started",
                    "status": _STATUS_EXAMPLE,
                    "error": None,
                },
                {
                    "index": 1,
                    "loan_id": "L-1002",
                    "result": "invalid",
                    "status": None,
                    "error": {
                        "code": "invalid_input",
                        "message": "Invalid input — instalments.0.due_date: Input should be a "
                        "valid date or datetime, day value is outside expected range",
                        "details": [
                            {
                                "type": "date_from_datetime_parsing",
                                "loc": ["instalments", 0, "due_date"],
                                "msg": "Input should be a valid date or datetime, day value is "
                                "outside expected range",
                                "input": "2026-02-30",
                            }
                        ],
                    },
                },
            ]
        }
    )

    index: int = Field(description="the item's position in the request, from 0")
    loan_id: str | None = Field(
        default=None, description="the item's loan_id when it had a readable one"
    )
    result: ItemResult = Field(
        description="started (201 of a single start), already_open (200: the open episode, "
        "nothing duplicated), invalid (422: nothing started), failed (not started because of "
        "a server-side problem such as Temporal unreachable: send the item again)"
    )
    status: AccountStatus | None = Field(
        default=None, description="the account's status when started or already open"
    )
    error: ErrorBody | None = Field(
        default=None, description="why the item was not started, in the contract's error shape"
    )


class BatchResult(BaseModel):
    """One result per account, in request order, and how many of each kind."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {
                            "index": 0,
                            "loan_id": "L-1001",
                            "result": "started",
                            "status": _STATUS_EXAMPLE,
                            "error": None,
                        }
                    ],
                    "counts": {"started": 1, "already_open": 0, "invalid": 0, "failed": 0},
                }
            ]
        }
    )

    results: list[BatchItem]
    counts: dict[ItemResult, int] = Field(description="how many items had each result")


_ACCOUNT_EXAMPLE = {
    "loan_id": "L-1001",
    "borrower": {
        "name": "Wang Fang",
        "locale": "zh-CN",
        "timezone": "Asia/Shanghai",
        "phones": [{"kind": "mobile", "number": "+8613800138000"}],
        "address": "1 Renmin Road, Shanghai",
        "consents": {"sms": True, "voice": True},
    },
    "contacts": [],
    "currency": "CNY",
    "instalments": [{"seq": 7, "due_date": "2026-12-01", "amount": "1200.00"}],
    "penalty_rate_daily": "0.0005",
    "segment": "standard",
    "history": {"prior_delinquencies": 0, "ever_paid": True},
}

REQUEST_BODY = {
    "required": True,
    "description": f"A JSON array of up to {MAX_ITEMS:,} accounts, each as `POST /v1/accounts` "
    "takes it.",
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "maxItems": MAX_ITEMS,
                "items": {"$ref": "#/components/schemas/Account"},
            },
            "example": [_ACCOUNT_EXAMPLE],
        }
    },
}


async def _read_items(request: Request) -> list[Any]:
    """The body as a list of raw items; only a body that is not such a list is refused whole."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(
            422, "invalid_input", f"The body is not valid JSON: {exc}.", [{"loc": ["body"]}]
        ) from exc
    if not isinstance(body, list):
        raise ApiError(
            422,
            "invalid_input",
            "The body must be a JSON array of accounts, each as POST /v1/accounts takes it.",
        )
    if len(body) > MAX_ITEMS:
        raise ApiError(
            422,
            "too_many_items",
            f"A batch takes at most {MAX_ITEMS:,} accounts; this one has {len(body):,}. "
            "Split it into several calls.",
            {"max_items": MAX_ITEMS, "items": len(body)},
        )
    return body


def _loan_id_of(item: Any) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("loan_id"), str):
        return str(item["loan_id"])[:64]
    return None


class _Starter:
    """Starts the valid items, at most CONCURRENCY at once, one loan at a time (a loan_id twice
    in the same batch is started once: its later items answer already_open)."""

    def __init__(
        self, client: Client, settings: Settings, as_of: datetime, store_open: set[str]
    ) -> None:
        self._client, self._settings, self._as_of = client, settings, as_of
        self._store_open = store_open
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._loans: dict[str, asyncio.Lock] = {}

    async def start(self, index: int, item: Any) -> BatchItem:
        loan_id = _loan_id_of(item)
        try:
            account = Account.model_validate(item)
        except ValidationError as exc:
            return _refused(index, loan_id, "invalid", validation_error_body(list(exc.errors())))
        lock = self._loans.setdefault(account.loan_id, asyncio.Lock())
        async with lock, self._slots:
            try:
                started = await start_episode(
                    self._client,
                    self._settings,
                    account,
                    self._as_of,
                    store_open=account.loan_id in self._store_open,
                )
            except ApiError as exc:
                result: ItemResult = "invalid" if exc.status == 422 else "failed"
                return _refused(
                    index, loan_id, result, error_body(exc.code, exc.message, exc.details)
                )
            except Exception as exc:
                log.warning("batch item %s (%s) not started: %r", index, loan_id, exc)
                body = error_body(
                    "service_unavailable",
                    "The account could not be started (Temporal did not answer); nothing was "
                    "started for it, send it again.",
                )
                return _refused(index, loan_id, "failed", body)
        return BatchItem(
            index=index,
            loan_id=account.loan_id,
            result="started" if started.created else "already_open",
            status=started.status,
        )


async def _open(request: Request, items: list[Any]) -> set[str]:
    """The batch's loans the store shows open, in one read; a store that cannot answer says
    none, and each item then finds out from Temporal (its start is refused as already open)."""
    loan_ids = sorted({loan for loan in map(_loan_id_of, items) if loan is not None})
    try:
        return await asyncio.to_thread(open_in_store, database_url(request), loan_ids)
    except SQLAlchemyError:
        return set()


def _refused(
    index: int, loan_id: str | None, result: ItemResult, body: dict[str, Any]
) -> BatchItem:
    return BatchItem(index=index, loan_id=loan_id, result=result, error=ErrorBody(**body["error"]))


@router.post(
    "/accounts:batch",
    summary="Start collection for many accounts at pre-1day",
    description=f"Up to {MAX_ITEMS:,} accounts, each as `POST /v1/accounts` takes it. Answers "
    "200 with one result per item, in order: `started` (with the status), `already_open` (the "
    "open episode's status; nothing duplicated), `invalid` (the item's validation error in the "
    "contract's error shape; nothing started) or `failed` (Temporal could not start it; send the "
    "item again). One bad item does not stop the others. A body that is not a JSON array, or "
    f"holds more than {MAX_ITEMS:,} items → 422; Temporal unreachable before any start → 503.",
    response_model=BatchResult,
    openapi_extra={"requestBody": REQUEST_BODY},
)
async def start_accounts(
    request: Request,
    _who: LoanSystemDep,
    client: TemporalClientDep,
    settings: SettingsDep,
) -> BatchResult:
    items = await _read_items(request)
    starter = _Starter(client, settings, await business_now(request), await _open(request, items))
    results = await asyncio.gather(*(starter.start(i, item) for i, item in enumerate(items)))
    counts: dict[ItemResult, int] = {"started": 0, "already_open": 0, "invalid": 0, "failed": 0}
    for result in results:
        counts[result.result] += 1
    return BatchResult(results=list(results), counts=counts)
