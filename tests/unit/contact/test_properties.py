"""Property-based tests: the gate and the independent audit agree on random histories.

Random sequences of proposed contacts (every channel, party and purpose), their outcomes
(connected, unanswered, failed, conversations), holds reported and ended, consent withdrawn and
restored, and numbers going dead, for each shipped profile (payments play no part in the contact
rules, so they are not generated). Deterministic: `derandomize=True`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.contact import (
    HOLD_KINDS,
    BorrowerContext,
    Channel,
    ConsentChange,
    ContactLedger,
    ContactProfile,
    ContactRecord,
    Decision,
    Hold,
    HoldKind,
    Party,
    ProposedContact,
    Purpose,
    audit_ledger,
    decide,
    earliest_allowed,
)

from .support import (
    BOS_PHONE,
    CN,
    CN_CONTACT,
    CN_MOBILE,
    CN_MOBILE_2,
    LA_PHONE,
    MA,
    NY_PHONE,
    US,
    US_CONTACT,
    new_york,
    shanghai,
)

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Scenario:
    profile: ContactProfile
    ctx: BorrowerContext
    borrower_numbers: list[str]
    other_numbers: list[str]
    starts: list[datetime]


SCENARIOS = {
    "cn": Scenario(
        CN,
        BorrowerContext(timezone="Asia/Shanghai", phones=[CN_MOBILE, CN_MOBILE_2], country="CN"),
        [CN_MOBILE, CN_MOBILE_2],
        [CN_CONTACT],
        # Before the Mid-Autumn/National Day holidays, and an ordinary June evening.
        [shanghai(2026, 9, 23, 7, 0), shanghai(2026, 6, 1, 21, 0)],
    ),
    "us-regf": Scenario(
        US,
        BorrowerContext(timezone="America/New_York", phones=[NY_PHONE, LA_PHONE], country="US"),
        [NY_PHONE, LA_PHONE],
        [US_CONTACT],
        # Across the spring-forward day, the fall-back day and Thanksgiving.
        [new_york(2026, 3, 5, 20, 0), new_york(2026, 10, 29, 7, 0), new_york(2026, 11, 23, 9)],
    ),
    "us-ma": Scenario(
        MA,
        BorrowerContext(
            timezone="America/New_York",
            phones=[BOS_PHONE, LA_PHONE],
            country="US",
            subdivision="MA",
        ),
        [BOS_PHONE, LA_PHONE],
        [US_CONTACT],
        # Across Patriots' Day and the spring-forward day.
        [new_york(2026, 4, 16, 9, 0), new_york(2026, 3, 6, 7, 0)],
    ),
}

# Weighted towards calls to the borrower, so that caps and the conversation pause are reached.
CHANNELS: list[Channel] = ["call", "call", "call", "call", "call", "sms", "sms", "voice"]
CHANNELS += ["letter", "field_visit"]
PARTIES: list[Party] = ["borrower", "borrower", "borrower", "borrower", "borrower", "borrower"]
PARTIES += ["guarantor", "third_party", "attorney"]
PURPOSES: list[Purpose] = ["collect", "collect", "collect", "locate", "message", "notice"]
Outcome = Literal["connected", "unanswered", "failed"]


@dataclass(frozen=True)
class Propose:
    channel: Channel
    party: Party
    number: int
    purpose: Purpose
    outcome: Outcome
    conversation: bool
    act_later: bool


@dataclass(frozen=True)
class AddHold:
    kind: HoldKind
    hours: int | None


@dataclass(frozen=True)
class EndHold:
    index: int


@dataclass(frozen=True)
class SetConsent:
    channel: Literal["sms", "voice"]
    granted: bool
    number: int | None


@dataclass(frozen=True)
class NumberDead:
    number: int


Event = Propose | AddHold | EndHold | SetConsent | NumberDead
T = TypeVar("T")


def _weighted(*choices: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """Pick one strategy with the given weights: st.one_of weighs its branches equally (and
    merges repeated ones), so each repeat is a distinct copy."""
    return st.one_of(*[strategy.map(_same) for weight, strategy in choices for _ in range(weight)])


def _same(value: T) -> T:
    return value


proposals = st.builds(
    Propose,
    channel=st.sampled_from(CHANNELS),
    party=st.sampled_from(PARTIES),
    number=st.integers(0, 3),
    purpose=st.sampled_from(PURPOSES),
    outcome=st.sampled_from(["connected", "unanswered", "unanswered", "failed"]),
    conversation=st.booleans(),
    act_later=st.booleans(),
)
facts: st.SearchStrategy[Event] = st.one_of(
    st.builds(
        AddHold,
        kind=st.sampled_from(HOLD_KINDS),
        # Mostly holds with an end (an open one silences the rest of the history).
        hours=_weighted((3, st.integers(1, 72)), (1, st.integers(1, 240)), (1, st.none())),
    ),
    st.builds(EndHold, index=st.integers(0, 5)),
    st.builds(
        SetConsent,
        channel=st.sampled_from(["sms", "voice"]),
        granted=st.booleans(),
        number=st.one_of(st.none(), st.integers(0, 3)),
    ),
    st.builds(NumberDead, number=st.integers(0, 3)),
)
events: st.SearchStrategy[Event] = _weighted((12, proposals), (1, facts))
# Minutes between events: mostly within a day (daily caps), sometimes days apart (7-day
# windows, holidays).
gaps = _weighted((6, st.integers(1, 90)), (2, st.integers(90, 720)), (1, st.integers(720, 5760)))
histories = st.lists(st.tuples(gaps, events), min_size=20, max_size=80)


@dataclass
class World:
    scenario: Scenario
    now: datetime
    ledger: ContactLedger
    holds: list[Hold]
    dead_since: dict[str, datetime]
    consent_changes: list[ConsentChange]

    def decide(self, proposed: ProposedContact, ledger: ContactLedger | None = None) -> Decision:
        return decide(
            proposed,
            self.ledger if ledger is None else ledger,
            self.holds,
            self.scenario.profile,
            self.scenario.ctx,
        )

    def proposal(self, event: Propose) -> ProposedContact:
        target = None
        if event.channel in ("sms", "voice", "call"):
            pool = (
                self.scenario.borrower_numbers
                if event.party == "borrower"
                else self.scenario.other_numbers
            )
            target = pool[event.number % len(pool)]
        return ProposedContact(
            channel=event.channel,
            at=self.now,
            party=event.party,
            target=target,
            purpose=event.purpose,
        )

    def apply(self, event: Event) -> None:
        """Every event except a proposal: the facts change."""
        numbers = self.scenario.borrower_numbers
        match event:
            case AddHold(kind=kind, hours=hours):
                until = None if hours is None else self.now + timedelta(hours=hours)
                self.holds.append(Hold(kind=kind, since=self.now, until=until))
            case EndHold(index=index) if self.holds:
                i = index % len(self.holds)
                self.holds[i] = self.holds[i].ended(self.now)
            case SetConsent(channel=channel, granted=granted, number=number):
                phone = None if number is None or channel != "sms" else numbers[number % 2]
                self.ledger = self.ledger.with_consent(channel, granted, phone)
                self.consent_changes.append(
                    ConsentChange(at=self.now, channel=channel, granted=granted, number=phone)
                )
            case NumberDead(number=number):
                phone = numbers[number % len(numbers)]
                self.ledger = self.ledger.with_dead_number(phone)
                self.dead_since.setdefault(phone, self.now)


def _record(proposed: ProposedContact, at: datetime, event: Propose) -> ContactRecord:
    phone = proposed.channel in ("call", "voice")
    result = {
        "sms": "failed" if event.outcome == "failed" else "sent",
        "letter": "sent",
        "field_visit": "visited" if event.outcome == "connected" else "not_met",
    }.get(proposed.channel, event.outcome)
    return ContactRecord.model_validate(
        {
            "at": at,
            "channel": proposed.channel,
            "party": proposed.party,
            "target": proposed.target,
            "result": result,
            "conversation": phone and result == "connected" and event.conversation,
            "purpose": proposed.purpose,
            "actor": "agency" if event.number == 3 else "us",
        }
    )


def _world(name: str, start: int) -> World:
    scenario = SCENARIOS[name]
    now = scenario.starts[start % len(scenario.starts)]
    return World(scenario, now, ContactLedger(), [], {}, [])


def _check_gate(world: World, proposed: ProposedContact, now_decision: Decision) -> Decision:
    """The gate's own promises for one proposal; returns earliest_allowed's answer."""
    profile, ctx = world.scenario.profile, world.scenario.ctx
    later = earliest_allowed(proposed, world.ledger, world.holds, profile, ctx, horizon_days=30)
    if now_decision.allowed:
        assert now_decision.rule is None
        assert now_decision.earliest == proposed.at
        assert later.allowed and later.earliest == proposed.at
    else:
        assert now_decision.rule is not None
        assert now_decision.earliest is None or now_decision.earliest > proposed.at
        assert later.requirements["blocked_by"] == now_decision.rule
    if later.allowed:
        assert later.earliest is not None and later.earliest >= proposed.at
        # earliest_allowed's instant is itself allowed by decide ...
        assert world.decide(proposed.model_copy(update={"at": later.earliest})).allowed
        # ... and it is the first one: a second earlier is still refused.
        before = later.earliest - timedelta(seconds=1)
        if before >= proposed.at:
            assert not world.decide(proposed.model_copy(update={"at": before})).allowed
    else:
        assert later.earliest is None
    # The ledger pruned for continue-as-new decides the same.
    small = world.ledger.pruned(profile.prune_before(proposed.at), profile.unreachable_after)
    again = world.decide(proposed, small)
    assert (again.allowed, again.rule, again.earliest) == (
        now_decision.allowed,
        now_decision.rule,
        now_decision.earliest,
    )
    return later


def _run_gate(name: str, start: int, history: list[tuple[int, Event]]) -> World:
    """Play a history through the gate: record what it allows, at once or rescheduled to the
    earliest allowed instant; check the gate's promises on the way and audit the result."""
    world = _world(name, start)
    for gap, event in history:
        world.now += timedelta(minutes=gap)
        if not isinstance(event, Propose):
            world.apply(event)
            continue
        proposed = world.proposal(event)
        decision = world.decide(proposed)
        later = _check_gate(world, proposed, decision)
        if decision.allowed:
            at = world.now
        elif later.allowed and event.act_later and later.earliest is not None:
            # The workflow reschedules a refused contact to the earliest allowed instant.
            at = world.now = later.earliest
        else:
            continue
        world.ledger = world.ledger.with_record(_record(proposed, at, event))
    violations = audit_ledger(
        world.ledger.records,
        world.holds,
        world.scenario.profile,
        world.scenario.ctx,
        dead_since=world.dead_since,
        consent_changes=world.consent_changes,
    )
    assert violations == []
    # The ledger survives continue-as-new.
    assert ContactLedger.model_validate_json(world.ledger.model_dump_json()) == world.ledger
    return world


