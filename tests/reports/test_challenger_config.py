"""Champion/challenger configuration: a strategy file may name a challenger and a split, checked
when it loads; ARREARS_STRATEGY / ARREARS_CHALLENGER / ARREARS_CHALLENGER_SPLIT run an
experiment without editing files; `choose_strategy` puts a loan in the same arm every time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from api.errors import ApiError
from api.services.onboarding import choose_strategy
from core.settings import Settings
from domain.account import Account
from domain.arms import arm_for
from domain.strategy import STRATEGIES_DIR, Strategy, StrategyError, load_strategy
from tests.workflows.helpers import account_json

DEFAULT = yaml.safe_load((STRATEGIES_DIR / "default.yaml").read_text(encoding="utf-8"))


def write(folder: Path, name: str, **changes: Any) -> None:
    data = {**DEFAULT, "name": name, **changes}
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")


def account(loan_id: str) -> Account:
    from datetime import date

    return Account.model_validate(account_json(loan_id, date(2026, 12, 1)))


def test_a_strategy_file_may_name_a_challenger_and_a_split(tmp_path: Path) -> None:
    write(tmp_path, "champ", challenger={"strategy": "chall", "split": 20})
    write(tmp_path, "chall")
    champion = load_strategy("champ", directory=tmp_path)
    assert champion.challenger is not None
    assert (champion.challenger.strategy, champion.challenger.split) == ("chall", 20)


@pytest.mark.parametrize(
    ("challenger", "message"),
    [
        ({"strategy": "missing"}, "strategy missing was not found"),
        ({"strategy": "champ"}, "cannot challenge itself"),
        ({"strategy": "nested"}, "names a challenger of its own"),
    ],
)
def test_the_challenger_must_exist_and_must_not_name_a_challenger_itself(
    tmp_path: Path, challenger: dict[str, Any], message: str
) -> None:
    write(tmp_path, "champ", challenger=challenger)
    write(tmp_path, "other")
    write(tmp_path, "nested", challenger={"strategy": "other"})
    with pytest.raises(StrategyError, match=message):
        load_strategy("champ", directory=tmp_path)


@pytest.mark.parametrize("split", [-1, 101, "half"])
def test_the_split_is_a_percentage_from_0_to_100(tmp_path: Path, split: object) -> None:
    write(tmp_path, "champ", challenger={"strategy": "other", "split": split})
    write(tmp_path, "other")
    with pytest.raises(StrategyError, match="challenger.split"):
        load_strategy("champ", directory=tmp_path)


def test_a_strategy_recorded_before_the_challenger_field_existed_still_loads() -> None:
    """Strategy travels in workflow history: an old history has no `challenger` key."""
    old = {k: v for k, v in DEFAULT.items() if k != "challenger"}
    assert Strategy.model_validate(old).challenger is None


def settings(**env: Any) -> Settings:
    return Settings(**env)


def test_without_a_challenger_every_account_starts_on_the_champion_in_no_experiment() -> None:
    choice = choose_strategy(account("L-1"), settings())
    assert (choice.strategy.ref, choice.experiment, choice.arm) == ("default@2", None, None)


def test_the_settings_name_a_challenger_and_the_loan_id_decides_the_arm_every_time() -> None:
    config = settings(ARREARS_CHALLENGER="front_light", ARREARS_CHALLENGER_SPLIT=50)
    experiment = "default@2:front_light@2"
    seen = set()
    for n in range(40):
        loan = f"L-{n}"
        choice = choose_strategy(account(loan), config)
        assert choice.experiment == experiment
        assert choice.arm == arm_for(loan, 50, experiment=experiment)
        assert choice.strategy.name == ("front_light" if choice.arm == "challenger" else "default")
        assert choose_strategy(account(loan), config) == choice  # the same loan, the same arm
        seen.add(choice.arm)
    assert seen == {"champion", "challenger"}


@pytest.mark.parametrize(("split", "arm"), [(0, "champion"), (100, "challenger")])
def test_a_split_of_0_or_100_puts_every_account_in_one_arm(split: int, arm: str) -> None:
    config = settings(ARREARS_CHALLENGER="front_light", ARREARS_CHALLENGER_SPLIT=split)
    assert {choose_strategy(account(f"L-{n}"), config).arm for n in range(20)} == {arm}


def test_the_challenger_split_setting_must_be_a_percentage() -> None:
    with pytest.raises(ValidationError, match="ARREARS_CHALLENGER_SPLIT"):
        settings(ARREARS_CHALLENGER="front_light", ARREARS_CHALLENGER_SPLIT=150)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ARREARS_STRATEGY": "nonexistent"}, "nonexistent was not found"),
        ({"ARREARS_CHALLENGER": "nonexistent"}, "nonexistent was not found"),
        ({"ARREARS_CHALLENGER": "default"}, "cannot challenge itself"),
        ({"ARREARS_CHALLENGER": "Front Light"}, "cannot be used"),
    ],
)
def test_a_misconfigured_experiment_refuses_starts_with_503_naming_the_problem(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ApiError) as refused:
        choose_strategy(account("L-1"), settings(**env))
    assert (refused.value.status, refused.value.code) == (503, "strategy_unavailable")
    assert message in refused.value.message


def test_challenger_none_switches_off_an_experiment_named_in_the_champion_file(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "strategies"
    folder.mkdir()
    write(folder, "champ", challenger={"strategy": "chall", "split": 100})
    write(folder, "chall")
    policy = {"ARREARS_POLICY_DIR": tmp_path}
    from_file = choose_strategy(account("L-1"), settings(ARREARS_STRATEGY="champ", **policy))
    assert (from_file.strategy.name, from_file.arm) == ("chall", "challenger")
    assert from_file.experiment == "champ@2:chall@2"
    off = choose_strategy(
        account("L-1"),
        settings(ARREARS_STRATEGY="champ", ARREARS_CHALLENGER="none", **policy),
    )
    assert (off.strategy.name, off.arm, off.experiment) == ("champ", None, None)


def test_an_edited_strategy_file_is_read_again_at_the_next_start(tmp_path: Path) -> None:
    folder = tmp_path / "strategies"
    folder.mkdir()
    write(folder, "chall")
    write(folder, "champ", challenger={"strategy": "chall", "split": 100})
    config = settings(ARREARS_STRATEGY="champ", ARREARS_POLICY_DIR=tmp_path)
    assert choose_strategy(account("L-1"), config).arm == "challenger"
    write(folder, "champ", challenger={"strategy": "chall", "split": 0})
    assert choose_strategy(account("L-1"), config).arm == "champion"
