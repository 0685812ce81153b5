"""Alembic environment: runs on the connection handed over by store.migrate, or on the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

import store.agencies  # noqa: F401
import store.cases  # noqa: F401
import store.channels  # noqa: F401
import store.events  # noqa: F401
import store.legal  # noqa: F401
import store.letters  # noqa: F401
import store.models  # noqa: F401  (registers the tables on the metadata)
import store.notes  # noqa: F401
import store.staff  # noqa: F401

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
