"""The explained timeline of an account: sources (store and history) → rules (what each row and
message means) → entries, scrubbed of PII, rendered as JSON, a table or an HTML report. The
names below are its face; build.py says how the parts fit."""

from audit.timeline.build import HISTORY_ONLY, build_timeline
from audit.timeline.entries import Timeline, TimelineEntry
from audit.timeline.render import describe_inputs, local_time, render_html, timeline_table

__all__ = [
    "HISTORY_ONLY",
    "Timeline",
    "TimelineEntry",
    "build_timeline",
    "describe_inputs",
    "local_time",
    "render_html",
    "timeline_table",
]
