"""The one place the harness touches behave's private API (behave 1.3): everything else goes through here.

What is private, and why the harness needs it:

- ``context._runner.features``: the run's features, so that unselected scenarios leave the model
  before anything reports them (``selection``);
- ``context._runner.aborted``: the run was interrupted, so the remaining scenarios are walked, not run;
- ``context._runner.formatters``: the running formatters, to attach evidence to the HTML report;
- ``ScenarioOutline._scenarios``: an outline's rows, built once, kept to the selected ones.

Outcomes the hooks decide (a scenario interrupted in its cleanup) are kept here by scenario, not
added to behave's objects. ``check_private_api()`` fails loudly, naming what moved, when a behave
release changes any of this (``tests/test_behave_adapter.py`` runs it against the installed behave).
"""

from __future__ import annotations

from typing import cast

from behave.formatter.base import Formatter
from behave.model import Feature, Scenario, ScenarioOutline
from behave.runner import Context, Runner

RUNNER_FIELDS = ("features", "aborted", "formatters")
_outcomes: dict[int, str] = {}  # id(scenario) → an outcome the hooks decided ("interrupted")


class BehaveChanged(RuntimeError):
    """The installed behave no longer has the private API the harness uses."""


def _runner(context: Context) -> Runner:
    runner = getattr(context, "_runner", None)
    if runner is None:
        raise BehaveChanged("behave's context has no _runner: see rbee_bdd/core/behave_adapter.py")
    return runner


def features(context: Context) -> list[Feature]:
    """The run's features (a list the harness may shorten in place)."""
    return cast(list[Feature], _runner(context).features)


def aborted(context: Context) -> bool:
    """Whether the run was interrupted (behave then only walks the remaining scenarios)."""
    return bool(_runner(context).aborted)


def formatters(context: Context) -> list[Formatter]:
    """The formatters of the run."""
    return list(getattr(_runner(context), "formatters", None) or [])


def keep_outline_rows(outline: ScenarioOutline, rows: list[Scenario]) -> None:
    """Keep only *rows* of *outline* (its scenarios are built once, on first use)."""
    outline._scenarios = rows


def mark_outcome(scenario: Scenario, outcome: str) -> None:
    """An outcome the hooks decided for *scenario*, for the formatters (``outcome_of``)."""
    _outcomes[id(scenario)] = outcome


def outcome_of(scenario: Scenario) -> str:
    """The outcome the hooks decided for *scenario* ("" when they decided none)."""
    return _outcomes.get(id(scenario), "")


def check_private_api() -> None:
    """BehaveChanged, naming what is missing, if the installed behave lacks what this module uses."""
    from behave.configuration import Configuration
    from behave.parser import parse_feature

    runner = Runner(Configuration(command_args=[], load_config=False))
    missing = [f"Runner.{name}" for name in RUNNER_FIELDS if not hasattr(runner, name)]
    feature = parse_feature("Feature: f\n  Scenario Outline: o\n    Given <x>\n"
                            "    Examples:\n      | x |\n      | 1 |\n")
    outline = feature.scenarios[0] if feature is not None else None
    if not isinstance(outline, ScenarioOutline) or not hasattr(outline, "_scenarios"):
        missing.append("ScenarioOutline._scenarios")
    if missing:
        raise BehaveChanged(f"behave changed its private API: {', '.join(missing)} gone; "
                            "update rbee_bdd/core/behave_adapter.py")
