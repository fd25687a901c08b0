"""rbee-keeper as a real process: what it exits with and prints."""

from behave import then, when
from hamcrest import assert_that, ends_with, equal_to, is_not, starts_with


@when('I run rbee-keeper infer with model "{model}", {max_tokens:d} max tokens and seed {seed:d}')
def step_keeper_infer(context, model, max_tokens, seed):
    context.keeper = context.stack.keeper(
        ["infer", "--model", model, "--max-tokens", str(max_tokens), "--seed", str(seed), "Hello bee"]
    )


@when('I run rbee-keeper infer with model "{model}"')
def step_keeper_infer_default(context, model):
    context.keeper = context.stack.keeper(["infer", "--model", model, "Hello bee"])


@then("rbee-keeper exits with code {code:d}")
def step_exit_code(context, code):
    assert_that(context.keeper.exit_code, equal_to(code), context.keeper.describe())


@then('rbee-keeper\'s last line on stderr is "{line}"')
def step_last_line(context, line):
    lines = context.keeper.stderr.strip().splitlines() or [""]
    assert_that(lines[-1], equal_to(line), context.keeper.describe())


@then('rbee-keeper\'s last line on stderr starts with "{prefix}"')
def step_last_line_prefix(context, prefix):
    lines = context.keeper.stderr.strip().splitlines() or [""]
    assert_that(lines[-1], starts_with(prefix), context.keeper.describe())


@then("rbee-keeper printed a completion on stdout")
def step_completion(context):
    assert_that(context.keeper.stdout.strip(), is_not(equal_to("")), context.keeper.describe())
    assert_that(context.keeper.stdout, ends_with("\n"), "stdout ends its line after the last token")
