"""The live scoreboard (PLAYBOOK.md section 4, issue 9): roll rates and cure rates.

Computed from the store's transition records with `domain.scoreboard` (the simulator's code), for
supervisors and auditors, overall and per champion/challenger arm. Reads the store only.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import OversightDep
from api.errors import ApiError
from api.services.operations import OperationsReport, operations_report
from api.state import database_url
from domain.calendar import validate_timezone
from domain.scoreboard import SCOREBOARD_STATUSES
from store.reports import CureReport, RollReport, check_period, cure_report, roll_report

router = APIRouter(tags=["reports"])


_ROW = {"current": 0, "M1": 0, "M2": 0, "M3": 0, "M4+": 0, "written_off": 0, "closed": 0}
_MATRIX: dict[str, Any] = {
    "counts": {"M1": {**_ROW, "current": 61, "M1": 9, "M2": 30}},
    "totals": {**_ROW, "M1": 100},
    "rates": {"M1": {**_ROW, "current": 0.61, "M1": 0.09, "M2": 0.3}},
}
_ARM_MATRIX: dict[str, Any] = {
    "counts": {"M1": {**_ROW, "current": 33, "M1": 4, "M2": 13}},
    "totals": {**_ROW, "M1": 50},
    "rates": {"M1": {**_ROW, "current": 0.66, "M1": 0.08, "M2": 0.26}},
    "strategies": ["default@1"],
}
_BUCKET: dict[str, Any] = {"entered": 4, "cured": 2, "rate": 0.5}
_CURES: dict[str, Any] = {
    "became_delinquent": 4,
    "cured_total": 2,
    "rate": 0.5,
    "outcomes": {"cured": 1, "restructured": 1, "written_off": 0, "closed": 0, "delinquent": 2},
    "by_bucket": {
        "M1": _BUCKET,
        "M2": {"entered": 1, "cured": 1, "rate": 1.0},
        "M3": {"entered": 0, "cured": 0, "rate": 0.0},
        "M4+": {"entered": 0, "cured": 0, "rate": 0.0},
    },
    "cure_curve": [0.0, 0.25, 0.25, 0.5],
}
_ARM_CURES: dict[str, Any] = {**_CURES, "strategies": ["front_light@1"]}


class RollMatrix(BaseModel):
    """`counts[X][Y]`: accounts in status X at one month end and in Y at the next, summed over
    the months; `totals[X]` (the row sum): accounts in X at those earlier month ends; `rates[X][Y]
    = counts[X][Y] / totals[X]` (0 for an empty row)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_MATRIX]})

    counts: dict[str, dict[str, int]]
    totals: dict[str, int]
    rates: dict[str, dict[str, float]]


class ArmRollMatrix(RollMatrix):
    """The roll-rate matrix of one champion/challenger arm, and the strategies it ran."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ARM_MATRIX]})

    strategies: list[str] = Field(description="the strategy versions the arm's accounts ran")


class RollRatesReport(BaseModel):
    """Roll rates between month ends: each calendar month ending within [from, to] contributes
    its roll, from the previous month end to its own (local time in `tz`)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-12-01",
                    "to": "2027-01-31",
                    "tz": "Asia/Shanghai",
                    "statuses": list(SCOREBOARD_STATUSES),
                    "month_ends": ["2026-11-30", "2026-12-31", "2027-01-31"],
                    "overall": _MATRIX,
                    "arms": {"champion": _ARM_MATRIX},
                }
            ]
        },
    )

    from_: date = Field(alias="from")
    to: date
    tz: str
    statuses: list[str] = Field(description="row and column order of the matrices")
    month_ends: list[date] = Field(description="the month ends compared, local dates")
    overall: RollMatrix
    arms: dict[str, ArmRollMatrix] = Field(
        description="per champion/challenger arm; accounts in no experiment count only overall"
    )


class BucketCureView(BaseModel):
    """Of the delinquencies that entered a bucket in the period, how many are back to Current."""

    model_config = ConfigDict(json_schema_extra={"examples": [_BUCKET]})

    entered: int = Field(description="delinquencies that entered the bucket in the period")
    cured: int = Field(description="of those, back to Current by the end of the period")
    rate: float


class CureRatesView(BaseModel):
    """Delinquencies (an account moving into M1 or worse) that began in the period and how they
    stood at its end. `rate` = `cured_total / became_delinquent`; a cure is a return to Current
    by paying (`cured`) or onto an accepted restructure plan (`restructured`). `by_bucket[X]`:
    of the delinquencies that entered X in the period, the share back to Current.
    `cure_curve[n]`: share cured within n days of becoming delinquent."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CURES]})

    became_delinquent: int
    cured_total: int
    rate: float
    outcomes: dict[str, int] = Field(
        description="cured, restructured, written_off, closed, delinquent (still in collection)"
    )
    by_bucket: dict[str, BucketCureView]
    cure_curve: list[float]


class ArmCureRatesView(CureRatesView):
    """The cure rates of one champion/challenger arm, and the strategies it ran."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ARM_CURES]})

    strategies: list[str] = Field(description="the strategy versions the arm's accounts ran")


