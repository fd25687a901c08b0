"""Daemons' configuration files, rewritten and reloaded on SIGHUP, and what the hive then allows."""

from behave import then, when
from hamcrest import assert_that, equal_to


@when('hive "{hive}"\'s config file is rewritten to say "{text}" and it gets SIGHUP')
def step_rewrite_config(context, hive, text):
    context.stack.rewrite_config(hive, text + "\n")


@then('hive "{hive}" spawns {count:Workers} for "{model}" and refuses one more with {status:d} "{code}"')
def step_spawns_then_refuses(context, hive, count, model, status, code):
    client = context.stack.hive(hive)
    answers = [client.spawn(model) for _ in range(count)]
    assert_that([a.status_code for a in answers], equal_to([201] * count),
                f"{hive}'s answers to {count} spawns: {[a.text[:200] for a in answers]}")
    refused = client.spawn(model)
    assert_that((refused.status_code, refused.json().get("error", {}).get("code")), equal_to((status, code)),
                f"{hive}'s answer to one spawn more: {refused.text[:300]}")


@then('hive "{hive}"\'s log holds "{text}" exactly once')
def step_log_once(context, hive, text):
    log = context.stack.node(hive).log_text()
    assert_that(log.count(text), equal_to(1), f"times {hive}'s log says {text!r}")
