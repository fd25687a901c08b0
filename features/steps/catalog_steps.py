"""The hive's SQLite model catalog, corrupted on the node's own disk."""

from pathlib import PurePosixPath

from behave import given, then, when
from hamcrest import assert_that, equal_to, has_item

from rbee_bdd.runner.world import StepContext

GARBAGE = b"this is not an SQLite database \x00\xff" * 512


def catalog_path(context: StepContext, hive):
    if hive not in context.world.provisioning.catalogs:
        context.world.provisioning.catalogs[hive] = context.stack.hive(hive).models()["catalog"]
    return context.world.provisioning.catalogs[hive]


@given('I note where hive "{hive}" keeps its model catalog')
def step_note_catalog(context: StepContext, hive):
    catalog_path(context, hive)


@when('the model catalog of hive "{hive}" is overwritten with garbage')
def step_corrupt(context: StepContext, hive):
    context.stack.node(hive).write_file(catalog_path(context, hive), GARBAGE)


@then('hive "{hive}" lists the models "{names}"')
def step_lists_models(context: StepContext, hive, names):
    listed = context.stack.hive(hive).models()["models"]
    assert_that(listed, equal_to([n.strip() for n in names.split(",")]), f"models {hive} lists")


@then('hive "{hive}"\'s log says "{text}" exactly once')
def step_log_once(context: StepContext, hive, text):
    log = context.stack.node(hive).log_tail(5000)
    assert_that(log.count(text), equal_to(1), f"times {hive}'s log says {text!r}")


@then('the corrupt catalog of hive "{hive}" lies next to the new one as "<catalog>.corrupt.backup"')
def step_backup(context: StepContext, hive):
    catalog = PurePosixPath(catalog_path(context, hive))
    names = context.stack.node(hive).list_dir(str(catalog.parent))
    assert_that(names, has_item(f"{catalog.name}.corrupt.backup"), f"files in {catalog.parent} on {hive}")
    assert_that(names, has_item(catalog.name), f"files in {catalog.parent} on {hive}")
