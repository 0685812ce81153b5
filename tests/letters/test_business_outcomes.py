"""A letter that cannot be written is a recorded business outcome (status "failed" with the
reason), not an exception for Temporal to retry forever: retrying will not conjure an address."""

from __future__ import annotations

import pytest

from activities.letters import LetterChannel
from core.settings import Settings
from tests.letters.support import letter_request, letter_rows, pdf_files


@pytest.mark.parametrize("address", [None, "", "  \n  "])
def test_a_borrower_without_a_postal_address_gets_no_letter(
    settings: Settings, address: str | None
) -> None:
    result = LetterChannel(settings).send(letter_request(address=address))

    assert result.status == "failed"
    assert result.detail["error"] == "no postal address"
    assert result.provider_id is None
    assert pdf_files(settings) == [] and letter_rows(settings) == []


def test_a_template_we_have_no_letter_for_fails_the_action(settings: Settings) -> None:
    result = LetterChannel(settings).send(letter_request(kind="birthday_card"))

    assert result.status == "failed"
    assert "birthday_card" in result.detail["error"]
    assert pdf_files(settings) == []


def test_a_restructure_offer_without_its_terms_is_not_sent(settings: Settings) -> None:
    result = LetterChannel(settings).send(
        letter_request(kind="restructure_offer", detail={"new_instalment_amount": "400.00"})
    )

    assert result.status == "failed"
    assert "instalment_count" in result.detail["error"]
    assert "expires_on" in result.detail["error"]
    assert pdf_files(settings) == [] and letter_rows(settings) == []


def test_the_letter_kind_comes_from_the_actions_template_or_else_its_kind(
    settings: Settings,
) -> None:
    channel = LetterChannel(settings)
    from_template = channel.send(letter_request(kind="demand_letter", seq=1))
    request = letter_request(kind="restructure_offer", seq=2)
    request.action.template = None  # the restructure_offer action names no template
    from_kind = channel.send(request)

    assert from_template.kind == "letter"
    assert from_template.detail["letter_kind"] == "demand_letter"
    assert from_kind.kind == "restructure_offer"
    assert from_kind.detail["letter_kind"] == "restructure_offer"
    assert from_kind.channel == "mail"
