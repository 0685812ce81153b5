"""One action, one letter: Temporal retries the activity after any failure, and the borrower must
still receive exactly one letter — one PDF, one record, one line in the vendor's batch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from activities.letters import FAULT_POINTS, LetterChannel, LetterIntegrityError
from activities.letters.dispatch import read_batch
from core.settings import Settings
from store.engine import session_scope
from store.letters import LetterRow
from tests.letters.support import (
    letter_request,
    letter_rows,
    pdf_files,
    stray_temp_files,
)
from workflows.contracts import DeliveryResult


class Crash(Exception):
    """The worker dying at a chosen point."""


def crash_once_at(point: str) -> Callable[[str], None]:
    fired: list[str] = []

    def hook(reached: str) -> None:
        if reached == point and not fired:
            fired.append(reached)
            raise Crash(reached)

    return hook


def batch_lines(result: DeliveryResult) -> list[dict[str, str]]:
    return read_batch(Path(result.detail["dispatch_file"]))


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_retry_after_a_crash_completes_the_letter_without_duplicating_anything(
    settings: Settings, point: str
) -> None:
    request = letter_request(kind="demand_letter")
    with pytest.raises(Crash):
        LetterChannel(settings, fault=crash_once_at(point)).send(request)

    # the retry may run on another worker: a fresh channel
    result = LetterChannel(settings).send(request)

    assert result.status == "written"
    assert len(pdf_files(settings)) == 1
    assert stray_temp_files(settings) == []
    rows = letter_rows(settings)
    assert [(r.letter_id, r.status) for r in rows] == [(result.provider_id, "dispatched")]
    assert [line["letter_id"] for line in batch_lines(result)] == [result.provider_id]
    assert batch_lines(result)[0]["sha256"] == rows[0].sha256


def test_a_retry_after_everything_was_done_changes_nothing(settings: Settings) -> None:
    request = letter_request(kind="lawyer_letter")
    first = LetterChannel(settings).send(request)
    pdf = Path(first.detail["path"])
    pdf_bytes, batch_bytes = pdf.read_bytes(), Path(first.detail["dispatch_file"]).read_bytes()

    again = LetterChannel(settings).send(request)

    assert again == first
    assert pdf.read_bytes() == pdf_bytes
    assert Path(first.detail["dispatch_file"]).read_bytes() == batch_bytes
    assert len(letter_rows(settings)) == 1


def test_attempts_running_at_the_same_time_write_one_letter(settings: Settings) -> None:
    request = letter_request(kind="reminder_letter")
    channel = LetterChannel(settings)
    start = threading.Barrier(6)
    results: list[DeliveryResult] = []
    errors: list[BaseException] = []

    def attempt() -> None:
        start.wait()
        try:
            results.append(channel.send(request))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len({r.provider_id for r in results}) == 1 and len(results) == 6
    assert len(pdf_files(settings)) == 1
    assert len(letter_rows(settings)) == 1
    assert len(batch_lines(results[0])) == 1


def test_a_recorded_letter_whose_pdf_was_lost_is_put_back_identically(
    settings: Settings,
) -> None:
    request = letter_request()
    first = LetterChannel(settings).send(request)
    pdf = Path(first.detail["path"])
    original = pdf.read_bytes()
    pdf.unlink()

    LetterChannel(settings).send(request)

    assert pdf.read_bytes() == original
    assert len(batch_lines(first)) == 1


def test_a_lost_pdf_that_cannot_be_reproduced_is_an_error_not_a_different_letter(
    settings: Settings,
) -> None:
    request = letter_request()
    first = LetterChannel(settings).send(request)
    Path(first.detail["path"]).unlink()
    with session_scope(settings.effective_database_url) as session:
        row = session.get(LetterRow, first.provider_id)
        assert row is not None
        row.sha256 = "0" * 64  # as if the templates had changed since the letter was written
        session.add(row)

    with pytest.raises(LetterIntegrityError):
        LetterChannel(settings).send(request)
    assert not Path(first.detail["path"]).exists()
