"""The suite as a user meets it: behave run on small throwaway features with the real hooks.

Each test writes a feature folder whose environment is the suite's own (rbee_bdd.runner.hooks) and
runs behave in a subprocess, then reads what a user would read: the terminal, JUnit, facts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEHAVE = str(Path(sys.executable).parent / "behave")

ENVIRONMENT = (ROOT / "features" / "environment.py").read_text()
STEPS = '''
import os
import signal

from behave import given


@given("a step that passes")
def step_passes(context):
    assert os.getpid() > 0


@given("a cleanup that is interrupted by Ctrl+C")
def step_interrupted_cleanup(context):
    done = context.reports_marker = []

    def interrupted():
        os.kill(os.getpid(), signal.SIGINT)  # deferred: the rest of the cleanup still runs
        done.append("after the signal")

    context.cleanup.push("second, in LIFO order", lambda: open(os.environ["MARK"], "w").write("cleaned"))
    context.cleanup.push("first", interrupted)


@given("a step that is interrupted by Ctrl+C")
def step_interrupted(context):
    context.cleanup.push("the scenario's cleanup", lambda: open(os.environ["MARK"], "w").write("cleaned"))
    os.kill(os.getpid(), signal.SIGINT)
'''


def write_suite(tmp: Path, feature: str) -> Path:
    features = tmp / "features"
    (features / "steps").mkdir(parents=True)
    (features / "environment.py").write_text(ENVIRONMENT)
    (features / "steps" / "steps.py").write_text(STEPS)
    (features / "demo.feature").write_text(textwrap.dedent(feature))
    return features


def behave(tmp: Path, *args: str, env: dict[str, str] | None = None,
           paths: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BEHAVE, "--no-capture", "-D", "target=local", "-D", f"reports_dir={tmp / 'reports'}",
                           *args, *(paths or [str(tmp / "features")])], capture_output=True, text=True, timeout=120,
                          cwd=tmp, env={**os.environ, "MARK": str(tmp / "mark"), **(env or {})})


DEMO = """
    Feature: Demo
      @chosen
      Scenario: the chosen one
        Given a step that passes

      @other
      Scenario: the one left out by the tags
        Given a step that passes

      @chosen @needs.unobtainium
      Scenario: the one the machine cannot run
        Given a step that passes
