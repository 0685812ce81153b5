"""The borrower behaviour models: pure, seeded, and reacting to what the workflow did."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from simulator.behaviour import MODELS, Borrower, rng_for
from simulator.scenario import load_scenario, portfolio

TODAY = date(2030, 3, 10)
DUE = Decimal("1000.00")


def borrower(model: str, loan: str = "L-1", seed: int = 7) -> Borrower:
    return Borrower(loan_id=loan, model=model, rng=rng_for(seed, loan))


def paid_within(b: Borrower, days: int) -> Decimal:
    total = Decimal("0")
    for n in range(days + 1):
        total += sum(b.payments_due(TODAY + timedelta(days=n), DUE), Decimal("0"))
    return total


def test_the_same_seed_and_loan_give_the_same_draws_and_another_loan_does_not() -> None:
    assert rng_for(1, "L-1").random() == rng_for(1, "L-1").random()
    assert rng_for(1, "L-1").random() != rng_for(1, "L-2").random()
    assert rng_for(1, "L-1").random() != rng_for(2, "L-1").random()


def test_a_forgetful_borrower_pays_in_full_soon_after_a_call_it_answers() -> None:
    payers = 0
    for n in range(200):
        b = borrower("forgetful", f"L-{n}")
        answer = b.answer_call(TODAY)
        if answer.outcome == "promise_to_pay":
            assert answer.promise_days is not None and 1 <= answer.promise_days <= 3
            payers += paid_within(b, 3) == DUE
    assert payers > 100  # answered ~65% of calls, keeps ~95% of promises


def test_a_reminder_raises_the_chance_of_paying_soon() -> None:
    reminded = quiet = 0
    for n in range(300):
        a = borrower("forgetful", f"L-{n}")
        a.contacted("sms", TODAY)
        reminded += paid_within(a, 2) > 0
        b = borrower("forgetful", f"L-{n}")
        for day in range(3):
            b.new_day(TODAY + timedelta(days=day), delinquent=True)
        quiet += paid_within(b, 2) > 0
    assert reminded > 3 * quiet


def test_short_of_cash_pays_part_first_and_the_rest_on_a_later_payday() -> None:
    for n in range(100):
        b = borrower("short_of_cash", f"L-{n}")
        b.contacted("sms", TODAY)
        b.contacted("letter", TODAY)
        b.answer_call(TODAY)
        amounts: list[Decimal] = []
        for day in range(40):
            amounts += b.payments_due(TODAY + timedelta(days=day), DUE)
        if amounts:
            assert amounts[0] == Decimal("500.00")
            assert len(amounts) == 1 or amounts[1] == DUE
            return
    raise AssertionError("no short-of-cash borrower ever paid")


def test_hardship_borrowers_report_their_term_on_the_first_call_they_answer() -> None:
    for model, term in (("short_term_hardship", "short"), ("long_term_hardship", "long")):
        b = borrower(model)
        answers = [b.answer_call(TODAY) for _ in range(20)]
        hardships = [a for a in answers if a.outcome == "hardship"]
        assert len(hardships) == 1 and hardships[0].hardship_term == term
    assert borrower("long_term_hardship").restructure_offered() in (True, False)


def test_a_promise_breaker_mostly_promises_without_paying() -> None:
    promises = kept = 0
    for n in range(200):
        b = borrower("promise_breaker", f"L-{n}")
        if b.answer_call(TODAY).outcome == "promise_to_pay":
            promises += 1
            kept += paid_within(b, 7) > 0
    assert promises > 80 and kept < promises / 2


def test_an_unwilling_borrower_complains_then_grieves_against_the_collector() -> None:
    b = borrower("unwilling")
    reasons = [
        a.reason for a in (b.answer_call(TODAY) for _ in range(30)) if a.outcome == "refused"
    ]
    assert reasons[:2] == ["complaint", "collector_grievance"]


def test_skip_fraud_and_deceased_borrowers_never_pay_and_never_talk_about_the_debt() -> None:
    for model in ("skip", "fraud", "deceased"):
        for n in range(50):
            b = borrower(model, f"L-{n}")
            outcomes = {b.answer_call(TODAY).outcome for _ in range(10)}
            for kind in ("sms", "letter", "lawyer_letter"):
                b.contacted(kind, TODAY)
            assert paid_within(b, 30) == 0
            assert outcomes <= {
                "number_dead",
                "no_answer",
                "wrong_number",
                "deceased_reported",
                "busy",
            }
    b = borrower("skip")
    assert b.answer_call(TODAY).outcome == "number_dead"
    assert b.visit(TODAY) == "address_invalid"
    assert MODELS["skip"].ever_paid is False


def test_a_deceased_borrower_is_reported_dead_once() -> None:
    b = borrower("deceased")
    outcomes = [b.answer_call(TODAY).outcome for _ in range(30)]
    assert outcomes.count("deceased_reported") == 1


def test_the_portfolio_is_the_same_for_the_same_seed_and_follows_the_mix() -> None:
    scenario = load_scenario()
    one = portfolio(scenario, 400, 3, TODAY)
    assert one == portfolio(scenario, 400, 3, TODAY)
    assert one != portfolio(scenario, 400, 4, TODAY)
    share = sum(a.model == "forgetful" for a in one) / len(one)
    expected = scenario.mix["forgetful"] / sum(scenario.mix.values())
    assert abs(share - expected) < 0.08
    skips = [a for a in one if a.model == "skip"]
    assert skips and all(a.body["history"]["ever_paid"] is False for a in skips)


def test_a_borrower_says_why_they_missed_the_payment_on_the_first_call_they_answer_only() -> None:
    """PLAYBOOK.md section 2 (find out why): the simulated people give a reason code, so the
    scoreboard counts reasons; telling it draws nothing, so a seed's run is otherwise as it was."""
    today = date(2030, 3, 5)
    for model, reason in (("forgetful", "forgot"), ("long_term_hardship", "lost_income")):
        b, twin = borrower(model), borrower(model)
        answers = [b.answer_call(today + timedelta(days=d)) for d in range(4)]
        plain = [twin._answer_call(today + timedelta(days=d), "collect") for d in range(4)]
        told = [a.missed_payment_reason for a in answers if a.missed_payment_reason]
        assert told == [reason], model
        assert [a.outcome for a in answers] == [a.outcome for a in plain], model
    assert all(borrower("skip").answer_call(today).missed_payment_reason is None for _ in range(3))
