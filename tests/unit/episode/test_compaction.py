"""Continue-as-new leaves behind what no later decision reads (workflows/account/compaction.py,
issue 19): an episode carried with compaction decides exactly as one carried without it, turn
by turn, and what a long episode carries stays bounded.

Two copies of one made-up episode live through the same days, messages and continue-as-news;
one is compacted at every continue-as-new, the other is not. After every turn their outboxes
(actions, transitions, payments, promises, task updates, children, signals, search attributes),
their status, their next moment and their refusals must be equal."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.account import PaymentIn, PromiseIn
from domain.contact import Hold
from domain.promise import Promise
from workflows.account import compaction, holds, ladder, promises
from workflows.account.episode import Episode, Outbox, Refused
from workflows.contracts import AccountWorkflowInput, EpisodeState

from .conftest import DUE, REGISTRY, EpisodeFactory, at

HOURS = (9, 13, 20)


def _carry(ep: Episode, now: datetime, compact: bool) -> Episode:
    """A continue-as-new: the carried state through JSON, as the workflow's input travels."""
    state = ep.carried(now, compact=compact)
    carried = EpisodeState.model_validate_json(state.model_dump_json())
    pinned = ep.pinned
    return Episode(AccountWorkflowInput(policy=pinned, carried=carried), pinned.resolve(REGISTRY))


def _turn(ep: Episode, now: datetime) -> tuple[object, ...]:
    """One turn of the workflow's loop: advance, take what it decided, plan the next moment."""
    ladder.advance(ep, now)
    wake_at = ladder.plan_next(ep, now)
    decided = (ep.out, ep.status(now), wake_at, ep.next)
    ep.out = Outbox()
    return decided


def _message(ep: Episode, now: datetime, event: tuple[str, object]) -> object:
    """A message from outside, as the workflow's handlers take it; a refusal is an answer too."""
    kind, arg = event
    try:
        if kind == "pay":
            assert isinstance(arg, PaymentIn)
            ep.check_payment(arg)
            return ep.take_payment(now, arg)
        if kind == "promise":
            assert isinstance(arg, PromiseIn)
            promises.check_promise(ep, now, arg, supervisor_override=False)
            return promises.make_promise(ep, now, arg)
        if kind == "complaint":
            return holds.add_hold(ep, now, "complaint", {"reported_by": "c1"})
        if kind == "grace":
            return holds.grant_grace(ep, now, "short-term hardship")
    except Refused as refused:
        return ("refused", refused.type, refused.message)
    raise AssertionError(kind)


def _script(seed: int, days: int) -> dict[tuple[int, int], list[tuple[str, object]]]:
    """Made-up messages by (day, hour): small payments (some resent), promises, complaints and
    grace periods, drawn from `seed`."""
    rng = random.Random(seed)
    script: dict[tuple[int, int], list[tuple[str, object]]] = {}
    paid: list[PaymentIn] = []
    for day in range(days):
        on = DUE + timedelta(days=day)
        for hour in HOURS:
            events: list[tuple[str, object]] = []
            if rng.random() < 0.08:
                payment = PaymentIn(
                    payment_id=f"PAY-{day}-{hour}",
                    amount=Decimal(rng.choice(["5.00", "12.00", "20.00", "35.00"])),
                    paid_at=at(on, hour),
                )
                paid.append(payment)
                events.append(("pay", payment))
            if paid and rng.random() < 0.03:
                events.append(("pay", rng.choice(paid)))  # the loan system resends one
            if rng.random() < 0.03:
                amount = Decimal(rng.choice(["50.00", "600.00"]))
                promised = on + timedelta(days=rng.choice([1, 3, 5]))
                events.append(("promise", PromiseIn(amount=amount, promised_date=promised)))
            if rng.random() < 0.01:
                events.append(("complaint", None))
            if rng.random() < 0.005:
                events.append(("grace", None))
            if events:
                script[(day, hour)] = events
    return script


def _account(**changes: object) -> dict[str, object]:
    """Monthly instalments over the run, so the anchor moves as they fall due and are paid."""
    return {
        "instalments": [
            {
                "seq": 7 + n,
                "due_date": (DUE + timedelta(days=30 * n)).isoformat(),
                "amount": "1200.00",
            }
            for n in range(8)
        ],
        **changes,
    }


def _live(
    seed: int, days: int, new_episode: EpisodeFactory, every: int, compare: bool = True
) -> list[tuple[int, int]]:
    """Both copies through `days` days, continuing as new every `every` days; returns the
    carried sizes (compacted, not compacted) in bytes at each continue-as-new. `compare`: their
    answers and decisions must be equal."""
    script = _script(seed, days)
    compacted, whole = new_episode(**_account()), new_episode(**_account())
    sizes: list[tuple[int, int]] = []
    start = DUE - timedelta(days=2)
    for day in range(days):
        on = start + timedelta(days=day)
        for hour in HOURS:
            now = at(on, hour)
            for event in script.get((day, hour), []):
                answers = _message(compacted, now, event), _message(whole, now, event)
                assert not compare or answers[0] == answers[1], (day, hour, event)
            decided = _turn(compacted, now), _turn(whole, now)
            assert not compare or decided[0] == decided[1], (day, hour)
            assert not compacted.closed, "the made-up episode must stay open"
        if day % every == every - 1:
            now = at(on, 22)
            compacted = _carry(compacted, now, compact=True)
            whole = _carry(whole, now, compact=False)
            sizes.append((len(compacted.s.model_dump_json()), len(whole.s.model_dump_json())))
            _assert_nothing_unreadable_carried(compacted.s, now, compacted)
    return sizes


