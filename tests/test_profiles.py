"""Conformance profiles: loading, claims, flag names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rbee_bdd.stack.config import ConfigError, SuiteConfig
from rbee_bdd.stack.profiles import CAPABILITIES, ProfileError, load

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_profiles_load() -> None:
    assert load("reference", ROOT).claims == frozenset(CAPABILITIES)
    assert load("minimal", ROOT).claims == frozenset()


def test_a_profile_renames_flags_and_names_its_programs(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('claims = ["deadlines"]\n[programs]\nqueen = "/opt/q --verbose"\n'
                    '[flags]\n"--hive-stale-after" = "--stale-after"\n')
    profile = load(str(path), ROOT)
    assert profile.rename(["/opt/q", "--hive-stale-after", "3", "--hive-stale-after=4", "--host"]) == \
        ["/opt/q", "--stale-after", "3", "--stale-after=4", "--host"]
    assert profile.unclaimed(["cap.deadlines", "p1"]) is None
    assert profile.unclaimed(["cap.narration"]) == "the build's profile (mine) does not claim narration"
    config = SuiteConfig.from_userdata({"target": "local", "profile": str(path)}, tmp_path)
    assert config.queen_cmd == ["/opt/q", "--verbose"]
    assert SuiteConfig.from_userdata({"target": "local", "profile": str(path), "queen_cmd": "/x"},
                                     tmp_path).queen_cmd == ["/x"], "-D wins over the profile"


@pytest.mark.parametrize(("text", "message"), [
    ('claims = ["teleportation"]', "unknown: teleportation"),
    ('colour = "blue"', "unknown key(s) colour"),
    ('[programs]\ntoaster = "/bin/true"', "[programs] knows queen, hive, worker, keeper, not toaster"),
    ('[flags]\n"stale" = "--stale"', "[flags] maps"),
    ("claims = [", "not valid TOML"),
])
def test_a_bad_profile_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=re.escape(message)):
        load(str(path), ROOT)
    with pytest.raises(ConfigError, match="-D profile"):
        SuiteConfig.from_userdata({"profile": str(path)}, tmp_path)
