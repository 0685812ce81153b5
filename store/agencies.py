"""The outside collection agency (OCA) registry and the placements made with it.

An agency takes at most `capacity` accounts at a time, for a commission (a fraction of what it
recovers). A placement hands one loan to one agency for a period (PLAYBOOK.md section 1,
"委外催收"); it ends by recall — on request, on bankruptcy or death, or when the period ran out
(then its status is `ended`).

Keys and clocks, as everywhere in the store:

- a placement is keyed by the action that asked for it, (episode, action_seq), so a retried
  activity finds the placement instead of making a second one;
- `placed_at` and `recalled_at` are the workflow's business instants, passed in by the activity;
  `period_end` is derived from `placed_at`, never from a worker's wall clock.

Choosing an agency is the one place where concurrency matters: N workers placing accounts at once
must never put more accounts with an agency than its capacity. `place` first takes the writers'
lock of the registry — on PostgreSQL `SELECT ... FOR UPDATE` on the active agency rows (in
agency_id order, so two placers never deadlock), on SQLite a write statement that takes the
database's single writer lock — and only then counts active placements and ranks the agencies.
Placements are therefore serialised, which is what makes both the capacity and the round-robin
order exact; they are rare (one per account reaching the strategy's DPD), so the lock costs
nothing that matters. Inside the lock each placement takes the next `placement_no`, and "an
agency's most recent placement" means its highest number, not its latest `placed_at`: business
instants of different accounts tie (a batch of accounts all reaching DPD 60 at 10:00) and arrive
out of order (a retried activity keeps its original instant), and ranking by them would send a
whole batch to the same agency.

Workflows never import this module (see store/models.py); activities, the API and the CLI do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, DateTime, Index, Numeric, UniqueConstraint, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Field, Session, SQLModel, col, select

from domain.limits import (
    AGENCY_ID_LENGTH,
    LOAN_ID_LENGTH,
    NAME_LENGTH,
    PLACEMENT_ID_LENGTH,
    REASON_LENGTH,
)
from domain.vocabulary import EventType
from store.engine import as_utc
from store.events import EventFact, record_events

__all__ = [
    "ACTIVE",
    "DEFAULT_PLACEMENT_DAYS",
    "ENDED",
    "PLACEMENT_STATUSES",
    "RECALLED",
    "RECOVERY_RATE",
    "ROUND_ROBIN",
    "SELECTIONS",
    "AgencyError",
    "AgencyLoad",
    "AgencyRow",
    "DuplicateAgency",
    "InvalidAgency",
    "PlacementConflict",
    "PlacementRow",
    "active_placement",
    "active_placement_counts",
    "add_agency",
    "choose_agency",
    "list_agencies",
    "lock_registry",
    "place",
    "placement_for_action",
    "placement_id_for",
    "placements_for_loan",
    "recall",
    "recalled_by",
    "recovery_rates",
    "validate_agency",
]

ACTIVE = "active"
RECALLED = "recalled"  # taken back before the period ran out (on request, bankruptcy, death)
ENDED = "ended"  # taken back when (or after) the placement period ran out
PLACEMENT_STATUSES: tuple[str, ...] = (ACTIVE, RECALLED, ENDED)

DEFAULT_PLACEMENT_DAYS = 90
"""Issue 5: an agency works an account for 90 days unless the strategy says otherwise."""

ROUND_ROBIN = "round_robin"
RECOVERY_RATE = "recovery_rate"
SELECTIONS: tuple[str, ...] = (ROUND_ROBIN, RECOVERY_RATE)
RECOVERY_LOOKBACK_DAYS = 180
"""The recent window the recovery rate is measured over (placements made in it)."""

RATE = Numeric(6, 5)
MONEY = Numeric(18, 4)  # the same precision as every amount of the read model (store/models.py)


def _instant(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class AgencyRow(SQLModel, table=True):
    """One outside collection agency the lender may place accounts with."""

    __tablename__ = "agencies"

    agency_id: str = Field(primary_key=True, max_length=AGENCY_ID_LENGTH)
    name: str = Field(max_length=NAME_LENGTH, unique=True)
    commission_rate: Decimal = Field(
        sa_column=Column(RATE, nullable=False),
        description="the share of recovered money the agency keeps, e.g. 0.18",
    )
    capacity: int = Field(description="the most accounts the agency works at one time")
    active: bool = True
    created_at: datetime | None = _instant(nullable=False)


class PlacementRow(SQLModel, table=True):
    """One loan handed to one agency for a period; (episode, action_seq) is the action's key."""

    __tablename__ = "placements"
    __table_args__ = (
        UniqueConstraint("episode", "action_seq", name="uq_placements_episode_action_seq"),
        # capacity check: active placements per agency; round-robin: latest placement per agency
        Index("ix_placements_agency_status", "agency_id", "status"),
    )

    placement_id: str = Field(primary_key=True, max_length=PLACEMENT_ID_LENGTH)
    placement_no: int = Field(
        unique=True, description="the order placements were made in (the rotation's clock)"
    )
    loan_id: str = Field(max_length=LOAN_ID_LENGTH, index=True)
    workflow_id: str = Field(max_length=100)
    episode: str = Field(max_length=64)
    action_seq: int
    agency_id: str = Field(max_length=AGENCY_ID_LENGTH, foreign_key="agencies.agency_id")
    commission_rate: Decimal = Field(
        sa_column=Column(RATE, nullable=False),
        description="the agency's rate when the account was placed: what its recoveries earn",
    )
    currency: str = Field(default="", max_length=3)
    amount_placed: Decimal = Field(sa_column=Column(MONEY, nullable=False))
    placed_at: datetime | None = _instant(nullable=False)
    period_end: datetime | None = _instant(nullable=False)
    status: str = Field(default=ACTIVE, max_length=20, index=True)
    recalled_at: datetime | None = _instant()
    recall_reason: str | None = Field(default=None, max_length=REASON_LENGTH)
    recall_episode: str | None = Field(default=None, max_length=64)
    recall_action_seq: int | None = None


