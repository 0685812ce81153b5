"""The OpenAPI document as the contract reads: every error answer in the contract's envelope,
the bearer scheme on keyed calls, examples for models defined outside api/, and the documented
202 answer of an update endpoint (`accepted`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import ErrorEnvelope

OPEN_PATHS = ("/health", "/v1/webhooks/")
"""Outside key auth: /health is open, Twilio's webhooks are authenticated by their signature."""

_ERRORS: dict[str, str] = {
    "401": "No API key, or an unknown one (`unauthenticated`).",
    "403": "The key's role may not do this (`forbidden`), or not on this task.",
    "404": "Unknown account, task or legal case (`not_found`).",
    "409": "Not allowed in the account's or task's current state.",
    "413": "The body is larger than the endpoint accepts (`payload_too_large`).",
    "415": "The body is not JSON (`unsupported_media_type`).",
    "422": "Invalid input (`invalid_input` and others): `details` says where and what; nothing "
    "reached a workflow.",
    "503": "Temporal (or another dependency) is unreachable: nothing was accepted, retry.",
}


# Examples (and a description) for models defined in modules outside api/ that carry none
# themselves; the models' own examples win when they have them.
SCHEMA_DOCS: dict[str, dict[str, Any]] = {
    "ContactInfo": {
        "examples": [
            {
                "phones": [{"kind": "work", "number": "+862161234567"}],
                "dead_phones": ["+8613800138000"],
                "address": "18 Nanjing Road West, Shanghai",
                "address_invalid": False,
                "consents": {"sms": False},
            }
        ]
    },
    "HardshipIn": {
        "examples": [
            {
                "cause": "lost job in November",
                "term": "short",
                "surmountable": True,
                "notes": "starts a new job on 2026-12-15",
            }
        ]
    },
    "OutcomeIn": {
        "examples": [
            {
                "outcome": "promise_to_pay",
                "promise": {"amount": "1200.00", "promised_date": "2026-12-10"},
                "notes": "will pay after payday",
            },
            {"outcome": "refused", "reason": "complaint"},
            {"outcome": "no_answer"},
        ]
    },
    "TimelineEntry": {
        "examples": [
            {
                "at": "2026-12-02T02:00:00Z",
                "kind": "contact",
                "summary": "SMS reminder sent to +86138****8000",
                "reason": "front_end step d1_sms at DPD 1",
                "rule": "d1_sms",
                "strategy": "default@1",
                "inputs": {"dpd": 1, "bucket": "M1", "amount_overdue": "1200.00"},
                "source": "store",
                "ref": "3",
            }
        ]
    },
    "Timeline": {
        "description": "What was done to the borrower, when and why: the explained timeline of "
        "every run of the account's workflow chain.",
        "examples": [
            {
                "loan_id": "L-1001",
                "workflow_id": "account-L-1001",
                "timezone": "Asia/Shanghai",
                "state": "delinquent",
                "strategy": "default@1",
                "history": "complete",
                "runs": 1,
                "children": 0,
                "entries": [
                    {
                        "at": "2026-12-02T02:00:00Z",
                        "kind": "contact",
                        "summary": "SMS reminder sent to +86138****8000",
                        "reason": "front_end step d1_sms at DPD 1",
                        "rule": "d1_sms",
                        "strategy": "default@1",
                        "inputs": {"dpd": 1},
                        "source": "store",
                        "ref": "3",
                    }
                ],
            }
        ],
    },
}


def document_errors(app: FastAPI) -> None:
    """The OpenAPI document with every error answer in the contract's envelope (FastAPI's own
    422 schema is not what this API answers) and the bearer scheme on the keyed calls."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(envelope.pop("$defs", {}))
        schemas["ErrorEnvelope"] = envelope
        for name, docs in SCHEMA_DOCS.items():
            if name in schemas:
                for key, value in docs.items():
                    schemas[name].setdefault(key, value)
        components["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key from ARREARS_API_KEYS; its role decides what it may do.",
            }
        }
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                _document_operation(path, operation)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_operation(path: str, operation: dict[str, Any]) -> None:
    keyed = not path.startswith(OPEN_PATHS)
    codes = {"503"}
    if keyed:
        operation["security"] = [{"bearer": []}]
        codes |= {"401", "403"}
    if path.startswith("/v1/webhooks/"):
        codes |= {"403", "422"}
    if operation.get("parameters") or operation.get("requestBody"):
        codes.add("422")
    if operation.get("requestBody"):
        codes |= {"413", "415"}
    if "{loan_id}" in path or "{task_id}" in path or "{case_id}" in path:
        codes |= {"404", "409"}
    if path.startswith("/v1/sandbox"):
        codes |= {"404", "409"}
    if path.startswith("/v1/tasks") or path.startswith("/v1/agencies"):
        codes |= {"404", "409"}
    if path.startswith("/codec/"):
        codes |= {"409", "422"}  # payload_key_missing; not the codec's JSON
    responses = operation.setdefault("responses", {})
    for code in sorted(codes):
        responses[code] = {
            "description": _ERRORS[code],
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}
            },
        }


def accepted(example: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """The documented 202 answer of an update endpoint, with an example."""
    return {
        202: {
            "description": "The workflow accepted it (it is in the workflow's history).",
            "content": {"application/json": {"example": example}},
        }
    }
