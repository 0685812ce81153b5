"""A task's detail is read through one type (store/task_detail.py): the queue's ranking, the
grievance bar and the API's four-eyes rule read its fields, not loose string keys, and the model
names every key the moment activity writes onto a task."""

from __future__ import annotations

import inspect
import re
from datetime import date
from decimal import Decimal

import pytest

from activities import moment
from store import tasks as queue
from store.models import TaskRow
from store.task_detail import TaskDetail, detail_key, task_detail


def _row(detail: dict[str, object]) -> TaskRow:
    return TaskRow(task_id="t", loan_id="L", episode="e", action_seq=1, kind="call", detail=detail)


def test_every_key_the_moment_activity_writes_onto_a_task_is_a_field_of_the_task_detail() -> None:
    written = set(moment.TASK_DETAIL_KEYS)
    # ... and the keys it sets itself beside them (activities/moment.py, the TaskRow it adds).
    source = inspect.getsource(moment.MomentActivities)
    task_block = source[source.index("TaskRow(") :]
    written |= set(re.findall(r'^\s+"(\w+)": ', task_block[: task_block.index("**{")], re.M))
    assert {"reason", "dpd", "stage", "amount_overdue", "timezone"} <= written
    assert written <= set(TaskDetail.model_fields)


def test_a_task_detail_reads_typed_and_keeps_what_it_does_not_name() -> None:
    detail = task_detail(
        {
            "stage": "mid_range",
            "amount_overdue": "412.50",
            "promise_due": "2027-03-10",
            "never_to": ["alice"],
            "checklist": [{"item": "identity"}],
        }
    )
    assert detail.stage == "mid_range"
    assert detail.amount_overdue == Decimal("412.50")
    assert detail.promise_due == date(2027, 3, 10)
    assert detail.model_extra == {"checklist": [{"item": "identity"}]}
    assert task_detail(None) == TaskDetail()


def test_a_collector_the_borrower_complained_about_is_barred_from_the_task_others_are_not() -> None:
    row = _row({"never_to": ["alice"]})
    assert queue.barred(row, "alice")
    assert not queue.barred(row, "bob")
    assert not queue.barred(_row({}), "alice")


def test_the_queues_sql_keys_are_task_detail_fields_and_an_unknown_one_is_refused() -> None:
    assert (queue.STAGE_KEY, queue.TIMEZONE_KEY, queue.PROMISE_DUE_KEY) == (
        "stage",
        "timezone",
        "promise_due",
    )
    with pytest.raises(KeyError, match="no field 'stages'"):
        detail_key("stages")
