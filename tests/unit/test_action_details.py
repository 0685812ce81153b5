"""Typed action details (workflows/contracts/details.py): what the workflow writes into an
action's detail is what the store keeps and what the timeline reads, through one model per
action kind; the JSON keeps the keys the store and the API have always shown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import select
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.moment import MomentActivities
from domain.vocabulary import ActionKind
from store.engine import session_scope
from store.models import ActionRow
from workflows.contracts import (
    DETAIL_ADAPTER,
    AccountStatus,
    ActionCommand,
    DetailBase,
    MomentRecord,
    PlanBrokenEvent,
    ReassignmentDetail,
    SubflowEvent,
    detail_for,
    read_detail,
)

AT = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
STEP = dict(
    reason="strategy default@1 step fe_sms at DPD 3",
    dpd=3,
    bucket="M1",
    amount_overdue="1200.00",
    currency="CNY",
)
HOLD = {"hold": "dispute", "since": "2026-12-04T02:00:00+00:00", "reported_by": "alice"}
NOTICE = {
    "reason": "Anhui Collect told to stop collecting: dispute hold",
    "hold": "dispute",
    "hold_since": "2026-12-04T02:00:00+00:00",
    "placement_id": "PL-1",
    "agency_id": "AG-1",
    "agency": "Anhui Collect",
    "still_on_hold": [],
}

# What each kind's writer puts in its detail (workflows/account/*.py), one sample per kind.
SAMPLES: dict[ActionKind, dict[str, Any]] = {
    ActionKind.SMS_REMINDER: {**STEP, "to": "+8613800138000", "opt_out_text": "Reply TD"},
    ActionKind.VOICE_REMINDER: {**STEP, "to": "+8613800138000", "rescheduled_by": "cn.window"},
    ActionKind.CALL_TASK: {
        **STEP,
        "task_kind": "call",
        "to": "+8613800138000",
        "never_to": ["bob"],
        "party": "attorney",
        "purpose": "collect",
        "represented": "the borrower is represented: call the attorney",
    },
    ActionKind.LETTER: {**STEP},
    ActionKind.FIELD_VISIT: {**STEP, "task_kind": "field_visit", "agents": 2},
    ActionKind.SKIP_TRACE: {**STEP, "task_kind": "skip_trace", "sources": ["credit-bureau"]},
    ActionKind.OCA_PLACEMENT: {**STEP, "exclude_agencies": ["AG-1"]},
    ActionKind.OCA_RECALL: {
        **STEP,
        "recall_reason": "placement period ended",
        "placement_id": "PL-1",
        "agency_id": "AG-1",
    },
    ActionKind.LAWYER_LETTER: {**STEP},
    ActionKind.ASSET_PRESERVATION: {**STEP},
    ActionKind.LAWSUIT: {**STEP, "case_id": "CASE-1"},
    ActionKind.RESTRUCTURE_OFFER: {
        "reason": "long-term hardship, eligible for restructuring",
        "new_instalment_amount": "400.00",
        "instalment_count": 6,
        "waiver_amount": "30.00",
        "expires_on": "2026-12-12",
        "child": "restructure-L-1-1",
    },
    ActionKind.SETTLEMENT_OFFER: {
        "reason": "death: settlement offer to the related parties",
        "amount": "2040.00",
        "discount_pct": "0.15",
        "expires_on": "2027-01-03",
        "currency": "CNY",
        "balance": "2400.00",
        "to": "related_parties",
    },
    ActionKind.VERIFICATION_TASK: {
        "reason": "deceased",
        "task_kind": "verification",
        "task_key": "verify-1",
        "checklist": [{"document": "death_certificate", "required": True}],
        "checks": ["verify the documents with their issuers"],
        "reported_by": "alice",
    },
    ActionKind.APPROVAL_TASK: {
        "reason": "deceased",
        "task_kind": "approval",
        "task_key": "approve-1",
        "requested_by": "carol",
        "amount": "2400.00",
        "currency": "CNY",
        "reminder_of": "approve-0",
    },
    ActionKind.WRITE_OFF: {
        "status": "posted",
        "amount": "2400.00",
        "currency": "CNY",
        "posted_ref": "WO-1",
        "approved_by": "dave",
        "verified_by": "carol",
    },
    ActionKind.COMPLAINT_ROUTING: {
        "reason": "the borrower complained during a call",
        "recorded_by": "alice",
    },
    ActionKind.REASSIGNMENT: {
        "reason": "escalation by alice: promised twice",
        "kind": "escalation",
        "from": "alice",
        "to": "lead",
        "by": "alice",
        "never_to": [],
    },
    ActionKind.NEGATIVE_CREDIT_RECORD: {
        "reason": "promise P1 broken",
        "promise_id": "P1",
        "broken_promises": 1,
    },
    ActionKind.CONTACT_BLOCKED: {
        "rule": "cn.window",
        "reason": "outside 08:00-21:00",
        "blocked_action": "sms_reminder",
        "step_id_blocked": "fe_sms",
        "profile": "cn",
        "rescheduled_to": "2026-12-05T00:00:00+00:00",
        "strategy": "default@1",
        "dpd": 3,
        "bucket": "M1",
        "amount_overdue": "1200.00",
        "currency": "CNY",
    },
    ActionKind.DELIVERY_FAILURE: {
        "failed_seq": 4,
        "failed_kind": "sms_reminder",
        "to": "+8613800138000",
        "failed_channel": "sms",
        "error_code": 21211,
        "verdict": "dead",
        "rule": "number.dead",
        "source": "provider refusal",
        "reason": "invalid number",
    },
    ActionKind.HOLD_PLACED: {**HOLD, "reason": "disputes the amount", "notes": "by phone"},
    ActionKind.HOLD_RELEASED: {
        **HOLD,
        "until": "2026-12-09T02:00:00+00:00",
        "released_by": "carol",
    },
    ActionKind.OCA_HOLD_NOTICE: {**NOTICE},
    ActionKind.OCA_RESUME_NOTICE: {
        **NOTICE,
        "hold_until": "2026-12-09T02:00:00+00:00",
        "may_resume": True,
    },
    ActionKind.AGENCY_CONTACTS: {
        "reason": "1 agency contact(s) reported by loan-system joined the contact ledger",
        "recorded": 1,
        "duplicates": 0,
        "agency_ids": ["AG-1"],
        "contact_ids": ["HT-1"],
        "by_result": {"call/connected": 1},
        "first_at": "2026-12-04T02:00:00+00:00",
        "last_at": "2026-12-04T02:00:00+00:00",
    },
    ActionKind.MIGRATION_ARRIVAL: {
        "reason": "portfolio moved from the old collection system",
        "dpd": 170,
        "entered_at": "legal",
        "withheld": ["legal_lawyer_letter", "legal_lawsuit"],
    },
    ActionKind.RESTRUCTURE_ACCEPTED: {
        "reason": "restructure plan accepted by alice",
        "child": "restructure-L-1-1",
        "total": "1200.00",
        "paid_since_offer": "0",
        "waived": "25.80",
        "rescheduled_penalty": "0",
        "replaced": [7],
        "instalments": [{"seq": 8, "due_date": "2027-01-05", "amount": "200.00"}],
        "balance": "1200.00",
        "currency": "CNY",
    },
    ActionKind.SETTLEMENT_ACCEPTED: {
        "reason": "settlement paid by the related parties: 600.60 CNY of the 600.60 offered",
        "child": "write-off-L-1-1",
        "amount": "600.60",
        "paid": "600.60",
        "balance_at_offer": "1201.20",
        "written_off": "600.60",
        "currency": "CNY",
    },
    ActionKind.LEGAL_FILING: {
        "reason": "lawsuit filing approved by frank",
        "decision": "approved",
        "step": "legal_lawsuit_150",
        "balance": "2412.60",
        "min_suit_balance": "1000.00",
        "currency": "CNY",
        "requested_by": "alice",
        "decided_by": "frank",
        "approval_task": "L-1-0123abcd-31",
        "case_id": "LC-L-1-0123abcd-24",
        "recalled_from": "Alpha Recoveries",
    },
    ActionKind.PAYMENT_CONFLICT: {
        "reason": "payment PAY-1 is already booked with 100.00; 50.00 under it was not booked",
        "payment_id": "PAY-1",
        "amount_on_record": "100.00",
        "amount": "50.00",
        "paid_at": "2026-12-04T02:00:00+00:00",
    },
    ActionKind.CONSOLIDATED: {
        "reason": "covered by the sms message of loan L-2, which names this loan",
        "covered_action": "sms_reminder",
        "step_id_covered": "fe_sms_1",
        "covered_channel": "sms",
        "by_loan": "L-2",
        "by_action": "L-2:ep:4",
        "dpd": 1,
        "amount_overdue": "1200.00",
        "currency": "CNY",
    },
    ActionKind.SHARED_OUTCOME: {
        "reason": "promise_to_pay on call task T-1 applies to every loan it names",
        "shared_task": "T-1",
        "outcome": "promise_to_pay",
        "from_loan": "L-1",
        "loans": ["L-1", "L-2"],
        "shares": {"L-1": "800.00", "L-2": "700.55"},
        "share": "700.55",
        "promised_date": "2026-12-10",
        "promise_id": "L-2-abc-P1",
        "recorded_by": "amy",
        "currency": "CNY",
    },
    ActionKind.UNSCHEDULED_CONTACT: {
        "reason": "reported before the task's window opened",
        "reported_task": "L-1-abcd-6",
        "outcome": "no_answer",
        "task_kind": "call",
        "to": "+8613800138000",
        "window_opens": "2026-12-04T06:00:00+00:00",
        "window_closes": "2026-12-04T08:30:00+00:00",
        "recorded_by": "demo-collector",
        "allowed": True,
        "review": "supervisor",
        "review_task": "L-1-abcd-7",
    },
    ActionKind.CASE_OPENED: {
        "reason": "the borrower disputes the fee",
        "case_id": "L-1-abcd1234-C7",
        "case_kind": "dispute",
        "opened_at": "2026-12-04T02:00:00+00:00",
        "deadline": "2027-01-03T02:00:00+00:00",
        "owner_queue": "supervisor",
        "by": "alice",
    },
    ActionKind.CASE_EVIDENCE: {
        "case_id": "L-1-abcd1234-C7",
        "case_kind": "dispute",
        "text": "statement",
        "document": "DOC-1",
        "by": "carol",
    },
    ActionKind.CASE_OVERDUE: {
        "case_id": "L-1-abcd1234-C7",
        "case_kind": "dispute",
        "deadline": "2027-01-03T02:00:00+00:00",
    },
    ActionKind.CASE_RESOLVED: {
        "case_id": "L-1-abcd1234-C7",
        "case_kind": "dispute",
        "resolution": "upheld",
        "adjustment": "25.37",
        "balance_before": "1210.00",
        "balance_after": "1184.63",
        "currency": "CNY",
        "by": "carol",
    },
    ActionKind.MISSED_PAYMENT_REASON: {
        "reason": "the borrower missed the payment: forgot",
        "code": "forgot",
        "reported_task": "L-1-abcd-7",
        "task_kind": "call",
        "outcome": "promise_to_pay",
        "recorded_by": "alice",
        "dpd": 3,
        "bucket": "M1",
    },
}


def _command(seq: int, kind: ActionKind, fields: dict[str, Any]) -> ActionCommand:
    return ActionCommand(
        seq=seq,
        at=AT,
        kind=kind,
        channel="internal",
        stage="front_end",
        detail=detail_for(kind, **fields),
    )


def test_every_action_kind_has_a_detail_model_and_a_sample() -> None:
    assert set(SAMPLES) == set(ActionKind)
    for kind in ActionKind:
        assert isinstance(read_detail(kind, {}), DetailBase), kind


@pytest.mark.parametrize("kind", list(ActionKind), ids=str)
def test_a_detail_survives_the_history_and_the_store_unchanged(
    kind: ActionKind, database_url: str
) -> None:
    """Writer → workflow history (the pydantic converter) → the store's JSON column → reader:
    the same model comes back, and the JSON keeps exactly the keys the writer said."""
    written = _command(1, kind, SAMPLES[kind])
    (payload,) = pydantic_data_converter.payload_converter.to_payloads([written])
    (carried,) = pydantic_data_converter.payload_converter.from_payloads([payload], [ActionCommand])
    assert carried == written
    # The status the contract documents (its OpenAPI example) is as good as any here.
    status = AccountStatus.model_validate(AccountStatus.model_json_schema()["examples"][0])
    moment = MomentRecord.model_validate(
        {
            "loan_id": status.loan_id,
            "workflow_id": f"account-{status.loan_id}",
            "episode": f"episode-{kind}",
            "at": AT,
            "status": status,
            "segment": "standard",
            "actions": [carried],
        }
    )
    MomentActivities(database_url).apply_moment(moment)
    with session_scope(database_url) as session:
        row = session.exec(select(ActionRow).where(ActionRow.episode == moment.episode)).one()
        stored = dict(row.detail)
    read = read_detail(row.kind, stored)
    added = {"task_id"} & set(stored)  # the store names the task a task kind created
    assert read.model_copy(update={"task_id": None}) == written.detail
    assert set(stored) - added == set(SAMPLES[kind])
    assert "action" not in stored  # the kind is the row's own column, not a key of the JSON


def test_the_json_keeps_its_keys_a_python_keyword_included() -> None:
    detail = read_detail("reassignment", SAMPLES[ActionKind.REASSIGNMENT])
    assert isinstance(detail, ReassignmentDetail) and detail.from_ == "alice"
    assert detail.stored()["from"] == "alice" and "from_" not in detail.stored()
    unsaid = detail_for("sms_reminder", dpd=3, to=None, never_to=None)
    assert unsaid.stored() == {"dpd": 3}  # the store never kept nulls


def test_an_unknown_action_kind_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match="'email_reminder'.*does not match"):
        read_detail("email_reminder", {"reason": "no such kind"})
    with pytest.raises(ValidationError, match="email_reminder"):
        ActionCommand(seq=1, at=AT, kind="email_reminder", channel="email", stage="x", detail={})


@pytest.mark.parametrize(
    ("kind", "fields", "named"),
    [
        ("sms_reminder", {"dpd": 3, "blocked_action": "letter"}, "sms_reminder.blocked_action"),
        ("contact_blocked", {"dpd": "three"}, "contact_blocked.dpd"),
        ("oca_placement", {"placement_days": 0}, "oca_placement.placement_days"),
        ("reassignment", {"kind": "promotion"}, "reassignment.kind"),
        ("hold_placed", {"since": 5, "hold": "dispute"}, "hold_placed.since"),
    ],
)
def test_a_field_the_kind_does_not_know_or_a_wrong_value_is_refused_naming_the_field(
    kind: str, fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        read_detail(kind, fields)
    assert named in str(refused.value)


def test_an_action_cannot_carry_the_detail_of_another_kind() -> None:
    letter = detail_for("letter", dpd=7)
    with pytest.raises(ValidationError, match="a sms_reminder action cannot carry a letter"):
        ActionCommand(seq=1, at=AT, kind="sms_reminder", channel="sms", stage="x", detail=letter)


def test_a_row_written_before_a_field_existed_still_reads() -> None:
    """Every field is optional: an older row or committed history lacking one reads as None."""
    for kind in ActionKind:
        assert DETAIL_ADAPTER.validate_python({"action": kind}).reason is None
    old = read_detail("call_task", {"dpd": 2, "amount_overdue": "1201.20", "task_id": "L-1-a-3"})
    assert old.stored() == {"dpd": 2, "amount_overdue": "1201.20", "task_id": "L-1-a-3"}


def test_a_childs_event_is_read_by_its_kind_and_a_wrong_field_is_refused() -> None:
    """The subflows' events are typed the same way: the event's kind picks the model."""
    said = {"instalment": 2, "due_date": "2027-01-05", "days_late": 16, "owed": "400.00"}
    event = SubflowEvent(
        subflow="restructure",
        child_id="restructure-L-1-1",
        kind="restructure_broken",
        at=AT,
        detail=said,
    )
    assert isinstance(event.detail, PlanBrokenEvent) and event.detail.days_late == 16
    assert event.detail.stored() == said  # the JSON keys the child wrote, unchanged
    with pytest.raises(ValidationError, match="restructure_broken.late_by"):
        SubflowEvent(
            subflow="restructure",
            child_id="c",
            kind="restructure_broken",
            at=AT,
            detail={"late_by": 16},
        )
