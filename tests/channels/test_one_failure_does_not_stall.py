"""One channel's trouble is that action's result, never the account's: a permanent failure (no
phone number, a missing template, a provider's 4xx, a letter that cannot be reproduced) is a
`failed` delivery with its reason while the rest of the moment goes out and the workflow carries
on; a transient failure is still retried, after the rest of the moment was delivered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from twilio.rest import Client

from activities.channels import sms as sms_module
from activities.channels.sms import SmsChannel
from activities.channels.templates import TemplateMissing
from activities.channels.twilio_client import SandboxHttpClient, TwilioConnection
from activities.deliver import Deliverer
from activities.letters import LetterChannel
from activities.moment import MomentActivities
from core.settings import Settings
from store.engine import session_scope
from store.letters import LetterRow
from store.models import ActionRow, TaskRow
from tests.channels.conftest import delivery, is_retryable, new_loan, outbound_rows
from tests.workflows.helpers import account_json, business_today, sleep_until, start, store_rows
from workflows.contracts import AccountStatus, ActionCommand, MomentRecord, StrategyRef

MOBILE = "+8613800138001"
AT = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def _moment(loan: str, actions: list[ActionCommand]) -> MomentRecord:
    return MomentRecord(
        loan_id=loan,
        workflow_id=f"account-{loan}",
        episode=f"episode-{loan}",
        at=AT,
        status=AccountStatus(
            loan_id=loan,
            state="delinquent",
            dpd=7,
            bucket="M1",
            stage="front_end",
            amount_overdue=Decimal("1200.50"),
            penalty_accrued=Decimal("0"),
            strategy=StrategyRef(name="default", version=1),
        ),
        segment="standard",
        actions=actions,
        borrower={
            "name": "王芳",
            "address": "上海市人民路1号",
            "locale": "zh-CN",
            "timezone": "Asia/Shanghai",
            "currency": "CNY",
        },
    )


def _sms(seq: int, template: str = "overdue_reminder", to: str | None = MOBILE) -> ActionCommand:
    detail: dict[str, Any] = {"dpd": 7, "amount_overdue": "1200.50"}
    if to:
        detail["to"] = to
    return ActionCommand(
        seq=seq,
        at=AT,
        kind="sms_reminder",
        channel="sms",
        stage="front_end",
        template=template,
        detail=detail,
    )


def _letter(seq: int) -> ActionCommand:
    return ActionCommand(
        seq=seq,
        at=AT,
        kind="letter",
        channel="letter",
        stage="front_end",
        template="reminder_letter",
        detail={"dpd": 7},
    )


def _actions(url: str, loan: str) -> dict[int, ActionRow]:
    with session_scope(url) as session:
        rows = session.exec(select(ActionRow).where(ActionRow.loan_id == loan)).all()
        return {row.seq: row for row in rows}


async def _outbox(sandbox_url: str, to: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=sandbox_url, auth=_gateway_auth()) as client:
        response = await client.get("/sandbox/outbox", params={"to": to})
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def _gateway_auth() -> tuple[str, str]:
    account_sid, token, _from = Settings().twilio_account
    return account_sid, token


async def test_a_text_with_no_number_or_no_template_fails_alone_and_the_rest_of_the_moment_goes_out(
    settings: Settings, sandbox_url: str
) -> None:
    loan = new_loan()
    to = f"+86138{abs(hash(loan)) % 10**8:08d}"
    moment = _moment(
        loan,
        [_sms(1, to=None), _sms(2, template="no_such_template", to=to), _letter(3), _sms(4, to=to)],
    )
    activities = MomentActivities(settings.effective_database_url, Deliverer(settings))

    result = await asyncio.to_thread(activities.apply_moment, moment)

    by_seq = {d["seq"]: d for d in result["deliveries"]}
    assert (by_seq[1]["status"], by_seq[1]["detail"]["error"]) == ("failed", "NoPhoneNumber")
    assert "names no phone number" in by_seq[1]["detail"]["reason"]
    assert (by_seq[2]["status"], by_seq[2]["detail"]["error"]) == ("failed", "TemplateMissing")
    assert by_seq[3]["status"] == "written" and Path(by_seq[3]["detail"]["path"]).exists()
    assert by_seq[4]["status"] == "sent"
    assert len(await _outbox(sandbox_url, to)) == 1
    rows = _actions(settings.effective_database_url, loan)
    assert [rows[s].status for s in (1, 2, 3, 4)] == ["failed", "failed", "written", "sent"]
    assert rows[2].detail["delivery"]["error"] == "TemplateMissing"


async def test_a_letter_that_cannot_be_reproduced_fails_alone_and_is_not_retried(
    settings: Settings, sandbox_url: str
) -> None:
    loan = new_loan()
    to = f"+86139{abs(hash(loan)) % 10**8:08d}"
    url = settings.effective_database_url
    first = await asyncio.to_thread(LetterChannel(settings).send, _request(loan, _letter(3)))
    Path(first.detail["path"]).unlink()  # the PDF is gone ...
    with session_scope(url) as session:  # ... and what was recorded no longer matches
        row = session.exec(select(LetterRow).where(LetterRow.loan_id == loan)).one()
        row.sha256 = "0" * 64
        session.add(row)
    activities = MomentActivities(url, Deliverer(settings))

    result = await asyncio.to_thread(
        activities.apply_moment, _moment(loan, [_letter(3), _sms(4, to=to)])
    )

    by_seq = {d["seq"]: d for d in result["deliveries"]}
    assert (by_seq[3]["status"], by_seq[3]["detail"]["error"]) == ("failed", "LetterIntegrityError")
    assert "restore the file from backup" in by_seq[3]["detail"]["reason"]
    assert by_seq[4]["status"] == "sent" and len(await _outbox(sandbox_url, to)) == 1


def _request(loan: str, command: ActionCommand) -> Any:
    from activities.deliver import request_for

    return request_for(_moment(loan, [command]), command)


async def test_a_provider_outage_is_retried_after_the_rest_of_the_moment_was_delivered(
    settings: Settings, sandbox_url: str
) -> None:
    loan = new_loan()
    to = f"+86137{abs(hash(loan)) % 10**8:08d}"
    async with httpx.AsyncClient(base_url=sandbox_url, auth=_gateway_auth()) as client:
        fault = await client.post("/sandbox/faults", json={"kind": "reject_503", "count": 1})
    fault.raise_for_status()
    url = settings.effective_database_url
    activities = MomentActivities(url, Deliverer(settings))
    moment = _moment(loan, [_sms(1, to=to), _letter(2)])

    with pytest.raises(ApplicationError) as outage:
        await asyncio.to_thread(activities.apply_moment, moment)

    assert is_retryable(outage.value)
    assert _actions(url, loan)[2].status == "written"  # the letter did not wait for the SMS
    retried = await asyncio.to_thread(activities.apply_moment, moment)  # Temporal's retry
    by_seq = {d["seq"]: d for d in retried["deliveries"]}
    assert by_seq[1]["status"] == "sent" and len(await _outbox(sandbox_url, to)) == 1
    assert by_seq[2]["status"] == "written"
    with session_scope(url) as session:
        assert len(session.exec(select(LetterRow).where(LetterRow.loan_id == loan)).all()) == 1


async def test_bad_provider_credentials_fail_the_text_with_twilios_code_instead_of_retrying(
    settings: Settings, sandbox_url: str
) -> None:
    account_sid, _token, from_number = settings.twilio_account
    wrong = TwilioConnection(
        client=Client(account_sid, "not-the-token", http_client=SandboxHttpClient(sandbox_url)),
        account_sid=account_sid,
        from_number=from_number,
        sandbox=True,
        status_callback="http://127.0.0.1:9/v1/webhooks/twilio/status",
    )
    loan = new_loan()

    result = await asyncio.to_thread(
        SmsChannel(settings, twilio=wrong).send, delivery(loan, "+8613800138002")
    )

    assert (result.status, result.error_code) == ("failed", 20003)
    [row] = outbound_rows(settings.effective_database_url, loan)
    assert (row.state, row.attempts) == ("refused", 1)


async def test_an_account_whose_texts_cannot_be_rendered_keeps_going_and_its_calls_are_queued(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(*_args: object, **_kwargs: object) -> Any:
        raise TemplateMissing("no SMS template in any locale")

    monkeypatch.setattr(sms_module, "render_sms", missing)
    loan = new_loan()
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))

    await sleep_until(workflow_env, due + timedelta(days=2), hour=16)

    described = await workflow_env.client.get_workflow_handle(f"account-{loan}").describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    texts = [a for a in store_rows(database_url, ActionRow, loan) if a["kind"] == "sms_reminder"]
    assert len(texts) == 2  # the day before the due date, and DPD 1
    assert all(a["status"] == "failed" for a in texts)
    assert all(a["detail"]["delivery"]["error"] == "TemplateMissing" for a in texts)
    assert [t["kind"] for t in store_rows(database_url, TaskRow, loan)] == ["call"]
