"""The words the contact rules speak: channels, parties, purposes and results.

Kept in one module so the profile files, the ledger, the gate and the audit agree on spelling.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "CHANNELS",
    "PHONE_CHANNELS",
    "Actor",
    "Channel",
    "ConsentChannel",
    "Party",
    "Purpose",
    "Result",
]

Channel = Literal["sms", "voice", "call", "letter", "field_visit"]
"""`voice` is an automated voice reminder; `call` is a collector's phone call (a call task)."""

Party = Literal["borrower", "guarantor", "third_party", "attorney"]
"""`third_party`: a contact person who is not liable for the debt (not a guarantor)."""

Purpose = Literal["collect", "locate", "message", "notice"]
"""`locate` asks for contact details; `message` passes a message; `notice` is a legal notice."""

Result = Literal["connected", "unanswered", "sent", "failed", "visited", "not_met"]
"""`connected`: a human conversation on a call; `unanswered`: no answer, busy or voicemail."""

Actor = Literal["us", "agency"]

ConsentChannel = Literal["sms", "voice"]

CHANNELS: tuple[str, ...] = get_args(Channel)
PHONE_CHANNELS: frozenset[str] = frozenset({"sms", "voice", "call"})
