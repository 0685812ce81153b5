"""How many SMS segments a text costs, as carriers count them (3GPP TS 23.038).

A text made only of GSM-7 characters travels 7 bits a character: 160 in one message, 153 a
segment once it must be split (the rest carries the concatenation header); characters of the
extension table (`^{}[]~|€\\` and form feed) take an escape plus the character, two septets, and
are never split across segments. One character outside GSM-7 — a Chinese character, an emoji,
"Ł" — makes the whole text UCS-2: 70 UTF-16 code units in one message, 67 a segment, and a
surrogate pair (emoji) is never split either. Every segment is billed and, past a few, carriers
drop or garble long messages: the strategy caps them (`max_sms_segments`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["GSM7_BASIC", "GSM7_EXTENSION", "SegmentCount", "count_segments", "is_gsm7"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SegmentCount:
    encoding: Literal["GSM-7", "UCS-2"]
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _split(widths: list[int], single: int, part: int) -> int:
    """Segments needed for characters of the given widths; a character never straddles two."""
    total = sum(widths)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for width in widths:
        if used + width > part:
            segments, used = segments + 1, 0
        used += width
    return segments


def count_segments(text: str) -> SegmentCount:
    """Encoding, length in units, and segments of `text` as a carrier bills it."""
    if is_gsm7(text):
        widths = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return SegmentCount("GSM-7", sum(widths), _split(widths, GSM7_SINGLE, GSM7_PART))
    widths = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SegmentCount("UCS-2", sum(widths), _split(widths, UCS2_SINGLE, UCS2_PART))
