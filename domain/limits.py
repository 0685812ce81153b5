"""What the store can hold, said once.

An input the API accepts goes into a workflow's history and from there into the store. If the
store cannot hold it (an amount past `NUMERIC(18,4)`, an id longer than its column, a NUL that
PostgreSQL refuses in text), the activity that records it fails at every retry and the account
is frozen for good. So the contract's models take their bounds from here, and so do the store's
columns: what the door accepts, every layer behind it can keep.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

# The store's money columns: NUMERIC(MONEY_DIGITS, MONEY_PLACES).
MONEY_DIGITS = 18
MONEY_PLACES = 4
STORE_MAX_MONEY = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES) - Decimal(1).scaleb(-MONEY_PLACES)

MAX_AMOUNT = Decimal("999999999999.99")
"""The largest amount an input may carry (a trillion less a cent): a hundredth of what a money
column holds, so a balance of several such instalments with years of penalty still fits."""

LOAN_ID_LENGTH = 64
PAYMENT_ID_LENGTH = 100
NAME_LENGTH = 200
"""A borrower's, a contact person's, an agency's or an addressee's name."""
BORROWER_ID_LENGTH = 64
"""The loan system's borrower id (the loan id stands in when none is sent)."""
PAY_TO_LENGTH = 200
"""Where a promised payment is to be made."""
SEGMENT_LENGTH = 40
"""A portfolio segment slug (also a search attribute)."""
RELATION_LENGTH = 40
"""A contact person's relation to the borrower."""
REASON_LENGTH = 200
"""A short stated reason kept in a column: a recall, a migration, an escalation."""
ADDRESS_LENGTH = 500
"""A postal address (the borrower's; a field visit's): it goes into history and onto letters."""
NOTES_LENGTH = 2000
"""Free notes on an outcome or a hold."""

# The due dates any schedule may hold, clock or no clock: a date the workflow's arithmetic (days
# past due, penalty, timers) can always compute with. The strategy's onboarding window narrows
# it for a new episode (domain/onboarding.py).
EARLIEST_DUE_DATE = date(2000, 1, 1)
LATEST_DUE_DATE = date(2099, 12, 31)

# Ids this service makes itself (never input), said here so their columns have one source too.
AGENCY_ID_LENGTH = 40
PLACEMENT_ID_LENGTH = 120

# Control characters no text column may hold (PostgreSQL refuses NUL in text; the others are
# never part of a name, an address or a note). Tab, line feed and carriage return are text.
FORBIDDEN_CONTROL = frozenset(chr(c) for c in range(0x20)) - {"\t", "\n", "\r"}
