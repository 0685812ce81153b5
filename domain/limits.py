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

# The due dates any schedule may hold, clock or no clock: a date the workflow's arithmetic (days
# past due, penalty, timers) can always compute with. The strategy's onboarding window narrows
# it for a new episode (domain/onboarding.py).
EARLIEST_DUE_DATE = date(2000, 1, 1)
LATEST_DUE_DATE = date(2099, 12, 31)

# Control characters no text column may hold (PostgreSQL refuses NUL in text; the others are
# never part of a name, an address or a note). Tab, line feed and carriage return are text.
FORBIDDEN_CONTROL = frozenset(chr(c) for c in range(0x20)) - {"\t", "\n", "\r"}
