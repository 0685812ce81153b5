"""Server-rendered SVG bar charts for the dashboard (issue 15): no JavaScript chart library, the
numbers always printed beside the bars (in the chart and in a table next to it) so the chart is
readable without colour or sight. Each chart is an `<svg role="img">` titled for assistive
technology."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

WIDTH = 420
BAR = 18
GAP = 6
LABEL = 110
VALUE = 70


def _value_text(value: float, percent: bool) -> str:
    return f"{value * 100:.1f}%" if percent else f"{value:g}"


def bar_chart(chart_id: str, title: str, rows: list[tuple[str, float]], percent: bool) -> Markup:
    """Horizontal bars, one per (label, value); percentages scale to 100%, counts to the
    largest value."""
    top = 1.0 if percent else max([v for _, v in rows] + [1.0])
    height = max(1, len(rows)) * (BAR + GAP) + GAP
    span = WIDTH - LABEL - VALUE
    ident = escape(chart_id)
    parts = [
        f'<svg id="{ident}" class="chart" role="img" aria-labelledby="{ident}-t"'
        f' width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}"'
        ' xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-t">{escape(title)}</title>',
    ]
    for i, (label, value) in enumerate(rows):
        y = GAP + i * (BAR + GAP)
        length = 0 if top == 0 else round(span * min(value, top) / top, 1)
        parts.append(
            f'<text x="{LABEL - 6}" y="{y + BAR - 5}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{LABEL}" y="{y}" width="{length}" height="{BAR}" class="bar"/>'
            f'<text x="{LABEL + length + 4}" y="{y + BAR - 5}">'
            f"{escape(_value_text(value, percent))}</text>"
        )
    if not rows:
        parts.append(f'<text x="{LABEL}" y="{BAR}">—</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
