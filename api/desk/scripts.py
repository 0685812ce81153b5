"""Call scripts as policy data (`policy/scripts/call.yaml`, issue 15): what a collector says on
a call, by contact profile (the jurisdiction's rules), stage and language, shown on the task
form. Read once per process; a malformed file fails loudly at first use instead of showing a
collector no script."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from domain.policy import POLICY_DIR

SCRIPTS_FILE = POLICY_DIR / "scripts" / "call.yaml"


class CallScript(BaseModel):
    """One script: where it applies and its words per language."""

    model_config = ConfigDict(extra="forbid")

    id: str
    profiles: list[str] = Field(min_length=1)
    stages: list[str] = Field(min_length=1)
    title: dict[str, str]
    text: dict[str, str]

    def in_language(self, locale: str) -> tuple[str, str]:
        """(title, text) in `locale`, else English."""
        return self.title.get(locale, self.title["en"]), self.text.get(locale, self.text["en"])


class ScriptBook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    scripts: list[CallScript]

    def find(self, profile: str, stage: str) -> CallScript | None:
        """The first script for the profile and stage (the file's order decides)."""
        return next((s for s in self.scripts if profile in s.profiles and stage in s.stages), None)


def load_scripts(path: Path = SCRIPTS_FILE) -> ScriptBook:
    return ScriptBook.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def script_book() -> ScriptBook:
    return load_scripts()


def script_for(profile: str, stage: str, locale: str) -> tuple[str, str] | None:
    """(title, text) of the call script for an account's profile and a task's stage."""
    found = script_book().find(profile, stage)
    return found.in_language(locale) if found else None
