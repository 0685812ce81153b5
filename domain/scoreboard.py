"""The playbook's scoreboard (section 4): roll rates and cure rates from transition facts.

One `TransitionFact` is one row of the store's `transitions` table (the simulator builds the same
facts from its own run). Everything here is a pure function of the facts and the instants asked
about, so the live reports, the simulator and the tests compute the same numbers.

Scoreboard status of an account at an instant — its latest fact at or before that instant:

| the fact's `to_state` | status |
|---|---|
| `pre_due`, `paid_on_time`, `cured`, `restructured` | `current` (Path 4) |
| `delinquent` | its bucket: `M1`, `M2`, `M3`, `M4+` (`current` if the bucket says so) |
| `written_off` | `written_off` |
| `closed` (settled, plan completed) | `closed` |

`current` means nothing overdue under the schedule in force: a restructured account is current
under its new plan (CONTRACT.md). Facts at the same instant count in the order given
(store/reports.py loads them in the order they were written). A delinquent fact whose bucket is
not one of the playbook's is placed by its `dpd` on the default bucket table; without a `dpd` it
is an error.

Cure rates count *delinquency spells*: a spell begins when an account's status moves into M1 or
worse from anything else (or from nothing) and ends when the status leaves M1..M4+. A spell that
ends in `current` is **cured** (paid what was overdue, or restructured onto a plan it is current
on); one that ends in `written_off` or `closed` is not. An account that cures and falls behind
again begins a new spell. Per bucket, the rate follows the playbook's glossary: of the spells
that *entered* bucket X in the period, the share that returned to Current.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from domain.calendar import start_of_local_day, zone
from domain.ranges import DEFAULT_BUCKETS

__all__ = [
    "CURRENT",
    "DELINQUENT_STATUSES",
    "SCOREBOARD_STATUSES",
    "BucketCure",
    "CureRates",
    "RollRates",
    "TransitionFact",
    "cure_rates",
    "facts_by_arm",
    "month_ends",
    "roll_rate_matrix",
    "scoreboard_status",
    "status_at",
]

CURRENT = "current"
DELINQUENT_STATUSES: tuple[str, ...] = ("M1", "M2", "M3", "M4+")
SCOREBOARD_STATUSES: tuple[str, ...] = (CURRENT, *DELINQUENT_STATUSES, "written_off", "closed")
"""Row and column order of the roll-rate matrix."""

_CURRENT_STATES = frozenset({"pre_due", "paid_on_time", "cured", "restructured"})
_TERMINAL_STATES = frozenset({"written_off", "closed"})
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class TransitionFact:
    """A change of state or bucket of one account (a row of the store's `transitions`)."""

    loan_id: str
    at: datetime
    to_state: str
    to_bucket: str
    arm: str | None = None
    dpd: int | None = None


def scoreboard_status(fact: TransitionFact) -> str:
    """The scoreboard status a fact puts its account in (see the table in the module doc)."""
    if fact.to_state in _CURRENT_STATES:
        return CURRENT
    if fact.to_state in _TERMINAL_STATES:
        return fact.to_state
    if fact.to_state != "delinquent":
        raise ValueError(f"loan {fact.loan_id}: unknown account state {fact.to_state!r}")
    if fact.to_bucket == CURRENT or fact.to_bucket in DELINQUENT_STATUSES:
        return fact.to_bucket
    if fact.dpd is None:
        raise ValueError(
            f"loan {fact.loan_id}: bucket {fact.to_bucket!r} is not one of the scoreboard's "
            f"{', '.join(SCOREBOARD_STATUSES)} and the fact carries no DPD to place it by"
        )
    return DEFAULT_BUCKETS.lookup(fact.dpd)


def _in_order(facts: Iterable[TransitionFact]) -> list[TransitionFact]:
    """By instant; ties keep the order given (sorted() is stable)."""
    return sorted(facts, key=lambda f: f.at)


def _by_loan(facts: Iterable[TransitionFact]) -> dict[str, list[TransitionFact]]:
    loans: dict[str, list[TransitionFact]] = defaultdict(list)
    for fact in _in_order(facts):
        loans[fact.loan_id].append(fact)
    return loans


def status_at(facts: Iterable[TransitionFact], at: datetime) -> dict[str, str]:
    """Each account's status at `at`, from its latest fact at or before `at`; accounts with no
    fact by then are absent."""
    statuses: dict[str, str] = {}
    for fact in _in_order(facts):
        if fact.at > at:
            break
        statuses[fact.loan_id] = scoreboard_status(fact)
    return statuses


def facts_by_arm(facts: Iterable[TransitionFact]) -> dict[str, list[TransitionFact]]:
    """Facts grouped by champion/challenger arm, arms sorted by name; facts of accounts in no
    experiment (arm None) belong to no arm and appear only in the overall figures."""
    arms: dict[str, list[TransitionFact]] = defaultdict(list)
    for fact in facts:
        if fact.arm is not None:
            arms[fact.arm].append(fact)
    return {arm: arms[arm] for arm in sorted(arms)}


def month_ends(start: date, end: date, tz: str = "UTC") -> list[datetime]:
    """The last instant (23:59:59.999999 in `tz`) of every calendar month whose last day lies in
    [start, end], oldest first. A transition at local midnight on the 1st belongs to the new
    month, so a month's end is its last microsecond rather than the next month's first."""
    zone(tz)  # an unknown zone fails here, not after the first month
    ends: list[datetime] = []
    year, month = start.year, start.month
    while True:
        last = date(year, month, calendar.monthrange(year, month)[1])
        if last > end:
            return ends
        if last >= start:
            ends.append(start_of_local_day(last + _DAY, tz) - timedelta(microseconds=1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


class RollRates(BaseModel):
    """How accounts moved between consecutive month ends, summed over the pairs.

    `counts[X][Y]`: accounts in X at one month end and in Y at the next; `totals[X]` = the row's
    sum = accounts in X at the earlier month ends; `rates[X][Y] = counts[X][Y] / totals[X]` (0.0
    for an empty row). Rows and columns follow `statuses`.
    """

    model_config = ConfigDict(frozen=True)

    statuses: tuple[str, ...] = SCOREBOARD_STATUSES
    month_ends: list[datetime]
    counts: dict[str, dict[str, int]]
    totals: dict[str, int]
    rates: dict[str, dict[str, float]]

    def rate(self, origin: str, target: str) -> float:
        return self.rates[origin][target]


def roll_rate_matrix(facts: Iterable[TransitionFact], month_ends: list[datetime]) -> RollRates:
    """Roll-rate matrix between each consecutive pair of `month_ends` (sorted first), summed."""
    facts = _in_order(facts)
    ends = sorted(month_ends)
    counts = {row: dict.fromkeys(SCOREBOARD_STATUSES, 0) for row in SCOREBOARD_STATUSES}
    before = status_at(facts, ends[0]) if ends else {}
    for later in ends[1:]:
        after = status_at(facts, later)
        for loan_id, origin in before.items():
            counts[origin][after[loan_id]] += 1
        before = after
    totals = {row: sum(cells.values()) for row, cells in counts.items()}
    rates = {
        row: {col: (n / totals[row] if totals[row] else 0.0) for col, n in cells.items()}
        for row, cells in counts.items()
    }
    return RollRates(month_ends=ends, counts=counts, totals=totals, rates=rates)


@dataclass(frozen=True, slots=True)
class _Spell:
    loan_id: str
    began: datetime
    entered: tuple[str, ...]  # delinquent buckets entered during the spell, first entry each
    entered_at: tuple[datetime, ...]
    ended: datetime | None  # when the status left M1..M4+, if it did before the horizon
    outcome: str  # cured · restructured · written_off · closed · delinquent (still)


def _spells(loan_facts: list[TransitionFact], horizon: datetime) -> list[_Spell]:
    """The delinquency spells of one account, from its facts before `horizon`."""
    spells: list[_Spell] = []
    status: str | None = None
    began: datetime | None = None
    entered: list[str] = []
    entered_at: list[datetime] = []
    for fact in loan_facts:
        if fact.at >= horizon:
            break
        new = scoreboard_status(fact)
        if new in DELINQUENT_STATUSES:
            if began is None:
                began, entered, entered_at = fact.at, [], []
            if new != status and new not in entered:
                entered.append(new)
                entered_at.append(fact.at)
        elif began is not None:
            if new == CURRENT:
                outcome = "restructured" if fact.to_state == "restructured" else "cured"
            else:
                outcome = new
            spells.append(
                _Spell(fact.loan_id, began, tuple(entered), tuple(entered_at), fact.at, outcome)
            )
            began = None
        status = new
    if began is not None:
        spells.append(
            _Spell(
                loan_facts[0].loan_id, began, tuple(entered), tuple(entered_at), None, "delinquent"
            )
        )
    return spells


class BucketCure(BaseModel):
    """Of the spells that entered a bucket in the period, how many returned to Current."""

    model_config = ConfigDict(frozen=True)

    entered: int
    cured: int
    rate: float


class CureRates(BaseModel):
    """Cure rates of the delinquency spells that began in [start, end), judged at `end`.

    `became_delinquent` counts spells (an account that cures and falls behind again in the period
    counts twice: each is its own trip down the four paths). `outcomes` says how those spells
    stood at `end`: `cured` (paid), `restructured` (on a plan, current), `written_off`, `closed`,
    `delinquent` (still in collection); `cured` + `restructured` = `cured_total`, and `rate` =
    `cured_total / became_delinquent`. `by_bucket[X]` follows the glossary: spells that entered
    X in [start, end) (whenever they began), and how many of them returned to Current by `end`.
    `cure_curve[n]` = share of the spells that began in the period cured within n whole days of
    their first delinquency (n = 0 .. the slowest cure); its last value is `rate`.
    """

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    became_delinquent: int
    cured_total: int
    rate: float
    outcomes: dict[str, int]
    by_bucket: dict[str, BucketCure]
    cure_curve: list[float]


_OUTCOMES = ("cured", "restructured", "written_off", "closed", "delinquent")


def cure_rates(facts: Iterable[TransitionFact], start: datetime, end: datetime) -> CureRates:
    """Cure rates of the spells that began in [start, end), counting only facts before `end`."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    spells = [s for loan in _by_loan(facts).values() for s in _spells(loan, end)]
    began = [s for s in spells if start <= s.began < end]
    outcomes = dict.fromkeys(_OUTCOMES, 0)
    for spell in began:
        outcomes[spell.outcome] += 1
    cured_total = outcomes["cured"] + outcomes["restructured"]
    by_bucket: dict[str, BucketCure] = {}
    for bucket in DELINQUENT_STATUSES:
        entered = [
            s
            for s in spells
            if any(
                b == bucket and start <= at < end
                for b, at in zip(s.entered, s.entered_at, strict=True)
            )
        ]
        cured = sum(1 for s in entered if s.outcome in ("cured", "restructured"))
        by_bucket[bucket] = BucketCure(
            entered=len(entered), cured=cured, rate=cured / len(entered) if entered else 0.0
        )
    days_to_cure = [
        (s.ended - s.began) // _DAY
        for s in began
        if s.ended is not None and s.outcome in ("cured", "restructured")
    ]
    curve: list[float] = []
    if began:
        slowest = max(days_to_cure, default=0)
        curve = [sum(1 for d in days_to_cure if d <= n) / len(began) for n in range(slowest + 1)]
    return CureRates(
        start=start,
        end=end,
        became_delinquent=len(began),
        cured_total=cured_total,
        rate=cured_total / len(began) if began else 0.0,
        outcomes=outcomes,
        by_bucket=by_bucket,
        cure_curve=curve,
    )
