"""Auditor endpoints (CONTRACT.md; issue 8): the explained timeline, the history export, and the
codec endpoint through which the Temporal Web UI and CLI show decrypted payloads.

The codec endpoint speaks Temporal's remote codec protocol: `POST /codec/decode` (and `/encode`)
with `{"payloads": [{"metadata": {...base64...}, "data": "..."}]}`, answering the same shape.
It is open to the auditor role only, and answers CORS so the Web UI (another origin) can call it
from the browser: the request's origin is echoed because the only credential is the
`Authorization: Bearer` key, which a browser never attaches by itself (no cookies), so a foreign
page gains nothing it did not already hold.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client

from api.auth import Principal, Role, require
from api.deps import database_url, require_temporal
from api.errors import ApiError
from arrears.audit import WorkflowNotFound, export_envelope, fetch_chain
from arrears.codec import EncryptionCodec, PayloadKeyError
from arrears.settings import Settings
from arrears.timeline import Timeline, build_timeline
from workflows.messages import workflow_id_for

router = APIRouter(tags=["audit"])

AUDIT_ROLES = (Role.AUDITOR, Role.SUPERVISOR)
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Namespace",
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Max-Age": "600",
    "Vary": "Origin",
}


@router.get(
    "/v1/accounts/{loan_id}/timeline",
    summary="What was done to the borrower, when, and why",
    description="Every transition, decision, contact (and contact the compliance gate refused), "
    "message, payment, promise, hold and outcome in time order, each `{at, kind, summary, reason, "
    "rule, strategy, inputs, source, ref}`. Built from the store and the workflow history of "
    "every run, so it is complete for closed workflows too (without Temporal, the store's part, "
    "marked `history: unavailable`). Answer: "
    "`{loan_id, workflow_id, timezone, state, strategy, history, runs, children, entries}`.",
    response_model=Timeline,
)
async def get_timeline(
    loan_id: str,
    request: Request,
    _who: Principal = Depends(require(*AUDIT_ROLES)),
) -> Timeline:
    # Without Temporal the store's part is still an answer (marked `history: unavailable`).
    client: Client | None
    try:
        client = await require_temporal(request)
    except ApiError:
        client = None
    timeline = await build_timeline(client, database_url(request), loan_id)
    if timeline is None:
        raise ApiError(404, "not_found", f"No account {loan_id} is known.")
    return timeline


@router.get(
    "/v1/accounts/{loan_id}/history",
    summary="The Temporal history of the account's episode, for replay",
    description="Every run of the workflow chain (continue-as-new) and of its child workflows, "
    "each in the JSON format `temporal workflow show --output json` writes: "
    '`{"format": "arrears.history/v1", "loan_id", "workflow_id", "namespace", "exported_at", '
    '"payloads", "runs": [{"workflow_id", "run_id", "workflow_type", "index", "history": '
    '{"events": [...]}}], "children": [... with parent_workflow_id, parent_run_id]}`. Payloads '
    "stay encrypted unless `decrypted=true`. `arrears replay` replays this document as is.",
    responses={
        200: {
            "description": "The export envelope.",
            "content": {
                "application/json": {
                    "example": {
                        "format": "arrears.history/v1",
                        "loan_id": "L-1001",
                        "workflow_id": "account-L-1001",
                        "namespace": "default",
                        "exported_at": "2027-01-10T08:00:00Z",
                        "payloads": "encrypted",
                        "runs": [
                            {
                                "workflow_id": "account-L-1001",
                                "run_id": "5f0c6a1e-2b7d-4c1e-9a55-0f3f6c0d7e21",
                                "workflow_type": "AccountWorkflow",
                                "index": 0,
                                "history": {"events": [{"eventId": "1", "eventType": "..."}]},
                            }
                        ],
                        "children": [],
                    }
                }
            },
        }
    },
)
async def get_history(
    loan_id: str,
    request: Request,
    decrypted: bool = Query(
        False, description="decrypt payloads (borrower PII in clear; auditors only)"
    ),
    run_id: str | None = Query(
        None, description="the episode containing this run (default: the latest)"
    ),
    who: Principal = Depends(require(*AUDIT_ROLES)),
    client: Client = Depends(require_temporal),
) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    if decrypted and who.role != Role.AUDITOR:
        # The same line as the codec endpoint: payloads in clear are for auditors.
        raise ApiError(403, "forbidden", "Only the auditor role may export decrypted payloads.")
    try:
        chain = await fetch_chain(client, workflow_id_for(loan_id), run_id)
    except WorkflowNotFound as exc:
        raise ApiError(404, "not_found", f"No workflow history for account {loan_id}.") from exc
    codec = _codec(settings) if decrypted else None
    try:
        return await asyncio.to_thread(
            export_envelope, chain, loan_id=loan_id, namespace=client.namespace, codec=codec
        )
    except PayloadKeyError as exc:
        raise ApiError(409, "payload_key_missing", str(exc)) from exc


def _codec(settings: Settings) -> EncryptionCodec:
    return EncryptionCodec.from_spec(settings.payload_key)


def _cors(request: Request, response: Response) -> None:
    origin = request.headers.get("origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers.update(CORS_HEADERS)


@router.options("/codec/{operation}", include_in_schema=False)
async def codec_preflight(operation: str, request: Request) -> Response:
    """The browser's CORS preflight: unauthenticated by the CORS rules, answers nothing secret."""
    response = Response(status_code=204)
    if operation in ("encode", "decode"):
        _cors(request, response)
    return response


