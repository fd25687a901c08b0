"""Parallel runs and shards: how scenarios are split, and how the parts' reports become one."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from rbee_bdd.reports.facts import ScenarioFact
from rbee_bdd.reports.html import part_number
from rbee_bdd.reports.merge import merge_junit
from rbee_bdd.runner.parallel import (
    Selected,
    balance,
    busy_share,
    exit_code,
    next_chunk,
    parse_shard,
    recap,
    selection_args,
    without_paths,
)


def scenario(name: str, steps: int = 3, tags: tuple[str, ...] = ()) -> Selected:
    return Selected(f"features/x/{name}.feature:3", name, tags, steps)


def test_balance_gives_each_part_about_the_same_work_and_is_deterministic() -> None:
    scenarios = [scenario(f"s{i}") for i in range(10)]
    durations = {s.key: float(i + 1) for i, s in enumerate(scenarios)}  # 1 … 10 s, 55 s in all
    parts = balance(scenarios, 3, durations)
    loads = [sum(durations[s.key] for s in part) for part in parts]
    assert sorted(s.name for part in parts for s in part) == sorted(s.name for s in scenarios)
    assert max(loads) - min(loads) <= 1.0, loads
    assert balance(list(reversed(scenarios)), 3, durations) == parts


def test_a_scenario_never_run_is_estimated_by_its_steps() -> None:
    short, long_ = scenario("short", steps=2), scenario("long", steps=20)
    parts = balance([short, long_, scenario("mid", steps=10)], 2, {})
    assert [s.name for s in parts[0]] == ["long"]


def test_parts_shrink_as_the_work_left_shrinks_and_take_every_scenario_once() -> None:
    scenarios = [scenario(f"s{i:02d}") for i in range(40)]
    durations = {s.key: 10.0 for s in scenarios}  # 400 s in all
    remaining = sorted(scenarios, key=lambda s: s.location)
    parts = []
    while remaining:
        parts.append(next_chunk(remaining, 2, durations))
    sizes = [len(part) for part in parts]
    assert sizes[0] == 10, "the first part takes a 4th of the work with 2 slots"
    assert sizes == sorted(sizes, reverse=True) and min(sizes[:-1]) == 2, f"under 20 s only for what is left: {sizes}"
    assert sorted(s.name for part in parts for s in part) == sorted(s.name for s in scenarios)


def test_a_part_takes_at_least_one_scenario_and_one_slot_takes_all() -> None:
    huge, small = scenario("huge", steps=50), scenario("small", steps=1)
    remaining = [huge, small]
    assert next_chunk(remaining, 2, {}) == [huge], "the longest alone: it is more than the share"
    assert remaining == [small]
    remaining = [huge, small]
    assert [s.name for s in next_chunk(remaining, 1, {})] == ["huge", "small"] and remaining == []


def test_a_part_killed_by_a_signal_is_a_failure_and_busy_share_is_a_fraction() -> None:
    assert exit_code(-9) == 137 and exit_code(0) == 0 and exit_code(1) == 1
    assert busy_share((10.0, 100.0), (60.0, 200.0)) == 0.5
    assert busy_share((10.0, 100.0), (10.0, 100.0)) == 0.0


def test_shards_cover_every_scenario_once() -> None:
    scenarios = [scenario(f"s{i}", steps=i) for i in range(17)]
    shards = [balance(scenarios, 4, {})[i] for i in range(4)]
    names = [s.name for shard in shards for s in shard]
    assert sorted(names) == sorted(s.name for s in scenarios)
    assert parse_shard("2/4") == (2, 4)
    with pytest.raises(SystemExit, match="between 1 and N"):
        parse_shard("5/4")
    with pytest.raises(SystemExit, match="takes I/N"):
        parse_shard("two")


def test_output_options_are_left_out_of_the_listing_and_paths_out_of_the_parts() -> None:
    args = ["--tags", "@faults", "-D", "target=docker", "--junit", "--junit-directory", "r/junit-{part}",
            "-f", "rerun", "-o", "r/rerun-{part}.txt", "--format=plain", "features/faults"]
    assert selection_args(args) == ["--tags", "@faults", "-D", "target=docker", "features/faults"]
    kept = without_paths(args)
    assert "features/faults" not in kept
    assert kept[:4] == ["--tags", "@faults", "-D", "target=docker"]
    assert without_paths(["-C", "features", "-n", "x", "-T", "other"]) == ["-C", "-n", "x", "-T"], "flags take no value"


def test_part_names_give_unique_html_ids_across_shards() -> None:
    assert part_number("part101") != part_number("part201")
    assert part_number("anything else") == 0


def write_suite(folder: Path, cases: list[str], failures: int) -> None:
    folder.mkdir(parents=True)
    root = ElementTree.Element("testsuite", name="crash", tests=str(len(cases)), errors="0",
                               failures=str(failures), skipped="0", time="2.5")
    for case in cases:
        ElementTree.SubElement(root, "testcase", name=case)
    ElementTree.ElementTree(root).write(folder / "TESTS-faults.crash.xml")


def test_a_feature_split_over_parts_is_one_junit_suite_again(tmp_path: Path) -> None:
    write_suite(tmp_path / "junit-part101", ["a", "b"], failures=1)
    write_suite(tmp_path / "junit-part102", ["c"], failures=0)
    assert merge_junit([tmp_path / "junit-part101", tmp_path / "junit-part102"], tmp_path / "junit") == 1
    root = ElementTree.parse(tmp_path / "junit" / "TESTS-faults.crash.xml").getroot()
    assert [case.get("name") for case in root] == ["a", "b", "c"]
    assert (root.get("tests"), root.get("failures"), root.get("time")) == ("3", "1", "5.000000")


def test_a_selection_that_matches_nothing_fails_and_says_so(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "rbee_bdd.runner.parallel", "--reports", str(tmp_path), "--",
                           "--tags", "@no-such-tag", "-D", "target=local"], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 1
    assert "no scenario matches the selection" in done.stderr


def test_the_recap_names_each_failed_scenario_with_its_step_and_message() -> None:
    ok = ScenarioFact("f", "fine", "features/a.feature:3", "passed", 1.0)
    bad = ScenarioFact("f", "broken", "features/a.feature:9", "failed", 2.0, failed_step="Then it works",
                       error="Traceback\n\nExpected: 1\n     but: was 2\n")
    text = recap([ok, bad])
    assert "features/a.feature:9  broken" in text and "Then it works" in text and "but: was 2" in text
    assert "fine" not in text
    assert recap([ok]) == ""
