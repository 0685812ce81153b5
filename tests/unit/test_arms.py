"""Champion/challenger arms are assigned from the experiment's unit alone (the person when the
loan has a borrower id, else the loan), in the proportion asked for."""

import pytest

from domain.arms import CHALLENGER, CHAMPION, arm_for, experiment_unit

LOANS = [f"L-{n:05d}" for n in range(10_000)]


def test_the_same_loan_always_lands_in_the_same_arm() -> None:
    first = [arm_for(loan, 50) for loan in LOANS[:200]]
    assert first == [arm_for(loan, 50) for loan in LOANS[:200]]


@pytest.mark.parametrize("split", [10, 50, 80])
def test_the_challenger_gets_its_share_of_accounts_within_two_points(split: int) -> None:
    share = sum(arm_for(loan, split) == CHALLENGER for loan in LOANS) / len(LOANS)
    assert abs(share - split / 100) < 0.02


def test_split_zero_keeps_everyone_on_the_champion_and_100_moves_everyone() -> None:
    assert {arm_for(loan, 0) for loan in LOANS[:500]} == {CHAMPION}
    assert {arm_for(loan, 100) for loan in LOANS[:500]} == {CHALLENGER}


def test_a_new_experiment_reshuffles_the_arms() -> None:
    first = [arm_for(loan, 50, "trial-1") for loan in LOANS[:1000]]
    second = [arm_for(loan, 50, "trial-2") for loan in LOANS[:1000]]
    assert sum(a != b for a, b in zip(first, second, strict=True)) > 300


def test_a_split_outside_zero_to_a_hundred_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        arm_for("L-1", 101)


def test_all_loans_of_one_borrower_are_in_one_arm_for_they_share_one_contact_budget() -> None:
    people = [f"B-{n:04d}" for n in range(200)]
    for person in people:
        arms = {arm_for(experiment_unit(f"{person}-L{k}", person), 50, "trial") for k in range(3)}
        assert len(arms) == 1
    shares = [arm_for(experiment_unit("L-1", p), 50, "trial") for p in people]
    assert 0.35 < shares.count(CHALLENGER) / len(people) < 0.65  # people, not loans, are split


def test_a_loan_without_a_borrower_id_is_its_own_unit() -> None:
    assert experiment_unit("L-7", None) == "L-7"
    assert [arm_for(experiment_unit(loan, None), 50) for loan in LOANS[:200]] == [
        arm_for(loan, 50) for loan in LOANS[:200]
    ]
