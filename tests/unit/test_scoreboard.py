"""The scoreboard (PLAYBOOK.md section 4 and glossary): statuses, roll rates, cure rates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain import (
    SCOREBOARD_STATUSES,
    TransitionFact,
    cure_rates,
    facts_by_arm,
    month_ends,
    roll_rate_matrix,
    scoreboard_status,
    status_at,
)


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def fact(
    loan: str, day: str, state: str, bucket: str = "current", arm: str | None = None
) -> TransitionFact:
    return TransitionFact(loan_id=loan, at=at(day), to_state=state, to_bucket=bucket, arm=arm)


@pytest.mark.parametrize(
    ("state", "bucket", "status"),
    [
        ("pre_due", "current", "current"),
        ("paid_on_time", "current", "current"),
        ("cured", "current", "current"),
        ("restructured", "current", "current"),
        ("delinquent", "M1", "M1"),
        ("delinquent", "M2", "M2"),
        ("delinquent", "M3", "M3"),
        ("delinquent", "M4+", "M4+"),
        ("written_off", "M4+", "written_off"),
        ("closed", "current", "closed"),
    ],
)
def test_state_and_bucket_map_to_one_status(state: str, bucket: str, status: str) -> None:
    assert scoreboard_status(fact("L", "2026-12-01", state, bucket)) == status


def test_a_delinquent_bucket_the_scoreboard_does_not_know_is_placed_by_its_dpd() -> None:
    odd = TransitionFact("L", at("2026-12-01"), "delinquent", "late-early", dpd=45)
    assert scoreboard_status(odd) == "M2"
    with pytest.raises(ValueError, match="late-early"):
        scoreboard_status(TransitionFact("L", at("2026-12-01"), "delinquent", "late-early"))


def test_an_unknown_account_state_is_an_error_not_a_silent_status() -> None:
    with pytest.raises(ValueError, match="frozen"):
        scoreboard_status(fact("L", "2026-12-01", "frozen"))


def test_status_at_is_the_latest_fact_at_or_before_the_instant_and_absent_before_any() -> None:
    facts = [
        fact("A", "2026-12-02", "delinquent", "M1"),
        fact("A", "2027-01-01", "delinquent", "M2"),
        fact("B", "2027-01-10", "delinquent", "M1"),
    ]
    assert status_at(facts, at("2026-12-01")) == {}
    assert status_at(facts, at("2026-12-02")) == {"A": "M1"}
    assert status_at(facts, at("2027-01-05")) == {"A": "M2"}
    assert status_at(reversed(facts), at("2027-01-31")) == {"A": "M2", "B": "M1"}


def test_facts_at_the_same_instant_count_in_the_order_given() -> None:
    facts = [fact("A", "2026-12-02", "delinquent", "M1"), fact("A", "2026-12-02", "cured")]
    assert status_at(facts, at("2026-12-02")) == {"A": "current"}


def test_month_ends_are_the_last_instant_of_each_local_month_ending_in_the_range() -> None:
    ends = month_ends(date(2026, 11, 15), date(2027, 2, 28), "Asia/Shanghai")
    assert [e.astimezone(UTC) for e in ends] == [
        datetime(2026, 11, 30, 15, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 12, 31, 15, 59, 59, 999999, tzinfo=UTC),
        datetime(2027, 1, 31, 15, 59, 59, 999999, tzinfo=UTC),
        datetime(2027, 2, 28, 15, 59, 59, 999999, tzinfo=UTC),
    ]
    assert month_ends(date(2026, 12, 1), date(2026, 12, 30)) == []


def test_a_transition_at_local_midnight_on_the_first_belongs_to_the_new_month() -> None:
    (november,) = month_ends(date(2026, 11, 1), date(2026, 11, 30), "UTC")
    midnight = datetime(2026, 12, 1, tzinfo=UTC)
    facts = [
        TransitionFact("A", midnight - timedelta(days=3), "delinquent", "M1"),
        TransitionFact("A", midnight, "delinquent", "M2"),
    ]
    assert status_at(facts, november) == {"A": "M1"}


PORTFOLIO = [
    # A: M1 at Nov end, M2 at Dec end, M3 at Jan end (Path 1).
    fact("A", "2026-11-20", "delinquent", "M1"),
    fact("A", "2026-12-20", "delinquent", "M2"),
    fact("A", "2027-01-19", "delinquent", "M3"),
    # B: M1 at Nov end, cured in December (Path 4), current in January.
    fact("B", "2026-11-25", "delinquent", "M1"),
    fact("B", "2026-12-05", "cured"),
    # C: current all along (paid on time).
    fact("C", "2026-11-02", "paid_on_time"),
    # D: M1 at Nov end, still M1 at Dec end (Path 3), written off by Jan end.
    fact("D", "2026-11-28", "delinquent", "M1"),
    fact("D", "2027-01-15", "written_off", "M1"),
    # E: appears only in December: not counted in the Nov -> Dec roll.
    fact("E", "2026-12-10", "delinquent", "M1"),
]
ENDS = month_ends(date(2026, 11, 1), date(2027, 1, 31))


def test_roll_rate_rows_sum_to_the_accounts_in_that_status_at_the_earlier_month_ends() -> None:
    rolls = roll_rate_matrix(PORTFOLIO, ENDS)
    assert rolls.statuses == SCOREBOARD_STATUSES
    # Nov end: A, B, D in M1, C current. Dec end: A M2, B current, C current, D M1, E M1.
    assert rolls.totals == {
        "current": 1 + 2,
        "M1": 3 + 2,
        "M2": 1,
        "M3": 0,
        "M4+": 0,
        "written_off": 0,
        "closed": 0,
    }
    for row in SCOREBOARD_STATUSES:
        assert sum(rolls.counts[row].values()) == rolls.totals[row]


def test_roll_rates_count_each_account_from_one_month_end_to_the_next_summed_over_pairs() -> None:
    rolls = roll_rate_matrix(PORTFOLIO, ENDS)
    assert rolls.counts["M1"] == {
        "current": 1,  # B in December
        "M1": 2,  # D in December, E in January
        "M2": 1,  # A in December
        "M3": 0,
        "M4+": 0,
        "written_off": 1,  # D in January
        "closed": 0,
    }
    assert rolls.counts["M2"]["M3"] == 1
    assert rolls.counts["current"]["current"] == 3
    assert rolls.rate("M1", "M2") == pytest.approx(1 / 5)
    assert rolls.rate("M3", "M4+") == 0.0  # an empty row has rates of zero, not a division error


def test_roll_rate_matrix_with_fewer_than_two_month_ends_counts_nothing() -> None:
    rolls = roll_rate_matrix(PORTFOLIO, ENDS[:1])
    assert sum(rolls.totals.values()) == 0


def test_cure_rate_is_the_share_of_accounts_turned_delinquent_in_the_period_now_current() -> None:
    start, end = at("2026-11-01", 0), at("2027-02-01", 0)
    cures = cure_rates(PORTFOLIO, start, end)
    assert cures.became_delinquent == 4  # A, B, D, E (C never delinquent)
    assert cures.outcomes == {
        "cured": 1,
        "restructured": 0,
        "written_off": 1,
        "closed": 0,
        "delinquent": 2,
    }
    assert cures.cured_total == 1
    assert cures.rate == pytest.approx(1 / 4)


def test_cure_rate_counts_only_spells_that_began_in_the_period_and_facts_before_its_end() -> None:
    cures = cure_rates(PORTFOLIO, at("2026-11-26", 0), at("2026-12-05", 0))
    # Only D began in the window; B's cure on Dec 5 09:00 is after the end; B began before it.
    assert cures.became_delinquent == 1
    assert cures.outcomes["delinquent"] == 1
    later = cure_rates(PORTFOLIO, at("2026-11-21", 0), at("2026-12-06", 0))
    assert (later.became_delinquent, later.cured_total) == (2, 1)  # B and D; B cured


def test_restructuring_onto_a_plan_counts_as_a_cure_and_a_later_relapse_is_a_new_spell() -> None:
    facts = [
        fact("R", "2026-12-02", "delinquent", "M1"),
        fact("R", "2027-01-01", "delinquent", "M2"),
        fact("R", "2027-01-10", "restructured"),
        fact("R", "2027-02-20", "delinquent", "M1"),
    ]
    cures = cure_rates(facts, at("2026-12-01", 0), at("2027-03-01", 0))
    assert cures.became_delinquent == 2
    assert cures.outcomes["restructured"] == 1
    assert cures.outcomes["delinquent"] == 1
    assert cures.rate == pytest.approx(1 / 2)


def test_cure_rate_by_bucket_is_of_the_spells_that_entered_the_bucket_in_the_period() -> None:
    facts = [
        # Entered M1 and M2 in December, cured in January: a cure for both M1 and M2.
        fact("A", "2026-12-02", "delinquent", "M1"),
        fact("A", "2026-12-31", "delinquent", "M2"),
        fact("A", "2027-01-05", "cured"),
        # Entered M1 in December, never cured.
        fact("B", "2026-12-03", "delinquent", "M1"),
        # Began before the period in M1, entered M2 in it, cured: counts for M2, not overall.
        fact("C", "2026-11-10", "delinquent", "M1"),
        fact("C", "2026-12-10", "delinquent", "M2"),
        fact("C", "2026-12-20", "cured"),
        # Back and forth inside one spell counts as one entry per bucket.
        fact("D", "2026-12-04", "delinquent", "M1"),
        fact("D", "2027-01-03", "delinquent", "M2"),
        fact("D", "2027-01-04", "delinquent", "M1"),
        fact("D", "2027-01-06", "delinquent", "M2"),
    ]
    cures = cure_rates(facts, at("2026-12-01", 0), at("2027-02-01", 0))
    assert cures.became_delinquent == 3  # A, B, D
    assert (cures.by_bucket["M1"].entered, cures.by_bucket["M1"].cured) == (3, 1)
    assert (cures.by_bucket["M2"].entered, cures.by_bucket["M2"].cured) == (3, 2)
    assert cures.by_bucket["M2"].rate == pytest.approx(2 / 3)
    assert cures.by_bucket["M3"].entered == 0 and cures.by_bucket["M3"].rate == 0.0


def test_cure_curve_gives_the_share_cured_within_n_days_and_ends_at_the_cure_rate() -> None:
    facts = [
        fact("A", "2026-12-01", "delinquent", "M1"),
        fact("A", "2026-12-01", "cured"),  # day 0
        fact("B", "2026-12-01", "delinquent", "M1"),
        fact("B", "2026-12-04", "cured"),  # day 3
        fact("C", "2026-12-01", "delinquent", "M1"),
        fact("D", "2026-12-01", "delinquent", "M1"),
    ]
    cures = cure_rates(facts, at("2026-12-01", 0), at("2027-01-01", 0))
    assert cures.cure_curve == [0.25, 0.25, 0.25, 0.5]
    assert cures.cure_curve[-1] == cures.rate


def test_cure_rates_of_a_period_with_no_delinquency_are_zero_with_an_empty_curve() -> None:
    cures = cure_rates(
        [fact("C", "2026-12-01", "paid_on_time")], at("2026-12-01", 0), at("2027-01-01", 0)
    )
    assert (cures.became_delinquent, cures.rate, cures.cure_curve) == (0, 0.0, [])


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        cure_rates([], at("2027-01-01"), at("2026-12-01"))


def test_facts_split_by_arm_and_accounts_in_no_experiment_stay_in_the_overall_figures() -> None:
    facts = [
        fact("A", "2026-12-02", "delinquent", "M1", arm="champion"),
        fact("A", "2026-12-09", "cured", arm="champion"),
        fact("B", "2026-12-02", "delinquent", "M1", arm="challenger"),
        fact("C", "2026-12-02", "delinquent", "M1"),
    ]
    arms = facts_by_arm(facts)
    assert list(arms) == ["challenger", "champion"]
    assert {f.loan_id for f in arms["champion"]} == {"A"}
    start, end = at("2026-12-01", 0), at("2027-01-01", 0)
    assert cure_rates(arms["champion"], start, end).rate == 1.0
    assert cure_rates(arms["challenger"], start, end).rate == 0.0
    assert cure_rates(facts, start, end).became_delinquent == 3