_agencies = SQLModel.metadata.tables[AgencyRow.__tablename__]
_placements = SQLModel.metadata.tables[PlacementRow.__tablename__]


class AgencyError(Exception):
    """A registry or placement operation refused for a business reason; the message is safe to
    show the caller."""


class InvalidAgency(AgencyError):
    """A commission rate outside (0, 1), a capacity below 1, or an empty name."""


class DuplicateAgency(AgencyError):
    """An agency with this name is already registered (the API answers 409)."""


class PlacementConflict(AgencyError):
    """The loan is already with an agency: it must be recalled before it is placed again."""


@dataclass(frozen=True)
class AgencyLoad:
    """An agency with the number of accounts it works now (what the registry listing shows)."""

    agency: AgencyRow
    active_placements: int


def _utc(at: datetime) -> datetime:
    """SQLite's DateTime keeps wall-clock fields without the offset: always bind UTC."""
    if at.tzinfo is None:
        raise ValueError("business instants must be timezone-aware")
    return at.astimezone(UTC)


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _as_loaded_utc(row: Any, *names: str) -> None:
    """SQLite hands back naive instants; make them UTC as if loaded so, without marking the row
    changed (a plain assignment would make the session flush the old values back over a later
    UPDATE)."""
    for name in names:
        set_committed_value(row, name, as_utc(getattr(row, name)))


def _normalised_agency(row: AgencyRow) -> AgencyRow:
    _as_loaded_utc(row, "created_at")
    return row


def _normalised(row: PlacementRow | None) -> PlacementRow | None:
    if row is not None:
        _as_loaded_utc(row, "placed_at", "period_end", "recalled_at")
    return row


def placement_id_for(loan_id: str, episode: str, action_seq: int) -> str:
    """Stable across retries and replays (like letter and task ids): what the agency is told."""
    return f"PL-{loan_id}-{episode[:8]}-{action_seq}"


# ------------------------------------------------------------------------------- registry


def validate_agency(name: str, commission_rate: Decimal, capacity: int) -> str:
    """The registry's rules, shared by the API, the CLI and `add_agency`; returns the clean name.

    A commission of 0 would be an agency working for free and 1 one keeping everything it
    recovers: both are typing mistakes, not contracts.
    """
    clean = " ".join(name.split())
    if not clean:
        raise InvalidAgency("An agency needs a name.")
    if len(clean) > 200:
        raise InvalidAgency("An agency name has at most 200 characters.")
    if not commission_rate.is_finite() or not (Decimal(0) < commission_rate < Decimal(1)):
        raise InvalidAgency(
            f"The commission rate must be a fraction between 0 and 1 (e.g. 0.18), "
            f"not {commission_rate}."
        )
    if commission_rate != commission_rate.quantize(Decimal("0.00001")):
        raise InvalidAgency("The commission rate has at most 5 decimal places.")
    if capacity < 1:
        raise InvalidAgency(f"The capacity must be at least 1 account, not {capacity}.")
    return clean