def _assert_nothing_unreadable_carried(s: EpisodeState, now: datetime, ep: Episode) -> None:
    assert all(key.startswith(f"{s.anchor}|") for key in s.fired)
    assert len(s.book.penalty_periods) <= 1
    assert all(not p.to_principal for p in s.book.payments)
    horizon = ep.profile.prune_before(now)
    assert all(h.until is None or h.until >= horizon for h in s.holds)


@pytest.mark.parametrize("seed", range(8))
def test_an_episode_carried_compacted_decides_exactly_as_one_carried_whole(
    seed: int, new_episode: EpisodeFactory
) -> None:
    _live(seed, 180, new_episode, every=9)


def test_a_180_day_episodes_carried_state_stays_bounded_while_the_whole_one_grows(
    new_episode: EpisodeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the payments remembered for dedup capped low (10), what a 180-day episode with
    a payment every few days carries stops growing once the last anchor's steps have fired:
    the second half's continue-as-new inputs are no larger than the first half's largest plus
    the steps fired since (at most 1 KB), while the whole copy's keeps growing (payments with
    their splits, penalty periods, ended holds)."""
    monkeypatch.setattr(compaction, "MAX_REMEMBERED_PAYMENTS", 10)
    sizes = _live(3, 180, new_episode, every=10, compare=False)
    half = len(sizes) // 2
    compact_first = max(c for c, _ in sizes[:half])
    compact_second = max(c for c, _ in sizes[half:])
    assert compact_second <= compact_first + 1024
    assert sizes[-1][1] > 2 * sizes[-1][0]
    assert sizes[-1][1] > sizes[half][1] + 3000


def test_fired_steps_of_an_anchor_the_ladder_left_are_not_carried(
    new_episode: EpisodeFactory,
) -> None:
    ep = new_episode(**_account())
    ep.s.anchor = date(2026, 4, 9)
    ep.fired = {"2026-03-10|sms_1", "2026-03-10|call_1", "2026-04-09|sms_1"}
    carried = ep.carried(at(DUE + timedelta(days=31)))
    assert carried.fired == ["2026-04-09|sms_1"]


def test_holds_that_ended_before_the_rules_look_back_are_dropped_unless_the_agency_waits(
    new_episode: EpisodeFactory,
) -> None:
    ep = new_episode()
    now = at(DUE + timedelta(days=120))
    horizon = ep.profile.prune_before(now)
    old = Hold(kind="complaint", since=at(DUE), until=at(DUE + timedelta(days=14)))
    told = Hold(kind="dispute", since=at(DUE), until=at(DUE + timedelta(days=20)))
    recent = Hold(kind="complaint", since=horizon - timedelta(days=3), until=horizon)
    open_ = Hold(kind="attorney", since=at(DUE + timedelta(days=2)))
    ep.s.holds = [old, told, recent, open_]
    ep.s.agency_hold_notices = [f"dispute@{told.since.isoformat()}"]
    assert ep.carried(now).holds == [told, recent, open_]


def test_broken_promise_dates_outside_the_window_are_kept_only_as_a_count(
    new_episode: EpisodeFactory,
) -> None:
    ep = new_episode()
    ep.s.broken_dates = [date(2026, 1, 5), date(2026, 2, 5), date(2026, 8, 1), date(2026, 9, 1)]
    carried = ep.carried(at(date(2026, 9, 10)))  # window: 6 months back, from 2026-03-10
    assert carried.broken_dates == [date(2026, 8, 1), date(2026, 9, 1)]
    assert carried.broken_count == 4


def test_only_the_newest_payments_are_remembered_and_indexes_that_count_from_one_move_down(
    new_episode: EpisodeFactory,
) -> None:
    ep = new_episode()
    for n in range(12):
        ep.s.book.apply_payment(f"P{n}", Decimal("10.00"), DUE + timedelta(days=n))
    ep.s.offer_payments_from = 9
    ep.s.promise = Promise(
        promise_id="p", amount=Decimal("1"), promised_date=DUE, made_on=DUE + timedelta(days=7)
    )
    s = ep.s
    compaction.compact(s, at(DUE + timedelta(days=30)), ep.strategy, ep.profile, max_payments=3)
    # 9 beyond the newest 3, but the promise made on day 7 still counts payments from day 7.
    assert [p.payment_id for p in s.book.payments] == [f"P{n}" for n in range(7, 12)]
    assert s.book.paid_total == Decimal("120.00")
    assert s.offer_payments_from == 2
    assert all(not p.to_principal and p.to_penalty == 0 for p in s.book.payments)
