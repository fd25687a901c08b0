"""The run shows what ran: scenarios the tag expression, a name filter or a file:line selection
leaves out are taken out of behave's model before anything reports on them.

behave would otherwise list them as "skipped" in the terminal, the HTML report, JUnit and
Allure, beside the scenarios skipped for a real reason (a missing capability, printed).
"""

from __future__ import annotations

from behave.configuration import Configuration
from behave.model import Feature, Rule, Scenario, ScenarioOutline

from rbee_bdd.core.behave_adapter import keep_outline_rows


def _keep(item: Rule | ScenarioOutline | Scenario, config: Configuration) -> bool:
    """Whether *item* (a scenario, outline or rule) is selected; a rule keeps its selected scenarios."""
    if isinstance(item, Rule):
        item.run_items[:] = [child for child in item.run_items if _keep(child, config)]
        item.scenarios[:] = [child for child in item.scenarios if child in item.run_items]
        return bool(item.run_items)
    if isinstance(item, ScenarioOutline):  # keep only its selected rows (built once, here)
        rows = [row for row in item.scenarios if row.should_run(config)]
        keep_outline_rows(item, rows)
        return bool(rows)
    return bool(item.should_run(config))


def drop_unselected(features: list[Feature], config: Configuration) -> int:
    """Remove unselected scenarios, and features left with none, from *features* (in place).

    Returns how many scenarios, outlines and rules were removed at the top level of the features.
    """
    removed = 0
    kept_features = []
    for feature in features:
        before = len(feature.run_items)
        feature.run_items[:] = [item for item in feature.run_items if _keep(item, config)]
        feature.scenarios[:] = [item for item in feature.scenarios if item in feature.run_items]
        removed += before - len(feature.run_items)
        if feature.run_items:
            kept_features.append(feature)
    features[:] = kept_features
    return removed
