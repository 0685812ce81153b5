"""One vocabulary (domain/vocabulary.py): every layer that spells a state, an action or task
kind, a channel or an error code spells it from there, or agrees with it where a schema needs a
literal of its own."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from api.routes.tasks import TaskKind as ApiTaskKind
from api.services.episodes import UPDATE_ERRORS
from domain import vocabulary as v
from domain.strategy import DEFAULT_CHANNELS, StepAction
from workflows.contracts import AccountStatus

ROOT = Path(__file__).resolve().parents[2]


def test_every_state_is_open_or_closed_and_restructured_stays_open() -> None:
    assert set(v.AccountState) == v.OPEN_STATES | v.CLOSED_STATES
    assert not v.OPEN_STATES & v.CLOSED_STATES
    assert v.AccountState.RESTRUCTURED in v.OPEN_STATES


def test_the_status_answers_the_vocabularys_states() -> None:
    schema = AccountStatus.model_json_schema()
    state = schema["$defs"]["AccountState"]
    assert state["enum"] == [s.value for s in v.AccountState]


def test_every_step_a_strategy_may_name_is_an_action_kind_on_a_known_channel() -> None:
    assert set(get_args(StepAction)) <= set(v.ActionKind)
    assert set(DEFAULT_CHANNELS.values()) <= set(v.ActionChannel)


def test_work_for_people_creates_tasks_of_the_vocabularys_kinds() -> None:
    assert set(v.TASK_KINDS.values()) == set(v.TaskKind)
    assert set(get_args(ApiTaskKind)) == set(v.TaskKind)


def test_the_contact_sets_agree_with_each_other() -> None:
    """One named set per question: a ladder contact's channel (the gate), the ones a channel
    sends without a person (the simulator's audit), everything sent (the timeline)."""
    assert {"sms_reminder", "voice_reminder", "letter", "lawyer_letter"} == v.SENT_CONTACTS
    assert set(v.CONTACT_CHANNEL) >= v.SENT_CONTACTS and not v.SENT_CONTACTS & set(v.TASK_KINDS)
    assert v.SENT_CONTACTS | {"restructure_offer", "settlement_offer"} == v.AUTOMATED_CONTACTS
    assert set(v.CONTACT_CHANNEL) | set(v.OFFER_LETTERS) <= set(v.ActionKind)


def test_every_refusal_of_the_workflow_has_an_http_answer() -> None:
    assert set(UPDATE_ERRORS) == set(v.Refusal)
    assert all(code in set(v.ErrorCode) for _status, code in UPDATE_ERRORS.values())


def _codes_the_api_answers() -> dict[str, str]:
    """Every string the API's code passes as an error code: ApiError(status, CODE, ...),
    error_body(CODE, ...), answer(send, status, CODE, ...), (status, CODE) pairs and
    {status: CODE} tables."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "api").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            candidates: list[ast.expr] = []
            if isinstance(node, ast.Call):
                func = node.func
                name = (
                    func.id
                    if isinstance(func, ast.Name)
                    else func.attr
                    if isinstance(func, ast.Attribute)
                    else None
                )
                position = {"ApiError": 1, "error_body": 0, "answer": 2}.get(name or "")
                if position is not None and len(node.args) > position:
                    candidates.append(node.args[position])
            elif (
                isinstance(node, ast.Tuple)
                and len(node.elts) == 2
                and isinstance(node.elts[0], ast.Constant)
                and isinstance(node.elts[0].value, int)
            ):
                candidates.append(node.elts[1])
            elif (
                isinstance(node, ast.Dict)
                and node.keys
                and all(isinstance(k, ast.Constant) and isinstance(k.value, int) for k in node.keys)
            ):
                candidates.extend(node.values)
            for candidate in candidates:
                if isinstance(candidate, ast.Constant) and isinstance(candidate.value, str):
                    where = f"{path.relative_to(ROOT)}:{candidate.lineno}"
                    found.setdefault(candidate.value, where)
    return found


def test_every_error_code_the_api_answers_is_in_the_vocabulary() -> None:
    codes = _codes_the_api_answers()
    assert len(codes) > 20  # the scan finds the API's codes (it would pass vacuously otherwise)
    unknown = {code: where for code, where in codes.items() if code not in set(v.ErrorCode)}
    assert not unknown, f"add these to domain.vocabulary.ErrorCode: {unknown}"
