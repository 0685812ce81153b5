"""Exactly-once effects, proven where they matter: a real AccountWorkflow on the time-skipping
server, its `apply_moment` activity failing once after the outside world already took the effect,
and Temporal's own retry running it again. The borrower still gets one SMS, and one letter (one
PDF, one store row, one line in the mail vendor's batch)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import deliver as deliver_module
from activities.channels.exactly_once import Ledger
from activities.channels.sms import SmsChannel
from activities.letters import LetterChannel
from activities.letters.dispatch import read_batch
from core.settings import Settings
from store.letters import LetterRow
from store.models import ActionRow
from tests.workflows.helpers import account_json, business_today, sleep_until, start, store_rows


class InjectedCrash(RuntimeError):
    """The worker dies at the worst moment."""


def _unique_mobile() -> str:
    """A number no other test texts: the session's gateway outbox is shared."""
    return f"+86139{uuid.uuid4().int % 10**8:08d}"


def _account(loan: str, due: Any, mobile: str) -> dict[str, Any]:
    body = account_json(loan, due)
    body["borrower"]["phones"] = [{"kind": "mobile", "number": mobile}]
    return body


async def _outbox(sandbox_url: str, to: str) -> list[dict[str, Any]]:
    account_sid, token, _from = Settings().twilio_account
    async with httpx.AsyncClient(base_url=sandbox_url, auth=(account_sid, token)) as client:
        response = await client.get("/sandbox/outbox", params={"to": to})
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


async def test_a_crash_after_the_gateway_took_the_sms_and_temporals_retry_text_the_borrower_once(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    settings: Settings,
    sandbox_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crashes: list[int] = []
    record_accepted = Ledger.record_accepted

    def crash_once(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        if not crashes:
            crashes.append(1)
            raise InjectedCrash("record_accepted crashed after the provider took the message")
        return record_accepted(self, *args, **kwargs)

    monkeypatch.setattr(Ledger, "record_accepted", crash_once)
    # A short HTTP timeout: the retry may reconcile as soon as the first call cannot still be
    # in flight (twice the timeout, on the wall clock).
    monkeypatch.setitem(deliver_module.FACTORIES, "sms", lambda s: SmsChannel(s, timeout=0.2))
    loan, mobile = f"L-EO-SMS-{uuid.uuid4().hex[:6]}", _unique_mobile()
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, _account(loan, due, mobile))

    await sleep_until(workflow_env, due - timedelta(days=1), hour=21)

    assert crashes == [1]  # the provider had it when the activity failed
    [message] = await _outbox(sandbox_url, mobile)
    [text] = [
        a
        for a in store_rows(settings.effective_database_url, ActionRow, loan)
        if a["kind"] == "sms_reminder"
    ]
    assert text["status"] == "sent"
    assert text["detail"]["provider_id"] == message["sid"]
    assert text["detail"]["delivery"]["reconciled"] is True


async def test_a_crash_after_the_letter_was_recorded_and_temporals_retry_post_one_letter(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crashes: list[str] = []

    def crash_after_row_written(point: str) -> None:
        if point == "row_written" and not crashes:
            crashes.append(point)
            raise InjectedCrash("the worker died after the letter's row was written")

    monkeypatch.setitem(
        deliver_module.FACTORIES,
        "letter",
        lambda s: LetterChannel(s, fault=crash_after_row_written),
    )
    loan = f"L-EO-LTR-{uuid.uuid4().hex[:6]}"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, _account(loan, due, _unique_mobile()))

    await sleep_until(workflow_env, due + timedelta(days=7), hour=21)

    assert crashes == ["row_written"]
    url = settings.effective_database_url
    [letter] = [a for a in store_rows(url, ActionRow, loan) if a["kind"] == "letter"]
    assert letter["status"] == "written"
    [row] = store_rows(url, LetterRow, loan)
    data_dir = Path(settings.data_dir)
    assert [p.name for p in (data_dir / "letters" / loan).glob("*.pdf")] == [Path(row["path"]).name]
    lines = read_batch(data_dir / row["batch_file"])
    assert [line["letter_id"] for line in lines if line["loan_id"] == loan] == [row["letter_id"]]
