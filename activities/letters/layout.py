"""How a letter looks: reportlab platypus flowables for the sections content.py produces.

One embedded font for every letter (the bundled WenQuanYi Micro Hei subset, see fonts/README.md):
a print vendor wants every font in the file, and one face with Latin and Han glyphs prints a
Chinese letter's loan id and an English letter to a borrower with a Chinese name alike. reportlab
embeds only the glyphs used, as TrueType subsets with a ToUnicode map, so the text of the PDF
can be extracted (pypdf, search, accessibility) and each letter stays small.

A character the bundled font lacks (a rare Han character outside U+4E00-U+9FC3 in a name) is
set in reportlab's built-in CID font STSong-Light instead of printing as an empty box: that font
is not embedded, but every PDF reader with Adobe's Chinese font pack and every print RIP has it,
and its text extracts too.

All letters are A4: the mail vendor prints one daily batch on one paper stock.

Rendering is deterministic (reportlab's `invariant` mode: fixed document id and timestamps), so
re-rendering the same letter gives the same bytes and the same sha256, which the exactly-once
logic in channel.py relies on. It is serialised by a process-wide lock because reportlab keeps
module-level state (font registry, subset bookkeeping) that it does not promise is thread-safe,
and letters are far too few for the lock to matter.
"""

from __future__ import annotations

import html
import io
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    HRFlowable,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus import paragraph as _paragraph

from activities.letters.content import TABLE_SECTIONS, LetterContent, Section

__all__ = ["FALLBACK_FONT", "FONT_FILE", "FONT_NAME", "RenderedPdf", "covered", "render_pdf"]

FONT_FILE = Path(__file__).resolve().parent / "fonts" / "WenQuanYiMicroHei-subset.ttf"
FONT_NAME = "WenQuanYiMicroHei"
FALLBACK_FONT = "STSong-Light"

_INK = colors.HexColor("#1a1a1a")
_MUTED = colors.HexColor("#5a5a5a")
_ACCENT = colors.HexColor("#1f3a5f")
_RULE = colors.HexColor("#b8c2cc")
_SHADE = colors.HexColor("#eef1f4")

_RENDER_LOCK = threading.Lock()
_REGISTER_LOCK = threading.Lock()
# Markup tags and character references stay as they are; only text between them is font-checked.
_MARKUP = re.compile(r"(<[^>]*>|&#?\w+;)")
# Chinese closing punctuation that must not start a line (GB/T 15834). reportlab's CJK wrapping
# keeps such a character on the line before (hanging in the margin), but its list is Japanese and
# lacks the full-width comma, colon, semicolon, ! and ? that Chinese text is full of.
_CANNOT_START_ZH = "，；：！？》〉”’"


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    pages: int


@cache
def _register_fonts() -> frozenset[int]:
    """Register the fonts once per process; answer the code points the bundled font covers."""
    with _REGISTER_LOCK:
        font = TTFont(FONT_NAME, str(FONT_FILE))
        pdfmetrics.registerFont(font)
        # One face for all four styles, so a <b> or <i> in a template cannot fail the letter.
        pdfmetrics.registerFontFamily(
            FONT_NAME, normal=FONT_NAME, bold=FONT_NAME, italic=FONT_NAME, boldItalic=FONT_NAME
        )
        pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
        missing = "".join(c for c in _CANNOT_START_ZH if c not in _paragraph.ALL_CANNOT_START)
        _paragraph.ALL_CANNOT_START += missing
        return frozenset(font.face.charToGlyph)


def covered(char: str) -> bool:
    """Whether the embedded font has a glyph for the character."""
    return ord(char) in _register_fonts()


def _with_fallback(text: str) -> str:
    glyphs = _register_fonts()
    out: list[str] = []
    run: list[str] = []
    for char in text:
        if ord(char) in glyphs or char in "\t\n":
            if run:
                out.append(f'<font face="{FALLBACK_FONT}">{"".join(run)}</font>')
                run = []
            out.append(char)
        elif char.isspace():  # spaces babel or a borrower may use (U+202F ...) the font lacks
            out.append(" ")
        else:
            run.append(char)
    if run:
        out.append(f'<font face="{FALLBACK_FONT}">{"".join(run)}</font>')
    return "".join(out)


def inline(markup: str) -> str:
    """Paragraph markup with every character the embedded font lacks set in the fallback font."""
    parts = _MARKUP.split(markup)
    return "".join(p if _MARKUP.fullmatch(p) else _with_fallback(p) for p in parts)


