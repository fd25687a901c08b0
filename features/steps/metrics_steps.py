"""Prometheus series read from each daemon's /metrics before and after one event."""

from behave import given, then
from hamcrest import assert_that, equal_to, greater_than_or_equal_to

from rbee_bdd.clients.metrics import scrape
from rbee_bdd.runner.world import StepContext


def daemon_metrics(context: StepContext, daemon):
    """The samples of ``queen``, a hive by name, or ``worker`` (the last job's worker), scraped now."""
    stack = context.stack
    if daemon == "queen":
        return scrape(stack.queen().url)
    if daemon == "worker":
        hive, worker_id = stack.job_worker_hive(context.world.jobs.last)
        return scrape(stack.worker(hive, worker_id).url)
    return scrape(stack.hive(daemon).url)


@given('the metrics of queen and hive "{hive}" are noted')
def step_note_metrics(context: StepContext, hive):
    before = {"queen": daemon_metrics(context, "queen"), hive: daemon_metrics(context, hive)}
    context.world.observed.metrics_before = before


@then("these series moved by exactly:")
def step_series_moved(context: StepContext):
    before = context.world.observed.metrics_before
    now: dict[str, dict[str, float]] = {}
    for row in context.table:
        now.setdefault(row["daemon"], daemon_metrics(context, row["daemon"]))
    moved = {(r["daemon"], r["series"]): now[r["daemon"]].get(r["series"], 0.0)
             - before.get(r["daemon"], {}).get(r["series"], 0.0) for r in context.table}
    expected = {(r["daemon"], r["series"]): float(r["by"]) for r in context.table}
    assert_that(moved, equal_to(expected), "how far each series moved (a series not exposed counts as 0)")


@then("the series {series} of {daemon} moved by at least {by:g}")
def step_series_moved_at_least(context: StepContext, series, daemon, by):
    before = context.world.observed.metrics_before.get(daemon, {}).get(series, 0.0)
    moved = daemon_metrics(context, daemon).get(series, 0.0) - before
    assert_that(moved, greater_than_or_equal_to(by), f"how far {daemon}'s {series} moved")
