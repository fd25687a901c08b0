"""The README tells the truth: every make target, path, setting, features folder and tag it
names exists, behave is called as it can be, and ``make help`` shows the variables."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from rbee_bdd.stack.config import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
TOP_LEVEL = r"(?:features|fixtures|src|docs|benchmarks|tests|\.ci|\.github)"
GENERATED = {"fixtures/models"}  # made by `make fixtures`, not in the repository


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def code_blocks() -> list[str]:
    return re.findall(r"```(?:sh)?\n(.*?)```", README, re.DOTALL)


def code() -> str:
    """The README's commands: inline code spans and code blocks (prose may say "make" too)."""
    return "\n".join([*re.findall(r"`([^`\n]+)`", README), *code_blocks()])


def test_every_make_target_it_names_exists() -> None:
    named = set(re.findall(r"\bmake ([a-z][a-z0-9-]*)", code()))
    assert named, "the README names make targets"
    assert named - make_targets() == set()


def test_every_path_it_names_exists() -> None:
    paths = set(re.findall(rf"(?<![\w/.-])({TOP_LEVEL}/[\w./{{}},*<>…-]*)", README))
    assert len(paths) > 10
    missing = []
    for path in paths:
        fixed = re.split(r"[<*…{]", path)[0].rstrip(".,")  # up to the first placeholder
        if fixed.rstrip("/") in GENERATED:
            continue
        if not (ROOT / fixed).exists():
            missing.append(path)
    assert missing == []


def test_behave_is_called_as_it_can_be_from_a_fresh_clone() -> None:
    calls = [line.strip() for block in code_blocks() for line in block.splitlines()
             if re.match(r"\s*(\S*/)?behave\b", line)]
    assert calls, "the README shows behave commands"
    assert [c for c in calls if not c.startswith(".venv/bin/behave")] == []
    inline = re.findall(r"`(\S*behave @[^`]*)`", README)
    assert inline and all(c.startswith(".venv/bin/behave") for c in inline), inline


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    for key in SETTINGS:
        assert f"`{key}`" in README, f"setting {key} is not in the README"
    documented = set(re.findall(r"-D ([a-z_]+)=", README)) - {"key"}  # "-D key=value" is the form
    assert documented - set(SETTINGS) == set()


def test_every_features_folder_and_tag_is_documented() -> None:
    folders = sorted(p.name for p in (ROOT / "features").iterdir() if p.is_dir() and p.name != "steps")
    layout = README[README.index("## Layout"):]
    assert [f for f in folders if f"{f}/" not in layout] == []
    tags = {t for f in (ROOT / "features").rglob("*.feature") for t in re.findall(r"(?<!\S)@([\w.-]+)", f.read_text())}
    assert sorted(t for t in tags if f"`@{t}`" not in README and not t.startswith("contract.")) == []
    assert "`@contract.<clause id>`" in README  # one row for every clause tag (checked by reports.traceability)


def test_make_help_shows_the_variables() -> None:
    done = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)
    for variable in ("TAGS=", "BEHAVE_ARGS=", "IMAGE="):
        assert variable in done.stdout


def test_the_tag_registry_rejects_unknown_tags_and_wants_one_priority(tmp_path: Path) -> None:
    from rbee_bdd.runner.tags import problems

    (tmp_path / "x.feature").write_text(
        "@integration @faults @p1\nFeature: X\n\n  @p0\n  Scenario: two priorities\n    Given a stack with 1 hive\n\n"
        "  @someday\n  Scenario: an unknown tag\n    Given a stack with 1 hive\n")
    found = problems(tmp_path)
    assert any("'two priorities' needs exactly one priority" in line for line in found), found
    assert any("unknown tag @someday" in line for line in found), found
    assert problems(ROOT / "features") == []