CODEC_BODY = {
    "requestBody": {
        "required": True,
        "description": "Temporal's remote codec body: payloads with base64 metadata and data.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "payloads": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "metadata": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                    },
                                    "data": {"type": "string"},
                                },
                            },
                        }
                    },
                },
                "example": {
                    "payloads": [
                        {
                            "metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="},
                            "data": "q83vEjRWeJ...",
                        }
                    ]
                },
            }
        },
    }
}


async def _run_codec(request: Request, response: Response, encode: bool) -> dict[str, Any]:
    _cors(request, response)
    try:
        payloads = json_format.Parse(await request.body(), Payloads(), ignore_unknown_fields=True)
    except (json_format.ParseError, DecodeError, UnicodeDecodeError) as exc:
        raise ApiError(
            422, "invalid_input", 'Send {"payloads": [{"metadata": {...}, "data": ...}]}.'
        ) from exc
    codec = _codec(request.app.state.settings)
    try:
        done = await (codec.encode if encode else codec.decode)(payloads.payloads)
    except PayloadKeyError as exc:
        raise ApiError(409, "payload_key_missing", str(exc)) from exc
    return json_format.MessageToDict(Payloads(payloads=done))


@router.post(
    "/codec/decode",
    summary="Temporal remote codec: decrypt payloads (auditors)",
    description="For the Web UI's and `temporal --codec-endpoint` payload decoding.",
    openapi_extra=CODEC_BODY,
    responses={
        200: {
            "description": "The payloads, decoded.",
            "content": {
                "application/json": {
                    "example": {
                        "payloads": [
                            {
                                "metadata": {"encoding": "anNvbi9wbGFpbg=="},
                                "data": "eyJsb2FuX2lkIjoiTC0xMDAxIn0=",
                            }
                        ]
                    }
                }
            },
        }
    },
)
async def codec_decode(
    request: Request, response: Response, _who: Principal = Depends(require(Role.AUDITOR))
) -> dict[str, Any]:
    return await _run_codec(request, response, encode=False)


@router.post(
    "/codec/encode",
    summary="Temporal remote codec: encrypt payloads (auditors)",
    description="The reverse of /codec/decode, for payloads typed into the Web UI.",
    openapi_extra=CODEC_BODY,
    responses={
        200: {
            "description": "The payloads, encoded.",
            "content": {
                "application/json": {
                    "example": {
                        "payloads": [
                            {
                                "metadata": {
                                    "encoding": "YmluYXJ5L2VuY3J5cHRlZA==",
                                    "encryption-key-id": "ZGV2",
                                },
                                "data": "q83vEjRWeJ...",
                            }
                        ]
                    }
                }
            },
        }
    },
)
async def codec_encode(
    request: Request, response: Response, _who: Principal = Depends(require(Role.AUDITOR))
) -> dict[str, Any]:
    return await _run_codec(request, response, encode=True)
