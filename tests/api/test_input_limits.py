"""What the API accepts, the workflow and the store can hold (issue 21, item 2): every bound
comes from domain/limits.py, the contract's models and the store's columns alike, so an input
at the bound is booked on SQLite and on PostgreSQL, and one past it is a 422 at the door instead
of an activity that fails at every retry and freezes the account."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from core.settings import Settings
from domain.limits import (
    ADDRESS_LENGTH,
    LOAN_ID_LENGTH,
    MAX_AMOUNT,
    NAME_LENGTH,
    PAYMENT_ID_LENGTH,
    RELATION_LENGTH,
    SEGMENT_LENGTH,
)
from store.models import AccountRow, PaymentRow
from store.staff import AccountDirectoryRow
from tests.conftest import AUDITOR, COLLECTOR, LOAN_SYSTEM, SUPERVISOR
from tests.workflows.helpers import account_json, business_today, sleep_until, status, store_rows

pytestmark = pytest.mark.database


async def test_an_account_and_a_payment_at_every_bound_are_booked_by_the_store(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    database_url: str,
) -> None:
    loan = "L-" + "9" * (LOAN_ID_LENGTH - 2)
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json(loan, due, amounts=(str(MAX_AMOUNT),) * 3)
    body["borrower"]["name"] = "名" * NAME_LENGTH
    body["borrower"]["address"] = "路" * ADDRESS_LENGTH
    body["contacts"] = [
        {"name": "李" * NAME_LENGTH, "relation": "r" * RELATION_LENGTH, "phone": "+8613900139000"}
    ]
    body["segment"] = "s" * SEGMENT_LENGTH
    created = await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
    assert created.status_code == 201, created.text
    [directory] = store_rows(database_url, AccountDirectoryRow, loan)
    assert directory["name"] == "名" * NAME_LENGTH

    # A month of penalty on three of the largest instalments still fits the money columns.
    await sleep_until(workflow_env, due + timedelta(days=30))
    paid_at = (await workflow_env.get_current_time()).isoformat()
    payment = {"payment_id": "P" * PAYMENT_ID_LENGTH, "amount": str(MAX_AMOUNT), "paid_at": paid_at}
    answer = await api.post(f"/v1/accounts/{loan}/payments", json=payment, headers=LOAN_SYSTEM)
    assert answer.status_code == 202, answer.text
    await sleep_until(workflow_env, due + timedelta(days=31))

    [row] = store_rows(database_url, PaymentRow, loan)
    assert (row["payment_id"], Decimal(row["amount"])) == (payment["payment_id"], MAX_AMOUNT)
    [account] = store_rows(database_url, AccountRow, loan)
    assert Decimal(account["paid_total"]) == MAX_AMOUNT
    assert account["segment"] == "s" * SEGMENT_LENGTH
    assert Decimal((await status(api, loan))["penalty_accrued"]) > 0


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda b: b.update(loan_id="L-" + "9" * (LOAN_ID_LENGTH - 1)), "loan_id"),
        (lambda b: b["borrower"].update(name="名" * (NAME_LENGTH + 1)), "name"),
        (lambda b: b["borrower"].update(name="Wang\x00Fang"), "name"),
        (lambda b: b["instalments"][0].update(amount=str(MAX_AMOUNT + Decimal("0.01"))), "amount"),
    ],
    ids=["loan_id_too_long", "name_too_long", "nul_in_name", "amount_too_large"],
)
async def test_an_account_past_a_bound_is_refused_at_the_door_and_nothing_starts(
    workflow_env: WorkflowEnvironment, api: httpx.AsyncClient, change: object, where: str
) -> None:
    due = await business_today(workflow_env) + timedelta(days=2)
    body = account_json("L-LIMIT", due)
    change(body)  # type: ignore[operator]
    answer = await api.post("/v1/accounts", json=body, headers=LOAN_SYSTEM)
    assert answer.status_code == 422, answer.text
    assert where in answer.text
    assert (await api.get("/v1/accounts/L-LIMIT", headers=LOAN_SYSTEM)).status_code == 404


@pytest.mark.parametrize(
    ("payment_id", "amount"),
    [
        ("P" * (PAYMENT_ID_LENGTH + 1), "100.00"),
        ("PAY-1", str(MAX_AMOUNT + Decimal("0.01"))),
        ("PAY-1", "1e400"),
        ("PAY-\x00", "100.00"),
    ],
    ids=["payment_id_too_long", "amount_too_large", "exponent", "nul_in_id"],
)
async def test_a_payment_past_a_bound_is_refused_at_the_door_and_nothing_is_booked(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    database_url: str,
    payment_id: str,
    amount: str,
) -> None:
    due = await business_today(workflow_env) + timedelta(days=2)
    created = await api.post(
        "/v1/accounts", json=account_json("L-LIMIT-PAY", due), headers=LOAN_SYSTEM
    )
    assert created.status_code == 201, created.text
    paid_at = (await workflow_env.get_current_time()).isoformat()
    answer = await api.post(
        "/v1/accounts/L-LIMIT-PAY/payments",
        json={"payment_id": payment_id, "amount": amount, "paid_at": paid_at},
        headers=LOAN_SYSTEM,
    )
    assert answer.status_code == 422, answer.text
    await sleep_until(workflow_env, due)
    assert store_rows(database_url, PaymentRow, "L-LIMIT-PAY") == []


# --------------------------------------------------------------- every field of every request body

# Strings bounded otherwise than by a length: each is checked against a closed set or a format
# whose values are short (the reason is the exemption's value).
NOT_LENGTH_BOUNDED = {
    "locale": "a known CLDR locale",
    "timezone": "a known IANA zone",
    "currency": "a real ISO 4217 code",
    "jurisdiction": "a known jurisdiction",
    "number": "a valid E.164 phone number (phonenumbers refuses past 250 characters)",
    "phone": "a valid E.164 phone number",
    "dead_phones": "valid E.164 phone numbers",
    "status": "one of the legal case statuses",
    "commission_rate": "a decimal below 1",
    "data": "base64 of a Temporal payload (the codec endpoints; bounded by the body size)",
}
MONEY_PATTERN = r"^\s*[+-]?[0-9]+(\.[0-9]+)?\s*$"
# Money that is a rate, not an amount: bounded below 1 by its model.
RATES = {"penalty_rate_daily"}


def _request_fields() -> list[tuple[str, str, tuple[str | int, ...], dict[str, object]]]:
    """(method, path, field path, field schema) for every string field of every JSON request
    body the API's OpenAPI document describes: the contract's request models, walked whole."""
    schema = create_app(Settings(DATABASE_URL="sqlite://")).openapi()
    components = schema["components"]["schemas"]
    strings: list[tuple[tuple[str | int, ...], dict[str, object]]] = []

    def walk(node: dict[str, object], at: tuple[str | int, ...], seen: frozenset[str]) -> None:
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref not in seen:
                walk(components[ref.rsplit("/", 1)[-1]], at, seen | {ref})
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for option in node.get(key, []):  # type: ignore[attr-defined]
                walk(option, at, seen)
        if node.get("type") == "object":
            for name, sub in node.get("properties", {}).items():  # type: ignore[attr-defined]
                walk(sub, (*at, name), seen)
        if node.get("type") == "array":
            walk(node.get("items", {}), (*at, 0), seen)  # type: ignore[arg-type]
        if node.get("type") == "string" and "enum" not in node and "format" not in node:
            strings.append((at, node))

    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            if body is not None:
                strings.clear()
                walk(body, (), frozenset())
                found += [(method, path, at, node) for at, node in strings]
    return found


def _name(at: tuple[str | int, ...]) -> str:
    """The field's own name (a list's items are named by the list)."""
    return next(str(step) for step in reversed(at) if isinstance(step, str))


FIELDS = _request_fields()
BOUNDED = [f for f in FIELDS if "maxLength" in f[3]]
MONEY = [f for f in FIELDS if f[3].get("pattern") == MONEY_PATTERN and _name(f[2]) not in RATES]


def _field_id(field: tuple[str, str, tuple[str | int, ...], dict[str, object]]) -> str:
    return f"{field[1]}:{'.'.join(map(str, field[2]))}"


def test_every_string_of_every_request_body_has_a_bound() -> None:
    """A string the door takes without a bound reaches history and the store unbounded: every
    one has a max length (from domain/limits.py) or is checked against a short closed set."""
    assert len(FIELDS) > 50  # the walk found the contract's models
    unbounded = {
        _field_id(f)
        for f in FIELDS
        if "maxLength" not in f[3]
        and f[3].get("pattern") != MONEY_PATTERN
        and _name(f[2]) not in NOT_LENGTH_BOUNDED
    }
    assert unbounded == set()


def _body_with(at: tuple[str | int, ...], value: str) -> object:
    """A body holding just `value` at `at` (lists of one); the other required fields missing
    are reported too, but the field under test must be named by its own error."""
    body: object = value
    for step in reversed(at):
        body = [body] if isinstance(step, int) else {step: body}
    return body


async def _refused(api: httpx.AsyncClient, method: str, path: str, body: object) -> httpx.Response:
    url = path.replace("{", "").replace("}", "")  # a path parameter's name stands for its value
    for headers in (LOAN_SYSTEM, SUPERVISOR, COLLECTOR, AUDITOR):
        answer = await api.request(method, url, json=body, headers=headers)
        if answer.status_code not in (401, 403):
            return answer
    raise AssertionError(f"no role may {method} {path}")


def _errors(answer: httpx.Response) -> list[dict[str, object]]:
    """The validation errors of a refusal: a 422's, or (the batch answers each item) the one
    item's, which the batch marks invalid; none for an answer that refused nothing."""
    if answer.status_code == 200 and "results" in answer.json():
        [item] = answer.json()["results"]
        return list(item["error"]["details"]) if item["result"] == "invalid" else []
    return list(answer.json()["error"]["details"]) if answer.status_code == 422 else []


