"""Starting an episode, shared by `POST /v1/accounts` and the batch endpoint.

One place decides which strategy an account starts under and refuses what would fail inside the
workflow (an unknown contact profile), so a single start and a batch item behave the same.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.channels.templates import validate_strategy_templates
from api.errors import ApiError
from api.services.borrowers import join_borrower
from api.services.episodes import query_if_open, query_status
from api.services.policy import pin_episode_policy
from core.settings import Settings
from domain.account import Account, check_segment
from domain.arms import CHALLENGER, Arm, arm_for, experiment_unit
from domain.calendar import local_date
from domain.contact import profile_for
from domain.onboarding import due_date_problem
from domain.strategy import (
    ChallengerSpec,
    Strategy,
    StrategyError,
    load_challenger,
    load_strategy,
)
from domain.vocabulary import CLOSED_STATES
from store.engine import session_scope
from store.models import AccountRow
from store.reports import record_assignment
from store.staff import AccountDirectoryRow, phone_endings, put_directory
from workflows.contracts import (
    ACCOUNT_WORKFLOW,
    AccountStatus,
    AccountWorkflowInput,
    workflow_id_for,
)


@dataclass(frozen=True)
class Started:
    """The account's status after the start, and whether this call opened the episode."""

    status: AccountStatus
    created: bool


@dataclass(frozen=True)
class StrategyChoice:
    """The strategy an account starts under and, in a champion/challenger experiment, the
    experiment ("champion ref:challenger ref") and the arm the loan id puts it in."""

    strategy: Strategy
    experiment: str | None = None
    arm: Arm | None = None


def choose_strategy(account: Account, settings: Settings) -> StrategyChoice:
    """The strategy version an account is pinned to for its whole episode.

    The champion is ARREARS_STRATEGY. The challenger is ARREARS_CHALLENGER with
    ARREARS_CHALLENGER_SPLIT percent of accounts, else the champion file's `challenger:`
    ("none" turns the file's experiment off). The arm is a pure function of the loan id and the
    experiment (domain/arms.py), so every start of the same loan lands in the same arm.
    """
    try:
        trial = _experiment(settings)
    except StrategyError as exc:
        raise ApiError(503, "strategy_unavailable", str(exc)) from exc
    if trial.challenger is None:
        return StrategyChoice(trial.champion)
    experiment = f"{trial.champion.ref}:{trial.challenger.ref}"
    unit = experiment_unit(account.loan_id, account.borrower.id)
    arm = arm_for(unit, trial.split, experiment=experiment)
    return StrategyChoice(
        trial.challenger if arm == CHALLENGER else trial.champion, experiment, arm
    )


@dataclass(frozen=True)
class _Experiment:
    champion: Strategy
    challenger: Strategy | None
    split: int


_EXPERIMENTS: dict[tuple[object, ...], _Experiment] = {}


def _experiment(settings: Settings) -> _Experiment:
    """The configured champion and challenger, parsed once per version of the strategy files
    (a start must not parse YAML twice: batches start thousands of accounts)."""
    folder = settings.policy_dir / "strategies"
    try:
        stamp = tuple(
            sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.glob("*.yaml"))
        )
    except OSError:
        stamp = ()
    key = (settings.strategy, settings.challenger, settings.challenger_split, str(folder), stamp)
    found = _EXPERIMENTS.get(key)
    if found is None:
        champion = load_strategy(settings.strategy, directory=folder)
        spec = _challenger_spec(champion, settings)
        challenger = None if spec is None else load_challenger(spec, folder, champion=champion.name)
        # A strategy file changed on disk is checked before any account starts under it: a
        # template that is missing or too long must be a 503 here, not a failed first SMS.
        for strategy in (champion, challenger):
            if strategy is not None:
                validate_strategy_templates(strategy)
        found = _Experiment(champion, challenger, 0 if spec is None else spec.split)
        if len(_EXPERIMENTS) >= 16:
            _EXPERIMENTS.clear()
        _EXPERIMENTS[key] = found
    return found


