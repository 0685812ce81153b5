"""Legal cases against borrowers and their status history (PLAYBOOK.md section 1, "legal action":
lawsuit preparation, asset preservation, filing, court; issue 5: case status updates).

A case moves forward only: preparing → filed → hearing → judgment → enforcement → closed, and
may close from any status (a payment in full ends the case). A status may repeat (a second
hearing, an asset preservation order while the case is filed): that is one more event, not a
move backwards. Every change is a row of `legal_case_events`, so the history is the record a
lawyer or an auditor reads, and `legal_cases.status` is only its latest entry.

Keys, as everywhere in the store: a case opened by an action is keyed by (episode, action_seq),
and an event written by an action carries a `key` unique across all events, so a retried
activity neither opens a second case nor writes a second event. Instants are the workflow's
business clock (or the API's for court updates), never the worker's wall clock.

Concurrency: `advance_case` and `note_case` lock the case first — `SELECT ... FOR UPDATE` on
PostgreSQL, the database's writer lock on SQLite — so two updates at once are applied one after
the other and the second is judged against the first's result.

Workflows never import this module (see store/models.py); activities and the API do.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Date, DateTime, Numeric, Text, UniqueConstraint, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Field, Session, SQLModel, col, select

from domain.limits import LOAN_ID_LENGTH
from domain.vocabulary import EventType
from store.engine import as_utc
from store.events import EventFact, record_events

__all__ = [
    "CASE_STATUSES",
    "CLOSED",
    "PREPARING",
    "CaseClosed",
    "CaseNumberConflict",
    "InvalidFiling",
    "CaseStatusBackwards",
    "LegalCaseEventRow",
    "LegalCaseRow",
    "LegalError",
    "UnknownCase",
    "UnknownCaseStatus",
    "advance_case",
    "case_events",
    "case_for_action",
    "case_id_for",
    "cases_for_loan",
    "events_by_case",
    "note_case",
    "open_case",
    "open_case_for_loan",
]

PREPARING = "preparing"
CLOSED = "closed"
FILED = "filed"
CASE_STATUSES: tuple[str, ...] = (PREPARING, FILED, "hearing", "judgment", "enforcement", CLOSED)
"""In the order a case moves through them; `closed` is reachable from every other status."""

_RANK = {status: rank for rank, status in enumerate(CASE_STATUSES)}
MONEY = Numeric(18, 4)  # the same precision as every amount of the read model (store/models.py)


def _instant(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class LegalCaseRow(SQLModel, table=True):
    """One legal case about one loan; `status` is the latest entry of its event history."""

    __tablename__ = "legal_cases"
    __table_args__ = (
        UniqueConstraint("episode", "action_seq", name="uq_legal_cases_episode_action_seq"),
    )

    case_id: str = Field(primary_key=True, max_length=120)
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    workflow_id: str = Field(max_length=100)
    episode: str = Field(max_length=64)
    action_seq: int
    opened_at: datetime | None = _instant(nullable=False)
    status: str = Field(default=PREPARING, max_length=20, index=True)
    amount_claimed: Decimal = Field(sa_column=Column(MONEY, nullable=False))
    currency: str = Field(default="", max_length=3)
    court: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime | None = _instant(nullable=False)
    closed_at: datetime | None = _instant()
    filed_on: date | None = Field(
        default=None,
        sa_column=Column(Date, nullable=True),
        description="the day the court accepted the filing, as the legal team reports it",
    )
    case_number: str | None = Field(
        default=None, max_length=100, description="the court's case number"
    )


class LegalCaseEventRow(SQLModel, table=True):
    """One step of a case's history: the status it was in from `at`, and why."""

    __tablename__ = "legal_case_events"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(max_length=120, foreign_key="legal_cases.case_id", index=True)
    at: datetime | None = _instant(nullable=False)
    status: str = Field(max_length=20)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    key: str | None = Field(
        default=None,
        max_length=120,
        unique=True,
        description="the writer's idempotency key (an action's episode:seq:step), if any",
    )


