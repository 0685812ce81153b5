"""The hand-written migration 0002 creates exactly the channel tables the code declares, on
SQLite and PostgreSQL alike, and its attempt key really is unique."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from store.channels import (
    ConsentChangeRow,
    InboundMessageRow,
    OutboundContactRow,
    loans_for_number,
    mask_number,
    sms_consent_revoked,
)
from store.engine import get_engine, session_scope

CHANNEL_TABLES = {"outbound_contacts", "inbound_messages", "consent_changes"}
AT = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def _about_channel_tables(diff: object) -> bool:
    text = repr(diff)
    return any(name in text for name in CHANNEL_TABLES)


def test_the_migration_matches_the_channel_tables(database_url: str) -> None:
    with get_engine(database_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert [d for d in differences if _about_channel_tables(d)] == []


def _attempt(loan_id: str, seq: int, number: str = "+8613800138000") -> OutboundContactRow:
    return OutboundContactRow(
        loan_id=loan_id,
        workflow_id=f"account-{loan_id}",
        episode="e1",
        action_seq=seq,
        channel="sms",
        kind="sms_reminder",
        locale="zh-CN",
        to_number=number,
        from_number="+15005550006",
        body="x",
        state="not_accepted",
        requested_at=AT,
    )


def test_one_attempt_row_per_workflow_episode_and_action(database_url: str) -> None:
    with session_scope(database_url) as session:
        session.add(_attempt("L-1", 1))
    with pytest.raises(IntegrityError), session_scope(database_url) as session:
        session.add(_attempt("L-1", 1))
    with session_scope(database_url) as session:
        session.add(_attempt("L-1", 2))
        session.add(_attempt("L-2", 1, "+8613900000001"))
    with session_scope(database_url) as session:
        assert loans_for_number(session, "+8613800138000") == ["L-1"]


def test_the_latest_keyword_decides_sms_consent(database_url: str) -> None:
    number = "+8613800138000"

    def change(granted: bool) -> ConsentChangeRow:
        return ConsentChangeRow(
            number=number, channel="sms", granted=granted, source="inbound_keyword", at=AT
        )

    with session_scope(database_url) as session:
        assert not sms_consent_revoked(session, number)
        session.add(change(False))
    with session_scope(database_url) as session:
        assert sms_consent_revoked(session, number)
        session.add(change(True))
    with session_scope(database_url) as session:
        assert not sms_consent_revoked(session, number)
        session.add(
            InboundMessageRow(
                provider_sid="SM1",
                from_number=number,
                to_number="+15005550006",
                body="好的",
                kind="reply",
                received_at=AT,
            )
        )
    assert mask_number(number) == "+86138****8000"
