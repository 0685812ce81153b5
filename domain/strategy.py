"""The collection strategy: the playbook's ladder as versioned data that code interprets.

Files live in the policy directory's `strategies/` folder (`policy/strategies/`). The current
version of strategy `name` is `{name}.yaml`; when it is replaced, the old file is kept as
`{name}-v{version}.yaml`, so accounts pinned to an older version keep running it. The file itself
carries `name` and `version`, and the loader checks they match the file it read.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Any, Literal, Self, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from domain.calendar import validate_timezone
from domain.cases import CasePolicy, MissedPaymentReason
from domain.documents import parse_document
from domain.onboarding import OnboardingRules
from domain.policies import BranchPolicy
from domain.promise import PromiseRules
from domain.ranges import DpdRange, RangeTable, bucket_table, stage_table

__all__ = [
    "ACTION_KINDS",
    "ChallengerSpec",
    "DEFAULT_CHANNELS",
    "HoldPolicy",
    "STRATEGIES_DIR",
    "StepAction",
    "Channel",
    "ContactWindow",
    "Slot",
    "Step",
    "Strategy",
    "StrategyError",
    "load_challenger",
    "load_strategy",
    "parse_strategy",
]

STRATEGIES_DIR = Path(__file__).resolve().parent.parent / "policy" / "strategies"

StepAction = Literal[
    "sms_reminder",
    "voice_reminder",
    "call_task",
    "letter",
    "field_visit",
    "skip_trace",
    "oca_placement",
    "oca_recall",
    "lawyer_letter",
    "asset_preservation",
    "lawsuit",
    "restructure_offer",
    "write_off",
    "complaint_routing",
    "reassignment",
    "negative_credit_record",
]
ACTION_KINDS: tuple[str, ...] = get_args(StepAction)

Channel = Literal["sms", "voice", "phone", "mail", "field", "agency", "legal", "internal"]

DEFAULT_CHANNELS: dict[str, Channel] = {
    "sms_reminder": "sms",
    "voice_reminder": "voice",
    "call_task": "phone",
    "letter": "mail",
    "field_visit": "field",
    "skip_trace": "internal",
    "oca_placement": "agency",
    "oca_recall": "agency",
    "lawyer_letter": "legal",
    "asset_preservation": "legal",
    "lawsuit": "legal",
    "restructure_offer": "internal",
    "write_off": "internal",
    "complaint_routing": "internal",
    "reassignment": "internal",
    "negative_credit_record": "internal",
}

_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_SLOT = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")


class StrategyError(ValueError):
    """A strategy file that cannot be used; the message names the file and every bad field."""


class _Policy(BaseModel):
    # A misspelt key in a policy file must be an error, never a silently ignored rule.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Policy):
    """One rung of the ladder: do `action` when the account reaches `dpd`.

    `when`: always; not_reached (only if the borrower has not been reached in this episode);
    no_open_promise (skip while a promise to pay is open).
    """

    id: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")
    dpd: int = Field(ge=-1)
    action: StepAction
    channel: Channel
    template: str | None = None
    slot: int = Field(default=0, ge=0)
    when: Literal["always", "not_reached", "no_open_promise"] = "always"

    @model_validator(mode="before")
    @classmethod
    def _default_channel(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("channel") is None:
            action = data.get("action")
            # An unknown action is reported on its own; the placeholder channel only keeps a
            # second, confusing "channel: Field required" out of the error list.
            channel = DEFAULT_CHANNELS.get(action, "internal") if isinstance(action, str) else None
            if channel is not None:
                data = {**data, "channel": channel}
        return data


class Slot(_Policy):
    """A preferred calling window in the borrower's local time (playbook section 6 peaks)."""

    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if isinstance(data, str):
            match = _SLOT.match(data)
            if match is None:
                raise ValueError(f'slot {data!r} must look like "10:00-11:30"')
            return {"start": match.group(1).zfill(5), "end": match.group(2).zfill(5)}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError(f"slot {self.label()} ends before it starts")
        return self

    def label(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class ContactWindow(_Policy):
    """Earliest and latest local time any contact may happen (the compliance guard refines)."""

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError(
                f"the contact window ends ({self.end:%H:%M}) before it starts ({self.start:%H:%M})"
            )
        return self


HoldKindName = Literal[
    "dispute", "complaint", "bankruptcy", "deceased", "cease_communication", "attorney", "grace"
]
TaskKindName = Literal["call", "field_visit", "skip_trace"]
HoldEffectKey = HoldKindName | Literal["restructured"]

# Release 1.0's hold effects. The defaults exist for strategies (and workflow histories) written
# before these fields did; the shipped strategy files state them.
_CALLS_AND_VISITS: list[TaskKindName] = ["call", "field_visit"]
_ALL_WORK: list[TaskKindName] = ["call", "field_visit", "skip_trace"]


def _cancels_tasks_1_0() -> dict[HoldEffectKey, list[TaskKindName]]:
    return {
        "bankruptcy": list(_ALL_WORK),
        "deceased": list(_CALLS_AND_VISITS),
        "cease_communication": list(_CALLS_AND_VISITS),
        "attorney": list(_CALLS_AND_VISITS),
        "dispute": list(_CALLS_AND_VISITS),
        "complaint": list(_CALLS_AND_VISITS),
        "grace": list(_CALLS_AND_VISITS),
        "restructured": list(_ALL_WORK),
    }


def _holds(*kinds: HoldKindName) -> list[HoldKindName]:
    return list(kinds)


class HoldPolicy(_Policy):
    """How long the strategy's own holds last, and what every hold does to the account's open
    work, to offers and to the placed agency (PLAYBOOK.md sections 8-10)."""

    complaint_days: int = Field(default=14, ge=1, le=180, description="complaint hold")
    grace_days: int = Field(default=14, ge=1, le=90, description="short-term hardship grace")
    cancels_tasks: dict[HoldEffectKey, list[TaskKindName]] = Field(
        default_factory=_cancels_tasks_1_0,
        description="the open tasks a hold cancels when it starts (`restructured`: an accepted "
        "restructure plan); the ladder issues new work when the last hold ends",
    )
    no_offer: list[HoldKindName] = Field(
        default_factory=lambda: _holds("bankruptcy", "deceased", "attorney", "cease_communication"),
        description="holds under which no restructure offer may be made (refused with 409)",
    )
    agency_notice: list[HoldKindName] = Field(
        default_factory=lambda: _holds("dispute", "complaint", "cease_communication", "attorney"),
        description="holds the placed agency is told to respect (a stop, then a resume notice)",
    )

    def tasks_cancelled_by(self, kind: str) -> frozenset[str]:
        """The kinds of open tasks a hold of `kind` (or `restructured`) cancels."""
        return next((frozenset(v) for k, v in self.cancels_tasks.items() if k == kind), frozenset())


# The steps the playbook's branches (sections 6-12) add: the no-answer follow-ups, the skip path,
# fraud, agency re-placement and legal. The code asks for them by id.
BRANCH_STEP_IDS = (
    "branch.no_answer.sms",
    "branch.no_answer.letter",
    "branch.call",
    "branch.contact_persons",
    "branch.skip_trace",
    "branch.field_investigation",
    "branch.skip_oca",
    "branch.fraud_warning",
    "branch.fraud_visit",
    "branch.oca_recall",
    "branch.oca_secondary",
    "branch.legal_after_agency",
    "branch.case_closure",
)


def _branch_steps_1_0() -> list[Step]:
    """Release 1.0's branch steps (for strategies written before `branch_steps` existed)."""
    rows: list[dict[str, Any]] = [
        {"id": "branch.no_answer.sms", "action": "sms_reminder", "template": "overdue_reminder"},
        {"id": "branch.no_answer.letter", "action": "letter", "template": "reminder_letter"},
        {"id": "branch.call", "action": "call_task"},
        {"id": "branch.contact_persons", "action": "call_task"},
        {"id": "branch.skip_trace", "action": "skip_trace"},
        {"id": "branch.field_investigation", "action": "field_visit"},
        {"id": "branch.skip_oca", "action": "oca_placement", "template": "oca_placement"},
        {"id": "branch.fraud_warning", "action": "lawyer_letter", "template": "lawyer_letter"},
        {"id": "branch.fraud_visit", "action": "field_visit"},
        {"id": "branch.oca_recall", "action": "oca_recall"},
        {"id": "branch.oca_secondary", "action": "oca_placement", "template": "oca_placement"},
        {"id": "branch.legal_after_agency", "action": "lawsuit", "template": "lawsuit_preparation"},
        {"id": "branch.case_closure", "action": "lawsuit", "template": "case_closure"},
    ]
    return [Step.model_validate({"dpd": 1, **row}) for row in rows]


class ChallengerSpec(_Policy):
    """Champion/challenger: `split` percent of the accounts that start under this strategy start
    under the challenger instead (the arm is a pure function of the loan id, domain/arms.py)."""

    strategy: str = Field(min_length=1, max_length=60, description="the challenger's name")
    version: int | None = Field(default=None, ge=1, description="pinned version; None = current")
    split: int = Field(default=50, ge=0, le=100, description="percent of accounts to challenge")

    @field_validator("strategy")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("a strategy name uses lower-case letters, digits and underscores")
        return value


class Strategy(_Policy):
    name: str = Field(min_length=1, max_length=60)
    version: int = Field(ge=1)
    description: str = ""
    jurisdiction: str = "CN"
    timezone_default: str = "Asia/Shanghai"
    allocation: Literal["penalty_first", "principal_first"] = "penalty_first"
    buckets: list[DpdRange]
    stages: list[DpdRange]
    promises: PromiseRules = Field(default_factory=PromiseRules)
    onboarding: OnboardingRules = Field(default_factory=OnboardingRules)
    contact_window: ContactWindow
    preferred_slots: list[Slot] = Field(min_length=1)
    treatments: dict[str, list[Step]]
    segments: dict[str, str] = Field(default_factory=dict)
    holds: HoldPolicy = Field(default_factory=HoldPolicy)
    branches: BranchPolicy = Field(default_factory=BranchPolicy)
    branch_steps: list[Step] = Field(
        default_factory=_branch_steps_1_0,
        description="the contacts and actions the playbook's branches add, by id (every id of "
        "BRANCH_STEP_IDS): what they do, through which template",
    )
    max_sms_segments: int = Field(default=3, ge=1, le=10, description="longest SMS, in segments")
    # Issue 17 items 6-7 (domain/cases.py): absent from versions written before them, so an
    # episode pinned to such a version keeps the 1.0 behaviour.
    cases: CasePolicy | None = None
    missed_payment_reasons: list[MissedPaymentReason] | None = Field(
        default=None, description="the reason codes an outcome may give for a missed payment"
    )
    # Optional with a default: a Strategy travels in workflow history, and histories written
    # before this field existed must still load.
    challenger: ChallengerSpec | None = None

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("a strategy name uses lower-case letters, digits and underscores")
        return value

    @field_validator("timezone_default")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return validate_timezone(value)

    @field_validator("buckets")
    @classmethod
    def _buckets_cover(cls, value: list[DpdRange]) -> list[DpdRange]:
        bucket_table(value)
        return value

    @field_validator("stages")
    @classmethod
    def _stages_cover(cls, value: list[DpdRange]) -> list[DpdRange]:
        stage_table(value)
        return value

    @field_validator("treatments")
    @classmethod
    def _ladders_are_sound(cls, value: dict[str, list[Step]]) -> dict[str, list[Step]]:
        if "default" not in value:
            raise ValueError('a treatment named "default" is required')
        for name, steps in value.items():
            if not steps:
                raise ValueError(f"treatment {name} has no steps")
            seen: set[str] = set()
            for prev, step in zip([None, *steps], steps, strict=False):
                if step.id in seen:
                    raise ValueError(f"treatment {name}: step id {step.id} is used twice")
                seen.add(step.id)
                if prev is not None and step.dpd < prev.dpd:
                    raise ValueError(
                        f"treatment {name}: steps must be sorted by dpd, but {step.id} "
                        f"(dpd {step.dpd}) comes after {prev.id} (dpd {prev.dpd})"
                    )
        return value

    @field_validator("branch_steps")
    @classmethod
    def _every_branch_step(cls, value: list[Step]) -> list[Step]:
        ids = [step.id for step in value]
        missing = [i for i in BRANCH_STEP_IDS if i not in ids]
        unknown = sorted(set(ids) - set(BRANCH_STEP_IDS))
        if missing or unknown or len(ids) != len(set(ids)):
            raise ValueError(
                f"branch_steps: each of {', '.join(BRANCH_STEP_IDS)} once (missing: "
                f"{', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'})"
            )
        return value

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        for segment, treatment in self.segments.items():
            if treatment not in self.treatments:
                raise ValueError(
                    f"segments: segment {segment} maps to treatment {treatment}, "
                    "which is not defined under treatments"
                )
        for name, steps in self.treatments.items():
            for step in steps:
                if step.slot >= len(self.preferred_slots):
                    raise ValueError(
                        f"treatments.{name}: step {step.id} uses slot {step.slot}, but only "
                        f"{len(self.preferred_slots)} preferred slots are defined (0-based)"
                    )
        window = self.contact_window
        for slot in self.preferred_slots:
            if slot.start < window.start or slot.end > window.end:
                raise ValueError(
                    f"preferred_slots: slot {slot.label()} lies outside the contact window "
                    f"{window.start:%H:%M}-{window.end:%H:%M}"
                )
        if self.challenger is not None and self.challenger.strategy == self.name:
            raise ValueError(f"challenger: strategy {self.name} cannot challenge itself")
        return self

    # ----------------------------------------------------------------------------- queries

    @property
    def ref(self) -> str:
        """What an account records as the strategy it runs under, e.g. "default@1"."""
        return f"{self.name}@{self.version}"

    @property
    def bucket_table(self) -> RangeTable:
        return bucket_table(self.buckets)

    @property
    def stage_table(self) -> RangeTable:
        return stage_table(self.stages)

    def bucket_for(self, dpd: int) -> str:
        return self.bucket_table.lookup(max(dpd, 0))

    def stage_for(self, dpd: int) -> str:
        """DPD 0 (nothing overdue yet) is the "pre_due" stage."""
        return self.stage_table.lookup(max(dpd, 0))

    def treatment_name_for(self, segment: str) -> str:
        """Unknown segments get the default treatment rather than no treatment at all."""
        return self.segments.get(segment, "default")

    def treatment_for(self, segment: str) -> list[Step]:
        return self.treatments[self.treatment_name_for(segment)]

    def slot_for(self, step: Step) -> Slot:
        return self.preferred_slots[step.slot]

    @staticmethod
    def steps_due_between(
        treatment: list[Step], dpd_exclusive_low: int, dpd_inclusive_high: int
    ) -> list[Step]:
        """Steps whose day came in (low, high]: what a workflow waking at DPD `high` owes.

        A workflow that slept across several step days (a hold, a late wake-up) gets all of
        them and decides which still make sense; none is silently skipped.
        """
        return [s for s in treatment if dpd_exclusive_low < s.dpd <= dpd_inclusive_high]

    @staticmethod
    def next_step_dpd_after(treatment: list[Step], dpd: int) -> int | None:
        """The next DPD with a step, so the workflow sleeps until exactly then."""
        return min((s.dpd for s in treatment if s.dpd > dpd), default=None)


def parse_strategy(data: Any, source: str = "<strategy>") -> Strategy:
    """Validate a strategy mapping (already read from YAML) and explain every problem found."""
    return parse_document(Strategy, data, f"strategy {source}", StrategyError)


def load_strategy(name: str, version: int | None = None, directory: Path | None = None) -> Strategy:
    """Read and validate `{name}.yaml`, or `{name}-v{version}.yaml` for a pinned older version.

    The current version's challenger, if it names one, must load too and must not name a
    challenger of its own (an experiment has two arms). A pinned older version only keeps
    running accounts going, so its challenger is not looked up.

    The only I/O in domain/: workflows must not call this (do it in an activity or at worker
    start and pass the Strategy in).
    """
    folder = directory if directory is not None else STRATEGIES_DIR
    strategy = _load_file(name, version, folder)
    if version is None and strategy.challenger is not None:
        load_challenger(strategy.challenger, folder, champion=strategy.name)
    return strategy


def load_challenger(
    spec: ChallengerSpec, directory: Path | None = None, champion: str = ""
) -> Strategy:
    """The challenger a champion names; refused if it is missing, invalid, the champion itself,
    or names a challenger of its own."""
    folder = directory if directory is not None else STRATEGIES_DIR
    where = f"the challenger of strategy {champion}" if champion else "the challenger"
    if spec.strategy == champion:
        raise StrategyError(f"{where} is {champion} itself; a strategy cannot challenge itself")
    try:
        challenger = _load_file(spec.strategy, spec.version, folder)
    except StrategyError as exc:
        raise StrategyError(f"{where} cannot be used: {exc}") from None
    if challenger.challenger is not None:
        raise StrategyError(
            f"{where}, {challenger.name}, names a challenger of its own "
            f"({challenger.challenger.strategy}); an experiment has only two arms"
        )
    return challenger


def _load_file(name: str, version: int | None, folder: Path) -> Strategy:
    if not _NAME.match(name):
        raise StrategyError(f"{name!r} is not a valid strategy name")
    current = folder / f"{name}.yaml"
    candidates = [current] if version is None else [folder / f"{name}-v{version}.yaml", current]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise StrategyError(f"strategy file {path.name} is not valid YAML: {exc}") from None
        strategy = parse_strategy(data, path.name)
        if strategy.name != name:
            raise StrategyError(
                f"strategy file {path.name} declares name {strategy.name!r}, expected {name!r}"
            )
        if version is None or strategy.version == version:
            return strategy
        if path != current:
            raise StrategyError(
                f"strategy file {path.name} declares version {strategy.version}, expected {version}"
            )
    wanted = name if version is None else f"{name} version {version}"
    raise StrategyError(f"strategy {wanted} was not found in {folder}")