_cases = SQLModel.metadata.tables[LegalCaseRow.__tablename__]
_events = SQLModel.metadata.tables[LegalCaseEventRow.__tablename__]


class LegalError(Exception):
    """A case operation refused for a business reason; the message is safe to show the caller."""


class UnknownCase(LegalError):
    """No case has this id (the API answers 404)."""


class UnknownCaseStatus(LegalError):
    """A status that is not one of CASE_STATUSES (the API answers 422)."""


class CaseStatusBackwards(LegalError):
    """A case cannot go back to an earlier status (the API answers 409)."""


class CaseClosed(LegalError):
    """A closed case takes no more updates (the API answers 409)."""


class CaseNumberConflict(LegalError):
    """The court's case number or filing date, once recorded, does not change (409)."""


class InvalidFiling(LegalError):
    """A filing date or case number that cannot be right (422): before the case opened, after
    the reported instant, or given for a case not yet filed."""


def _utc(at: datetime) -> datetime:
    """SQLite's DateTime keeps wall-clock fields without the offset: always bind UTC."""
    if at.tzinfo is None:
        raise ValueError("business instants must be timezone-aware")
    return at.astimezone(UTC)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert(session: Session, table: Any, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; whether the row went in. A concurrent attempt of the
    same action that got in first keeps its row and ours is dropped."""
    dialect = postgresql if _is_postgres(session) else sqlite
    key = next(iter(table.primary_key.columns))
    inserted = session.connection().execute(
        dialect.insert(table).values(**values).on_conflict_do_nothing().returning(key)
    )
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT DO NOTHING.
    return inserted.first() is not None


def _as_loaded_utc(row: Any, *names: str) -> None:
    """SQLite hands back naive instants; make them UTC as if loaded so, without marking the row
    changed (a plain assignment would make the session flush the old values back over the
    UPDATE of the next step)."""
    for name in names:
        set_committed_value(row, name, as_utc(getattr(row, name)))


def _normalised(row: LegalCaseRow | None) -> LegalCaseRow | None:
    if row is not None:
        _as_loaded_utc(row, "opened_at", "updated_at", "closed_at")
    return row


def _fresh(session: Session, case_id: str) -> LegalCaseRow | None:
    return _normalised(
        session.exec(
            select(LegalCaseRow)
            .where(LegalCaseRow.case_id == case_id)
            .execution_options(populate_existing=True)
        ).first()
    )


def case_id_for(loan_id: str, episode: str, action_seq: int) -> str:
    """Stable across retries and replays: the reference the lender's lawyers file under."""
    return f"LC-{loan_id}-{episode[:8]}-{action_seq}"


def case_for_action(session: Session, episode: str, action_seq: int) -> LegalCaseRow | None:
    """The case an action opened, if any (a retried activity's lookup)."""
    return _normalised(
        session.exec(
            select(LegalCaseRow)
            .where(LegalCaseRow.episode == episode, LegalCaseRow.action_seq == action_seq)
            .execution_options(populate_existing=True)
        ).first()
    )


def open_case_for_loan(session: Session, loan_id: str) -> LegalCaseRow | None:
    """The loan's case that is not closed yet (the latest opened, should there be several)."""
    return _normalised(
        session.exec(
            select(LegalCaseRow)
            .where(LegalCaseRow.loan_id == loan_id, LegalCaseRow.status != CLOSED)
            .order_by(col(LegalCaseRow.opened_at).desc(), col(LegalCaseRow.case_id).desc())
            .execution_options(populate_existing=True)
        ).first()
    )


def cases_for_loan(session: Session, loan_id: str) -> list[LegalCaseRow]:
    """Every case about a loan, oldest first."""
    rows = session.exec(
        select(LegalCaseRow)
        .where(LegalCaseRow.loan_id == loan_id)
        .order_by(col(LegalCaseRow.opened_at), col(LegalCaseRow.case_id))
    ).all()
    return [r for r in (_normalised(row) for row in rows) if r is not None]


def events_by_case(session: Session, case_ids: Iterable[str]) -> dict[str, list[LegalCaseEventRow]]:
    """The status histories of several cases, each in the order it was written."""
    ids = list(case_ids)
    history: dict[str, list[LegalCaseEventRow]] = {case_id: [] for case_id in ids}
    if not ids:
        return history
    rows = session.exec(
        select(LegalCaseEventRow)
        .where(col(LegalCaseEventRow.case_id).in_(ids))
        .order_by(col(LegalCaseEventRow.id))
    ).all()
    for row in rows:
        _as_loaded_utc(row, "at")
        history[row.case_id].append(row)
    return history


def case_events(session: Session, case_id: str) -> list[LegalCaseEventRow]:
    """One case's status history, in the order it was written (insertion order is the order
    of the moves; instants come from different clocks — workflow, court clerk — and may tie)."""
    return events_by_case(session, [case_id])[case_id]


def open_case(
    session: Session,
    *,
    loan_id: str,
    workflow_id: str,
    episode: str,
    action_seq: int,
    at: datetime,
    amount_claimed: Decimal,
    currency: str = "",
    court: str | None = None,
    notes: str | None = None,
    note: str = "case opened",
) -> LegalCaseRow:
    """Open a case in `preparing` for the action (episode, action_seq), with its first event;
    a retry returns the case the action already opened, unchanged."""
    at = _utc(at)
    existing = case_for_action(session, episode, action_seq)
    if existing is not None:
        return existing
    case_id = case_id_for(loan_id, episode, action_seq)
    inserted = _insert(
        session,
        _cases,
        {
            "case_id": case_id,
            "loan_id": loan_id,
            "workflow_id": workflow_id,
            "episode": episode,
            "action_seq": action_seq,
            "opened_at": at,
            "status": PREPARING,
            "amount_claimed": amount_claimed,
            "currency": currency,
            "court": court,
            "notes": notes,
            "updated_at": at,
        },
    )
    if inserted:
        _insert(
            session,
            _events,
            {
                "case_id": case_id,
                "at": at,
                "status": PREPARING,
                "note": note,
                "key": f"{episode}:{action_seq}:opened",
            },
        )
    row = case_for_action(session, episode, action_seq)
    if row is None:  # the id collided with a different action's (same loan, episode prefix, seq)
        raise LegalError(f"Case id {case_id} is taken by another action.")
    return row


def _lock_case(session: Session, case_id: str) -> LegalCaseRow:
    """The case, locked against other writers until the caller's transaction ends."""
    if _is_postgres(session):
        row = _normalised(
            session.exec(
                select(LegalCaseRow)
                .where(LegalCaseRow.case_id == case_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).first()
        )
    else:
        # An UPDATE takes SQLite's writer lock even when it changes nothing; what is read after
        # it, inside the same write transaction, no other writer can change.
        session.connection().execute(
            update(_cases).where(_cases.c.case_id == case_id).values(status=_cases.c.status)
        )
        row = _fresh(session, case_id)
    if row is None:
        raise UnknownCase(f"No legal case {case_id} is known.")
    return row


def _already_written(session: Session, key: str | None) -> bool:
    if key is None:
        return False
    found = session.exec(select(LegalCaseEventRow.id).where(LegalCaseEventRow.key == key)).first()
    return found is not None


def _append(
    session: Session, case: LegalCaseRow, status: str, at: datetime, note: str, key: str | None
) -> LegalCaseRow:
    _insert(
        session,
        _events,
        {"case_id": case.case_id, "at": at, "status": status, "note": note, "key": key},
    )
    values: dict[str, Any] = {"status": status, "updated_at": at}
    if status == CLOSED:
        values["closed_at"] = at
    session.connection().execute(
        update(_cases).where(_cases.c.case_id == case.case_id).values(**values)
    )
    row = _fresh(session, case.case_id)
    assert row is not None
    return row


def advance_case(
    session: Session,
    case_id: str,
    status: str,
    at: datetime,
    note: str = "",
    *,
    key: str | None = None,
    filed_on: date | None = None,
    case_number: str | None = None,
    court: str | None = None,
) -> LegalCaseRow:
    """Move the case to `status` at `at`, appending an event.

    Forward moves and the same status again (a further hearing) are accepted; `closed` is
    accepted from any status. Raises UnknownCaseStatus, CaseStatusBackwards, CaseClosed or
    UnknownCase. With `key`, a second call with the same key changes nothing and returns the
    case as it is (a retried activity or request).

    `filed_on`, `case_number` and `court` (issue 17 item 4) are what the court gave when it
    accepted the suit, reported by the legal team with the status `filed` or any later one;
    once recorded they do not change (CaseNumberConflict), and a filing date before the case
    opened or after `at` is refused (InvalidFiling).
    """
    at = _utc(at)
    if status not in _RANK:
        raise UnknownCaseStatus(
            f"{status!r} is not a legal case status (one of: {', '.join(CASE_STATUSES)})."
        )
    case = _lock_case(session, case_id)
    if _already_written(session, key):
        return case
    if case.status == CLOSED:
        raise CaseClosed(f"Legal case {case_id} is closed; it takes no more updates.")
    if _RANK[status] < _RANK[case.status]:
        raise CaseStatusBackwards(
            f"Legal case {case_id} is {case.status}; it cannot go back to {status}."
        )
    filing = _filing_facts(case, status, at, filed_on, case_number, court)
    if status == FILED and case.status != FILED:
        record_events(
            session,
            [
                EventFact(
                    key=f"{case.loan_id}:legal:{case_id}:filed",
                    at=at,
                    loan_id=case.loan_id,
                    type=EventType.LEGAL_FILED,
                    data={"episode": case.episode, "case_id": case_id, "note": note},
                )
            ],
        )
    if filing:
        session.connection().execute(
            update(_cases).where(_cases.c.case_id == case_id).values(**filing)
        )
    return _append(session, case, status, at, note, key)


def _filing_facts(
    case: LegalCaseRow,
    status: str,
    at: datetime,
    filed_on: date | None,
    case_number: str | None,
    court: str | None,
) -> dict[str, Any]:
    """The court's facts an update brings that the case does not hold yet; refused when they
    contradict what it holds or cannot be right."""
    given = {"filed_on": filed_on, "case_number": case_number, "court": court}
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return {}
    if _RANK[status] < _RANK[FILED] or status == CLOSED and case.status == PREPARING:
        raise InvalidFiling(
            f"A filing date, case number or court comes with the status filed or later, not "
            f"{status}."
        )
    # Days are the court's calendar, instants UTC: a day's slack either side for the zone.
    opened = as_utc(case.opened_at)
    earliest = (opened - timedelta(days=1)).date() if opened is not None else None
    latest = (at + timedelta(days=1)).date()
    if filed_on is not None and (
        (earliest is not None and filed_on < earliest) or filed_on > latest
    ):
        raise InvalidFiling(
            f"The filing date {filed_on} must lie between the case's opening "
            f"({opened.date() if opened else '?'}) and today ({at.date()})."
        )
    for name, value in given.items():
        held = getattr(case, name)
        if held is not None and held != value:
            raise CaseNumberConflict(
                f"Legal case {case.case_id} already has {name} {held}; it does not change to "
                f"{value}."
            )
    return {k: v for k, v in given.items() if getattr(case, k) is None}


def note_case(
    session: Session, case_id: str, at: datetime, note: str, *, key: str | None = None
) -> LegalCaseRow:
    """Record something that happened on an open case (e.g. asset preservation applied) as an
    event in its current status. Raises CaseClosed or UnknownCase; idempotent by `key`."""
    at = _utc(at)
    case = _lock_case(session, case_id)
    if _already_written(session, key):
        return case
    if case.status == CLOSED:
        raise CaseClosed(f"Legal case {case_id} is closed; it takes no more updates.")
    return _append(session, case, case.status, at, note, key)
