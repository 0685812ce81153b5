"""Policy pinned by reference: strategies, contact profiles and holiday calendars as versioned
files, each known by name, version and content hash.

An episode runs for months across many deployments. If it carried only a name, editing a YAML
file would change what a running episode decides, and replaying its history would no longer
reproduce the decisions it made. So an episode carries `PolicyRef`s, and the registry a process
loads from its policy directory answers a reference only when name, version *and* hash match:
otherwise the caller is told exactly what is missing, and a workflow task fails and retries until
a worker that has that policy runs (it never decides with something else).

Layout of a policy directory (`ARREARS_POLICY_DIR`, default the repository's `policy/`):
`strategies/{name}.yaml` (the current version) and `strategies/{name}-v{n}.yaml` (older
versions still pinned by running episodes); `profiles/` likewise; `calendars/{REGION}/{YEAR}.yaml`.

The hash is taken over the document as written (its parsed YAML as canonical JSON), not the
file's bytes and not the validated model: comments and layout may change freely, a rule may not
change without a new version, and a release that gives the document schema a new field with a
default does not change the hash of a single file, so running episodes still resolve theirs.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Generic, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict

from domain.contact.profile import ContactProfile, ProfileError, parse_profile
from domain.contact.public_holidays import CalendarYear, HolidayCalendars, region_of
from domain.strategy import Strategy, StrategyError, parse_strategy

__all__ = [
    "POLICY_DIR",
    "EpisodePolicy",
    "ResolvedPolicy",
    "pin_policy",
    "CalendarQuery",
    "FIND_CALENDARS",
    "calendars_to_find",
    "calendar_region",
    "calendar_year_of",
    "calendar_years_missing",
    "calendar_years_wanted",
    "repin_calendars",
    "write_test_policy",
    "PolicyError",
    "PolicyKind",
    "PolicyRef",
    "PolicyRegistry",
    "Pinned",
    "UnknownPolicy",
    "content_hash",
    "install_registry",
    "installed_registry",
]

PolicyKind = Literal["strategy", "profile", "calendar"]
T = TypeVar("T")

# The repository's policy directory (ARREARS_POLICY_DIR overrides it in every process).
POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"

_OLDER = re.compile(r"^(?P<name>.+)-v(?P<version>[0-9]+)$")


class PolicyError(ValueError):
    """A policy directory that cannot be used; the message names the file."""


class UnknownPolicy(LookupError):
    """A reference this registry cannot match exactly (missing version, or other content)."""


class PolicyRef(BaseModel):
    """What an episode pins: `strategy default@1#3f9a…`. Small on purpose: it rides in every
    workflow input and continue-as-new."""

    model_config = ConfigDict(frozen=True)

    kind: PolicyKind
    name: str
    version: int
    sha256: str

    def label(self) -> str:
        return f"{self.kind} {self.name}@{self.version}#{self.sha256[:12]}"


@dataclass(frozen=True)
class Pinned(Generic[T]):
    """A policy document with the reference that names it."""

    ref: PolicyRef
    document: T
    source: Path | None = None


def _canonical(value: object) -> object:
    """YAML's values as JSON can hold them: mapping keys and dates as strings."""
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def content_hash(document: object) -> str:
    """sha256 of a document as written (its parsed YAML) in canonical JSON (sorted keys):
    stable across comments, formatting and new schema defaults, different for any change to
    what the file says."""
    canonical = json.dumps(_canonical(document), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _pin(
    kind: PolicyKind, name: str, version: int, document: BaseModel, written: object, path: Path
) -> Pinned:
    ref = PolicyRef(kind=kind, name=name, version=version, sha256=content_hash(written))
    return Pinned(ref, document, path)


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PolicyError(f"{path}: cannot be read: {error}") from error


def _expected(path: Path) -> tuple[str, int | None]:
    """The name (and, for an older version's file, the version) a file's own name promises."""
    older = _OLDER.match(path.stem)
    if older:
        return older["name"], int(older["version"])
    return path.stem, None


def _check_name(path: Path, name: str, version: int) -> bool:
    """True when the file is its name's current version; PolicyError when the file's name and
    its content disagree."""
    expected_name, expected_version = _expected(path)
    if name != expected_name or (expected_version is not None and version != expected_version):
        raise PolicyError(
            f"{path}: declares {name}@{version}; the file name says "
            f"{expected_name}{'' if expected_version is None else f'@{expected_version}'}"
        )
    return expected_version is None


class PolicyRegistry:
    """Every policy document of one policy directory, by reference."""

    def __init__(
        self,
        strategies: Iterable[Pinned[Strategy]],
        profiles: Iterable[Pinned[ContactProfile]],
        calendars: Iterable[CalendarYear],
        current: Iterable[PolicyRef] = (),
    ) -> None:
        self._by_ref: dict[tuple[str, str, int], Pinned[Strategy] | Pinned[ContactProfile]] = {}
        documents: list[Pinned[Strategy] | Pinned[ContactProfile]] = [*strategies, *profiles]
        for pinned in documents:
            key = (pinned.ref.kind, pinned.ref.name, pinned.ref.version)
            if key in self._by_ref:
                raise PolicyError(f"two files hold {pinned.ref.kind} {key[1]}@{key[2]}")
            self._by_ref[key] = pinned
        self._calendar_years = list(calendars)
        self._calendar_refs = {
            (y.region, y.year): PolicyRef(
                kind="calendar",
                name=f"{y.region}/{y.year}",
                version=y.version,
                sha256=y.content_hash,
            )
            for y in self._calendar_years
        }
        self._current = {(r.kind, r.name): r for r in current}

    @classmethod
    def load(cls, policy_dir: Path) -> PolicyRegistry:
        """Read and validate every file; the first bad one stops the load, naming it."""
        strategies: list[Pinned[Strategy]] = []
        profiles: list[Pinned[ContactProfile]] = []
        current: list[PolicyRef] = []
        for path in sorted((policy_dir / "strategies").glob("*.yaml")):
            written = _read_yaml(path)
            try:
                strategy = parse_strategy(written, path.name)
            except StrategyError as error:
                raise PolicyError(f"{path}: {error}") from error
            pinned = _pin("strategy", strategy.name, strategy.version, strategy, written, path)
            if _check_name(path, strategy.name, strategy.version):
                current.append(pinned.ref)
            strategies.append(pinned)
        for path in sorted((policy_dir / "profiles").glob("*.yaml")):
            written = _read_yaml(path)
            try:
                profile = parse_profile(written, path.name)
            except ProfileError as error:
                raise PolicyError(f"{path}: {error}") from error
            pinned = _pin("profile", profile.name, profile.version, profile, written, path)
            if _check_name(path, profile.name, profile.version):
                current.append(pinned.ref)
            profiles.append(pinned)
        calendars = HolidayCalendars.load(policy_dir / "calendars")
        years = [y for r in calendars.regions() for y in calendars.years_of(r)]
        return cls(strategies, profiles, years, current)

    # ------------------------------------------------------------------------ by reference

    def _get(self, ref: PolicyRef) -> Pinned:
        found = self._by_ref.get((ref.kind, ref.name, ref.version))
        if found is None:
            have = sorted(
                f"{n}@{v}" for (k, n, v) in self._by_ref if k == ref.kind and n == ref.name
            )
            raise UnknownPolicy(
                f"{ref.label()} is not in this worker's policy directory "
                f"(it has: {', '.join(have) or 'none of that name'})"
            )
        if found.ref.sha256 != ref.sha256:
            raise UnknownPolicy(
                f"{ref.label()} is pinned, but {found.source} holds other content for that "
                f"version (#{found.ref.sha256[:12]}): a policy file was changed without a new "
                "version"
            )
        return found

    def strategy(self, ref: PolicyRef) -> Strategy:
        document = self._get(ref).document
        assert isinstance(document, Strategy)
        return document

    def profile(self, ref: PolicyRef) -> ContactProfile:
        document = self._get(ref).document
        assert isinstance(document, ContactProfile)
        return document

    def calendars(self, refs: Iterable[PolicyRef]) -> HolidayCalendars:
        """Exactly the calendar years the references name (each matched by hash)."""
        by_name = {f"{y.region}/{y.year}": y for y in self._calendar_years}
        chosen: list[CalendarYear] = []
        for ref in refs:
            year = by_name.get(ref.name)
            if year is None or year.version != ref.version or year.content_hash != ref.sha256:
                held = "none" if year is None else f"v{year.version}#{year.content_hash[:12]}"
                raise UnknownPolicy(f"{ref.label()} is not in this worker's calendars ({held})")
            chosen.append(year)
        return HolidayCalendars(chosen)

    # ------------------------------------------------------------------------ current

    def current(self, kind: PolicyKind, name: str) -> PolicyRef:
        """The current version's reference of a strategy or profile."""
        ref = self._current.get((kind, name))
        if ref is None:
            raise UnknownPolicy(f"no current {kind} named {name!r}")
        return ref

    def ref_of(self, kind: PolicyKind, name: str, version: int) -> PolicyRef:
        """The reference of a strategy or profile version this directory holds."""
        found = self._by_ref.get((kind, name, version))
        if found is None:
            raise UnknownPolicy(f"no {kind} {name}@{version} in this policy directory")
        return found.ref

    def profile_for_jurisdiction(self, code: str) -> PolicyRef:
        """The current profile that serves a jurisdiction (`CN`, `US`, `US-MA`); an unknown one
        is an error rather than a guess: guessing another place's rules is how a lender breaks
        them."""
        wanted = code.strip().upper()
        for ref in self._current.values():
            if ref.kind == "profile" and wanted in self.profile(ref).jurisdictions:
                return ref
        raise UnknownPolicy(f"no contact profile serves jurisdiction {wanted!r}")

    def calendar_refs(self, region: str) -> list[PolicyRef]:
        """Every year the directory holds for a region, as references (oldest first)."""
        return [ref for (r, _), ref in sorted(self._calendar_refs.items()) if r == region]

    def strategies(self) -> list[Strategy]:
        """Every strategy version the directory serves (current and older ones still pinned)."""
        return [p.document for p in self._by_ref.values() if isinstance(p.document, Strategy)]

    def references(self) -> list[PolicyRef]:
        """Every document's reference: what the store remembers (hash per name and version)."""
        refs = [pinned.ref for pinned in self._by_ref.values()]
        refs += list(self._calendar_refs.values())
        return sorted(refs, key=lambda r: (r.kind, r.name, r.version))

    def source_of(self, ref: PolicyRef) -> str:
        pinned = self._by_ref.get((ref.kind, ref.name, ref.version))
        if pinned is not None and pinned.source is not None:
            return str(pinned.source)
        return ref.label()


_installed: PolicyRegistry | None = None


def install_registry(registry: PolicyRegistry | None) -> PolicyRegistry | None:
    """Make `registry` the one this process resolves references with (the worker at start, a
    test with its own directory; None: the repository's again); returns the one it replaces."""
    global _installed
    previous, _installed = _installed, registry
    return previous


def installed_registry() -> PolicyRegistry:
    """The process's registry; the repository's policy directory until one is installed."""
    global _installed
    if _installed is None:
        _installed = PolicyRegistry.load(POLICY_DIR)
    return _installed


class EpisodePolicy(BaseModel):
    """Everything an episode decides with, by reference: its strategy, the contact profile of
    its jurisdiction, and the public-holiday calendar years of its region. A few hundred bytes
    in every workflow input instead of the documents themselves."""

    model_config = ConfigDict(frozen=True)

    strategy: PolicyRef
    profile: PolicyRef
    calendars: list[PolicyRef]

    def resolve(self, registry: PolicyRegistry) -> ResolvedPolicy:
        """The documents, matched exactly; UnknownPolicy names the first reference missing."""
        return ResolvedPolicy(
            strategy=registry.strategy(self.strategy),
            profile=registry.profile(self.profile),
            calendars=registry.calendars(self.calendars),
        )


@dataclass(frozen=True)
class ResolvedPolicy:
    strategy: Strategy
    profile: ContactProfile
    calendars: HolidayCalendars


# The calendar years an episode pins: the year its first instalment falls due and the next (at
# least twelve months of collection). At each continue-as-new on a stage boundary the episode
# re-pins to the local year and the next (`repin_calendars`), so a long episode never decides a
# later year with the statutory fallback once the directory holds that year's file. Two, not more:
# every reference rides in every continue-as-new input.
PINNED_CALENDAR_YEARS = 2


def calendar_region(jurisdiction: str) -> str:
    """The calendar region of a jurisdiction code: `cn` → `CN`, `us-ma` → `US-MA`."""
    country, _, subdivision = jurisdiction.strip().upper().partition("-")
    return region_of(country, subdivision or None)


def calendar_year_of(ref: PolicyRef) -> int:
    """The year a calendar reference (`CN/2027`) names."""
    return int(ref.name.rpartition("/")[2])


def pin_policy(
    registry: PolicyRegistry,
    strategy: PolicyRef,
    jurisdiction: str | None,
    first_year: int | None = None,
) -> EpisodePolicy:
    """The references a new episode starts with: the given strategy version, the current
    profile of the account's jurisdiction (else the strategy's), and the calendar years from
    `first_year` (every year the directory holds for the region when None)."""
    document = registry.strategy(strategy)
    code = (jurisdiction or document.jurisdiction).strip().upper()
    return EpisodePolicy(
        strategy=strategy,
        profile=registry.profile_for_jurisdiction(code),
        calendars=[
            ref
            for ref in registry.calendar_refs(calendar_region(code))
            if first_year is None
            or first_year <= calendar_year_of(ref) < first_year + PINNED_CALENDAR_YEARS
        ],
    )


# The local activity an episode asks for calendar years it has not pinned.
FIND_CALENDARS = "find_calendars"


class CalendarQuery(BaseModel):
    """An episode asking its worker for calendar years it has not pinned (`find_calendars`)."""

    region: str
    years: list[int]


def calendars_to_find(
    policy: EpisodePolicy, jurisdiction: str, today: date
) -> CalendarQuery | None:
    """What to ask the worker's directory for before the next run, if anything is missing."""
    missing = calendar_years_missing(policy, today)
    if not missing:
        return None
    return CalendarQuery(region=calendar_region(jurisdiction), years=missing)


def calendar_years_wanted(today: date) -> list[int]:
    """The calendar years an episode decides with from `today` (its local date) on."""
    return list(range(today.year, today.year + PINNED_CALENDAR_YEARS))


def calendar_years_missing(policy: EpisodePolicy, today: date) -> list[int]:
    """The years an episode wants from `today` on but has no pinned calendar for: the ones to
    look for in the worker's directory (a year published after the episode started)."""
    held = {calendar_year_of(ref) for ref in policy.calendars}
    return [year for year in calendar_years_wanted(today) if year not in held]


def repin_calendars(
    policy: EpisodePolicy, today: date, found: Iterable[PolicyRef] = ()
) -> EpisodePolicy:
    """The policy for the next run of an episode: the pinned years still wanted are kept as they
    are (a running episode never changes a calendar it decided with), past years are dropped,
    and a wanted year that was missing takes the reference `found` for it, if any."""
    wanted = set(calendar_years_wanted(today))
    kept = [ref for ref in policy.calendars if calendar_year_of(ref) in wanted]
    held = {calendar_year_of(ref) for ref in kept}
    added = [ref for ref in found if calendar_year_of(ref) in wanted - held]
    calendars = sorted({ref.name: ref for ref in [*kept, *added]}.values(), key=lambda r: r.name)
    return policy.model_copy(update={"calendars": calendars})


def write_test_policy(
    target: Path,
    years: range,
    named: Mapping[str, Mapping[date, str]] | None = None,
    source: Path = POLICY_DIR,
) -> Path:
    """A policy directory for tests and recorded histories: `source`'s strategies and profiles,
    and for every active region and year in `years` a calendar of status `test` holding exactly
    the days `named` gives (none by default), so a scenario never depends on which festival
    falls inside its months of virtual time."""
    for folder in ("strategies", "profiles"):
        if not (target / folder).exists():
            shutil.copytree(source / folder, target / folder)
    days = named or {}
    for region in ("CN", "US", "US-MA", *days):
        for year in years:
            holidays = {d.isoformat(): n for d, n in days.get(region, {}).items() if d.year == year}
            path = target / "calendars" / region / f"{year}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            body = {
                "region": region,
                "year": year,
                "version": 1,
                "status": "test",
                "source": "a test's own calendar",
                "holidays": holidays,
            }
            path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return target
