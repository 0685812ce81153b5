import json
from copy import deepcopy
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain.account import Account, PaymentIn, Phone, PromiseIn, normalise_phone


def _errors(payload: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        Account.model_validate(payload)
    return str(info.value)


def test_contract_example_account_is_valid(account_payload: dict[str, Any]) -> None:
    account = Account.model_validate(account_payload)
    assert account.loan_id == "L-1001"
    assert account.instalments[0].amount == Decimal("1200.00")
    assert account.penalty_rate_daily == Decimal("0.0005")
    assert account.borrower.phones[0].number == "+8613800000000"


def test_money_serialises_as_decimal_strings_never_floats(account_payload: dict[str, Any]) -> None:
    dumped = json.loads(Account.model_validate(account_payload).model_dump_json())
    assert dumped["instalments"][0]["amount"] == "1200.00"
    assert dumped["penalty_rate_daily"] == "0.0005"


def test_account_round_trips_through_json(account_payload: dict[str, Any]) -> None:
    account = Account.model_validate(account_payload)
    assert Account.model_validate_json(account.model_dump_json()) == account


def test_defaults_apply_when_optional_fields_are_missing(account_payload: dict[str, Any]) -> None:
    payload = deepcopy(account_payload)
    for key in ("contacts", "currency", "segment", "jurisdiction", "history"):
        del payload[key]
    for key in ("locale", "timezone", "address", "consents"):
        del payload["borrower"][key]
    account = Account.model_validate(payload)
    assert account.currency == "CNY"
    assert account.segment == "standard"
    assert account.jurisdiction is None
    assert account.contacts == []
    assert account.history.prior_delinquencies == 0 and account.history.ever_paid
    assert account.borrower.locale == "zh-CN"
    assert account.borrower.timezone == "Asia/Shanghai"
    assert account.borrower.consents.sms and account.borrower.consents.voice


def test_float_amounts_are_refused_because_money_is_a_decimal_string(
    account_payload: dict[str, Any],
) -> None:
    account_payload["instalments"][0]["amount"] = 1200.1
    assert "not a floating-point number" in _errors(account_payload)


def test_non_numeric_amount_is_refused(account_payload: dict[str, Any]) -> None:
    account_payload["instalments"][0]["amount"] = "twelve hundred"
    assert "is not a decimal number" in _errors(account_payload)


@pytest.mark.parametrize("amount", ["0", "0.00", "-1.00", "NaN", "Infinity"])
def test_instalment_amount_must_be_a_positive_finite_number(
    account_payload: dict[str, Any], amount: str
) -> None:
    account_payload["instalments"][0]["amount"] = amount
    _errors(account_payload)


def test_instalment_amount_finer_than_the_currency_is_refused(
    account_payload: dict[str, Any],
) -> None:
    account_payload["instalments"][0]["amount"] = "1200.005"
    assert "Instalment 7: The amount 1200.005 has more decimals than CNY allows" in _errors(
        account_payload
    )


def test_yen_amounts_must_be_whole(account_payload: dict[str, Any]) -> None:
    account_payload["currency"] = "JPY"
    account_payload["instalments"][0]["amount"] = "1200.50"
    assert "more decimals than JPY allows" in _errors(account_payload)
    account_payload["instalments"][0]["amount"] = "1200"
    assert Account.model_validate(account_payload).currency == "JPY"


def test_unknown_currency_is_refused(account_payload: dict[str, Any]) -> None:
    account_payload["currency"] = "XYZ"
    assert "not a known ISO 4217 currency" in _errors(account_payload)


def test_repeated_instalment_seq_is_refused(account_payload: dict[str, Any]) -> None:
    account_payload["instalments"][1]["seq"] = 7
    assert "repeated: 7" in _errors(account_payload)


def test_due_dates_must_increase_with_seq(account_payload: dict[str, Any]) -> None:
    account_payload["instalments"][1]["due_date"] = "2026-12-01"
    assert "due dates must increase with seq" in _errors(account_payload)
    account_payload["instalments"][1]["due_date"] = "2026-11-01"
    assert "due dates must increase with seq" in _errors(account_payload)


def test_instalments_given_out_of_order_are_sorted_by_seq(account_payload: dict[str, Any]) -> None:
    account_payload["instalments"].reverse()
    assert [i.seq for i in Account.model_validate(account_payload).instalments] == [7, 8]


def test_at_least_one_instalment_is_required(account_payload: dict[str, Any]) -> None:
    account_payload["instalments"] = []
    _errors(account_payload)


def test_instalment_seq_starts_at_one(account_payload: dict[str, Any]) -> None:
    account_payload["instalments"][0]["seq"] = 0
    _errors(account_payload)


@pytest.mark.parametrize("rate", ["-0.0001", "1", "1.5"])
def test_daily_penalty_rate_is_between_zero_and_one(
    account_payload: dict[str, Any], rate: str
) -> None:
    account_payload["penalty_rate_daily"] = rate
    _errors(account_payload)


def test_zero_penalty_rate_is_allowed(account_payload: dict[str, Any]) -> None:
    account_payload["penalty_rate_daily"] = "0"
    assert Account.model_validate(account_payload).penalty_rate_daily == 0


@pytest.mark.parametrize("loan_id", ["", "L 1001", "张三-1", "L/1001", "x" * 65, "a@b.c"])
def test_loan_id_is_a_safe_workflow_id_fragment(
    account_payload: dict[str, Any], loan_id: str
) -> None:
    account_payload["loan_id"] = loan_id
    _errors(account_payload)


@pytest.mark.parametrize("loan_id", ["L-1001", "a", "x" * 64, "loan_2026.12-A"])
def test_loan_id_accepts_letters_digits_dot_underscore_dash(
    account_payload: dict[str, Any], loan_id: str
) -> None:
    account_payload["loan_id"] = loan_id
    assert Account.model_validate(account_payload).loan_id == loan_id


def test_borrower_needs_at_least_one_phone(account_payload: dict[str, Any]) -> None:
    account_payload["borrower"]["phones"] = []
    _errors(account_payload)


def test_unknown_time_zone_is_refused(account_payload: dict[str, Any]) -> None:
    account_payload["borrower"]["timezone"] = "China/Beijing"
    assert "not a known IANA time zone" in _errors(account_payload)


def test_unknown_locale_is_refused(account_payload: dict[str, Any]) -> None:
    account_payload["borrower"]["locale"] = "xx-YY"
    assert "not a known locale" in _errors(account_payload)


def test_misspelt_field_is_an_error_not_a_silent_default(account_payload: dict[str, Any]) -> None:
    account_payload["segmnet"] = "subprime"
    assert "segmnet" in _errors(account_payload)


def test_phone_numbers_are_normalised_to_e164() -> None:
    assert normalise_phone("+86 138 0000 0000") == "+8613800000000"
    assert normalise_phone("+1 (415) 555-0123") == "+14155550123"
    assert Phone(kind="home", number="+86-138-0000-0000").number == "+8613800000000"


@pytest.mark.parametrize("number", ["13800000000", "+1650253000", "not a number", "", "+86"])
def test_national_or_invalid_phone_numbers_are_refused_with_a_hint(number: str) -> None:
    with pytest.raises(ValueError, match="E.164 form with the country code"):
        normalise_phone(number)


def test_contact_person_phone_is_validated(account_payload: dict[str, Any]) -> None:
    account_payload["contacts"][0]["phone"] = "12345"
    assert "E.164" in _errors(account_payload)


def test_unknown_phone_kind_is_refused() -> None:
    with pytest.raises(ValidationError):
        Phone.model_validate({"kind": "fax", "number": "+8613800000000"})


def test_payment_needs_an_aware_instant_and_a_positive_amount() -> None:
    payment = PaymentIn.model_validate(
        {"payment_id": "P-1", "amount": "1200.00", "paid_at": "2026-12-11T09:30:00+08:00"}
    )
    assert payment.amount == Decimal("1200.00")
    assert payment.paid_at == datetime(2026, 12, 11, 1, 30, tzinfo=UTC)
    with pytest.raises(ValidationError):
        PaymentIn.model_validate(
            {"payment_id": "P-1", "amount": "1200.00", "paid_at": "2026-12-11T09:30:00"}
        )
    with pytest.raises(ValidationError):
        PaymentIn.model_validate(
            {"payment_id": "P-1", "amount": "0", "paid_at": "2026-12-11T09:30:00+08:00"}
        )
    with pytest.raises(ValidationError):
        PaymentIn.model_validate(
            {"payment_id": "", "amount": "1", "paid_at": "2026-12-11T09:30:00+08:00"}
        )


def test_promise_input_parses_amount_date_and_optional_pay_to() -> None:
    promise = PromiseIn.model_validate({"amount": "600.00", "promised_date": "2026-12-15"})
    assert promise.amount == Decimal("600.00")
    assert promise.promised_date == date(2026, 12, 15)
    assert promise.pay_to is None
    with pytest.raises(ValidationError):
        PromiseIn.model_validate({"amount": "-5", "promised_date": "2026-12-15"})
