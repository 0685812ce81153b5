"""The API's dependencies as `Annotated` aliases, the one vocabulary routes declare what they
need in (the full-stack FastAPI template's api/deps.py): a route says `client:
TemporalClientDep` or `who: CollectorDep`, and the code behind each alias lives beside it
(api/state.py, api/auth.py). Each role alias lists its roles in the order the 403 names them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from temporalio.client import Client

from api.auth import ANY_ROLE, Principal, Role, require
from api.state import app_settings, require_temporal, require_virtual_time
from core.settings import Settings

SettingsDep = Annotated[Settings, Depends(app_settings)]
VirtualTimeDep = Annotated[Settings, Depends(require_virtual_time)]
"""The settings, or 404 when the business clock is not the test server's (ARREARS_CLOCK)."""
TemporalClientDep = Annotated[Client, Depends(require_temporal)]
"""The connected client, or 503 (nothing was accepted, retry)."""

AnyRoleDep = Annotated[Principal, Depends(require(*ANY_ROLE))]
LoanSystemDep = Annotated[Principal, Depends(require(Role.LOAN_SYSTEM))]
CollectorDep = Annotated[Principal, Depends(require(Role.COLLECTOR, Role.SUPERVISOR))]
"""Collectors and their supervisors: who works accounts and tasks."""
SupervisorDep = Annotated[Principal, Depends(require(Role.SUPERVISOR))]
AuditorDep = Annotated[Principal, Depends(require(Role.AUDITOR))]
AccountReaderDep = Annotated[
    Principal, Depends(require(Role.COLLECTOR, Role.SUPERVISOR, Role.AUDITOR))
]
"""Staff who read an account's records (messages, placements, legal cases)."""
OversightDep = Annotated[Principal, Depends(require(Role.SUPERVISOR, Role.AUDITOR))]
"""Who reads portfolio-wide records: the agency registry and the reports."""
TimelineReaderDep = Annotated[
    Principal, Depends(require(Role.AUDITOR, Role.SUPERVISOR, Role.COLLECTOR))
]
"""Who reads an account's explained timeline: auditors, supervisors, and collectors on the
accounts they hold or nobody holds (the route adds `collector_holds_account`; issue 15)."""
LoanSystemOrSupervisorDep = Annotated[
    Principal, Depends(require(Role.LOAN_SYSTEM, Role.SUPERVISOR))
]
