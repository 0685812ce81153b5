"""What each message to the workflow means (instalment changes, holds, contact events and
contact-info changes, task outcomes, hardship, reassignments, subflow events, promise requests),
and what borrowers sent by SMS when only the store remains. Messages are read from the history
(sources.Message); holds the store recorded are described here too, the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from audit.timeline.entries import TimelineEntry
from audit.timeline.scrub import masked
from audit.timeline.sources import Message, StoreRecords
from core.logmask import mask
from store.engine import as_utc

HOLD_WORDS = ("hardship", "dispute", "complaint", "bankruptcy", "deceased", "cease", "hold")


def local_label(value: Any, timezone: str | None) -> str:
    """An instant as the borrower's clock shows it, naming the zone ("2027-01-04 08:00
    Asia/Shanghai"); UTC when the zone is unknown (a store-only timeline)."""
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    if timezone:
        try:
            return f"{at.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M} {timezone}"
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def message_entries(
    store: StoreRecords, messages: list[Message], strategy_at: Any, timezone: str | None = None
) -> list[TimelineEntry]:
    """Everything that arrived and is not a payment or a store-recorded promise."""
    tasks_with_outcome = {t["task_id"] for t in store.tasks if t.get("outcome")}
    promised = {p["promise_id"] for p in store.promises}
    entries = []
    for message in messages:
        if message.is_payment and not message.rejected:
            continue
        result = message.result if isinstance(message.result, dict) else {}
        if result.get("promise_id") in promised:
            continue
        body = message.args[0] if message.args else {}
        body = body if isinstance(body, dict) else {"value": body}
        if message.name == "task_outcome" and body.get("task_id") in tasks_with_outcome:
            continue  # the store's task entry says it, with the same outcome and its effect
        kind, summary, reason, inputs = describe_message(message.name, body, result, timezone)
        if message.rejected:
            summary += ": the workflow refused it"
            reason = mask(message.rejected)
        entries.append(
            TimelineEntry(
                at=message.at,
                kind=kind,
                summary=summary,
                reason=mask(reason) if reason else None,
                strategy=strategy_at(message.at)[0],
                inputs=masked(inputs if inputs is not None else body),
                source="history",
                ref=message.ref,
            )
        )
    return entries


# What each hold stops while it lasts (PLAYBOOK: holds), for the hold's entry.
HOLD_EFFECT = {
    "dispute": "collection paused and open call and visit tasks stopped until it is resolved",
    "complaint": "collection paused for the strategy's complaint days",
    "bankruptcy": "every borrower contact stopped; write-off verification starts",
    "deceased": "every borrower contact stopped; write-off verification starts",
    "cease_communication": "no more contact with the borrower except as the law allows",
    "attorney": "contact goes to the borrower's attorney only",
}


def _joined(*parts: Any) -> str | None:
    text = "; ".join(str(p) for p in parts if p)
    return text or None


def describe_message(
    name: str, body: dict[str, Any], result: dict[str, Any], timezone: str | None = None
) -> tuple[str, str, str | None, dict[str, Any] | None]:
    """(kind, summary, reason, inputs) of a message; inputs None means the body as it came."""
    from audit.timeline.cases import describe_case_message  # it reads local_label from here

    described = describe_case_message(name, body, result)
    if described is not None:
        return described
    if name == "instalments":
        items = body.get("instalments") or []
        listed = ", ".join(
            f"#{i.get('seq')} {i.get('amount')} due {i.get('due_date')}" for i in items[:4]
        )
        more = f" and {len(items) - 4} more" if len(items) > 4 else ""
        return (
            "message",
            f"instalments changed by the loan system: {len(items)} unpaid: {listed}{more}",
            "the schedule changed or a new instalment was issued; DPD and amounts follow it",
            None,
        )
    if name == "add_hold":
        hold = str(body.get("kind") or result.get("kind") or "a")
        until = result.get("until")
        summary = f"{hold.replace('_', ' ')} hold placed by {body.get('reported_by', '?')}, "
        summary += f"until {local_label(until, timezone)}" if until else "until released"
        return (
            "hold",
            summary,
            _joined(HOLD_EFFECT.get(hold), body.get("reason"), body.get("notes")),
            {
                "hold": hold,
                "since": result.get("since"),
                "until": until,
                "reported_by": body.get("reported_by"),
                "attorney_phone": body.get("attorney_phone"),
            },
        )
    if name == "release_hold":
        hold = str(body.get("kind") or result.get("kind") or "a")
        return (
            "hold",
            f"{hold.replace('_', ' ')} hold released by {body.get('released_by', '?')}",
            _joined("collection resumes once no other hold is open", body.get("notes")),
            {
                "hold": hold,
                "since": result.get("since"),
                "ended": result.get("until"),
                "released_by": body.get("released_by"),
            },
        )
    if name == "contact_event":
        return _describe_contact_event(body)
    if name == "contact_info":
        info = body.get("info") or {}
        changes = []
        if result.get("phones_added") or info.get("phones"):
            changes.append(
                f"{result.get('phones_added', len(info.get('phones') or []))} phone(s) added"
            )
        if info.get("dead_phones"):
            changes.append(f"{len(info['dead_phones'])} number(s) marked dead")
        if info.get("address"):
            changes.append("address changed")
        for channel, granted in (info.get("consents") or {}).items():
            changes.append(f"{channel} consent {'given' if granted else 'withdrawn'}")
        return (
            "message",
            f"contact details changed by {body.get('recorded_by', '?')}: "
            + (", ".join(changes) or "nothing new"),
            "new numbers join the call rotation, dead ones leave it, consents apply at once",
            {"recorded_by": body.get("recorded_by"), "changes": ", ".join(changes)},
        )
    if name == "task_outcome":
        outcome = body.get("outcome") or {}
        code = str(outcome.get("outcome", "?")).replace("_", " ")
        by = body.get("recorded_by")
        return (
            "outcome",
            f"{body.get('task_kind', 'task')} task {body.get('task_id', '')} outcome: {code}"
            + (f" (by {by})" if by else ""),
            _joined(result.get("effect"), outcome.get("notes")),
            None,
        )
    if name == "hardship":
        hardship = body.get("hardship") or {}
        return (
            "message",
            f"hardship reported by {body.get('recorded_by', '?')}: {hardship.get('term')}-term, "
            f"{'surmountable' if hardship.get('surmountable') else 'not surmountable'}",
            _joined(result.get("effect"), hardship.get("cause"), hardship.get("notes")),
            None,
        )
    if name == "reassign":
        return (
            "message",
            f"account {body.get('kind', 'reassignment')}: to {body.get('to')} by {body.get('by')}",
            body.get("reason"),
            None,
        )
    if name == "recall_agency":
        return (
            "message",
            f"agency recall requested by {body.get('requested_by', '?')}",
            _joined(
                body.get("reason"),
                result.get("recalled_from") and f"recalled from {result.get('recalled_from')}",
            ),
            None,
        )
    if name == "restructure_answer":
        return (
            "message",
            f"restructure offer answered: {body.get('decision')} "
            f"(recorded by {body.get('recorded_by', '?')})",
            None,
            None,
        )
    if name == "subflow_event":
        detail = body.get("detail") or {}
        return (
            "child",
            f"{body.get('subflow', 'child')} {body.get('child_id', '')} reported "
            f"{str(body.get('kind', 'an event')).replace('_', ' ')}",
            detail.get("reason") if isinstance(detail, dict) else None,
            None,
        )
    if name == "promise":
        promised = body.get("promise") or {}
        return (
            "promise",
            f"promise of {promised.get('amount')} by {promised.get('promised_date')} "
            f"requested by {body.get('recorded_by', '?')}",
            None,
            None,
        )
    if any(word in name.lower() for word in HOLD_WORDS):
        return (
            "hold",
            f"{name.replace('_', ' ')} reported",
            _joined(body.get("notes"), body.get("reason")),
            None,
        )
    return "message", f"{name.replace('_', ' ')} received", None, None