@PROPERTY_SETTINGS
@given(
    name=st.sampled_from(sorted(SCENARIOS)),
    start=st.integers(0, 2),
    history=histories,
)
def test_contacts_the_gate_allows_never_break_a_rule(
    name: str, start: int, history: list[tuple[int, Event]]
) -> None:
    _run_gate(name, start, history)


# Bursts of calls to the borrower minutes apart, mostly unanswered: the daily caps.
bursts = st.lists(
    st.tuples(
        _weighted((4, st.integers(1, 20)), (1, st.integers(20, 600))),
        st.builds(
            Propose,
            channel=st.sampled_from(["call", "call", "call", "voice"]),
            party=st.just("borrower"),
            number=st.sampled_from([0, 0, 0, 1]),
            purpose=st.just("collect"),
            outcome=st.sampled_from(["unanswered"] * 4 + ["connected", "failed"]),
            conversation=st.booleans(),
            act_later=st.booleans(),
        ),
    ),
    min_size=10,
    max_size=60,
)


@settings(PROPERTY_SETTINGS, max_examples=100)
@given(name=st.sampled_from(sorted(SCENARIOS)), start=st.integers(0, 2), history=bursts)
def test_bursts_of_calls_the_gate_allows_never_break_a_cap(
    name: str, start: int, history: list[tuple[int, Event]]
) -> None:
    _run_gate(name, start, history)


