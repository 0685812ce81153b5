"""The simulator's portfolio gives about `multi_loan_share` of its accounts to borrowers with two
or three loans, each such borrower one person on every loan (issue 16)."""

from __future__ import annotations

from collections import Counter
from datetime import date

from simulator.scenario import borrower_groups, load_scenario, portfolio


def test_about_a_fifth_of_the_accounts_belong_to_borrowers_with_two_or_three_loans() -> None:
    owner = borrower_groups(0.2, 10_000, seed=1)
    loans = Counter(owner)
    shared = sum(n for n in loans.values() if n > 1)
    assert 0.18 <= shared / 10_000 <= 0.22
    assert set(loans.values()) == {1, 2, 3}
    assert borrower_groups(0.2, 10_000, seed=1) == owner  # the seed decides


def test_without_a_share_every_account_is_its_own_borrower() -> None:
    assert borrower_groups(0.0, 50, seed=3) == list(range(50))


def test_a_borrowers_loans_carry_one_id_and_one_person() -> None:
    scenario = load_scenario(None).model_copy(update={"multi_loan_share": 0.5})
    accounts = portfolio(scenario, 60, seed=5, today=date(2027, 3, 1))
    people: dict[str, list[dict[str, object]]] = {}
    for account in accounts:
        borrower = account.body["borrower"]
        if "id" in borrower:
            people.setdefault(borrower["id"], []).append({**borrower, "model": account.model})
    assert people
    for persons in people.values():
        assert 2 <= len(persons) <= 3
        assert all(p == persons[0] for p in persons), persons
