"""What the AccountWorkflow's `compliance` query answers: per channel, what the compliance gate
allows next and why (issue 15), so a collector sees the gate's answer before dialling instead of
after a refusal. Computed in the workflow from the episode's own contact ledger, holds, pinned
profile and calendars: the store holds no ledger, so no other place can give the exact answer.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from domain.contact.allowance import CapUsage

__all__ = ["ChannelCompliance", "ComplianceStatus"]


class ChannelCompliance(BaseModel):
    """The gate's answer for one channel to the borrower (or their attorney, when one
    represents them): allowed now, or the earliest allowed instant and the rule that holds it
    back; and how much of each frequency cap is used."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel": "call",
                    "party": "borrower",
                    "target": "+*********0000",
                    "allowed_now": False,
                    "next_allowed": "2026-12-05T00:00:00Z",
                    "next_allowed_local": "2026-12-05 08:00",
                    "rule": "cn.quiet_hours",
                    "reason": "cn.quiet_hours: ... Earliest allowed: 2026-12-05 08:00:00 "
                    "(Asia/Shanghai).",
                    "caps": [],
                }
            ]
        }
    )

    channel: str
    party: str = "borrower"
    target: str | None = Field(
        default=None, description="the number the gate judged (the one to call now for `call`)"
    )
    allowed_now: bool
    next_allowed: datetime | None = Field(
        default=None,
        description="the earliest allowed instant (now when allowed); null when only a change "
        "of facts can allow it (a hold without end, withdrawn consent, no live number)",
    )
    next_allowed_local: str | None = Field(
        default=None, description="next_allowed in the borrower's zone, `YYYY-MM-DD HH:MM`"
    )
    rule: str | None = Field(default=None, description="the first rule that refuses now")
    reason: str
    caps: list[CapUsage] = Field(default_factory=list)


class ComplianceStatus(BaseModel):
    """The compliance gate's view of the account at `as_of`, per channel."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "loan_id": "L-1001",
                    "as_of": "2026-12-04T01:00:00Z",
                    "timezone": "Asia/Shanghai",
                    "local_time": "2026-12-04 09:00",
                    "profile": "cn",
                    "channels": [
                        {
                            "channel": "call",
                            "party": "borrower",
                            "target": "+*********0000",
                            "allowed_now": True,
                            "next_allowed": "2026-12-04T01:00:00Z",
                            "next_allowed_local": "2026-12-04 09:00",
                            "rule": None,
                            "reason": "Allowed under profile cn: call (collect) to the "
                            "borrower at 2026-12-04 09:00:00 (Asia/Shanghai).",
                            "caps": [
                                {
                                    "rule": "cn.connected_calls_per_day",
                                    "what": "at most 3 connected call contacts per local day",
                                    "max": 3,
                                    "days": 1,
                                    "per": "account",
                                    "used": 1,
                                    "left": 2,
                                    "first_day": "2026-12-04",
                                    "last_day": "2026-12-04",
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    loan_id: str
    as_of: datetime
    timezone: str
    local_time: str
    profile: str
    channels: list[ChannelCompliance]
