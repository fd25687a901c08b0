"""Starting a stack that cannot start: how the harness reports a daemon that dies at start-up."""

import time

from behave import then, when
from hamcrest import assert_that, contains_string, equal_to, less_than

from rbee_bdd.core.waiting import scaled
from rbee_bdd.runner.stack_settings import settings_of, table_rows
from rbee_bdd.runner.world import StepContext, noted, start_stack
from rbee_bdd.stack.targets.base import NodeStartError


def try_start(context: StepContext, count, **options):
    started = time.monotonic()
    try:
        start_stack(context, count, **options)
        context.world.startup.error = None
    except NodeStartError as exc:
        context.world.startup.error = exc
    context.world.startup.took = time.monotonic() - started


@when("I start a stack with {count:Hives} where:")
def step_try_start(context: StepContext, count):
    try_start(context, count, **settings_of(table_rows(context.table)).start_options())


@then("the start fails within {seconds:Seconds}")
def step_fails_fast(context: StepContext, seconds):
    assert_that(context.world.startup.error is not None, equal_to(True), "the stack's start failed")
    assert_that(context.world.startup.took, less_than(scaled(seconds)), "seconds until the start failed")


@then('the failure names {node}, exit code {code:d} and its log line "{line}" once')
def step_failure_says(context: StepContext, node, code, line):
    start_error = noted(context.world.startup.error, "start_error")
    message = str(start_error)
    assert_that(message, contains_string(f"{node} exited during start-up with exit code {code}"), "the failure")
    assert_that(message.count(line), equal_to(1), f"times the failure quotes {line!r}: {message}")


@then("the stack starts")
def step_started(context: StepContext):
    assert_that(context.world.startup.error, equal_to(None), "what stopped the stack's start")