"""


def test_a_bad_setting_is_printed_not_only_as_a_hook_error(tmp_path: Path) -> None:
    write_suite(tmp_path, DEMO)
    done = behave(tmp_path, "-D", "timeout_multiplier=fast")
    assert done.returncode != 0
    assert "cannot start the run: -D timeout_multiplier must be a number, got 'fast'" in done.stderr


def test_an_unreachable_engine_names_its_address_and_what_is_wrong(tmp_path: Path) -> None:
    write_suite(tmp_path, DEMO)
    address = f"unix://{tmp_path}/no-engine.sock"
    done = behave(tmp_path, "-D", "target=docker", env={"DOCKER_HOST": address})
    assert done.returncode != 0
    assert f"the Docker engine at {address} is not running" in done.stderr, done.stderr
    check = subprocess.run([sys.executable, "-m", "rbee_bdd.host.engine", "check"], capture_output=True, text=True,
                           env={**os.environ, "DOCKER_HOST": address}, timeout=60)
    assert check.returncode == 2
    assert f"{address} is not running" in check.stderr


def test_scenarios_left_out_by_tags_are_not_reported_as_skipped(tmp_path: Path) -> None:
    write_suite(tmp_path, DEMO)
    junit = tmp_path / "junit"
    done = behave(tmp_path, "--tags", "@chosen", "--junit", "--junit-directory", str(junit),
                  "-f", "rbee_bdd.reports.progress:ScenarioProgress")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the one left out by the tags" not in done.stdout + done.stderr
    assert "PASSED" in done.stdout and "the chosen one" in done.stdout
    assert "skipping 'the one the machine cannot run': unknown capability tag @needs.unobtainium" in done.stdout
    report = "".join(p.read_text() for p in junit.glob("*.xml"))
    assert 'name="the chosen one"' in report
    assert "the one the machine cannot run" in report  # skipped with its reason: still listed
    assert "left out by the tags" not in report
    facts = [json.loads(line) for line in (tmp_path / "reports" / "facts.jsonl").read_text().splitlines()]
    assert sorted(f["status"] for f in facts) == ["passed", "skipped"]


def test_ctrl_c_during_cleanup_finishes_the_cleanup_and_reads_as_interrupted(tmp_path: Path) -> None:
    write_suite(tmp_path, """
        Feature: Interrupted
          Scenario: interrupted while cleaning up
            Given a cleanup that is interrupted by Ctrl+C

          Scenario: never reached
            Given a step that passes
    """)
    done = behave(tmp_path, "-f", "rbee_bdd.reports.progress:ScenarioProgress")
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "SIGINT received, finishing cleanup first…" in done.stderr
    assert (tmp_path / "mark").read_text() == "cleaned", "the rest of the cleanup ran"
    assert "HOOK-ERROR" not in output
    assert "INTERRUPTED" in done.stdout
    assert "interrupted by SIGINT during its cleanup" in done.stderr
    facts = [json.loads(line) for line in (tmp_path / "reports" / "facts.jsonl").read_text().splitlines()]
    assert [f["status"] for f in facts] == ["interrupted"], "the run stops after the interrupted scenario"


def test_ctrl_c_during_a_step_cleans_up_and_reads_as_interrupted_not_failed(tmp_path: Path) -> None:
    write_suite(tmp_path, """
        Feature: Interrupted
          Scenario: passes first
            Given a step that passes

          Scenario: interrupted in a step
            Given a step that is interrupted by Ctrl+C

          Scenario: never reached
            Given a step that passes
    """)
    done = behave(tmp_path, "-f", "rbee_bdd.reports.progress:ScenarioProgress")
    assert done.returncode != 0
    assert "SIGINT received: stopping the scenario, finishing its cleanup first…" in done.stderr
    assert (tmp_path / "mark").read_text() == "cleaned", "the interrupted scenario's cleanup ran"
    assert "interrupted by SIGINT during its steps" in done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("[") and "demo.feature" in line]
    assert [line.split()[1] for line in lines] == ["PASSED", "INTERRUPTED"], done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    facts = [json.loads(line) for line in (tmp_path / "reports" / "facts.jsonl").read_text().splitlines()]
    assert [f["status"] for f in facts] == ["passed", "interrupted"]


def test_a_profile_that_does_not_claim_a_capability_skips_its_scenarios_and_shows_the_matrix(tmp_path: Path) -> None:
    write_suite(tmp_path, """
        Feature: Profiles
          Scenario: the core
            Given a step that passes

          @cap.deadlines
          Scenario: a deadline scenario
            Given a step that passes
    """)
    done = behave(tmp_path, "-D", "profile=minimal")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "skipping 'a deadline scenario': the build's profile (minimal) does not claim deadlines" in done.stdout
    report = subprocess.run([sys.executable, "-m", "rbee_bdd.reports", "summary", str(tmp_path / "reports")],
                            capture_output=True, text=True, timeout=60)
    assert "| core (no @cap) | 1 | 0 | 0 | 0 | conforms |" in report.stdout, report.stdout
    assert "| deadlines | 0 | 0 | 1 | 0 | not claimed |" in report.stdout, report.stdout
    bad = behave(tmp_path, "-D", "profile=nonesuch")
    assert "cannot start the run: -D profile: no profile 'nonesuch'" in bad.stderr


def test_an_outline_row_left_out_by_its_line_is_not_run_or_listed(tmp_path: Path) -> None:
    features = write_suite(tmp_path, """
        Feature: Rows
          Scenario Outline: row <n>
            Given a step that passes

            Examples:
              | n |
              | 1 |
              | 2 |
    """)
    done = behave(tmp_path, "-f", "rbee_bdd.reports.progress:ScenarioProgress",
                  paths=[f"{features / 'demo.feature'}:9"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "row 2" in done.stdout
    assert "row 1" not in done.stdout
    facts = [json.loads(line) for line in (tmp_path / "reports" / "facts.jsonl").read_text().splitlines()]
    assert [f["status"] for f in facts] == ["passed"]
