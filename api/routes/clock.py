"""`GET /v1/sandbox/clock` and `POST /v1/sandbox/clock/advance` (CONTRACT.md v1.1): the virtual
clock of `arrears up --virtual-time`, for lenders testing their integration and for collector
training. Supervisors only; 404 unless ARREARS_CLOCK=server. The stepping and settling live in
api/services/clock.py."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.deps import SupervisorDep, TemporalClientDep, VirtualTimeDep
from api.services.clock import MAX_ADVANCE, advance_alone, target_of
from api.state import advance_lock, business_now

router = APIRouter(prefix="/v1/sandbox/clock", tags=["sandbox"])


class ClockView(BaseModel):
    """The virtual clock: the instant every status, task list and window is read at."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"now": "2026-12-17T06:30:00Z"}]})

    now: AwareDatetime = Field(description="the current virtual instant (UTC)")


class AdvanceIn(BaseModel):
    """How far to move the clock: `days` and/or `hours`, or `until` an instant."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"days": 10}, {"until": "2031-03-15T04:00:00Z"}]},
    )

    days: int | None = Field(None, ge=0, le=MAX_ADVANCE.days, description="whole days ahead")
    hours: int | None = Field(None, ge=0, le=MAX_ADVANCE.days * 24, description="hours ahead")
    until: AwareDatetime | None = Field(
        None, description="an instant with its offset, after the current virtual instant"
    )


class AdvanceOut(ClockView):
    """An advance that has settled: the new virtual instant, where it started, and in how many
    settled steps it got there."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "now": "2026-12-17T06:30:00.013Z",
                    "started": "2026-12-07T14:07:56.555Z",
                    "steps": 16,
                }
            ]
        }
    )

    started: AwareDatetime = Field(description="the virtual instant the advance started from")
    steps: int = Field(description="settled steps taken on the way")


DESCRIPTION_404 = "The business clock is the system's (ARREARS_CLOCK=system)."


@router.get(
    "",
    summary="The virtual clock",
    description="Supervisor only; only under ARREARS_CLOCK=server (`arrears up --virtual-time`), "
    "else 404. The current virtual instant every status, task list and window is read at.",
    response_model=ClockView,
    responses={404: {"description": DESCRIPTION_404}},
)
async def read_clock(
    *, request: Request, _who: SupervisorDep, _virtual: VirtualTimeDep
) -> ClockView:
    return ClockView(now=await business_now(request))


@router.post(
    "/advance",
    summary="Advance the virtual clock and wait until everything due has happened",
    description="Supervisor only; only under ARREARS_CLOCK=server, else 404. Moves the clock by "
    "`days`/`hours` or `until` an instant, in steps: to each account's next moment and each "
    "open task's window bound, at most a day at a time, waiting after each step until no "
    "workflow task, activity or sandbox message is in flight; answers with the new instant once "
    f"the system has settled. 422 for no amount, a negative one, `until` not in the future, or "
    f"more than {MAX_ADVANCE.days} days; 409 while another advance runs; 504 if a step does not "
    "finish within 10 minutes or settle within a minute (the clock stays where it got to), or "
    "if the test server keeps its clock locked with nothing in flight (`clock_stalled`).",
    response_model=AdvanceOut,
    responses={
        404: {"description": DESCRIPTION_404},
        409: {"description": "another advance is running"},
        504: {"description": "a step did not finish or settle"},
    },
)
async def advance_clock(
    *,
    request: Request,
    body: AdvanceIn,
    _who: SupervisorDep,
    settings: VirtualTimeDep,
    client: TemporalClientDep,
) -> AdvanceOut:
    target = target_of(await business_now(request), body.days, body.hours, body.until)
    done = await advance_alone(advance_lock(request), client, settings, target)
    return AdvanceOut(now=done.now, started=done.started, steps=done.steps)
