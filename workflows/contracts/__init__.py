"""The contract between the AccountWorkflow and its callers (the API, the webhooks, the child
workflows), its activities, the store and the timeline: handler names beside the payload and
result types they carry, what one moment writes, and the typed action details.

One module per concern: `names` (the workflow's type, signals, updates, query), `inputs` (start
and continue-as-new), `state` (what continue-as-new carries), `status` (the query's answer),
`updates` (update payloads and results), `agencies` (agency contacts), `moments` (what a moment
writes), `channels` (delivery requests, results and contact events), `subflows` (the child
workflows' inputs and messages). Everything is importable from here; the API imports these,
never the workflow's code. Plain pydantic models: the pydantic data converter serialises them by
field, so which module a model lives in never reaches a workflow history.
"""

from workflows.contracts.agencies import (
    AGENCY_RESULTS,
    AgencyContact,
    AgencyContactChannel,
    AgencyContactResult,
    AgencyContactsRequest,
    AgencyContactsResult,
)
from workflows.contracts.channels import (
    ContactEvent,
    ContactEventKind,
    DeliveryRequest,
    DeliveryResult,
    DeliveryTarget,
)
from workflows.contracts.inputs import (
    AccountWorkflowInput,
    InstalmentsIn,
    task_id_for,
    workflow_id_for,
)
from workflows.contracts.moments import (
    ActionCommand,
    MomentRecord,
    PaymentRecord,
    TaskUpdate,
    TransitionRecord,
)
from workflows.contracts.names import ACCOUNT_WORKFLOW, AccountQuery, AccountSignal, AccountUpdate
from workflows.contracts.state import DeferredContact, EpisodeState, OpenTask
from workflows.contracts.status import (
    AccountStatus,
    HoldView,
    NextAction,
    PromiseView,
    StrategyRef,
)
from workflows.contracts.subflows import (
    ChildTaskOutcome,
    RestructureAnswer,
    RestructureAnswerResult,
    RestructureInput,
    SubflowEvent,
    SubflowEventKind,
    SubflowKind,
    WriteOffInput,
)
from workflows.contracts.updates import (
    AgencyRecallRequest,
    AgencyRecallResult,
    ContactInfoRequest,
    ContactInfoResult,
    HardshipRequest,
    HardshipResult,
    HoldKindIn,
    HoldRelease,
    HoldRequest,
    PromiseRequest,
    ReassignRequest,
    ReassignResult,
    TaskOutcome,
    TaskOutcomeResult,
)

__all__ = [
    "TaskOutcomeResult",
    "ReassignResult",
    "HardshipResult",
    "ContactInfoResult",
    "AgencyRecallResult",
    "RestructureAnswerResult",
    "AgencyContactsResult",
    "ACCOUNT_WORKFLOW",
    "AGENCY_RESULTS",
    "AccountQuery",
    "AccountSignal",
    "AccountStatus",
    "AccountUpdate",
    "AccountWorkflowInput",
    "ActionCommand",
    "AgencyContact",
    "AgencyContactChannel",
    "AgencyContactResult",
    "AgencyContactsRequest",
    "AgencyRecallRequest",
    "ChildTaskOutcome",
    "ContactEvent",
    "ContactEventKind",
    "ContactInfoRequest",
    "DeferredContact",
    "DeliveryRequest",
    "DeliveryResult",
    "DeliveryTarget",
    "EpisodeState",
    "HardshipRequest",
    "HoldKindIn",
    "HoldRelease",
    "HoldRequest",
    "HoldView",
    "InstalmentsIn",
    "MomentRecord",
    "NextAction",
    "OpenTask",
    "PaymentRecord",
    "PromiseRequest",
    "PromiseView",
    "ReassignRequest",
    "RestructureAnswer",
    "RestructureInput",
    "StrategyRef",
    "SubflowEvent",
    "SubflowEventKind",
    "SubflowKind",
    "TaskOutcome",
    "TaskUpdate",
    "TransitionRecord",
    "WriteOffInput",
    "task_id_for",
    "workflow_id_for",
]