CONTACT_EVENT_WORDS = {
    "consent_revoked": "consent withdrawn",
    "consent_restored": "consent given again",
    "delivery_failed": "delivery failed",
    "number_dead": "number reported dead",
    "inbound_reply": "borrower replied",
}


def _describe_contact_event(
    body: dict[str, Any],
) -> tuple[str, str, str | None, dict[str, Any] | None]:
    """A channel's fact: a status callback (undelivered, failed, with the provider's error code)
    or something the borrower sent (STOP, START, a reply)."""
    event = str(body.get("kind", "event"))
    channel = str(body.get("channel", "?"))
    found = body.get("detail")
    detail: dict[str, Any] = found if isinstance(found, dict) else {}
    status = detail.get("status")
    code = detail.get("error_code")
    summary = f"{channel.upper() if channel == 'sms' else channel} "
    summary += CONTACT_EVENT_WORDS.get(event, event.replace("_", " "))
    if status:
        summary += f": provider status {status}"
    if code:
        summary += f" (error {code})"
    if detail.get("action_seq") is not None:
        summary += f" for action {detail['action_seq']}"
    reason = {
        "consent_revoked": "the borrower opted out (STOP) or a collector recorded it: no more "
        f"{channel} to that number",
        "consent_restored": "the borrower opted in again",
        "delivery_failed": "the provider's status callback: the contact did not reach the borrower",
        "number_dead": "the provider says the number cannot be reached: it leaves the rotation",
        "inbound_reply": "attached to the account for the collector",
    }.get(event, "reported by the channel")
    return (
        "message",
        summary,
        reason,
        {
            "event": event,
            "channel": channel,
            "number": body.get("number"),
            "delivery_status": status,
            "error_code": code,
            "provider_id": detail.get("provider_id"),
            "action_seq": detail.get("action_seq"),
        },
    )


INBOUND_WORDS = {
    "opt_out": "opted out of SMS",
    "opt_in": "opted in to SMS again",
    "help": "asked for help",
    "reply": "replied",
}


def inbound_entries(store: StoreRecords, strategy_at: Any) -> list[TimelineEntry]:
    """What borrowers sent, from the channels' ledger (for a timeline without history, where the
    workflow's contact_event signals are gone). The text itself is never shown."""
    entries = []
    for row in store.inbound:
        at = as_utc(row.get("received_at"))
        if at is None:
            continue
        what = INBOUND_WORDS.get(str(row.get("kind")), str(row.get("kind")))
        keyword = f" ({row['keyword']})" if row.get("keyword") else ""
        entries.append(
            TimelineEntry(
                at=at,
                kind="message",
                summary=f"the borrower {what} by SMS{keyword}",
                reason="received by the SMS webhook; the workflow was told",
                strategy=strategy_at(at)[0],
                inputs={"kind": row.get("kind"), "keyword": row.get("keyword")},
                source="store",
                ref=f"inbound message {row.get('id')}",
            )
        )
    return entries
