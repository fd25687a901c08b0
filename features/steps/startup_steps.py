"""Starting a stack that cannot start: how the harness reports a daemon that dies at start-up."""

import time

from behave import then, when
from hamcrest import assert_that, contains_string, equal_to, less_than

from rbee_bdd.core.waiting import scaled
from rbee_bdd.runner.world import StepContext, noted, start_stack
from rbee_bdd.stack.targets.base import NodeStartError


def try_start(context: StepContext, **options):
    started = time.monotonic()
    try:
        start_stack(context, 1, **options)
        context.world.startup.error = None
    except NodeStartError as exc:
        context.world.startup.error = exc
    context.world.startup.took = time.monotonic() - started


@when('I start a stack whose queen gets the unknown flag "{flag}"')
def step_bad_queen(context: StepContext, flag):
    try_start(context, queen_args=(flag,))


@when('I start a stack whose hive gets the unknown flag "{flag}"')
def step_bad_hive(context: StepContext, flag):
    try_start(context, hive_args=(flag,))


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


@when('I start a stack without credentials whose queen listens on "{host}"')
def step_public_without_credentials(context: StepContext, host):
    try_start(context, credentials=False, queen_args=("--host", host))


@when('I start a stack whose hive\'s config file says "{text}"')
def step_bad_hive_config(context: StepContext, text):
    try_start(context, hive_config=text + "\n")


@when("I start a stack whose credential files others may read")
def step_readable_credentials(context: StepContext):
    try_start(context, credential_mode=0o644)


@when("I start a stack whose HS256 JWT key is {count:d} bytes long")
def step_short_hs256_key(context: StepContext, count):
    try_start(context, hs256_key_bytes=count)


@then("the stack starts")
def step_started(context: StepContext):
    assert_that(context.world.startup.error, equal_to(None), "what stopped the stack's start")
