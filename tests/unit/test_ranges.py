import pytest

from domain.ranges import (
    DEFAULT_BUCKETS,
    DEFAULT_STAGES,
    DpdRange,
    bucket_table,
    stage_table,
)


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [
        (0, "current"),
        (1, "M1"),
        (29, "M1"),
        (30, "M2"),
        (59, "M2"),
        (60, "M3"),
        (89, "M3"),
        (90, "M4+"),
        (149, "M4+"),
        (150, "M4+"),
        (10_000, "M4+"),
    ],
)
def test_default_bucket_at_each_boundary(dpd: int, bucket: str) -> None:
    assert DEFAULT_BUCKETS.lookup(dpd) == bucket


@pytest.mark.parametrize(
    ("dpd", "stage"),
    [
        (0, "pre_due"),
        (1, "front_end"),
        (29, "front_end"),
        (30, "mid_range"),
        (89, "mid_range"),
        (90, "hard_core"),
        (149, "hard_core"),
        (150, "legal"),
        (10_000, "legal"),
    ],
)
def test_default_stage_at_each_boundary(dpd: int, stage: str) -> None:
    assert DEFAULT_STAGES.lookup(dpd) == stage


@pytest.mark.parametrize(
    ("dpd", "boundary"),
    [(0, 1), (1, 30), (29, 30), (30, 90), (89, 90), (90, 150), (149, 150), (150, None)],
)
def test_next_stage_boundary_is_the_dpd_where_the_stage_changes(
    dpd: int, boundary: int | None
) -> None:
    assert DEFAULT_STAGES.next_boundary_after(dpd) == boundary


@pytest.mark.parametrize(
    ("dpd", "boundary"),
    [(0, 1), (1, 30), (29, 30), (30, 60), (59, 60), (60, 90), (89, 90), (90, None)],
)
def test_next_bucket_boundary_is_the_dpd_where_the_bucket_changes(
    dpd: int, boundary: int | None
) -> None:
    assert DEFAULT_BUCKETS.next_boundary_after(dpd) == boundary


def _r(name: str, lo: int, hi: int | None = None) -> DpdRange:
    return DpdRange(name=name, min=lo, max=hi)


def test_overlapping_buckets_are_rejected_naming_both_ranges() -> None:
    with pytest.raises(ValueError, match="bucket ranges M1 \\(1–29\\) and M2 \\(29–59\\) overlap"):
        bucket_table([_r("current", 0, 0), _r("M1", 1, 29), _r("M2", 29, 59), _r("M3", 60)])


def test_gap_between_buckets_is_rejected_naming_both_ranges_and_the_missing_dpd() -> None:
    with pytest.raises(
        ValueError, match="gap between bucket ranges M2 \\(30–59\\) and M3 \\(61–89\\): DPD 60"
    ):
        bucket_table(
            [_r("current", 0, 0), _r("M1", 1, 29), _r("M2", 30, 59), _r("M3", 61, 89), _r("M4", 90)]
        )


def test_open_ended_range_that_is_not_last_is_rejected() -> None:
    with pytest.raises(ValueError, match="M1 \\(1\\+\\) is open-ended but is not the last"):
        bucket_table([_r("current", 0, 0), _r("M1", 1), _r("M2", 30)])


def test_closed_last_range_is_rejected_because_higher_dpds_would_have_no_name() -> None:
    with pytest.raises(ValueError, match="last stage range legal \\(150–200\\) must be open-ended"):
        stage_table([_r("front_end", 1, 149), _r("legal", 150, 200)])


def test_unsorted_ranges_are_rejected() -> None:
    with pytest.raises(ValueError, match="sorted by DPD: M1 \\(1–29\\) comes after M2"):
        bucket_table([_r("current", 0, 0), _r("M2", 30, 59), _r("M1", 1, 29), _r("M3", 60)])


def test_buckets_must_start_at_dpd_zero() -> None:
    with pytest.raises(ValueError, match="bucket ranges must start at DPD 0"):
        bucket_table([_r("M1", 1, 29), _r("M2", 30)])


def test_stages_must_start_at_dpd_one() -> None:
    with pytest.raises(ValueError, match="stage ranges must start at DPD 1"):
        stage_table([_r("front_end", 0, 29), _r("mid_range", 30)])


def test_range_ending_before_it_starts_is_rejected() -> None:
    with pytest.raises(ValueError, match="ends at DPD 10, before it starts at DPD 20"):
        _r("odd", 20, 10)


def test_duplicate_range_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="repeated: M1"):
        bucket_table([_r("current", 0, 0), _r("M1", 1, 29), _r("M1", 30)])


def test_empty_table_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one stage range"):
        stage_table([])


def test_single_dpd_gap_and_wider_gap_are_both_reported() -> None:
    with pytest.raises(ValueError, match="DPD 30–44 has no stage"):
        stage_table([_r("front_end", 1, 29), _r("later", 45)])


def test_table_round_trips_through_json() -> None:
    again = type(DEFAULT_STAGES).model_validate_json(DEFAULT_STAGES.model_dump_json())
    assert again == DEFAULT_STAGES
