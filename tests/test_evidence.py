"""Evidence a run leaves for its reader: log folders kept per run, the failed step's last wait,
the failing step in summary.md, and a rerun.txt that behave reads back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rbee_bdd.core import timeline
from rbee_bdd.core.waiting import eventually
from rbee_bdd.reports.facts import ScenarioFact, relocate_rerun, summary
from rbee_bdd.runner.logdirs import new_run, scenario_folder

ROOT = Path(__file__).resolve().parents[1]


def test_log_folders_follow_the_feature_path_and_the_whole_scenario_name(tmp_path: Path) -> None:
    long_a = "A scenario whose name is long enough to be cut by the slug " + "a" * 60
    long_b = "A scenario whose name is long enough to be cut by the slug " + "a" * 59 + "b"
    a = scenario_folder(tmp_path, "features/faults/crash.feature", long_a)
    b = scenario_folder(tmp_path, "features/faults/crash.feature", long_b)
    assert a.parent == tmp_path / "faults" / "crash"
    assert a != b, "names that differ only past the cut still get folders of their own"
    assert a == scenario_folder(tmp_path, "features/faults/crash.feature", long_a), "stable"


def test_running_a_scenario_again_keeps_the_earlier_runs_logs(tmp_path: Path) -> None:
    folder = tmp_path / "scenario"
    first = new_run(folder, "run-1")
    (first / "queen.log").write_text("the failure's evidence")
    second = new_run(folder, "run-2")
    assert (first / "queen.log").read_text() == "the failure's evidence"
    assert (folder / "latest").resolve() == second.resolve()
    for index in range(3, 9):
        new_run(folder, f"run-{index}", keep=5)
    assert sorted(p.name for p in folder.iterdir() if not p.is_symlink()) == [f"run-{i}" for i in range(4, 9)]


def test_the_last_wait_reported_is_the_failed_steps_own() -> None:
    timeline.begin()
    timeline.step("Given a stack with 1 hive")
    eventually(lambda: True, 1, "queen to list hive-1")
    timeline.step("Then the job ends with [DONE]")
    text = timeline.current().render()
    assert "last step: Then the job ends with [DONE]" in text
    assert "queen to list hive-1" not in text
    assert "(it did not wait)" in text


def test_summary_names_the_failing_step_and_its_message() -> None:
    facts = [ScenarioFact("Crash", "worker killed", "features/faults/crash.feature:9", "failed", 3.0,
                          failed_step="Then the job ends with \"[DONE]\"", error="expected '[DONE]'\n  but: was None"),
             ScenarioFact("Crash", "hive killed", "features/faults/crash.feature:30", "passed", 2.0)]
    text = summary(facts)
    assert "failed step: `Then the job ends with \"[DONE]\"`" in text
    assert "message: expected '[DONE]' / but: was None" in text


def test_rerun_file_paths_work_with_behave_at_file(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    rerun = reports / "rerun.txt"
    feature = ROOT / "features" / "harness" / "start_failure.feature"
    line = next(n for n, text in enumerate(feature.read_text().splitlines(), 1) if "queen exits at start-up" in text)
    rerun.write_text(f"# -- RERUN: 1 failing scenario.\nfeatures/harness/start_failure.feature:{line}\n")
    assert relocate_rerun(rerun, ROOT) == 1
    behave = str(Path(sys.executable).parent / "behave")
    done = subprocess.run([behave, "--dry-run", "--no-skipped", "--no-summary", "-f", "plain", f"@{rerun}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "queen exits at start-up" in done.stdout
    assert "a hive exits at start-up" not in done.stdout
