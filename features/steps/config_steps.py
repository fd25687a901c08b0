"""Daemons' configuration files, rewritten and reloaded on SIGHUP, and what the hive then allows; log lines."""

import re

from behave import then, when
from hamcrest import assert_that, equal_to, greater_than

from rbee_bdd.runner.world import StepContext

LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d (?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) rbee-hive \S")


@when('hive "{hive}"\'s config file is rewritten to say "{text}" and it gets SIGHUP')
def step_rewrite_config(context: StepContext, hive, text):
    context.stack.rewrite_config(hive, text + "\n")


@then('hive "{hive}" spawns {count:Workers} for "{model}" and refuses one more with {status:d} "{code}"')
def step_spawns_then_refuses(context: StepContext, hive, count, model, status, code):
    client = context.stack.hive(hive)
    answers = [client.spawn(model) for _ in range(count)]
    assert_that([a.status_code for a in answers], equal_to([201] * count),
                f"{hive}'s answers to {count} spawns: {[a.text[:200] for a in answers]}")
    refused = client.spawn(model)
    assert_that((refused.status_code, refused.json().get("error", {}).get("code")), equal_to((status, code)),
                f"{hive}'s answer to one spawn more: {refused.text[:300]}")


@then('hive "{hive}"\'s log holds "{text}" exactly once')
def step_log_once(context: StepContext, hive, text):
    log = context.stack.node(hive).log_text()
    assert_that(log.count(text), equal_to(1), f"times {hive}'s log says {text!r}")


@then('every line of hive "{hive}"\'s log reads "time LEVEL rbee-hive message", at {level} or above')
def step_log_format(context: StepContext, hive, level):
    lines = context.stack.node(hive).log_text().splitlines()
    assert_that(len(lines), greater_than(0), f"lines in {hive}'s log")
    matches = [(line, LOG_LINE.match(line)) for line in lines]
    malformed = [line for line, match in matches if match is None]
    assert_that(malformed, equal_to([]), f"{hive}'s log lines not of the form 'time LEVEL rbee-hive message'")
    below = [line for line, match in matches if match and LEVELS.index(match["level"]) < LEVELS.index(level)]
    assert_that(below, equal_to([]), f"{hive}'s log lines below {level}")
