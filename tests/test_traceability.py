"""Contract traceability: clause ids, the scenarios naming them, and what lint refuses."""

from pathlib import Path

from rbee_bdd.reports.facts import ScenarioFact, traceability_markdown
from rbee_bdd.reports.traceability import clause_ids, problems, scenarios_by_clause

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = "A job ends once. {#sse.terminal}\n| row | a route {#queen.health} |\nTokens in order. {#sse.token}\n"
FEATURE = """@integration @p1 @contract.sse.terminal
Feature: f

  @contract.sse.token
  Scenario: one
    Given a stack with 1 hive

  @contract.sse.nothing
  Scenario: two
    Given a stack with 1 hive
"""


def layout(tmp_path: Path, elsewhere: str = "") -> tuple[Path, Path, Path]:
    (tmp_path / "features").mkdir()
    (tmp_path / "features" / "f.feature").write_text(FEATURE)
    (tmp_path / "contract.md").write_text(CONTRACT)
    (tmp_path / "elsewhere.toml").write_text(elsewhere)
    return tmp_path / "features", tmp_path / "contract.md", tmp_path / "elsewhere.toml"


def test_clause_ids_are_read_in_order_and_feature_tags_count_for_every_scenario(tmp_path: Path) -> None:
    features, contract, _ = layout(tmp_path)
    assert clause_ids(contract) == ["sse.terminal", "queen.health", "sse.token"]
    named = scenarios_by_clause(features)
    assert len(named["sse.terminal"]) == 2 and len(named["sse.token"]) == 1


def test_lint_refuses_an_unverified_clause_an_unknown_tag_and_an_unknown_listed_id(tmp_path: Path) -> None:
    found = problems(*layout(tmp_path, '[gaps]\n"queen.gone" = "no such clause"\n'))
    assert any("{#queen.health} is verified by no scenario" in line for line in found)
    assert any("@contract.sse.nothing names no clause" in line for line in found)
    assert any("queen.gone is not a clause" in line for line in found)


def test_a_clause_listed_with_its_reason_passes(tmp_path: Path) -> None:
    found = problems(*layout(tmp_path, '[not-here]\n"queen.health" = "needs a GPU"\n'))
    assert [line for line in found if "queen.health" in line] == []


def test_the_summary_table_counts_each_clause_in_the_run(tmp_path: Path) -> None:
    _, contract, listed = layout(tmp_path, '[unit]\n"queen.health" = "tests/test_x.py"\n')
    facts = [ScenarioFact("f", "one", "f:5", "passed", 1.0, clauses=["sse.terminal", "sse.token"]),
             ScenarioFact("f", "two", "f:9", "failed", 1.0, clauses=["sse.terminal"])]
    table = "\n".join(traceability_markdown(facts, contract, listed))
    assert "| `sse.terminal` | 1 | 1 |  |" in table
    assert "| `queen.health` | 0 | 0 | unit: tests/test_x.py |" in table


def test_the_suite_traces_every_clause_of_the_contract() -> None:
    assert problems(ROOT / "features", ROOT / "docs" / "contract.md", ROOT / "docs" / "contract-elsewhere.toml") == []