def _challenger_spec(champion: Strategy, settings: Settings) -> ChallengerSpec | None:
    named = (settings.challenger or "").strip()
    if not named:
        return champion.challenger
    if named.lower() == "none":
        return None
    try:
        return ChallengerSpec(strategy=named, split=settings.challenger_split)
    except ValidationError as exc:
        raise StrategyError(f"ARREARS_CHALLENGER={named!r} cannot be used: {exc}") from None


async def record_arm(
    settings: Settings, loan_id: str, choice: StrategyChoice, at: datetime
) -> None:
    """Record the loan's arm before its episode starts (once per loan and experiment: a second
    start changes nothing), so the reports can split by arm."""
    if choice.experiment is None or choice.arm is None:
        return
    try:
        await asyncio.to_thread(
            record_assignment,
            settings.effective_database_url,
            loan_id=loan_id,
            experiment=choice.experiment,
            arm=choice.arm,
            strategy_ref=choice.strategy.ref,
            at=at,
        )
    except SQLAlchemyError as exc:
        raise ApiError(
            503, "service_unavailable", "The store is not reachable; nothing was accepted, retry."
        ) from exc


async def record_directory(settings: Settings, account: Account) -> None:
    """The borrower's name and phone endings for the account search (store/staff.py), written
    before the episode starts so an account is findable as soon as it exists."""
    borrower_id = getattr(account.borrower, "id", None) or account.loan_id
    row = AccountDirectoryRow(
        loan_id=account.loan_id,
        borrower_id=str(borrower_id),
        name=account.borrower.name,
        name_key=account.borrower.name.casefold(),
        phone_endings=phone_endings([p.number for p in account.borrower.phones]),
    )
    try:
        await asyncio.to_thread(put_directory, settings.effective_database_url, row)
    except SQLAlchemyError as exc:
        raise ApiError(
            503, "service_unavailable", "The store is not reachable; nothing was accepted, retry."
        ) from exc


def check_startable(account: Account, strategy: Strategy) -> None:
    """Refuse here what the workflow could not run (an unknown profile would fail every task)
    or must not carry (a segment that is not a slug goes unencrypted into a search attribute)."""
    try:
        check_segment(account.segment)
    except ValueError as exc:
        raise ApiError(
            422,
            "validation_error",
            f"Invalid input — segment: {exc}",
            [{"loc": ["body", "segment"], "msg": str(exc)}],
        ) from exc
    try:
        profile_for(account.jurisdiction, strategy.jurisdiction)
    except ValueError as exc:
        raise ApiError(
            422,
            "validation_error",
            str(exc),
            [{"loc": ["body", "jurisdiction"], "msg": str(exc)}],
        ) from exc


def check_due_dates(account: Account, strategy: Strategy, as_of: datetime) -> None:
    """Refuse a schedule outside the strategy's window (domain/onboarding.py), judged on the
    borrower's today by the business clock. Checked only when an episode is to be opened: a
    repeated start of a running one answers it whatever its dates are by now."""
    today = local_date(as_of, account.borrower.timezone)
    problem = due_date_problem(
        [i.due_date for i in account.instalments],
        today,
        strategy.onboarding,
        migration=account.migration is not None,
    )
    if problem is not None:
        raise ApiError(
            422,
            "validation_error",
            f"Invalid input — instalments: {problem}",
            [{"loc": ["body", "instalments"], "msg": problem}],
        )


async def episode_running(client: Client, loan_id: str) -> bool:
    try:
        description = await client.get_workflow_handle(workflow_id_for(loan_id)).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return description.status == WorkflowExecutionStatus.RUNNING


def ended_episode(url: str, loan_id: str) -> AccountStatus | None:
    """The store's last snapshot of the loan's episode, when that episode has ended."""
    try:
        with session_scope(url) as session:
            row = session.get(AccountRow, loan_id)
            if row is None or not row.status or row.state not in CLOSED_STATES:
                return None
            return AccountStatus.model_validate(row.status)
    except SQLAlchemyError as exc:
        raise ApiError(
            503, "service_unavailable", "The store is not reachable; nothing was accepted, retry."
        ) from exc


