"""The business counters move once per thing that happened, however often Temporal retries the
activity that recorded it (issue 18 item 1): a moment applied twice books nothing twice and
counts nothing twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig
from temporalio.testing import ActivityEnvironment

from activities.moment import MomentActivities
from workflows.messages import (
    AccountStatus,
    ActionCommand,
    MomentRecord,
    PaymentRecord,
    PromiseView,
    StrategyRef,
)

AT = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def moment(promise_status: str = "open", seq: int = 1) -> MomentRecord:
    blocked = [
        ActionCommand(
            seq=seq,
            at=AT,
            kind="contact_blocked",
            channel="voice",
            stage="early",
            detail={"rule": "time_window", "rescheduled_to": (AT + timedelta(hours=6)).isoformat()},
        ),
        ActionCommand(
            seq=seq + 1,
            at=AT,
            kind="contact_blocked",
            channel="sms",
            stage="early",
            detail={"rule": "cease_and_desist", "rescheduled_to": None},
        ),
    ]
    return MomentRecord(
        loan_id="L-COUNT",
        workflow_id="account-L-COUNT",
        episode="episode-count",
        at=AT,
        status=AccountStatus(
            loan_id="L-COUNT",
            state="delinquent",
            dpd=2,
            bucket="M1",
            stage="early",
            amount_overdue=Decimal("1200.00"),
            penalty_accrued=Decimal("0"),
            strategy=StrategyRef(name="default", version=1),
        ),
        segment="standard",
        actions=blocked,
        payments=[
            PaymentRecord(
                payment_id="P-1", amount=Decimal("100.00"), paid_at=AT, dpd=2, bucket="M1"
            )
        ],
        promises=[
            PromiseView(
                promise_id="L-COUNT-P1",
                amount=Decimal("600.00"),
                promised_date=date(2026, 12, 8),
                status=promise_status,
                made_at=AT,
                deadline=date(2026, 12, 9),
            )
        ],
    )


def counted(buffer: MetricBuffer) -> Counter[tuple[str, tuple[tuple[str, str], ...]]]:
    counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
    for update in buffer.retrieve_updates():
        labels = tuple(
            sorted(
                (k, str(v))
                for k, v in update.attributes.items()
                if k in ("channel", "decision", "rule", "currency", "outcome")
            )
        )
        counts[(update.metric.name, labels)] += int(update.value)
    return counts


async def test_a_retried_moment_counts_its_contacts_payment_and_promise_once(
    database_url: str,
) -> None:
    buffer = MetricBuffer(1000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    env = ActivityEnvironment()
    env.metric_meter = runtime.metric_meter
    activities = MomentActivities(database_url)
    env.run(activities.apply_moment, moment())
    env.run(activities.apply_moment, moment())  # Temporal retried it
    env.run(activities.apply_moment, moment("broken", seq=3))  # later: the promise broke

    assert counted(buffer) == {
        # the later moment's own refusals (seq 3 and 4) count again; the retry's do not
        (
            "arrears_contacts_total",
            (("channel", "voice"), ("decision", "deferred"), ("rule", "time_window")),
        ): 2,
        (
            "arrears_contacts_total",
            (("channel", "sms"), ("decision", "blocked"), ("rule", "cease_and_desist")),
        ): 2,
        ("arrears_payments_applied_total", (("currency", "CNY"),)): 1,
        ("arrears_promises_total", (("outcome", "made"),)): 1,
        ("arrears_promises_total", (("outcome", "broken"),)): 1,
    }
