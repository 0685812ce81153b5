"""LetterChannel: write a letter as a PDF, record it, and put it into the mail vendor's daily
batch, exactly once per action.

The idempotency key is the action, (episode, seq) — the workflow's run and its action sequence.
A letter goes through three durable steps, each of which a retry can find done:

1. the PDF, written to a temp file and renamed into `letters/{loan_id}/{episode}-{seq}-{kind}.pdf`
   (a reader never sees half a file);
2. the `letters` row (store/letters.py), whose unique (episode, seq) decides races between two
   attempts running at once;
3. the line in `letters/dispatch/{date}.csv`, appended only if no line has the letter id
   (dispatch.py).

A retry after a failure between any two steps redoes nothing that is done: with no row it renders
again (rendering is deterministic, so the same bytes land at the same path), with a row it keeps
the recorded PDF, and the batch line is checked under a lock before it is written. So one action
gives one PDF, one row and one batch line, however often the activity runs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from activities.letters.content import (
    LETTER_KINDS,
    LetterContentError,
    LetterFacts,
    compose,
)
from activities.letters.dispatch import batch_path, ensure_line
from activities.letters.layout import render_pdf
from core.settings import Settings
from domain.calendar import local_date
from store.letters import LetterRow, find_letter, mark_dispatched, record_letter
from workflows.contracts import DeliveryRequest, DeliveryResult

__all__ = ["FAULT_POINTS", "FaultHook", "LetterChannel", "LetterIntegrityError", "letter_id_for"]

log = logging.getLogger(__name__)

FaultHook = Callable[[str], None]
"""Called after each durable step with its name; tests raise from it to simulate a crash."""
FAULT_POINTS: tuple[str, ...] = ("pdf_written", "row_written", "batch_appended")

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class LetterIntegrityError(RuntimeError):
    """A recorded letter's PDF is gone and cannot be reproduced byte for byte (the templates or
    the font changed since it was written). Someone has to look; retrying will not help."""


def letter_id_for(loan_id: str, episode: str, seq: int) -> str:
    """Stable across retries and replays, like task ids; what the vendor and the store know."""
    return f"{loan_id}-{episode[:8]}-{seq}"


def _path_part(value: str, what: str) -> str:
    if not _SAFE.match(value) or ".." in value:
        raise ValueError(f"The {what} {value!r} cannot be used in a file name.")
    return value


def _address_lines(address: str | None) -> tuple[str, ...]:
    if not address:
        return ()
    return tuple(" ".join(line.split()) for line in address.splitlines() if line.strip())


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LetterChannel:
    """The letter channel behind the `deliver` activity. Synchronous: it runs in the activity
    thread pool, and PDF rendering and file locks are blocking work anyway."""

    def __init__(self, settings: Settings, *, fault: FaultHook | None = None) -> None:
        self._url = settings.effective_database_url
        self._data_dir = Path(settings.data_dir)
        self._fault = fault or (lambda _point: None)

    @property
    def letters_dir(self) -> Path:
        return self._data_dir / "letters"

    def send(self, request: DeliveryRequest) -> DeliveryResult:
        """Write, record and dispatch the letter the action asks for; safe to call again."""
        action = request.action
        kind = action.template or action.kind

        def failed(error: str) -> DeliveryResult:
            return DeliveryResult(
                seq=action.seq,
                kind=action.kind,
                channel=action.channel,
                status="failed",
                detail={"error": error, "letter_kind": kind},
            )

        if kind not in LETTER_KINDS:
            return failed(f"no letter template {kind!r}")
        address_lines = _address_lines(request.target.address)
        if not address_lines:
            return failed("no postal address")

        letter_id = letter_id_for(request.loan_id, request.episode, action.seq)
        relative = (
            Path("letters")
            / _path_part(request.loan_id, "loan id")
            / f"{_path_part(request.episode, 'episode')}-{action.seq}-{kind}.pdf"
        )

        row = find_letter(self._url, request.episode, action.seq)
        if row is None:
            try:
                row = self._write(request, kind, letter_id, relative, address_lines)
            except LetterContentError as exc:
                return failed(str(exc))
        else:
            self._check_file(request, row, kind, letter_id, address_lines)

        batch = self._data_dir / row.batch_file
        ensure_line(
            batch,
            {
                "letter_id": row.letter_id,
                "loan_id": row.loan_id,
                "kind": row.kind,
                "locale": row.locale,
                "dispatch_date": row.dispatch_date.isoformat(),
                "addressee": " ".join(request.target.name.split()),
                "address": " / ".join(address_lines),
                "pdf_path": row.path,
                "sha256": row.sha256,
                "pages": str(row.pages),
            },
        )
        self._fault("batch_appended")
        if row.status != "dispatched":
            mark_dispatched(self._url, row.letter_id)
        log.info("letter %s (%s) in batch %s", row.letter_id, row.kind, row.batch_file)
        return DeliveryResult(
            seq=action.seq,
            kind=action.kind,
            channel=action.channel,
            status="written",
            provider_id=row.letter_id,
            detail={
                "path": str((self._data_dir / row.path).resolve()),
                "dispatch_file": str(batch.resolve()),
                "pages": row.pages,
                "sha256": row.sha256,
                "letter_kind": row.kind,
                "locale": row.locale,
                "dispatch_date": row.dispatch_date.isoformat(),
            },
        )

    def _facts(
        self, request: DeliveryRequest, kind: str, letter_id: str, address_lines: tuple[str, ...]
    ) -> LetterFacts:
        return LetterFacts(
            kind=kind,
            letter_id=letter_id,
            loan_id=request.loan_id,
            name=request.target.name,
            address_lines=address_lines,
            locale=request.target.locale,
            timezone=request.target.timezone,
            at=request.action.at,
            currency=request.currency,
            amount_overdue=request.amount_overdue,
            balance=request.balance,
            dpd=request.dpd,
            due_date=request.due_date,
            # what the store shows of the action: its detail as its kind writes it
            detail=request.action.detail.stored(),
        )

    def _render(
        self, request: DeliveryRequest, kind: str, letter_id: str, address_lines: tuple[str, ...]
    ) -> tuple[bytes, int, str]:
        content = compose(self._facts(request, kind, letter_id, address_lines))
        pdf = render_pdf(content, subject=letter_id)
        return pdf.data, pdf.pages, content.locale

    def _write(
        self,
        request: DeliveryRequest,
        kind: str,
        letter_id: str,
        relative: Path,
        address_lines: tuple[str, ...],
    ) -> LetterRow:
        data, pages, locale = self._render(request, kind, letter_id, address_lines)
        _write_atomically(self._data_dir / relative, data)
        self._fault("pdf_written")
        day = local_date(request.action.at, request.target.timezone)
        row = record_letter(
            self._url,
            LetterRow(
                letter_id=letter_id,
                loan_id=request.loan_id,
                workflow_id=request.workflow_id,
                episode=request.episode,
                seq=request.action.seq,
                kind=kind,
                locale=locale,
                path=relative.as_posix(),
                sha256=_sha256(data),
                pages=pages,
                addressee=" ".join(request.target.name.split())[:200],
                dispatch_date=day,
                batch_file=batch_path(Path("letters"), day).as_posix(),
                status="rendered",
                created_at=request.action.at,
            ),
        )
        self._fault("row_written")
        return row

    def _check_file(
        self,
        request: DeliveryRequest,
        row: LetterRow,
        kind: str,
        letter_id: str,
        address_lines: tuple[str, ...],
    ) -> None:
        """A recorded letter's PDF must still be on disk; put it back if it can be reproduced."""
        path = self._data_dir / row.path
        if path.exists():
            return
        data, _pages, _locale = self._render(request, kind, letter_id, address_lines)
        if _sha256(data) != row.sha256:
            raise LetterIntegrityError(
                f"The PDF of letter {row.letter_id} ({row.path}) is missing and re-rendering it "
                "gives a different document; restore the file from backup."
            )
        _write_atomically(path, data)
