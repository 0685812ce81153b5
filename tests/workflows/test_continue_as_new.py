"""Long episodes are chains of short histories (DESIGN.md: continue-as-new at safe points, cheap
episodes): nothing is lost across a run boundary, and a 180-day unpaid episode stays within the
timer+activity budget."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.account import Account
from domain.book import LoanBook
from store.models import ActionRow, PaymentRow, TaskRow
from tests.agencies.conftest import add_agency
from tests.workflows.helpers import (
    account_json,
    actions,
    business_today,
    chain_histories,
    ladder,
    local_day_of,
    pay,
    sleep_until,
    start,
    status,
    store_rows,
)
from workflows.contracts.state import EpisodeState

BUDGET_TIMER_ACTIVITY_PAIRS = 60  # DESIGN.md, "Cheap episodes"


async def test_continue_as_new_at_stage_boundaries_loses_no_payment_action_or_state(
    workflow_env: WorkflowEnvironment,
    worker: Worker,
    api: httpx.AsyncClient,
    database_url: str,
) -> None:
    loan = "L-CAN-CHAIN"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=20), hour=12)
    paid_at = await workflow_env.get_current_time()
    await pay(api, loan, "before-boundary", "100.00", paid_at)

    await sleep_until(workflow_env, due + timedelta(days=95), hour=12)
    histories = await chain_histories(workflow_env, loan)
    # front_end run, then one run per stage entered: mid_range at 30, hard_core at 90.
    assert len(histories) == 3
    described = await workflow_env.client.get_workflow_handle(f"account-{loan}").describe()
    assert described.run_id == histories[-1].run_id
    for earlier in histories[:-1]:
        last = earlier.events[-1]
        assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    first_run_id = histories[0].run_id
    for later in histories[1:]:
        started = later.events[0].workflow_execution_started_event_attributes
        assert started.first_execution_run_id == first_run_id

    # The same payment again, after two boundaries, still counts once.
    await pay(api, loan, "before-boundary", "100.00", paid_at)
    seen = await status(api, loan)
    assert (seen["state"], seen["dpd"], seen["bucket"], seen["stage"]) == (
        "delinquent",
        95,
        "M4+",
        "hard_core",
    )
    assert seen["path"] == ["current", "M1", "M2", "M3", "M4+"]
    assert Decimal(seen["paid_total"]) == Decimal("100.00")
    # Days 1..20 on 1200.00 = 12.00 (paid first), then 1112.00 x 0.0005 x 75 days = 41.70.
    assert Decimal(seen["penalty_accrued"]) == Decimal("53.70")
    assert Decimal(seen["amount_overdue"]) == Decimal("1112.00") + Decimal("41.70")
    payments = store_rows(database_url, PaymentRow, loan)
    assert [(p["payment_id"], p["amount"], p["dpd"]) for p in payments] == [
        ("before-boundary", Decimal("100.00"), 20)
    ]

    # One episode, one unbroken sequence of actions across the three runs.
    rows = store_rows(database_url, ActionRow, loan)
    assert {r["episode"] for r in rows} == {first_run_id}
    seqs = sorted(r["seq"] for r in rows)
    assert seqs == list(range(1, len(rows) + 1))
    done = ladder(await actions(api, loan))
    step_ids = [a["detail"]["step_id"] for a in done]
    assert [s for s, n in Counter(step_ids).items() if n > 1] == []
    # Every step up to DPD 91 fired on its own day, including those right after each boundary.
    by_step = {a["detail"]["step_id"]: a for a in done}
    for step_id, dpd in [
        ("fe_call_24", 24),
        ("mr_letter_30", 30),
        ("mr_call_31", 31),
        ("mr_call_82", 82),
        ("hc_lawyer_letter_90", 90),
        ("hc_sms_91", 91),
    ]:
        assert "rescheduled_by" not in by_step[step_id]["detail"], step_id
        assert local_day_of(by_step[step_id]) == due + timedelta(days=dpd), step_id
    assert set(step_ids[-2:]) <= {"hc_sms_91", "hc_lawyer_letter_90"}
    assert len(step_ids) == 22  # pre-due + 9 front end + 10 mid range + 2 hard core


async def test_a_180_day_unpaid_episode_stays_within_the_timer_and_activity_budget(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """A measurement, not a wall-clock assertion: counts what the server has to do."""
    loan = "L-CAN-BUDGET"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=180), hour=23)
    seen = await status(api, loan)
    assert (seen["dpd"], seen["stage"], seen["bucket"]) == (180, "legal", "M4+")

    histories = await chain_histories(workflow_env, loan)
    timers = activities = 0
    lengths = []
    for history in histories:
        kinds = Counter(e.event_type for e in history.events)
        timers += kinds[EventType.EVENT_TYPE_TIMER_STARTED]
        activities += kinds[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
        lengths.append(len(history.events))
    print(
        f"\n180-day unpaid episode: {len(histories)} runs, history events per run {lengths}, "
        f"{sum(lengths)} events in all; {timers} timers + {activities} activities = "
        f"{timers + activities} (budget {BUDGET_TIMER_ACTIVITY_PAIRS} timer+activity pairs)"
    )
    assert len(histories) == 4  # front end, mid range, hard core, legal
    # One activity per moment: 26 ladder days plus the midnights of M1, M2/mid range, M3,
    # M4+/hard core and legal that carry only a transition.
    listed = await actions(api, loan)
    # No public holiday in the test calendar: nothing is moved off one (a moved letter would be
    # a `contact_blocked` record and one more moment).
    blocked = [a for a in listed if a["kind"] == "contact_blocked"]
    assert blocked == []
    recorded = len(listed)
    # 25 ladder actions and, for the lawsuit at DPD 150, its approval task (issue 17 item 4),
    # expired unanswered at DPD 164 (a `legal_filing` action), and on DPD 180 the charge-off's
    # review task (issue 17 item 3).
    assert listed[-1]["kind"] == "verification_task"
    assert [a["detail"].get("decision") for a in listed if a["kind"] == "legal_filing"] == [
        "expired"
    ]
    assert recorded == 28, [(a["kind"], a["detail"].get("step_id"), a["status"]) for a in listed]
    # A call task nobody works is closed at the end of its window (one more moment each).
    expired = [t for t in store_rows(database_url, TaskRow, loan) if t["status"] == "expired"]
    assert activities <= recorded + 5 + len(expired)
    # A pair is one wake-up (timer) and its one activity.
    pairs = max(timers, activities)
    assert pairs <= BUDGET_TIMER_ACTIVITY_PAIRS


# Every start and continue-as-new input carries policy by reference, not the documents (issue 14:
# under 3 KB; with the strategy document inside they were 8.5 KB and 10.5-11.5 KB).
INPUT_LIMIT_BYTES = 3 * 1024


async def test_start_and_continue_as_new_inputs_carry_policy_references_and_stay_under_3_kb(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient
) -> None:
    loan = "L-CAN-INPUT"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=180), hour=23)

    codec = workflow_env.client.data_converter.payload_codec
    assert codec is not None
    sizes = []
    for history in await chain_histories(workflow_env, loan):
        started = history.events[0].workflow_execution_started_event_attributes
        payloads = await codec.decode(list(started.input.payloads))
        sizes.append(sum(len(p.data) for p in payloads))
        assert b'"policy"' in payloads[0].data and b'"strategy"' in payloads[0].data
        assert b'"treatments"' not in payloads[0].data  # no strategy document inside
    print(f"\nstart input {sizes[0]} bytes; continue-as-new inputs {sizes[1:]} bytes")
    assert len(sizes) == 4
    assert max(sizes) < INPUT_LIMIT_BYTES, sizes


async def test_an_agency_placed_episodes_continue_as_new_inputs_stay_under_3_kb(
    workflow_env: WorkflowEnvironment, worker: Worker, api: httpx.AsyncClient, database_url: str
) -> None:
    """Placed with an agency at DPD 60 and into legal at 150: the placement, the contacts and
    the holds the agency was told of ride across continue-as-new by reference, not as copies."""
    add_agency(database_url, "Alpha Recoveries", rate="0.20")
    add_agency(database_url, "Beta Collect", rate="0.15")
    loan = "L-CAN-AGENCY"
    due = await business_today(workflow_env) + timedelta(days=2)
    await start(api, account_json(loan, due))
    await sleep_until(workflow_env, due + timedelta(days=180), hour=23)
    assert (await status(api, loan))["agency"] is not None

    codec = workflow_env.client.data_converter.payload_codec
    assert codec is not None
    sizes = []
    for history in await chain_histories(workflow_env, loan):
        started = history.events[0].workflow_execution_started_event_attributes
        payloads = await codec.decode(list(started.input.payloads))
        sizes.append(sum(len(p.data) for p in payloads))
    print(f"\nagency-placed episode: start input {sizes[0]} bytes; continue-as-new {sizes[1:]}")
    assert len(sizes) == 4
    assert max(sizes) < INPUT_LIMIT_BYTES, sizes


def test_carried_state_writes_fired_steps_grouped_by_anchor_and_leaves_defaults_unwritten() -> None:
    """What continue-as-new carries reads back the same, from the compact form and from the flat
    list of `ANCHOR|STEP` keys that older runs' inputs (tests/histories) carry."""
    account = Account.model_validate(account_json("L-CAN-STATE", date(2027, 3, 10)))
    fired = ["2027-03-10|fe_sms_1", "2027-03-10|mr_letter_30", "2027-04-10|fe_sms_1"]
    book = LoanBook.open(account.instalments, account.currency, account.penalty_rate_daily)
    state = EpisodeState(account=account, book=book, fired=fired, runs=3)

    written = state.model_dump(mode="json")
    assert written["fired"] == {
        "2027-03-10": ["fe_sms_1", "mr_letter_30"],
        "2027-04-10": ["fe_sms_1"],
    }
    assert "holds" not in written and "promise_count" not in written  # still their defaults
    assert written["runs"] == 3
    assert EpisodeState.model_validate(written) == state
    older = {**written, "fired": fired, "holds": [], "promise_count": 0}
    assert EpisodeState.model_validate(older) == state
