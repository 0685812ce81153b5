"""A borrower's keyword replies (issue 6): STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE,
OPTOUT (and the Chinese carriers' TD / 退订) revoke SMS consent; START, YES, UNSTOP restore it;
HELP gets the help text — in any case, with trailing punctuation. Our own consent record stops
the next text even where the provider would still send it, and only genuinely signed inbound
webhooks are believed."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlmodel import col, select
from twilio.request_validator import RequestValidator

from activities.channels import keywords
from activities.channels.sms import SmsChannel
from api.routes.webhooks import keyword_of
from core.settings import Settings
from sandbox import numbers
from store.channels import ConsentChangeRow, InboundMessageRow
from store.engine import session_scope
from tests.channels.conftest import SandboxHandle, delivery, new_loan, outbound_rows

MOBILE = "+8613800138000"
OPT_OUT = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
OPT_IN = ["START", "YES", "UNSTOP"]


def _spellings(word: str) -> list[str]:
    return [word, word.lower(), word.capitalize(), f" {word.lower()}. ", f"{word}!", f"{word}。"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [(s, ("opt_out", w)) for w in [*OPT_OUT, "TD"] for s in _spellings(w)]
    + [(s, ("opt_in", w)) for w in OPT_IN for s in _spellings(w)]
    + [(s, ("help", "HELP")) for s in _spellings("HELP")]
    + [("退订", ("opt_out", "退订")), ("退订！", ("opt_out", "退订"))],
)
def test_every_keyword_is_recognised_in_any_case_with_trailing_punctuation(
    body: str, expected: tuple[str, str]
) -> None:
    assert keyword_of(body) == expected


@pytest.mark.parametrize(
    "body",
    ["stop calling me", "I will pay on Friday", "yes I will pay", "STOP STOP", "", "S.T.O.P"],
)
def test_a_sentence_that_only_contains_a_keyword_is_a_reply_for_the_collector(body: str) -> None:
    assert keyword_of(body) == ("reply", None)


def test_the_sandbox_gateway_plays_twilio_with_the_same_keyword_list_as_our_webhook() -> None:
    assert numbers.OPT_OUT_KEYWORDS == frozenset(OPT_OUT) == keywords.TWILIO_OPT_OUT_KEYWORDS
    assert numbers.OPT_IN_KEYWORDS is keywords.OPT_IN_KEYWORDS == frozenset(OPT_IN)
    assert frozenset(OPT_OUT) <= keywords.OPT_OUT_KEYWORDS
    assert keywords.OPT_OUT_KEYWORDS - frozenset(OPT_OUT) == {"TD", "退订"}
    # Twilio does not act on the Chinese carriers' keywords; only we do.
    assert keywords.twilio_keyword_of("td") == ("reply", None)
    assert keywords.twilio_keyword_of("Stop.") == ("opt_out", "STOP")


def _consent_changes(url: str) -> list[ConsentChangeRow]:
    with session_scope(url) as session:
        return list(session.exec(select(ConsentChangeRow).order_by(col(ConsentChangeRow.id))).all())


@pytest.mark.parametrize(
    ("body", "keyword", "granted"),
    [(f"{w.lower()}.", w, False) for w in OPT_OUT]
    + [(f"{w.capitalize()}!", w, True) for w in OPT_IN],
)
async def test_each_keyword_reply_through_the_gateway_changes_sms_consent_in_the_store(
    gateway: SandboxHandle,
    webhook_api: str,
    channel_settings: Settings,
    body: str,
    keyword: str,
    granted: bool,
) -> None:
    loan = new_loan()
    url = channel_settings.effective_database_url
    await asyncio.to_thread(SmsChannel(channel_settings).send, delivery(loan, MOBILE))

    answer = await gateway.reply(MOBILE, body)

    assert answer["webhook"]["http_status"] == 200
    [change] = _consent_changes(url)
    assert (change.loan_id, change.number, change.channel) == (loan, MOBILE, "sms")
    assert (change.keyword, change.granted) == (keyword, granted)
    assert answer["opted_out"] is not granted  # the provider applied Twilio's keyword too


@pytest.mark.parametrize("body", ["退订", "td", "TD。"])
async def test_our_own_consent_record_refuses_a_text_the_provider_would_still_send(
    gateway: SandboxHandle, webhook_api: str, channel_settings: Settings, body: str
) -> None:
    # TD / 退订 mean nothing to Twilio, so the provider still takes texts to the number: our
    # consent record is all that stands between the borrower and the next reminder.
    loan = new_loan()
    channel = SmsChannel(channel_settings)
    url = channel_settings.effective_database_url
    assert (await asyncio.to_thread(channel.send, delivery(loan, MOBILE, 1))).status == "sent"

    answer = await gateway.reply(MOBILE, body)
    assert answer["webhook"]["http_status"] == 200 and not answer["opted_out"]
    assert [c.granted for c in _consent_changes(url)] == [False]

    blocked = await asyncio.to_thread(channel.send, delivery(loan, MOBILE, 2))

    assert (blocked.status, blocked.error_code) == ("failed", 21610)
    row = next(r for r in outbound_rows(url, loan) if r.action_seq == 2)
    assert (row.state, row.attempts, row.provider_sid) == ("refused", 0, None)
    assert len((await gateway.outbox(MOBILE))["messages"]) == 1  # the provider was never called


async def test_after_stop_we_refuse_even_if_the_provider_forgot_the_opt_out(
    gateway: SandboxHandle, webhook_api: str, channel_settings: Settings
) -> None:
    loan = new_loan()
    channel = SmsChannel(channel_settings)
    url = channel_settings.effective_database_url
    await asyncio.to_thread(channel.send, delivery(loan, MOBILE, 1))
    await gateway.reply(MOBILE, "STOP")
    gateway.state.opted_out.clear()  # e.g. another sender number, or the provider's list reset

    blocked = await asyncio.to_thread(channel.send, delivery(loan, MOBILE, 2))

    assert (blocked.status, blocked.error_code) == ("failed", 21610)
    row = next(r for r in outbound_rows(url, loan) if r.action_seq == 2)
    assert (row.state, row.attempts) == ("refused", 0)
    assert len((await gateway.outbox(MOBILE))["messages"]) == 1


async def test_an_inbound_message_with_a_bad_signature_is_refused_with_403_and_not_recorded(
    gateway: SandboxHandle, webhook_api: str, channel_settings: Settings
) -> None:
    inbound_url = webhook_api + "/v1/webhooks/twilio/inbound"
    params = {
        "MessageSid": "SM" + "f" * 32,
        "AccountSid": gateway.auth[0],
        "From": MOBILE,
        "To": "+15005550006",
        "Body": "STOP",
    }
    forged = RequestValidator("not-the-auth-token").compute_signature(inbound_url, params)
    genuine = RequestValidator(gateway.auth[1]).compute_signature(inbound_url, params)
    async with httpx.AsyncClient() as client:
        answers = [
            await client.post(inbound_url, data=params, headers={"X-Twilio-Signature": forged}),
            await client.post(inbound_url, data=params),
            await client.post(
                inbound_url,
                data={**params, "Body": "START"},  # signed for STOP, body changed on the way
                headers={"X-Twilio-Signature": genuine},
            ),
        ]

    for answer in answers:
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "invalid_signature"
    url = channel_settings.effective_database_url
    with session_scope(url) as session:
        assert session.exec(select(InboundMessageRow)).all() == []
    assert _consent_changes(url) == []