def plain(markup: str) -> str:
    """The text of a markup line, for PDF metadata."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def _styles(language: str) -> dict[str, ParagraphStyle]:
    cjk = language == "zh"
    base = ParagraphStyle(
        "base",
        fontName=FONT_NAME,
        fontSize=10.5,
        leading=17 if cjk else 15,
        textColor=_INK,
        # Chinese has no spaces to break at; reportlab breaks between any two Han characters
        # (and keeps closing punctuation off the start of a line) only in CJK mode.
        wordWrap="CJK" if cjk else None,
    )

    def style(name: str, **kw: Any) -> ParagraphStyle:
        return ParagraphStyle(name, parent=base, **kw)

    return {
        "letterhead": style("letterhead", fontSize=15, leading=20, textColor=_ACCENT),
        "letterhead_more": style("letterhead_more", fontSize=9, leading=13, textColor=_MUTED),
        "date": style("date", alignment=TA_RIGHT, spaceBefore=4),
        "addressee": style("addressee", leading=15),
        "reference": style("reference", fontSize=8.5, leading=12, textColor=_MUTED),
        "title": style(
            "title",
            fontSize=16,
            leading=22,
            alignment=TA_CENTER,
            textColor=_ACCENT,
            spaceBefore=14,
            spaceAfter=12,
        ),
        "salutation": style("salutation", spaceAfter=4),
        "body": style(
            "body",
            alignment=TA_JUSTIFY,
            firstLineIndent=21 if cjk else 0,
            spaceAfter=6,
        ),
        "cell_label": style("cell_label", fontSize=9.5, leading=13, textColor=_MUTED),
        "cell_value": style("cell_value", fontSize=10.5, leading=14),
        "closing": style(
            "closing", alignment=TA_JUSTIFY, firstLineIndent=21 if cjk else 0, spaceAfter=4
        ),
        "signature": style("signature", alignment=TA_RIGHT if cjk else TA_LEFT),
        "footer": style("footer", fontSize=8, leading=10, textColor=_MUTED, alignment=TA_CENTER),
    }


def _table(section: Section, styles: dict[str, ParagraphStyle], width: float) -> Table:
    rows = []
    for line in section.lines:
        label, _, value = line.partition("|")
        rows.append(
            [
                Paragraph(inline(label.strip()), styles["cell_label"]),
                Paragraph(inline(value.strip()), styles["cell_value"]),
            ]
        )
    table = Table(rows, colWidths=[width * 0.38, width * 0.62], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT_NAME),  # else the table selects Helvetica
                ("BACKGROUND", (0, 0), (0, -1), _SHADE),
                ("BOX", (0, 0), (-1, -1), 0.6, _RULE),
                ("INNERGRID", (0, 0), (-1, -1), 0.4, _RULE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("RIGHTPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return table


def _flowables(content: LetterContent, width: float) -> list[Any]:
    styles = _styles(content.language)
    story: list[Any] = []
    for section in content.sections:
        name = section.name
        if name == "footer":
            continue
        if name in TABLE_SECTIONS:
            story += [Spacer(1, 4), _table(section, styles, width), Spacer(1, 10)]
            continue
        if name == "letterhead":
            first, *rest = section.lines
            story.append(Paragraph(inline(first), styles["letterhead"]))
            story += [Paragraph(inline(line), styles["letterhead_more"]) for line in rest]
            story += [
                HRFlowable(width="100%", thickness=1.2, color=_ACCENT, spaceBefore=6),
                Spacer(1, 10),
            ]
            continue
        paragraphs = [Paragraph(inline(line), styles[name]) for line in section.lines]
        if name == "addressee":
            story += [KeepTogether(paragraphs), Spacer(1, 10)]
        elif name == "signature":
            story += [Spacer(1, 14), KeepTogether(paragraphs)]
        elif name == "reference":
            story += [*paragraphs, Spacer(1, 2)]
        else:
            story += paragraphs
    return story


def render_pdf(content: LetterContent, *, subject: str = "") -> RenderedPdf:
    """Lay the letter out on A4 pages and answer the PDF bytes and the page count."""
    _register_fonts()
    letterhead = next((s.lines for s in content.sections if s.name == "letterhead"), ("",))
    footer = next((s.lines[0] for s in content.sections if s.name == "footer"), "{page}")
    styles = _styles(content.language)

    def on_page(canvas: Any, doc: Any) -> None:
        text = footer.replace("{page}", str(doc.page))
        paragraph = Paragraph(inline(text), styles["footer"])
        _width, height = paragraph.wrap(doc.width, 12 * mm)
        rule = 11 * mm + height + 3
        canvas.saveState()
        paragraph.drawOn(canvas, doc.leftMargin, 11 * mm)
        canvas.setStrokeColor(_RULE)
        canvas.setLineWidth(0.5)
        canvas.line(doc.leftMargin, rule, doc.leftMargin + doc.width, rule)
        canvas.restoreState()

    buffer = io.BytesIO()
    with _RENDER_LOCK:
        doc = BaseDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=22 * mm,
            rightMargin=22 * mm,
            topMargin=20 * mm,
            bottomMargin=24 * mm,
            title=plain(content.title),
            author=plain(letterhead[0]),
            subject=subject,
            creator="arrears",
            lang="zh-CN" if content.language == "zh" else content.locale,
            invariant=1,
            initialFontName=FONT_NAME,
        )
        # No frame padding: tables and text then share the margins exactly.
        frame = Frame(
            doc.leftMargin,
            doc.bottomMargin,
            doc.width,
            doc.height,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        doc.addPageTemplates([PageTemplate(id="letter", frames=[frame], onPage=on_page)])
        doc.build(_flowables(content, doc.width))
        pages = int(doc.page)
    return RenderedPdf(data=buffer.getvalue(), pages=pages)
