"""What policy content each (kind, name, version) had when a worker first served it.

A policy file edited in place (same version, other rules) would make running episodes decide
differently on their next workflow task and stop their histories from replaying. The store is
the one place every worker of a deployment shares, so it keeps the first hash seen for each
version, and a worker whose files disagree refuses to start, naming the file.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from domain.policy import PolicyRef
from store.engine import session_scope
from store.models import PolicyVersionRow

__all__ = ["remember_policy_versions"]


def remember_policy_versions(
    database_url: str, refs: Iterable[PolicyRef], sources: dict[PolicyRef, str]
) -> list[str]:
    """Record every reference not seen before; return one sentence per reference whose version
    the store knows with other content (nothing is recorded then). Two workers starting at once
    may race to insert the same row: the loser reads again and compares."""
    wanted = list(refs)
    try:
        return _remember(database_url, wanted, sources)
    except IntegrityError:
        return _remember(database_url, wanted, sources)


def _remember(
    database_url: str, wanted: list[PolicyRef], sources: dict[PolicyRef, str]
) -> list[str]:
    with session_scope(database_url) as session:
        known = {
            (row.kind, row.name, row.version): row for row in session.exec(select(PolicyVersionRow))
        }
        conflicts = []
        for ref in wanted:
            row = known.get((ref.kind, ref.name, ref.version))
            if row is not None and row.sha256 != ref.sha256:
                conflicts.append(
                    f"{sources.get(ref, ref.label())}: {ref.kind} {ref.name} version "
                    f"{ref.version} was served with other content (#{row.sha256[:12]}, from "
                    f"{row.source or 'an earlier worker'}); give the changed file a new version"
                )
        if conflicts:
            return conflicts
        for ref in wanted:
            if (ref.kind, ref.name, ref.version) not in known:
                session.add(
                    PolicyVersionRow(
                        kind=ref.kind,
                        name=ref.name,
                        version=ref.version,
                        sha256=ref.sha256,
                        source=sources.get(ref, "")[:400],
                    )
                )
    return []
