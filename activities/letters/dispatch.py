"""The mail vendor's daily dispatch batch: `letters/dispatch/{YYYY-MM-DD}.csv`, one line per letter.

The vendor collects a day's file and prints and posts every letter in it, so a line written twice
is a letter posted twice. `ensure_line` appends a letter's line only if no line carries its
letter id yet, and does the check and the append under two locks: a process-wide lock (the
activity thread pool runs many letters at once, and appends from two threads must never
interleave) and `fcntl.flock` on the file (other worker processes on the same data folder).

A line is written with one write call and fsynced. If a crash ever left a torn last line (no
final newline), the next writer cuts it off before appending: its writer never returned, so its
letter is still undispatched and its retry writes the line whole.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import threading
from collections.abc import Mapping
from datetime import date
from pathlib import Path

__all__ = ["COLUMNS", "batch_path", "ensure_line", "read_batch"]

COLUMNS: tuple[str, ...] = (
    "letter_id",
    "loan_id",
    "kind",
    "locale",
    "dispatch_date",
    "addressee",
    "address",
    "pdf_path",
    "sha256",
    "pages",
)

_PROCESS_LOCK = threading.Lock()


def batch_path(letters_dir: Path, day: date) -> Path:
    """The batch file of a business day."""
    return letters_dir / "dispatch" / f"{day.isoformat()}.csv"


def _encode(row: Mapping[str, str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([row[c] for c in COLUMNS])
    return buffer.getvalue().encode("utf-8")


def _letter_ids(data: bytes) -> set[str]:
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    return {record[0] for record in reader if record and record[0] != COLUMNS[0]}


def ensure_line(path: Path, row: Mapping[str, str]) -> bool:
    """Append the letter's line unless the file has one with its letter id; True if appended.

    Values must not contain newlines (the caller flattens addresses): the vendor reads one line
    per letter.
    """
    if any("\n" in row[c] or "\r" in row[c] for c in COLUMNS):
        raise ValueError("A dispatch line cannot contain a line break.")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _PROCESS_LOCK, open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the file is closed
        handle.seek(0)
        data = handle.read()
        if data and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]
            handle.truncate(len(data))
        if row["letter_id"] in _letter_ids(data):
            return False
        out = b"" if data else _encode(dict(zip(COLUMNS, COLUMNS, strict=True)))
        handle.write(out + _encode(row))
        handle.flush()
        os.fsync(handle.fileno())
        return True


def read_batch(path: Path) -> list[dict[str, str]]:
    """The letters of a batch file, as the vendor would read them."""
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
