"""The contract (docs/contract/CONTRACT.md, the copy of the shared integration contract) against the
app: every endpoint of its table exists with the roles it names, the shapes it lists have their
fields, every error is in the envelope; and the OpenAPI document describes every operation and
shows an example of every model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.auth import Role
from core.settings import Settings
from tests.api.test_roles import MATRIX, OPEN, app_routes
from tests.conftest import COLLECTOR, LOAN_SYSTEM, SUPERVISOR

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract" / "CONTRACT.md"
ROLE_NAMES = {
    "loan-system": {Role.LOAN_SYSTEM},
    "collector": {Role.COLLECTOR, Role.SUPERVISOR},  # a supervisor may all a collector may
    "supervisor": {Role.SUPERVISOR},
    "auditor": {Role.AUDITOR},
    "anti-fraud": {Role.ANTI_FRAUD},
    "legal": {Role.LEGAL},
    "any": set(Role),
}


def section(title: str) -> str:
    text = CONTRACT.read_text()
    start = text.index(title)
    end = text.find("\n#", start + len(title))
    return text[start : end if end != -1 else None]


def contract_endpoints() -> dict[tuple[str, str], str]:
    """(method, path) → the role cell, from the Endpoints table; `a` · `/b` rows are two paths
    differing in their last segment."""
    endpoints: dict[tuple[str, str], str] = {}
    for line in section("## Endpoints").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        spans = re.findall(r"`([^`]+)`", cells[0])
        method, first = spans[0].split(" ", 1)
        paths = [first.split("?")[0]]
        for extra in spans[1:]:
            paths.append(paths[0].rsplit("/", 1)[0] + extra)
        for path in paths:
            endpoints[(method, path)] = cells[1]
    return endpoints


def shape_fields(title: str) -> list[str]:
    """The field names of a `{a, b, c}` shape right after a heading of the contract."""
    body = section(title)
    match = re.search(r"`\{([^}]*)\}`", body, re.S)
    assert match, f"no field list under {title}"
    return [f.strip().rstrip("?") for f in match.group(1).replace("\n", " ").split(",")]


def test_the_contract_table_is_read_whole() -> None:
    endpoints = contract_endpoints()
    assert len(endpoints) == 22
    assert ("POST", "/v1/accounts/{loan_id}/complaints") in endpoints
    assert ("POST", "/v1/accounts/{loan_id}/deceased") in endpoints
    assert ("GET", "/v1/tasks") in endpoints
    assert endpoints[("GET", "/health")] == "none"


def test_every_contract_endpoint_exists_in_the_app(settings: Settings) -> None:
    routes = app_routes(create_app(settings))
    missing = sorted(set(contract_endpoints()) - routes)
    assert not missing, f"CONTRACT.md endpoints the app does not serve: {missing}"


def test_every_contract_endpoint_lets_the_roles_it_names_through() -> None:
    for route, cell in contract_endpoints().items():
        granted = MATRIX[route]
        if cell == "none":
            assert granted == OPEN, route
            continue
        assert isinstance(granted, frozenset), route
        named: set[Role] = set()
        for name in cell.split(","):
            named |= ROLE_NAMES[name.strip()]
        assert named <= granted, f"{route}: the contract lets {cell} call it"


def test_the_documented_shapes_have_every_contract_field(settings: Settings) -> None:
    schemas = create_app(settings).openapi()["components"]["schemas"]
    for title, model in (("### AccountStatus", "AccountStatus"), ("### Task and", "Task")):
        fields = shape_fields(title)
        assert len(fields) >= 8
        missing = [f for f in fields if f not in schemas[model]["properties"]]
        assert not missing, f"{model} lacks {missing}"
    assert set(shape_fields("### Action")) == {
        "seq",
        "at",
        "kind",
        "channel",
        "stage",
        "status",
        "detail",
    }


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        resolved: dict[str, Any] = document["components"]["schemas"][name]
        return resolved
    if schema.get("type") == "array" and "items" in schema:
        return _resolve(schema["items"], document)
    return schema


def _has_example(content: dict[str, Any], document: dict[str, Any]) -> bool:
    if "example" in content or "examples" in content:
        return True
    schema = _resolve(content.get("schema", {}), document)
    return bool(schema.get("examples") or schema.get("example"))


def test_openapi_describes_every_operation_and_shows_examples(settings: Settings) -> None:
    document = create_app(settings).openapi()
    problems = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            name = f"{method.upper()} {path}"
            if not operation.get("description"):
                problems.append(f"{name}: no description")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and not _has_example(body, document):
                problems.append(f"{name}: request body without an example")
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {}).get("application/json")
                if (
                    content is not None
                    and content.get("schema")
                    and not _has_example(content, document)
                ):
                    problems.append(f"{name}: {status} answer without an example")
    for name, schema in document["components"]["schemas"].items():
        if not schema.get("description"):
            problems.append(f"schema {name}: no description")
        if not (schema.get("examples") or schema.get("example")):
            problems.append(f"schema {name}: no example")
    assert not problems, "\n".join(problems)


async def test_openapi_and_docs_are_served(api: httpx.AsyncClient) -> None:
    document = await api.get("/openapi.json")
    assert document.status_code == 200
    assert "/v1/accounts:batch" in document.json()["paths"]
    docs = await api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_error_answers_are_documented_in_the_envelope_not_fastapis_shape(
    settings: Settings,
) -> None:
    document = create_app(settings).openapi()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    payments = document["paths"]["/v1/accounts/{loan_id}/payments"]["post"]["responses"]
    for status in ("401", "403", "404", "409", "413", "415", "422", "503"):
        schema = payments[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code"),
    [
        ("GET", "/v1/accounts/L-1", {}, None, 401, "unauthenticated"),
        ("POST", "/v1/accounts", COLLECTOR, {}, 403, "forbidden"),
        ("POST", "/v1/accounts", LOAN_SYSTEM, {"loan_id": 1}, 422, "invalid_input"),
        ("GET", "/v1/accounts/L-NOBODY", SUPERVISOR, None, 404, "not_found"),
        ("GET", "/v1/nothing-here", SUPERVISOR, None, 404, "not_found"),
        ("DELETE", "/v1/accounts", LOAN_SYSTEM, None, 405, "method_not_allowed"),
    ],
)
async def test_every_error_is_in_the_envelope(
    api: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: object,
    status: int,
    code: str,
) -> None:
    response = await api.request(method, path, headers=headers, json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code and error["message"].strip()
