"""A long episode re-pins its calendars at each continue-as-new on a stage boundary: the local
year and the next. Years it decided with keep their versions; a year published after the episode
started is taken from the worker's directory; past years are let go."""

from __future__ import annotations

from datetime import date

from domain.policy import (
    EpisodePolicy,
    PolicyRef,
    calendar_region,
    calendars_to_find,
    repin_calendars,
)


def _calendar(name: str, version: int = 1, digest: str = "a") -> PolicyRef:
    return PolicyRef(kind="calendar", name=name, version=version, sha256=digest * 64)


def _policy(*calendars: PolicyRef) -> EpisodePolicy:
    strategy = PolicyRef(kind="strategy", name="default", version=1, sha256="s" * 64)
    profile = PolicyRef(kind="profile", name="cn", version=1, sha256="p" * 64)
    return EpisodePolicy(strategy=strategy, profile=profile, calendars=list(calendars))


def test_an_episode_still_inside_its_pinned_years_asks_for_nothing_and_keeps_its_pin() -> None:
    policy = _policy(_calendar("CN/2026"), _calendar("CN/2027"))
    assert calendars_to_find(policy, "CN", date(2026, 12, 20)) is None
    assert repin_calendars(policy, date(2026, 12, 20)) == policy


def test_crossing_into_a_new_year_drops_the_past_year_and_asks_for_the_year_after() -> None:
    policy = _policy(_calendar("CN/2026"), _calendar("CN/2027"))
    query = calendars_to_find(policy, "cn", date(2027, 2, 1))
    assert query is not None and (query.region, query.years) == ("CN", [2028])

    repinned = repin_calendars(policy, date(2027, 2, 1), [_calendar("CN/2028")])
    assert [ref.name for ref in repinned.calendars] == ["CN/2027", "CN/2028"]


def test_a_year_published_after_the_episode_started_is_pinned_at_the_next_boundary() -> None:
    # Started in December 2026 when no official CN 2027 file existed: only 2026 was pinned.
    policy = _policy(_calendar("CN/2026"))
    query = calendars_to_find(policy, "CN", date(2026, 12, 28))
    assert query is not None and query.years == [2027]

    repinned = repin_calendars(policy, date(2026, 12, 28), [_calendar("CN/2027")])
    assert [ref.name for ref in repinned.calendars] == ["CN/2026", "CN/2027"]


def test_a_year_the_directory_still_lacks_stays_missing_instead_of_being_guessed() -> None:
    policy = _policy(_calendar("CN/2026"))
    repinned = repin_calendars(policy, date(2026, 12, 28), found=[])
    assert [ref.name for ref in repinned.calendars] == ["CN/2026"]


def test_a_running_episode_keeps_the_version_it_decided_with_when_a_new_one_is_found() -> None:
    decided_with = _calendar("CN/2027", version=1, digest="a")
    policy = _policy(_calendar("CN/2026"), decided_with)
    newer = _calendar("CN/2027", version=2, digest="b")
    repinned = repin_calendars(policy, date(2027, 1, 5), [newer, _calendar("CN/2028")])
    assert decided_with in repinned.calendars and newer not in repinned.calendars


def test_the_region_of_a_jurisdiction_is_its_upper_case_country_and_subdivision() -> None:
    assert calendar_region("us-ma") == "US-MA"
    assert calendar_region(" CN ") == "CN"
