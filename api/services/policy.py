"""The policy directory as the API sees it: which references a new episode pins.

The API reads the same ARREARS_POLICY_DIR as the workers. It parses the directory once per
change of its files (a batch starts thousands of accounts), and pins only what it can name
exactly: the strategy document it chose must be the registry's, byte for byte in meaning.
"""

from __future__ import annotations

from pathlib import Path

from api.errors import ApiError
from core.settings import Settings
from domain.account import Account
from domain.policy import (
    EpisodePolicy,
    PolicyError,
    PolicyRegistry,
    UnknownPolicy,
    pin_policy,
)
from domain.strategy import Strategy

_REGISTRIES: dict[tuple[object, ...], PolicyRegistry] = {}


def _stamp(folder: Path) -> tuple[object, ...]:
    try:
        return tuple(
            sorted(
                (str(p.relative_to(folder)), p.stat().st_mtime_ns, p.stat().st_size)
                for p in folder.rglob("*.yaml")
            )
        )
    except OSError:
        return ()


def policy_registry(settings: Settings) -> PolicyRegistry:
    """The registry of ARREARS_POLICY_DIR, loaded again only when a file changed."""
    key = (str(settings.policy_dir), _stamp(settings.policy_dir))
    found = _REGISTRIES.get(key)
    if found is None:
        found = PolicyRegistry.load(settings.policy_dir)
        _REGISTRIES.clear()
        _REGISTRIES[key] = found
    return found


def pin_episode_policy(settings: Settings, strategy: Strategy, account: Account) -> EpisodePolicy:
    """The references a new episode starts with, or 503 when the directory cannot serve them."""
    try:
        registry = policy_registry(settings)
        ref = registry.ref_of("strategy", strategy.name, strategy.version)
        if registry.strategy(ref) != strategy:
            raise UnknownPolicy(f"strategy {strategy.ref} changed while this account started")
        first_year = min(i.due_date for i in account.instalments).year
        return pin_policy(registry, ref, account.jurisdiction, first_year)
    except (PolicyError, UnknownPolicy) as exc:
        raise ApiError(503, "strategy_unavailable", f"Policy unavailable: {exc}") from exc