def add_agency(
    session: Session, name: str, commission_rate: Decimal, capacity: int, at: datetime
) -> AgencyRow:
    """Register an agency; `at` is when the registry changed (the caller's clock: the API's
    business clock, or the operator's for the CLI). Raises InvalidAgency or DuplicateAgency."""
    clean = validate_agency(name, commission_rate, capacity)
    if session.exec(select(AgencyRow).where(AgencyRow.name == clean)).first() is not None:
        raise DuplicateAgency(f"An agency named {clean!r} is already registered.")
    row = AgencyRow(
        agency_id=f"AG-{uuid.uuid4().hex[:12]}",
        name=clean,
        commission_rate=commission_rate,
        capacity=capacity,
        active=True,
        created_at=_utc(at),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same name won the race
        raise DuplicateAgency(f"An agency named {clean!r} is already registered.") from exc
    return row


def active_placement_counts(session: Session) -> dict[str, int]:
    """agency_id → the number of accounts it works now (agencies with none are absent)."""
    rows = (
        session.connection()
        .execute(
            sa_select(_placements.c.agency_id, func.count())
            .where(_placements.c.status == ACTIVE)
            .group_by(_placements.c.agency_id)
        )
        .all()
    )
    return {agency_id: int(count) for agency_id, count in rows}


def list_agencies(session: Session, *, include_inactive: bool = True) -> list[AgencyLoad]:
    """The registry by name, each agency with its active placement count."""
    query = select(AgencyRow).order_by(col(AgencyRow.name))
    if not include_inactive:
        query = query.where(col(AgencyRow.active).is_(True))
    counts = active_placement_counts(session)
    return [
        AgencyLoad(_normalised_agency(row), counts.get(row.agency_id, 0))
        for row in session.exec(query).all()
    ]


# ------------------------------------------------------------------------------ placement


def lock_registry(session: Session) -> None:
    """Serialise placements (see the module docstring): from here to the end of the caller's
    transaction no other placer can count or insert.

    PostgreSQL: row locks on every active agency, in a fixed order. SQLite: an UPDATE that
    matches nothing still takes the database's writer lock (waiting up to the busy timeout for
    another writer), and the reads that follow run inside that write transaction, so they see
    every placement committed before it.
    """
    if _is_postgres(session):
        session.connection().execute(
            sa_select(_agencies.c.agency_id)
            .where(_agencies.c.active.is_(True))
            .order_by(_agencies.c.agency_id)
            .with_for_update()
        ).all()
    else:
        session.connection().execute(
            update(_placements)
            .where(_placements.c.placement_id.is_(None))
            .values(status=_placements.c.status)
        )


def choose_agency(
    session: Session,
    at: datetime,
    *,
    exclude: tuple[str, ...] = (),
    selection: str = ROUND_ROBIN,
) -> AgencyRow | None:
    """The agency the next placement at business instant `at` goes to, or None when every
    active agency (not in `exclude`) is full.

    Round-robin: among active agencies with free capacity (active placements < capacity), the
    one whose most recent placement is oldest — an agency never used comes first, never-used
    agencies by name — so the order is total and any two workers agree on it. "Most recent" is
    by `placement_no` (see the module docstring).

    By recovery rate: the agency that recovered the largest share of what was placed with it
    in the last RECOVERY_LOOKBACK_DAYS before `at` (`recovery_rates`); an agency with no
    placements in that window has no rate yet and comes first, so a new agency gets accounts
    to earn one; ties fall back to the round-robin order.

    `exclude` keeps out the agencies that already worked this account (a secondary placement
    goes elsewhere). Correct under concurrency only inside the placer's lock: `place` calls it
    after taking it; call `lock_registry` first if you use it alone for a write.
    """
    at = _utc(at)
    if selection not in SELECTIONS:
        raise ValueError(f"unknown agency selection {selection!r} (one of {SELECTIONS})")
    active = (
        sa_select(_placements.c.agency_id, func.count().label("active"))
        .where(_placements.c.status == ACTIVE)
        .group_by(_placements.c.agency_id)
        .subquery()
    )
    recent = (
        sa_select(_placements.c.agency_id, func.max(_placements.c.placement_no).label("last"))
        .group_by(_placements.c.agency_id)
        .subquery()
    )
    used = func.coalesce(active.c.active, 0)
    query = (
        select(AgencyRow)
        .outerjoin(active, active.c.agency_id == _agencies.c.agency_id)
        .outerjoin(recent, recent.c.agency_id == _agencies.c.agency_id)
        .where(_agencies.c.active.is_(True), used < _agencies.c.capacity)
        .order_by(recent.c.last.asc().nulls_first(), _agencies.c.name.asc())
        .execution_options(populate_existing=True)
    )
    if exclude:
        query = query.where(col(AgencyRow.agency_id).not_in(exclude))
    candidates = list(session.exec(query).all())
    if not candidates:
        return None
    if selection == RECOVERY_RATE:
        rates = recovery_rates(session, at)
        # sorted() is stable: equal rates keep the round-robin order of the query.
        candidates = sorted(
            candidates,
            key=lambda a: (a.agency_id in rates, -rates.get(a.agency_id, Decimal(0))),
        )
    return _normalised_agency(candidates[0])


def recovery_rates(
    session: Session, at: datetime, lookback_days: int = RECOVERY_LOOKBACK_DAYS
) -> dict[str, Decimal]:
    """Per agency: money recovered on its placements made in the window before `at`, divided
    by the amount placed with it in that window (agencies without placements are absent)."""
    from store.models import PaymentRow  # the read model's payments carry the attribution

    at = _utc(at)
    since = at - timedelta(days=lookback_days)
    window = (_placements.c.placed_at >= since) & (_placements.c.placed_at <= at)
    placed = dict(
        session.connection()
        .execute(
            sa_select(_placements.c.agency_id, func.sum(_placements.c.amount_placed))
            .where(window)
            .group_by(_placements.c.agency_id)
        )
        .all()
    )
    payments = SQLModel.metadata.tables[PaymentRow.__tablename__]
    recovered = dict(
        session.connection()
        .execute(
            sa_select(_placements.c.agency_id, func.sum(payments.c.amount))
            .join(payments, payments.c.placement_id == _placements.c.placement_id)
            .where(window)
            .group_by(_placements.c.agency_id)
        )
        .all()
    )
    return {
        agency: Decimal(recovered.get(agency) or 0) / Decimal(amount)
        for agency, amount in placed.items()
        if amount
    }


def placement_for_action(session: Session, episode: str, action_seq: int) -> PlacementRow | None:
    """The placement an action already made, if any (a retried activity's lookup)."""
    row = session.exec(
        select(PlacementRow)
        .where(PlacementRow.episode == episode, PlacementRow.action_seq == action_seq)
        .execution_options(populate_existing=True)
    ).first()
    return _normalised(row)


def active_placement(session: Session, loan_id: str) -> PlacementRow | None:
    """The agency placement the loan is in now, if any."""
    row = session.exec(
        select(PlacementRow)
        .where(PlacementRow.loan_id == loan_id, PlacementRow.status == ACTIVE)
        .order_by(col(PlacementRow.placement_no).desc())
        .execution_options(populate_existing=True)
    ).first()
    return _normalised(row)


def placements_for_loan(session: Session, loan_id: str) -> list[PlacementRow]:
    """Every placement of a loan in the order they were made (a recalled account may be
    re-placed)."""
    rows = session.exec(
        select(PlacementRow)
        .where(PlacementRow.loan_id == loan_id)
        .order_by(col(PlacementRow.placement_no))
    ).all()
    return [r for r in (_normalised(row) for row in rows) if r is not None]


def _insert_ignoring_duplicates(session: Session, values: dict[str, Any]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: a concurrent attempt of the same action that got in
    first (only possible outside the registry lock) leaves its row, and ours is dropped."""
    dialect = postgresql if _is_postgres(session) else sqlite
    session.connection().execute(
        dialect.insert(_placements).values(**values).on_conflict_do_nothing()
    )


def place(
    session: Session,
    *,
    loan_id: str,
    workflow_id: str,
    episode: str,
    action_seq: int,
    at: datetime,
    amount: Decimal,
    currency: str = "",
    period_days: int = DEFAULT_PLACEMENT_DAYS,
    exclude: tuple[str, ...] = (),
    selection: str = ROUND_ROBIN,
) -> PlacementRow | None:
    """Place the loan with the next agency in the rotation, once per action.

    Returns the new placement, the one this action made earlier (a retry), or None when no
    active agency has free capacity. `at` is the action's business instant: the placement
    starts then and runs `period_days`. Raises PlacementConflict when the loan is already with
    an agency through another action (recall it first), ValueError for a period below one day.
    """
    if period_days < 1:
        raise ValueError(f"A placement period is at least one day, not {period_days}.")
    at = _utc(at)
    existing = placement_for_action(session, episode, action_seq)
    if existing is not None:
        return existing
    lock_registry(session)
    existing = placement_for_action(session, episode, action_seq)  # placed while we waited
    if existing is not None:
        return existing
    current = active_placement(session, loan_id)
    if current is not None:
        raise PlacementConflict(
            f"Loan {loan_id} is already placed with agency {current.agency_id} "
            f"({current.placement_id}); recall it before placing it again."
        )
    agency = choose_agency(session, at, exclude=exclude, selection=selection)
    if agency is None:
        return None
    placement_id = placement_id_for(loan_id, episode, action_seq)
    number = (
        session.connection()
        .execute(sa_select(func.coalesce(func.max(_placements.c.placement_no), 0) + 1))
        .scalar_one()
    )
    _insert_ignoring_duplicates(
        session,
        {
            "placement_id": placement_id,
            "placement_no": number,
            "loan_id": loan_id,
            "workflow_id": workflow_id,
            "episode": episode,
            "action_seq": action_seq,
            "agency_id": agency.agency_id,
            "commission_rate": agency.commission_rate,
            "currency": currency,
            "amount_placed": amount,
            "placed_at": at,
            "period_end": at + timedelta(days=period_days),
            "status": ACTIVE,
        },
    )
    row = placement_for_action(session, episode, action_seq)
    if row is None:  # the id collided with a different action's (same loan, episode prefix, seq)
        raise AgencyError(f"Placement id {placement_id} is taken by another action.")
    record_events(
        session,
        [
            EventFact(
                key=f"{loan_id}:placement:{placement_id}:placed",
                at=at,
                loan_id=loan_id,
                type=EventType.AGENCY_PLACED,
                data={
                    "episode": episode,
                    "placement_id": placement_id,
                    "agency_id": agency.agency_id,
                    "commission_rate": str(agency.commission_rate),
                    "amount_placed": str(amount),
                    "currency": currency,
                    "period_end": (at + timedelta(days=period_days)).isoformat(),
                },
            )
        ],
    )
    return row


def recall(
    session: Session,
    loan_id: str,
    at: datetime,
    reason: str,
    *,
    episode: str | None = None,
    action_seq: int | None = None,
) -> PlacementRow | None:
    """Take the loan back from its agency at business instant `at`; None if it is not placed.

    The placement becomes `ended` when its period has run out by `at` and `recalled` when it is
    cut short. (episode, action_seq), when given, name the recalling action so a retry of it can
    be recognised (`recalled_by`). One conditional UPDATE: two recalls at once close it once.
    """
    at = _utc(at)
    current = active_placement(session, loan_id)
    if current is None:
        return None
    assert current.period_end is not None
    status = ENDED if at >= current.period_end else RECALLED
    result = session.connection().execute(
        update(_placements)
        .where(
            _placements.c.placement_id == current.placement_id,
            _placements.c.status == ACTIVE,
        )
        .values(
            status=status,
            recalled_at=at,
            recall_reason=reason[:200],
            recall_episode=episode,
            recall_action_seq=action_seq,
        )
    )
    if result.rowcount != 1:
        return None  # a concurrent recall closed it first
    record_events(
        session,
        [
            EventFact(
                key=f"{loan_id}:placement:{current.placement_id}:recalled",
                at=at,
                loan_id=loan_id,
                type=EventType.AGENCY_RECALLED,
                data={
                    "episode": current.episode,
                    "placement_id": current.placement_id,
                    "agency_id": current.agency_id,
                    "status": status,
                    "reason": reason[:200],
                },
            )
        ],
    )
    return _normalised(
        session.exec(
            select(PlacementRow)
            .where(PlacementRow.placement_id == current.placement_id)
            .execution_options(populate_existing=True)
        ).first()
    )


def recalled_by(session: Session, episode: str, action_seq: int) -> PlacementRow | None:
    """The placement a recalling action closed, if any (a retried `oca_recall`'s lookup)."""
    row = session.exec(
        select(PlacementRow).where(
            PlacementRow.recall_episode == episode, PlacementRow.recall_action_seq == action_seq
        )
    ).first()
    return _normalised(row)