def _outcome_dependent_cap(profile: ContactProfile, rule: str, record: ContactRecord) -> bool:
    """Caps on an outcome (connected calls, unanswered attempts) refuse an attempt in advance;
    the attempt breaks the cap only if it turns out to have that outcome."""
    for cap in profile.caps:
        if cap.rule == rule and cap.results is not None:
            return record.result not in cap.results
    return False


@PROPERTY_SETTINGS
@given(
    name=st.sampled_from(sorted(SCENARIOS)),
    start=st.integers(0, 2),
    history=histories,
)
def test_the_audit_flags_exactly_the_contacts_the_gate_refuses(
    name: str, start: int, history: list[tuple[int, Event]]
) -> None:
    # Record every proposed contact, allowed or not, and remember what the gate said.
    world = _world(name, start)
    verdicts: dict[datetime, tuple[Decision, ContactRecord]] = {}
    for gap, event in history:
        world.now += timedelta(minutes=gap)
        if not isinstance(event, Propose):
            world.apply(event)
            continue
        proposed = world.proposal(event)
        rec = _record(proposed, world.now, event)
        verdicts[world.now] = (world.decide(proposed), rec)
        world.ledger = world.ledger.with_record(rec)
    found: dict[datetime, set[str]] = {}
    for violation in audit_ledger(
        world.ledger.records,
        world.holds,
        world.scenario.profile,
        world.scenario.ctx,
        dead_since=world.dead_since,
        consent_changes=world.consent_changes,
    ):
        found.setdefault(violation.at, set()).add(violation.rule)
    for at, (decision, rec) in verdicts.items():
        flagged = found.get(at, set())
        if decision.allowed:
            assert flagged == set(), (at, rec)
        elif decision.rule is not None and not _outcome_dependent_cap(
            world.scenario.profile, decision.rule, rec
        ):
            assert decision.rule in flagged, (at, decision.reason, flagged)