def unsettled_only(account: Account, ended: AccountStatus | None) -> Account:
    """A loan whose last episode ended opens a new one only for instalments that episode did
    not settle: with nothing unpaid left → 409 `episode_closed` (a repeated start must not
    reopen paid instalments); otherwise the new episode holds the unsettled ones only. An
    episode's snapshot from before the status listed its instalments settles nothing."""
    if ended is None:
        return account
    settled = {(i.seq, i.due_date) for i in ended.instalments if i.unpaid == 0}
    unpaid = [i for i in account.instalments if (i.seq, i.due_date) not in settled]
    if not unpaid:
        seqs = ", ".join(str(i.seq) for i in account.instalments)
        raise ApiError(
            409,
            "episode_closed",
            f"Loan {account.loan_id}'s episode has ended ({ended.state}) and settled every "
            f"instalment sent (seq {seqs}); nothing is unpaid. Send a new unpaid instalment to "
            "open a new episode.",
            {"state": str(ended.state), "settled": sorted(s for s, _ in settled)},
        )
    return account.model_copy(update={"instalments": unpaid})


async def start_episode(
    client: Client,
    settings: Settings,
    account: Account,
    as_of: datetime,
    store_open: bool | None = None,
) -> Started:
    """Start the account's workflow, or answer the open one: a second start duplicates nothing.

    `store_open` is what the store says of the loan (the batch reads it for all its items at
    once). Given, no describe is made: an episode the store shows open is queried directly
    (refused unless it runs); any other is started with id_conflict_policy FAIL, and a workflow
    already running (started a moment ago, before its first write) answers as open. Only a
    schedule the strategy would refuse asks Temporal first, since a running episode answers 200
    whatever its dates are by now. Not given (`POST /v1/accounts`), the workflow is described
    first, as before."""
    choice = choose_strategy(account, settings)
    strategy = choice.strategy
    check_startable(account, strategy)
    if store_open is None:
        if await episode_running(client, account.loan_id):
            status = await query_status(client, account.loan_id, as_of)
            return Started(status=status, created=False)
    else:
        found = await query_if_open(client, account.loan_id, as_of, store_open)
        if found is not None:
            return Started(status=found, created=False)
    # Not open: a loan whose last episode ended starts again only for what it left unpaid.
    ended = await asyncio.to_thread(ended_episode, settings.effective_database_url, account.loan_id)
    account = unsettled_only(account, ended)
    if store_open is None:
        check_due_dates(account, strategy, as_of)
    else:
        try:
            check_due_dates(account, strategy, as_of)
        except ApiError:
            if await episode_running(client, account.loan_id):
                status = await query_status(client, account.loan_id, as_of)
                return Started(status=status, created=False)
            raise
    policy = pin_episode_policy(settings, strategy, account)
    await join_borrower(
        client, settings.task_queue, account, account.jurisdiction or strategy.jurisdiction
    )
    await record_arm(settings, account.loan_id, choice, as_of)
    await record_directory(settings, account)
    try:
        await client.start_workflow(
            ACCOUNT_WORKFLOW,
            AccountWorkflowInput(account=account, policy=policy),
            id=workflow_id_for(account.loan_id),
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            # FAIL, not USE_EXISTING: the answer must say whether this call opened the episode
            # (201) or found it open (200), and only the refusal says so.
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        status = await query_status(client, account.loan_id, as_of)
        return Started(status=status, created=False)
    try:
        status = await query_status(client, account.loan_id, as_of)
    except Exception as exc:
        # The episode is in Temporal now (the service shutting down, the worker gone): saying
        # "nothing was accepted" would be false. The start is idempotent, so a retry answers
        # the open episode.
        raise ApiError(
            503,
            "started_status_unavailable",
            f"The account {account.loan_id} was started, but its status could not be read; "
            "send the same request again: it answers the open episode and duplicates nothing.",
            {"loan_id": account.loan_id, "started": True},
        ) from exc
    return Started(status=status, created=True)
