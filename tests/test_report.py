"""The suite's accounting: summary of one run, pass rates over several."""

from pathlib import Path

from rbee_bdd.reports.facts import ScenarioFact, append_fact, read_facts, soak, summary


def fact(scenario: str, status: str, seconds: float = 1.0, **extra: object) -> ScenarioFact:
    return ScenarioFact(feature="F", scenario=scenario, location=f"f.feature:{len(scenario)}", status=status,
                        seconds=seconds, **extra)  # type: ignore[arg-type]


def test_summary_counts_names_skip_reasons_and_leftovers() -> None:
    text = summary([fact("a", "passed", 3.0, stack_start_s=2.0), fact("b", "failed"),
                    fact("c", "skipped", 0.0, skip_reason="needs gpu: none here"),
                    fact("d", "passed", leftovers=["container x"]), fact("e", "interrupted")])
    assert "| 5 | 2 | 1 | 1 | 1 |" in text  # scenarios, passed, failed, interrupted, skipped
    assert "`f.feature:1` F: e (interrupted)" in text
    assert "c: needs gpu: none here" in text
    assert "`f.feature:1` F: b" in text
    assert "median 2.00 s" in text
    assert "after scenarios (processes, containers, networks, cgroups, work dirs): 1 — container x" in text


def test_soak_tells_flaky_from_stable_and_failing(tmp_path: Path) -> None:
    runs = [tmp_path / "1", tmp_path / "2"]
    for run, flaky_status in zip(runs, ("passed", "failed"), strict=True):
        append_fact(run, fact("stable", "passed"))
        append_fact(run, fact("flaky", flaky_status))
        append_fact(run, fact("broken", "failed"))
    assert len(read_facts(runs[0])) == 3
    text = soak(runs)
    assert "| F: flaky | 1/2 | 50 % | FLAKY |" in text
    assert "| F: stable | 2/2 | 100 % | stable |" in text
    assert "| F: broken | 0/2 | 0 % | FAILS |" in text
    assert "flaky scenarios: 1" in text
