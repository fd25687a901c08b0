"""behave's private API, as the harness uses it, is still there in the installed behave (else: fail loudly)."""

from behave.parser import parse_feature

from rbee_bdd.core import behave_adapter


def test_the_installed_behave_has_what_the_adapter_uses() -> None:
    behave_adapter.check_private_api()  # BehaveChanged names what moved


def test_an_outcome_is_kept_beside_the_scenario_not_on_it() -> None:
    feature = parse_feature("Feature: f\n  Scenario: s\n    Given a step\n")
    assert feature is not None
    scenario = feature.scenarios[0]
    assert behave_adapter.outcome_of(scenario) == ""
    behave_adapter.mark_outcome(scenario, "interrupted")
    assert behave_adapter.outcome_of(scenario) == "interrupted"
    assert not hasattr(scenario, "rbee_outcome")


def test_outline_rows_are_kept_to_the_selected_ones() -> None:
    feature = parse_feature("Feature: f\n  Scenario Outline: o\n    Given <x>\n    Examples:\n"
                            "      | x |\n      | 1 |\n      | 2 |\n")
    assert feature is not None
    outline = feature.scenarios[0]
    _first, second = outline.scenarios
    behave_adapter.keep_outline_rows(outline, [second])
    assert outline.scenarios == [second]
