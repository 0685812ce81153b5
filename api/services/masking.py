"""Phone numbers shown to people who need to tell them apart but not to dial them: every digit
but the last four hidden, the way `/messages` shows them and `/actions` shows them to callers who
may not read the account's messages (issue 21 item 8).

The rule itself is core/pii.py's, the same function the log masker uses (issue 18 item 3): a
number reads the same in a log line and in the API."""

from __future__ import annotations

from core.pii import mask_numbers_in, mask_phone

__all__ = ["mask_numbers_in", "mask_phone"]
