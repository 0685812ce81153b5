"""Business counters, counted where the thing happens: the moment activity that books actions,
payments and promises, and the deliveries it makes (issue 18 item 1).

They go through the Temporal SDK's activity metric meter, so each worker serves them on its own
Prometheus endpoint (ARREARS_WORKER_METRICS_PORT) beside the SDK's `temporal_*` metrics: one
scrape target per worker, and the SDK adds the namespace, task queue and activity type. Without a
metrics runtime (tests, the simulator) the meter is a no-op.

A counter moves only for a row this attempt wrote (or an action whose delivery status this attempt
set): a retried activity finds its earlier writes and counts nothing twice, as it books nothing
twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from temporalio import activity

CONTACTS = "arrears_contacts_total"
PAYMENTS = "arrears_payments_applied_total"
PROMISES = "arrears_promises_total"
ACTIVITY_FAILURES = "arrears_activity_failures_total"

DESCRIPTIONS = {
    CONTACTS: "Contacts by channel and decision: sent, failed (the provider refused), blocked "
    "(a contact rule refused it for good), deferred (moved to the earliest allowed moment)",
    PAYMENTS: "Payments booked to an account (each payment_id once)",
    PROMISES: "Promises to pay by outcome: made, kept, broken, cancelled",
    ACTIVITY_FAILURES: "Activity attempts that raised, by activity and error type",
}

Labels = tuple[tuple[str, str], ...]


class Tally:
    """What one activity attempt did, counted after its transaction committed."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, Labels]] = Counter()

    def add(self, metric: str, **labels: str) -> None:
        self.counts[(metric, tuple(sorted(labels.items())))] += 1

    def publish(self) -> None:
        record(self.counts)


def record(counts: Mapping[tuple[str, Labels], int]) -> None:
    """Add the counts to the worker's metrics (nothing outside an activity or without a meter)."""
    if not counts or not activity.in_activity():
        return
    meter = activity.metric_meter()
    for (metric, labels), value in counts.items():
        meter.create_counter(metric, DESCRIPTIONS.get(metric)).add(value, dict(labels))


def contact_decision(kind: str, detail: Mapping[str, object]) -> str | None:
    """A recorded `contact_blocked` action is a deferred contact when the gate moved it to a
    later instant, a blocked one when it dropped it; other actions are not decisions."""
    if kind != "contact_blocked":
        return None
    return "deferred" if detail.get("rescheduled_to") else "blocked"
