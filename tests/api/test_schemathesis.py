"""Schemathesis against our own OpenAPI document: for every operation, generated requests (sent by
a key whose role may make the call, from the role matrix) never get a 5xx, and every answer
conforms to the document (status code documented, body matching its schema, content type).

The app runs under uvicorn on the test's event loop with the session's Temporal client and a
worker, so calls that reach Temporal really do; Hypothesis drives the requests from a thread."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from core.serving import serve_in_background
from core.settings import Settings
from tests.api.test_roles import HEADERS, MATRIX
from tests.started import STARTED

MAX_EXAMPLES = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
"""Not `positive_data_acceptance`: a schema cannot say that a phone number must exist or that due
dates must increase with seq, so schema-valid bodies are often, rightly, 422."""


@pytest.fixture
async def served(
    workflow_env: WorkflowEnvironment, settings: Settings, worker: Worker
) -> AsyncIterator[str]:
    app = create_app(settings, client=workflow_env.client, clock=workflow_env.get_current_time)
    async with serve_in_background(app) as url:
        yield url


def _headers_for(method: str, path: str) -> dict[str, str]:
    # A route without a matrix row (test_roles fails for it) is called without a key: 401.
    allowed = MATRIX.get((method, path))
    if not isinstance(allowed, frozenset):
        return {}
    role = sorted(allowed)[0]
    return dict(HEADERS[role])


def _remember_started(method: str, path: str, status: int, body: object) -> None:
    """Accounts the run started, for the autouse fixture that terminates them after the test
    (`GET /v1/accounts`, the search, starts nothing)."""
    if method != "POST":
        return
    if path == "/v1/accounts" and status in (200, 201) and isinstance(body, dict):
        STARTED.append(str(body["loan_id"]))
    if path == "/v1/accounts:batch" and status == 200 and isinstance(body, dict):
        STARTED.extend(str(r["loan_id"]) for r in body["results"] if r["status"])


async def test_no_generated_request_gets_a_5xx_or_an_answer_outside_the_schema(
    served: str, settings: Settings
) -> None:
    document = create_app(settings).openapi()
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 30
    failures: list[str] = []
    answers: Counter[int] = Counter()

    def exercise(operation: schemathesis.APIOperation) -> None:
        headers = _headers_for(operation.method.upper(), operation.path)
        # Schema-valid requests and deliberately broken ones (wrong types, missing fields, ...).
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=strategy)
        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            # The same examples on every run: CI must not find today what it missed yesterday.
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=served, headers=headers, timeout=30)
            try:
                body = response.json()
            except Exception:
                body = None
            _remember_started(operation.method.upper(), operation.path, response.status_code, body)
            answers[response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # report every operation's failures
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")

    def exercise_all() -> None:
        for operation in operations:
            exercise(operation)

    await asyncio.to_thread(exercise_all)
    assert not failures, "\n\n".join(failures)
    # The run really exercised the API: many calls, accepted and refused ones alike.
    assert sum(answers.values()) >= 10 * len(operations), answers
    assert answers[200] and answers[422] and answers[404], answers
