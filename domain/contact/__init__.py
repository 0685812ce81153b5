"""Compliance rules for contacting borrowers: a gate, not a report (DESIGN.md).

- `profile`: a jurisdiction's rules as data (`policy/profiles/*.yaml`);
- `holds`: facts that stop contact (bankruptcy, deceased, dispute, ...), which stack;
- `ledger`: what was done (records), dead numbers and consent, carried in workflow state;
- `context`: where the borrower is (zones, phones, holiday country);
- `decide`: the one function that allows or refuses a proposed contact, and
  `earliest_allowed`, which reschedules a refused one;
- `audit`: an independent brute-force check of a whole history.

Pure: no clock, no Temporal, no I/O except reading the profile files once at import.
"""

from domain.contact.allowance import CapUsage, cap_usage
from domain.contact.audit import ConsentChange, Violation, audit_ledger
from domain.contact.borrower import (
    BORROWER_HOLDS,
    MAX_REMEMBERED_ANSWERS,
    BorrowerBook,
    BorrowerFacts,
    GrantAnswer,
    GrantCandidate,
    HolderEvent,
    HoldEvent,
    Withdrawal,
    apply_hold_event,
    apply_holder_event,
    barred_pending_calls,
    caps_left,
    conflicts,
    contacts_between,
    decide_grants,
    merged_ledger,
)
from domain.contact.context import BorrowerContext, phone_area_zones, zones_for_contact
from domain.contact.coverage import CALENDAR_LOOKAHEAD_DAYS, active_regions, calendar_gaps
from domain.contact.decide import (
    Decision,
    ProposedContact,
    allowed_until,
    decide,
    earliest_allowed,
)
from domain.contact.delivery import (
    DEAD_CODES,
    NO_SMS_CODES,
    TEMPORARY_FAILURES_BEFORE_NO_SMS,
    UNSUBSCRIBED_CODES,
    VERDICT_RULES,
    Verdict,
    delivery_verdict,
    verdict_reason,
)
from domain.contact.holds import (
    HOLD_KINDS,
    HOLD_PRIORITY,
    Hold,
    HoldKind,
    active_holds,
    hold_forbids,
)
from domain.contact.ledger import UNREACHABLE_AFTER_FAILED_CALLS, ContactLedger, ContactRecord
from domain.contact.profile import (
    PROFILE_NAMES,
    PROFILES_DIR,
    AfterConversation,
    Cap,
    ContactProfile,
    HolidayPolicy,
    ProfileError,
    ThirdPartyPolicy,
    TimeWindow,
    known_jurisdictions,
    load_profile,
    parse_profile,
    profile_for,
)
from domain.contact.public_holidays import (
    CALENDARS_DIR,
    CalendarError,
    CalendarYear,
    HolidayCalendars,
    active_calendars,
    public_holiday,
    region_of,
    use_calendars,
)
from domain.contact.vocabulary import (
    CHANNELS,
    PHONE_CHANNELS,
    Actor,
    Channel,
    ConsentChannel,
    Party,
    Purpose,
    Result,
)
from domain.contact.windows import first_inside, inside, window_close_after

__all__ = [
    "CapUsage",
    "cap_usage",
    "BORROWER_HOLDS",
    "MAX_REMEMBERED_ANSWERS",
    "Withdrawal",
    "barred_pending_calls",
    "BorrowerBook",
    "BorrowerFacts",
    "GrantAnswer",
    "GrantCandidate",
    "HoldEvent",
    "HolderEvent",
    "apply_hold_event",
    "apply_holder_event",
    "caps_left",
    "conflicts",
    "contacts_between",
    "decide_grants",
    "merged_ledger",
    "CALENDAR_LOOKAHEAD_DAYS",
    "active_regions",
    "calendar_gaps",
    "CALENDARS_DIR",
    "CHANNELS",
    "DEAD_CODES",
    "NO_SMS_CODES",
    "UNSUBSCRIBED_CODES",
    "HOLD_KINDS",
    "HOLD_PRIORITY",
    "PROFILES_DIR",
    "PHONE_CHANNELS",
    "PROFILE_NAMES",
    "TEMPORARY_FAILURES_BEFORE_NO_SMS",
    "UNREACHABLE_AFTER_FAILED_CALLS",
    "Actor",
    "AfterConversation",
    "BorrowerContext",
    "CalendarError",
    "CalendarYear",
    "Cap",
    "Channel",
    "ConsentChange",
    "ConsentChannel",
    "ContactLedger",
    "ContactProfile",
    "ContactRecord",
    "Decision",
    "Hold",
    "HoldKind",
    "HolidayCalendars",
    "HolidayPolicy",
    "Party",
    "ProfileError",
    "ProposedContact",
    "Purpose",
    "Result",
    "ThirdPartyPolicy",
    "TimeWindow",
    "Violation",
    "VERDICT_RULES",
    "Verdict",
    "active_calendars",
    "active_holds",
    "allowed_until",
    "audit_ledger",
    "decide",
    "delivery_verdict",
    "earliest_allowed",
    "first_inside",
    "hold_forbids",
    "inside",
    "known_jurisdictions",
    "load_profile",
    "parse_profile",
    "phone_area_zones",
    "profile_for",
    "public_holiday",
    "region_of",
    "use_calendars",
    "verdict_reason",
    "window_close_after",
    "zones_for_contact",
]
