"""Contact profiles are data: shipped files load, jurisdictions map, bad files are explained."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
import yaml

from domain.contact import (
    PROFILE_NAMES,
    PROFILES_DIR,
    ContactProfile,
    ProfileError,
    known_jurisdictions,
    load_profile,
    profile_for,
)


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_every_shipped_profile_loads_and_declares_its_name(name: str) -> None:
    profile = load_profile(name)
    assert isinstance(profile, ContactProfile)
    assert profile.name == name
    assert load_profile(name) is profile  # cached: profiles are read-only


def test_profile_for_maps_jurisdictions_case_insensitively() -> None:
    assert profile_for("CN", "CN").name == "cn"
    assert profile_for("us", "CN").name == "us-regf"
    assert profile_for("US-MA", "CN").name == "us-ma"
    assert profile_for("us-ma", "CN").name == "us-ma"
    assert profile_for(None, "CN").name == "cn"
    assert profile_for(None, "us").name == "us-regf"
    assert known_jurisdictions() == ["CN", "US", "US-MA"]


def test_profile_for_an_unknown_jurisdiction_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known jurisdictions are CN, US, US-MA"):
        profile_for("US-NY", "CN")


def test_load_profile_refuses_unknown_and_unsafe_names() -> None:
    with pytest.raises(ProfileError, match="was not found"):
        load_profile("mars")
    with pytest.raises(ProfileError, match="not a valid contact profile name"):
        load_profile("../cn")


def test_shipped_windows_are_the_regulated_hours_not_the_preferred_peaks() -> None:
    cn, us, ma = (load_profile(n) for n in PROFILE_NAMES)
    assert cn.window is not None and (cn.window.start, cn.window.end) == (time(8), time(22))
    assert us.window is not None and (us.window.start, us.window.end) == (time(8), time(21))
    assert ma.window == us.window
    for name in PROFILE_NAMES:
        text = (PROFILES_DIR / f"{name}.yaml").read_text(encoding="utf-8")
        assert "10:00" not in text and "14:00" not in text and "19:00" not in text


def _write(tmp_path: Path, name: str, data: object) -> Path:
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return tmp_path


def _cn_data() -> dict:
    data = yaml.safe_load((PROFILES_DIR / "cn.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_a_misspelt_key_is_an_error_naming_the_field(tmp_path: Path) -> None:
    data = _cn_data()
    data["caps"][0]["maximum"] = data["caps"][0].pop("max")
    with pytest.raises(ProfileError) as error:
        load_profile("cn", _write(tmp_path, "cn", data))
    assert "caps.0.maximum" in str(error.value) and "caps.0.max" in str(error.value)


def test_a_window_that_ends_before_it_starts_is_refused(tmp_path: Path) -> None:
    data = _cn_data()
    data["window"]["start"], data["window"]["end"] = "22:00", "08:00"
    with pytest.raises(ProfileError, match="must end after it starts"):
        load_profile("cn", _write(tmp_path, "cn", data))


def test_rule_names_must_be_unique_and_dotted(tmp_path: Path) -> None:
    data = _cn_data()
    data["caps"][1]["rule"] = data["caps"][0]["rule"]
    with pytest.raises(ProfileError, match="lists a value twice"):
        load_profile("cn", _write(tmp_path, "cn", data))
    data = _cn_data()
    data["window"]["rule"] = "QuietHours"
    with pytest.raises(ProfileError, match="must look like"):
        load_profile("cn", _write(tmp_path, "cn", data))


def test_a_file_must_declare_the_name_it_is_stored_under(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="declares name 'cn'"):
        load_profile("cn2", _write(tmp_path, "cn2", _cn_data()))


def test_an_unquoted_time_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "cn.yaml"
    text = (PROFILES_DIR / "cn.yaml").read_text(encoding="utf-8").replace('"22:00"', "22:00")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match="window.end"):
        load_profile("cn", tmp_path)


def test_rule_names_of_the_shipped_profiles() -> None:
    assert load_profile("cn").rule_names() == [
        "holiday.letter",
        "holiday.field_visit",
        "cn.third_party_only_when_unreachable",
        "cn.quiet_hours",
        "cn.connected_calls_per_day",
        "cn.unanswered_per_number_per_day",
    ]
    assert "us_ma.two_in_seven" in load_profile("us-ma").rule_names()
    assert "us_regf.seven_in_seven" in load_profile("us-ma").rule_names()
