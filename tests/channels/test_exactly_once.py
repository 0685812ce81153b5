"""Temporal retries activities; the borrower must still get each reminder exactly once. Every test
here makes an attempt fail at a different point and counts what reached the borrower's outbox."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.channels import sms as sms_module
from activities.channels import voice as voice_module
from activities.channels.exactly_once import Ledger
from activities.channels.sms import SmsChannel
from activities.channels.voice import VoiceChannel
from core.settings import Settings
from store.channels import IN_RESULT
from tests.channels.conftest import (
    SandboxHandle,
    contact_events,
    delivery,
    is_retryable,
    new_loan,
    outbound_rows,
    send_like_temporal,
    until,
)

MOBILE = "+8613800138000"
CALL_FINAL = {"completed", "busy", "no-answer", "failed"}


class InjectedCrash(RuntimeError):
    """The worker dies at the worst moment."""


def crash_once(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Make `owner.name` raise InjectedCrash on its first call, then behave; count the calls."""
    original = getattr(owner, name)
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise InjectedCrash(f"{name} crashed")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, flaky)
    return calls


async def test_a_crash_after_the_provider_accepted_then_a_retry_texts_the_borrower_once(
    gateway: SandboxHandle, channel_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The provider took the message, then the worker died before writing the sid down.
    crash_once(monkeypatch, Ledger, "record_accepted")
    loan = new_loan()
    channel = SmsChannel(channel_settings, timeout=0.3)

    result, failures = await send_like_temporal(channel.send, delivery(loan, MOBILE))

    assert isinstance(failures[0], InjectedCrash)
    messages = (await gateway.outbox(MOBILE))["messages"]
    assert len(messages) == 1
    assert (result.status, result.provider_id) == ("sent", messages[0]["sid"])
    [row] = outbound_rows(channel_settings.effective_database_url, loan)
    assert (row.state, row.provider_sid, row.attempts, row.reconciled) == (
        "accepted",
        messages[0]["sid"],
        1,
        True,
    )


async def test_a_timeout_after_the_provider_accepted_is_reconciled_not_resent(
    gateway: SandboxHandle, channel_settings: Settings
) -> None:
    # The gateway takes the message but answers after the client gave up: ambiguous.
    await gateway.fault("slow_answer", seconds=2.0)
    loan = new_loan()
    channel = SmsChannel(channel_settings, timeout=0.3)

    result, failures = await send_like_temporal(channel.send, delivery(loan, MOBILE))

    assert failures and all(is_retryable(f) for f in failures)
    assert "did not answer" in str(failures[0])
    messages = (await gateway.outbox(MOBILE))["messages"]
    assert len(messages) == 1 and result.provider_id == messages[0]["sid"]
    [row] = outbound_rows(channel_settings.effective_database_url, loan)
    assert (row.attempts, row.reconciled) == (1, True)


@pytest.mark.parametrize("kind", ["reject_429", "reject_503"])
async def test_a_provider_that_refused_before_accepting_is_retried_and_sends_once(
    gateway: SandboxHandle, channel_settings: Settings, kind: str
) -> None:
    await gateway.fault(kind, count=2)
    loan = new_loan()
    channel = SmsChannel(channel_settings, timeout=0.3)

    result, failures = await send_like_temporal(channel.send, delivery(loan, MOBILE))

    assert len(failures) == 2 and all(is_retryable(f) for f in failures)
    assert len((await gateway.outbox(MOBILE))["messages"]) == 1 and result.status == "sent"
    [row] = outbound_rows(channel_settings.effective_database_url, loan)
    assert (row.attempts, row.reconciled) == (3, False)  # certain refusals need no reconciling


async def test_a_5xx_is_retryable_and_reconciled_before_sending_again(
    gateway: SandboxHandle, channel_settings: Settings
) -> None:
    await gateway.fault("reject_500")
    loan = new_loan()
    channel = SmsChannel(channel_settings, timeout=0.3)

    result, failures = await send_like_temporal(channel.send, delivery(loan, MOBILE))

    assert is_retryable(failures[0]) and "500" in str(failures[0])
    assert len((await gateway.outbox(MOBILE))["messages"]) == 1 and result.status == "sent"
    [row] = outbound_rows(channel_settings.effective_database_url, loan)
    assert (row.attempts, row.reconciled) == (2, False)  # asked first, found none, sent


async def test_an_unreachable_provider_is_a_retryable_error_and_nothing_counts_as_sent(
    channel_settings: Settings,
) -> None:
    with socket.socket() as closed:  # a port nobody listens on: connection refused
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    settings = channel_settings.model_copy(update={"sandbox_url": nowhere})
    loan = new_loan()

    with pytest.raises(ApplicationError) as info:
        await asyncio.to_thread(SmsChannel(settings, timeout=0.3).send, delivery(loan, MOBILE))

    assert is_retryable(info.value) and "unreachable" in str(info.value)
    [row] = outbound_rows(channel_settings.effective_database_url, loan)
    assert (row.state, row.provider_sid) == ("not_accepted", None)


async def test_a_retry_of_a_sent_reminder_answers_the_recorded_result_without_calling(
    gateway: SandboxHandle, channel_settings: Settings
) -> None:
    loan = new_loan()
    channel = SmsChannel(channel_settings)
    first = await asyncio.to_thread(channel.send, delivery(loan, MOBILE))
    await gateway.fault("reject_503")  # would fail a call, if the retry made one
    second = await asyncio.to_thread(channel.send, delivery(loan, MOBILE))

    assert (second.status, second.provider_id) == ("sent", first.provider_id)
    assert second.detail["replayed"] and not first.detail["replayed"]
    assert len((await gateway.outbox(MOBILE))["messages"]) == 1


async def test_two_workers_running_the_same_reminder_at_once_send_it_once(
    gateway: SandboxHandle, channel_settings: Settings
) -> None:
    # Temporal may start a retry while the first attempt is still talking to the provider (a
    # start-to-close timeout); both runs share the ledger row and only one may call.
    await gateway.fault("slow_accept", seconds=0.5)  # the provider has nothing for a while
    loan = new_loan()
    one, two = SmsChannel(channel_settings, timeout=1.0), SmsChannel(channel_settings, timeout=1.0)

    (first, _), (second, failures) = await asyncio.gather(
        send_like_temporal(one.send, delivery(loan, MOBILE)),
        send_like_temporal(two.send, delivery(loan, MOBILE)),
    )

    [message] = (await gateway.outbox(MOBILE))["messages"]
    assert first.provider_id == second.provider_id == message["sid"]
    [row] = outbound_rows(channel_settings.effective_database_url, loan)
    assert (row.attempts, row.reconciled) == (1, False)


async def test_reconciliation_never_adopts_the_same_text_sent_for_another_action(
    gateway: SandboxHandle, channel_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Action 1 went out. Action 2 has the very same text; its worker dies after recording the
    # attempt but before the request left. Reconciliation must not mistake action 1's message for
    # action 2's: the borrower is owed a second message, and gets exactly one more.
    loan = new_loan()
    channel = SmsChannel(channel_settings, timeout=0.3)
    first = await asyncio.to_thread(channel.send, delivery(loan, MOBILE, 1))
    crash_once(monkeypatch, sms_module._TwilioMessages, "create")

    second, failures = await send_like_temporal(channel.send, delivery(loan, MOBILE, 2))

    assert isinstance(failures[0], InjectedCrash)
    messages = (await gateway.outbox(MOBILE))["messages"]
    assert messages[0]["body"] == messages[1]["body"] and len(messages) == 2
    assert {first.provider_id, second.provider_id} == {m["sid"] for m in messages}
    rows = outbound_rows(channel_settings.effective_database_url, loan)
    assert [(r.action_seq, r.attempts, r.reconciled) for r in rows] == [
        (1, 1, False),
        (2, 2, False),
    ]


async def test_a_reconciled_message_that_already_failed_is_reported_failed_in_the_result(
    gateway: SandboxHandle,
    webhook_api: str,
    channel_settings: Settings,
    workflow_env: WorkflowEnvironment,
    account_workflow: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The dead number's "failed" callback comes while the crashed run never wrote the sid down:
    # the retry finds the message already failed at the provider and says so in its result, and
    # the workflow is not told a second time by signal.
    crash_once(monkeypatch, Ledger, "record_accepted")
    loan = new_loan()
    handle = await account_workflow(loan)
    await gateway.fault("slow_answer", seconds=0.5)  # let the callbacks overtake the answer
    channel = SmsChannel(channel_settings, timeout=1.0)

    result, _failures = await send_like_temporal(channel.send, delivery(loan, "+8613800000410"))

    [message] = (await gateway.outbox("+8613800000410"))["messages"]
    assert (result.status, result.error_code, result.provider_id) == (
        "failed",
        30005,
        message["sid"],
    )
    await asyncio.sleep(3.5)  # the webhook's wait for an unknown sid is over
    [row] = outbound_rows(channel_settings.effective_database_url, loan)
    assert (row.state, row.provider_status, row.signal_outcome) == ("accepted", "failed", IN_RESULT)
    assert await contact_events(workflow_env, handle) == []


async def test_a_crashed_reminder_call_rings_the_borrower_once_and_records_who_answered(
    gateway: SandboxHandle,
    webhook_api: str,
    channel_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crash_once(monkeypatch, Ledger, "record_accepted")
    loan = new_loan()
    channel = VoiceChannel(channel_settings, timeout=0.3)
    request = delivery(
        loan, MOBILE, kind="voice_reminder", channel="voice", template="overdue_voice"
    )

    result, failures = await send_like_temporal(channel.send, request)

    assert isinstance(failures[0], InjectedCrash)
    [call] = (await gateway.outbox(MOBILE))["calls"]
    assert (result.status, result.channel, result.provider_id) == ("sent", "voice", call["sid"])
    assert call["machine_detection"] is True
    assert call["twiml"].count('<Say language="zh-CN">王芳您好') == 2
    url = channel_settings.effective_database_url
    row = await until(
        lambda: (r := outbound_rows(url, loan)[0]).provider_status == "completed" and r or None
    )
    assert (row.answered_by, row.duration_seconds, row.reconciled) == ("human", 25, True)


@pytest.mark.parametrize(
    ("number", "status", "answered_by"),
    [
        ("+8613800000460", "completed", "machine_end_beep"),
        ("+8613800000486", "busy", None),
        ("+8613800000408", "no-answer", None),
    ],
)
async def test_the_call_outcome_is_recorded_from_the_status_callback(
    gateway: SandboxHandle,
    webhook_api: str,
    channel_settings: Settings,
    number: str,
    status: str,
    answered_by: str | None,
) -> None:
    loan = new_loan()
    request = delivery(
        loan, number, kind="voice_reminder", channel="voice", template="overdue_voice", locale="en"
    )
    result = await asyncio.to_thread(VoiceChannel(channel_settings).send, request)

    assert result.status == "sent"
    url = channel_settings.effective_database_url
    row = await until(
        lambda: (r := outbound_rows(url, loan)[0]).provider_status in CALL_FINAL and r or None
    )
    assert (row.provider_status, row.answered_by) == (status, answered_by)
    assert '<Say language="en-US">Hello' in row.body


async def test_an_invalid_number_fails_the_call_with_21211(
    gateway: SandboxHandle, channel_settings: Settings
) -> None:
    request = delivery(
        new_loan(), "+15005550001", kind="voice_reminder", channel="voice", template="overdue_voice"
    )
    result = await asyncio.to_thread(VoiceChannel(channel_settings).send, request)

    assert (result.status, result.error_code) == ("failed", 21211)
    assert (await gateway.outbox())["calls"] == []


def test_the_voice_channel_module_asks_for_answering_machine_detection() -> None:
    assert voice_module.MACHINE_DETECTION == "Enable"