def _names(answer: httpx.Response, at: tuple[str | int, ...], kind: str) -> bool:
    errors: list[dict[str, Any]] = _errors(answer)
    if at and at[0] == 0 and "results" in answer.text:
        at = at[1:]  # a batch item's errors are located within the item
    wanted = [str(step) for step in at]
    return any(
        [str(step) for step in error["loc"][-len(wanted) :]] == wanted and kind in error["type"]
        for error in errors
    )


@pytest.mark.parametrize("field", BOUNDED, ids=_field_id)
async def test_a_string_one_past_its_bound_is_a_422_naming_the_field(
    api: httpx.AsyncClient, field: tuple[str, str, tuple[str | int, ...], dict[str, object]]
) -> None:
    method, path, at, node = field
    too_long = "a" * (int(node["maxLength"]) + 1)  # type: ignore[call-overload]
    answer = await _refused(api, method, path, _body_with(at, too_long))
    assert _names(answer, at, "too_long"), answer.text
    at_bound = "a" * int(node["maxLength"])  # type: ignore[call-overload]
    answer = await _refused(api, method, path, _body_with(at, at_bound))
    assert not _names(answer, at, "too_long"), answer.text


@pytest.mark.parametrize("field", MONEY, ids=_field_id)
async def test_an_amount_past_the_largest_is_a_422_naming_the_field(
    api: httpx.AsyncClient, field: tuple[str, str, tuple[str | int, ...], dict[str, object]]
) -> None:
    method, path, at, _node = field
    past = str(MAX_AMOUNT + Decimal("0.01"))
    answer = await _refused(api, method, path, _body_with(at, past))
    assert _names(answer, at, ""), answer.text
    answer = await _refused(api, method, path, _body_with(at, str(MAX_AMOUNT)))
    assert not _names(answer, at, ""), answer.text
