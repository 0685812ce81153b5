"""The mail vendor's daily batch: a letter goes into the file of its business day in the
borrower's zone, one line per letter, and the letter is dated that same day."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from activities.letters import LetterChannel
from activities.letters.dispatch import COLUMNS, ensure_line, read_batch
from core.settings import Settings
from tests.letters.support import (
    SHANGHAI_EARLY_MORNING,
    SPRINGFIELD_ADDRESS,
    contains,
    letter_request,
    letter_rows,
    pdf_text,
)
from workflows.contracts import DeliveryResult


def dispatch_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "letters" / "dispatch"


def test_letters_of_one_business_day_share_a_batch_and_the_next_day_starts_a_new_one(
    settings: Settings,
) -> None:
    channel = LetterChannel(settings)
    morning = channel.send(letter_request(seq=3, loan_id="L-1", at=SHANGHAI_EARLY_MORNING))
    evening = channel.send(
        letter_request(
            seq=4, loan_id="L-2", at=SHANGHAI_EARLY_MORNING + timedelta(hours=20), name="李娜"
        )
    )
    next_day = channel.send(
        letter_request(seq=5, loan_id="L-3", at=SHANGHAI_EARLY_MORNING + timedelta(hours=23))
    )

    assert sorted(p.name for p in dispatch_dir(settings).iterdir()) == [
        "2026-12-08.csv",
        "2026-12-09.csv",
    ]
    assert morning.detail["dispatch_file"] == evening.detail["dispatch_file"]
    first_day = read_batch(Path(morning.detail["dispatch_file"]))
    assert [line["letter_id"] for line in first_day] == [morning.provider_id, evening.provider_id]
    assert [line["addressee"] for line in first_day] == ["张伟", "李娜"]
    second_day = read_batch(Path(next_day.detail["dispatch_file"]))
    assert [line["letter_id"] for line in second_day] == [next_day.provider_id]


def test_a_batch_line_tells_the_vendor_what_to_print_and_where_to_send_it(
    settings: Settings,
) -> None:
    result = LetterChannel(settings).send(letter_request(kind="demand_letter"))

    (line,) = read_batch(Path(result.detail["dispatch_file"]))
    (row,) = letter_rows(settings)
    assert tuple(line) == COLUMNS
    assert line == {
        "letter_id": result.provider_id,
        "loan_id": "L-1001",
        "kind": "demand_letter",
        "locale": "zh-CN",
        "dispatch_date": "2026-12-08",
        "addressee": "张伟",
        "address": "上海市浦东新区世纪大道100号 / 20楼2001室",
        "pdf_path": row.path,
        "sha256": row.sha256,
        "pages": str(row.pages),
    }
    assert (Path(settings.data_dir) / line["pdf_path"]).resolve() == Path(result.detail["path"])
    assert row.batch_file == "letters/dispatch/2026-12-08.csv"


@pytest.mark.parametrize(
    ("at", "timezone", "locale", "dated", "not_dated", "batch"),
    [
        # 01:30 on the 8th in Shanghai, still the 7th in UTC
        (
            datetime(2026, 12, 7, 17, 30, tzinfo=UTC),
            "Asia/Shanghai",
            "zh-CN",
            "2026年12月8日",
            "2026年12月7日",
            date(2026, 12, 8),
        ),
        # 22:00 on the 7th in New York, already the 8th in UTC
        (
            datetime(2026, 12, 8, 3, 0, tzinfo=UTC),
            "America/New_York",
            "en-US",
            "December 7, 2026",
            "December 8, 2026",
            date(2026, 12, 7),
        ),
    ],
)
def test_a_letter_is_dated_and_batched_on_the_business_day_in_the_borrowers_zone(
    settings: Settings,
    at: datetime,
    timezone: str,
    locale: str,
    dated: str,
    not_dated: str,
    batch: date,
) -> None:
    request = letter_request(
        at=at, timezone=timezone, locale=locale, address=SPRINGFIELD_ADDRESS, name="Ann Lee"
    )
    result = LetterChannel(settings).send(request)

    text = pdf_text(result.detail["path"])
    assert contains(text, dated)
    assert not contains(text, not_dated)
    assert Path(result.detail["dispatch_file"]).name == f"{batch.isoformat()}.csv"
    (row,) = letter_rows(settings)
    assert row.dispatch_date == batch
    assert row.created_at is not None and row.created_at.astimezone(UTC) == at


def test_letters_written_at_the_same_time_never_interleave_in_the_batch(
    settings: Settings,
) -> None:
    channel = LetterChannel(settings)
    start = threading.Barrier(8)
    results: list[DeliveryResult] = []

    def write(seq: int) -> None:
        start.wait()
        results.append(channel.send(letter_request(seq=seq, loan_id=f"L-{seq}")))

    threads = [threading.Thread(target=write, args=(seq,)) for seq in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = read_batch(dispatch_dir(settings) / "2026-12-08.csv")
    written = sorted(r.provider_id or "" for r in results)
    assert sorted(line["letter_id"] for line in lines) == written
    assert all(len(line) == len(COLUMNS) and None not in line for line in lines)
    assert len(results) == 8


def test_a_torn_last_line_from_a_crashed_writer_is_cut_before_the_next_line(
    tmp_path: Path,
) -> None:
    batch = tmp_path / "2026-12-08.csv"
    batch.write_text(",".join(COLUMNS) + "\nL-9-0a1b2c3d-1,L-9,remin", encoding="utf-8")
    line = {column: f"{column}-value" for column in COLUMNS} | {"letter_id": "L-1-0a1b2c3d-2"}

    assert ensure_line(batch, line) is True
    assert ensure_line(batch, line) is False

    assert read_batch(batch) == [line]


def test_a_dispatch_line_refuses_a_line_break(tmp_path: Path) -> None:
    line = {column: "x" for column in COLUMNS} | {"address": "Main St\nSpringfield"}

    with pytest.raises(ValueError, match="line break"):
        ensure_line(tmp_path / "2026-12-08.csv", line)
