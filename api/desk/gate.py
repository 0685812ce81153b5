"""What the desk shows of the compliance gate beside a task or an account: the window's
countdown and what the contact rules still allow (issue 15).

The gate's answer is the JSON API's own (`GET /v1/accounts/{loan_id}/compliance`, the workflow's
`compliance` query): the desk reads it through the same function, so the queue can never offer a
call the API would call refused. When Temporal does not answer, the column says so instead of
guessing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime

from fastapi import Request

from api.errors import ApiError
from api.routes.compliance import read_compliance
from api.services.tasks import Task
from api.state import require_temporal
from workflows.contracts import ChannelCompliance, ComplianceStatus

Gettext = Callable[[str], str]

TASK_CHANNEL = {"call": "call", "field_visit": "field_visit"}
"""The contact channel a task kind is worked on; other kinds (skip trace, approval) contact
nobody, so the gate has nothing to say about them."""


async def compliance_of(request: Request, loan_ids: Iterable[str]) -> dict[str, ComplianceStatus]:
    """The gate's answer for each open account, asked concurrently; an account whose workflow
    is closed or does not answer is left out (the page shows "—")."""
    try:
        client = await require_temporal(request)
    except ApiError:
        return {}

    async def one(loan_id: str) -> tuple[str, ComplianceStatus | None]:
        try:
            return loan_id, await read_compliance(request, client, loan_id)
        except Exception:  # one account's silence must not blank the queue
            return loan_id, None

    answers = await asyncio.gather(*(one(loan_id) for loan_id in sorted(set(loan_ids))))
    return {loan_id: status for loan_id, status in answers if status is not None}


def channel_of(status: ComplianceStatus | None, channel: str | None) -> ChannelCompliance | None:
    if status is None or channel is None:
        return None
    return next((c for c in status.channels if c.channel == channel), None)


def task_gate(task: Task, gates: dict[str, ComplianceStatus]) -> ChannelCompliance | None:
    """The gate's answer for the channel a task is worked on."""
    return channel_of(gates.get(task.loan_id), TASK_CHANNEL.get(task.kind))


def span(seconds: float, _: Gettext) -> str:
    """`2 h 05 min`, `45 min`, `3 d 4 h`: a countdown a collector reads at a glance."""
    minutes = max(0, int(seconds // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": mins}
    return _("%(minutes)d min") % {"minutes": mins}


def countdown(task: Task, now: datetime, _: Gettext) -> str:
    """How long until the task's window opens, or until it closes."""
    if task.not_before is not None and task.not_before > now:
        return _("opens in %(span)s") % {"span": span((task.not_before - now).total_seconds(), _)}
    if task.not_after is None:
        return _("open, no end")
    if task.not_after <= now:
        return _("closed")
    return _("closes in %(span)s") % {"span": span((task.not_after - now).total_seconds(), _)}


def cap_lines(gate: ChannelCompliance, _: Gettext) -> list[str]:
    """`2 of 3 left today (cn.connected_calls_per_day)`, one line per cap."""
    lines = []
    for cap in gate.caps:
        where = _("today") if cap.days == 1 else _("in %(days)d days") % {"days": cap.days}
        lines.append(
            _("%(left)d of %(max)d left %(where)s")
            % {"left": cap.left, "max": cap.max, "where": where}
            + f" ({cap.rule})"
        )
    return lines