class CureRatesReport(BaseModel):
    """Cure rates of the delinquencies that began from `from` to `to` (local days in `tz`),
    judged at the end of `to`."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-12-01",
                    "to": "2026-12-31",
                    "tz": "Asia/Shanghai",
                    "overall": _CURES,
                    "arms": {"challenger": _ARM_CURES},
                }
            ]
        },
    )

    from_: date = Field(alias="from")
    to: date
    tz: str
    overall: CureRatesView
    arms: dict[str, ArmCureRatesView] = Field(
        description="per champion/challenger arm; accounts in no experiment count only overall"
    )


FromDate = Annotated[
    date,
    Query(alias="from", description="first day of the period (ISO 8601)", examples=["2026-12-01"]),
]
ToDate = Annotated[
    date, Query(description="last day of the period, inclusive", examples=["2027-01-31"])
]
Tz = Annotated[
    str,
    Query(
        max_length=64,
        description="IANA time zone of the month ends and days (default UTC)",
        examples=["Asia/Shanghai"],
    ),
]
ArmParam = Annotated[
    Literal["champion", "challenger"] | None,
    Query(description="only this arm in `arms` (the overall figures stay overall)"),
]
Experiment = Annotated[
    str | None,
    Query(
        max_length=200,
        description='only arms of this experiment, "champion ref:challenger ref"',
        examples=["default@1:front_light@1"],
    ),
]


def _check(start: date, end: date, tz: str) -> None:
    try:
        check_period(start, end)
    except ValueError as exc:
        message = str(exc)
        raise ApiError(
            422,
            "invalid_period",
            message[:1].upper() + message[1:] + ".",
            [
                {
                    "loc": ["query", "from" if start > end or start.year < 1900 else "to"],
                    "msg": message,
                }
            ],
        ) from exc
    try:
        validate_timezone(tz)
    except ValueError as exc:
        raise ApiError(
            422, "invalid_input", str(exc), [{"loc": ["query", "tz"], "msg": str(exc)}]
        ) from exc


@router.get(
    "/v1/reports/roll-rates",
    response_model=RollRatesReport,
    summary="Roll-rate matrix between month ends",
    description=(
        "How accounts moved between current, M1, M2, M3, M4+, written off and closed from one "
        "month end to the next, for every calendar month ending within [from, to], overall and "
        "per champion/challenger arm. Computed from the store's transition records. A status "
        "is the account's latest transition: paid on time, cured and restructured count as "
        "current. Supervisors and auditors."
    ),
)
async def roll_rates(
    *,
    request: Request,
    from_: FromDate,
    to: ToDate,
    tz: Tz = "UTC",
    arm: ArmParam = None,
    experiment: Experiment = None,
    _principal: OversightDep,
) -> RollRatesReport:
    _check(from_, to, tz)
    report: RollReport = await asyncio.to_thread(
        roll_report, database_url(request), from_, to, tz, experiment, arm
    )
    return RollRatesReport.model_validate(report.as_json())


@router.get(
    "/v1/reports/cure-rates",
    response_model=CureRatesReport,
    summary="Cure rates, overall, by bucket and by day",
    description=(
        "Of the accounts that became delinquent (moved into M1 or worse) from `from` to `to`, "
        "the share back to Current by the end of `to`: overall, by bucket entered, and as a "
        "curve by days since they became delinquent; overall and per champion/challenger arm. "
        "Each delinquency counts: an account that cures and falls behind again counts twice. "
        "Supervisors and auditors."
    ),
)
async def cure_rates(
    *,
    request: Request,
    from_: FromDate,
    to: ToDate,
    tz: Tz = "UTC",
    arm: ArmParam = None,
    experiment: Experiment = None,
    _principal: OversightDep,
) -> CureRatesReport:
    _check(from_, to, tz)
    report: CureReport = await asyncio.to_thread(
        cure_report, database_url(request), from_, to, tz, experiment, arm
    )
    return CureRatesReport.model_validate(report.as_json())


@router.get(
    "/v1/reports/operations",
    response_model=OperationsReport,
    response_model_by_alias=True,
    summary="Promise-kept and right-party-contact rates, contacts by hour, productivity, agencies",
    description=(
        "For the local days `from`..`to` in `tz`: promises made then and how they ended "
        "(kept_rate = kept / (kept + broken)); calls and visits worked then and the share that "
        "reached the borrower (right-party contacts); contacts by local hour and channel (the "
        "workflow's texts, voice messages and letters; people's calls and visits); each "
        "person's outcomes; and the agency league table (placements made then, recovered by "
        "`to`, best rate first). From the store's records. Supervisors and auditors."
    ),
)
async def operations(
    *,
    request: Request,
    from_: FromDate,
    to: ToDate,
    tz: Tz = "UTC",
    _principal: OversightDep,
) -> OperationsReport:
    _check(from_, to, tz)
    return await asyncio.to_thread(operations_report, database_url(request), from_, to, tz)
