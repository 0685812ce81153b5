"""Letters: real PDF documents for the borrower, stored, and handed to the mail vendor once.

`LetterChannel(settings).send(request) -> DeliveryResult` is the whole interface (channel.py).
It renders the letter for `request.action.template or request.action.kind` — reminder_letter,
demand_letter, lawyer_letter or restructure_offer — in the borrower's locale (zh-CN and en; en-US
and en-GB read the English letter, anything unknown the Chinese one), dated on the action's
business instant in the borrower's zone, writes it under `{ARREARS_DATA_DIR}/letters/`, records
it in the `letters` table and appends it to the day's dispatch batch, exactly once per action.

Why reportlab: it is a pure-Python wheel, so a fresh machine renders letters after nothing more
than `pip install`. weasyprint needs pango, cairo and harfbuzz from the operating system, and
typst is a separate binary; both would be one more thing for every developer machine, CI runner
and worker image to provide. reportlab's platypus gives us paragraphs with CJK line breaking,
tables and page templates, which is all a letter needs.

Why this font (details in fonts/README.md): Chinese must print on any machine with no download
at run time, so a CJK font ships in the package: a subset of WenQuanYi Micro Hei (Apache-2.0),
3 MB, with Latin and all CJK Unified Ideographs. It is TrueType (`glyf` outlines), which reportlab
embeds as subsets with a ToUnicode map: the letter looks the same in every viewer and at the
print vendor, and its text can be extracted (the tests read it back with pypdf). reportlab's
built-in STSong-Light CID font also extracts, but it is never embedded — the glyphs would come
from whatever font the viewer substitutes — so it only serves as the fallback for the rare
character outside the bundled font. The OFL CJK fonts (Noto Sans CJK, Source Han Sans) ship CFF
outlines, which reportlab cannot embed.
"""

from activities.letters.channel import (
    FAULT_POINTS,
    FaultHook,
    LetterChannel,
    LetterIntegrityError,
    letter_id_for,
)
from activities.letters.content import LETTER_KINDS, LetterContentError, resolve_locale

__all__ = [
    "FAULT_POINTS",
    "LETTER_KINDS",
    "FaultHook",
    "LetterChannel",
    "LetterContentError",
    "LetterIntegrityError",
    "letter_id_for",
    "resolve_locale",
]
