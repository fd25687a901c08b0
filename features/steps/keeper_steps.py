"""rbee-keeper as a real process: what it exits with and prints."""

import json
import shlex
import signal

from behave import given, then, when
from hamcrest import (
    assert_that,
    contains_exactly,
    contains_string,
    ends_with,
    equal_to,
    has_entry,
    has_length,
    is_not,
    less_than,
    starts_with,
)

from rbee_bdd.clients.keeper import run_keeper
from rbee_bdd.core.waiting import holds, scaled
from rbee_bdd.host.netutil import free_port
from rbee_bdd.runner.world import StepContext, noted


def keeper_infer(context: StepContext, model, *options):
    """Run ``rbee-keeper infer --model MODEL OPTIONS… "Hello bee"`` against the stack's queen."""
    context.world.keeper.result = context.stack.keeper.run(["infer", "--model", model, *map(str, options), "Hello bee"])


@when('I run rbee-keeper infer with model "{model}", {max_tokens:d} max tokens and seed {seed:d}')
def step_keeper_infer(context: StepContext, model, max_tokens, seed):
    keeper_infer(context, model, "--max-tokens", max_tokens, "--seed", seed)


@when('I run rbee-keeper infer with model "{model}"')
def step_keeper_infer_default(context: StepContext, model):
    keeper_infer(context, model)


@then("rbee-keeper exits with code {code:d}")
def step_exit_code(context: StepContext, code):
    keeper = noted(context.world.keeper.result, "keeper")
    assert_that(keeper.exit_code, equal_to(code), keeper.describe())


@then('rbee-keeper\'s last line on stderr is "{line}"')
def step_last_line(context: StepContext, line):
    keeper = noted(context.world.keeper.result, "keeper")
    lines = keeper.stderr.strip().splitlines() or [""]
    assert_that(lines[-1], equal_to(line), keeper.describe())


@then('rbee-keeper\'s last line on stderr starts with "{prefix}"')
def step_last_line_prefix(context: StepContext, prefix):
    keeper = noted(context.world.keeper.result, "keeper")
    lines = keeper.stderr.strip().splitlines() or [""]
    assert_that(lines[-1], starts_with(prefix), keeper.describe())


@then("rbee-keeper printed a completion on stdout")
def step_completion(context: StepContext):
    keeper = noted(context.world.keeper.result, "keeper")
    assert_that(keeper.stdout.strip(), is_not(equal_to("")), keeper.describe())
    assert_that(keeper.stdout, ends_with("\n"), "stdout ends its line after the last token")


@when('I run rbee-keeper infer with model "{model}", {max_tokens:d} max tokens and a {seconds:d} second timeout')
def step_keeper_timeout(context: StepContext, model, max_tokens, seconds):
    keeper_infer(context, model, "--max-tokens", max_tokens, "--timeout", seconds)


@then("rbee-keeper took less than {seconds:Seconds}")
def step_keeper_took(context: StepContext, seconds):
    keeper = noted(context.world.keeper.result, "keeper")
    assert_that(keeper.seconds, less_than(scaled(seconds)), keeper.describe())


@when('I start rbee-keeper infer with model "{model}" and {max_tokens:d} max tokens')
def step_keeper_background(context: StepContext, model, max_tokens):
    context.world.keeper.process = context.stack.keeper.start(
        ["infer", "--model", model, "--max-tokens", str(max_tokens), "Hello bee"], context.cleanup
    )


@when("rbee-keeper has printed tokens")
def step_keeper_printed(context: StepContext):
    keeper_process = noted(context.world.keeper.process, "keeper_process")
    process = keeper_process

    def printed():
        stderr = "".join(process.stderr)
        assert_that("".join(process.stdout).strip(), is_not(equal_to("")), f"rbee-keeper's stdout (stderr: {stderr!r})")

    holds(printed, 60, "rbee-keeper's first tokens")


@when("I press Ctrl+C in rbee-keeper")
def step_ctrl_c(context: StepContext):
    keeper_process = noted(context.world.keeper.process, "keeper_process")
    keeper_process.send_signal(signal.SIGINT)


@then("rbee-keeper exits within {seconds:Seconds}")
def step_keeper_exits(context: StepContext, seconds):
    keeper_process = noted(context.world.keeper.process, "keeper_process")
    context.world.keeper.result = keeper_process.wait(seconds)


@then('the "{model}" worker on hive "{hive}" is idle again within {seconds:Seconds}')
def step_model_worker_idle(context: StepContext, model, hive, seconds):
    def idle():
        rows = context.stack.queen().workers(model=model, hive=hive)
        assert_that([w["idle"] for w in rows], contains_exactly(True), f"idle flags of {model} workers at queen")
        worker = context.stack.worker(hive, rows[0]["worker_id"])
        assert_that(worker.ready()["state"], equal_to("ready"), "the worker's own state")

    holds(idle, seconds, f"the {model} worker on {hive} to be idle")


@when("I run rbee-keeper with {args}")
def step_keeper_args(context: StepContext, args):
    stack = getattr(context, "stack", None)
    if stack is not None and stack.queen_node is not None:  # the scenario's queen, with the keeper's token
        context.world.keeper.result = stack.keeper.run(shlex.split(args))
        return
    queen_url = context.world.keeper.queen_url or f"http://127.0.0.1:{free_port()}"
    config = context.suite_config
    context.world.keeper.result = run_keeper(config.keeper_cmd, queen_url, shlex.split(args),
                                             rename=config.profile.rename)


@when("I run rbee-keeper logs with the job's id")
def step_keeper_logs(context: StepContext):
    context.world.keeper.result = context.stack.keeper.run(["logs", context.world.jobs.last.job_id])


def keeper_json(context: StepContext):
    keeper = noted(context.world.keeper.result, "keeper")
    result = keeper
    assert_that(result.exit_code, equal_to(0), result.describe())
    return json.loads(result.stdout)


@then('rbee-keeper\'s JSON lists hive "{hive}" as available with {count:Workers}')
def step_json_hive(context: StepContext, hive, count):
    listed = {h["hive_id"]: (h["available"], h["workers"]) for h in keeper_json(context)}
    assert_that(listed, has_entry(hive, (True, count)), "hives rbee-keeper listed: (available, workers)")


@then('rbee-keeper\'s JSON lists the job\'s worker for model "{model}" on hive "{hive}"')
def step_json_worker(context: StepContext, model, hive):
    worker_id = context.stack.job_worker(context.world.jobs.last)
    listed = {w["worker_id"]: (w["model"], w["hive_id"]) for w in keeper_json(context)}
    assert_that(listed, has_entry(worker_id, (model, hive)), "workers rbee-keeper listed: (model, hive)")


@then('rbee-keeper printed a table whose header starts "{word}" and whose rows name "{name}"')
def step_table(context: StepContext, word, name):
    keeper = noted(context.world.keeper.result, "keeper")
    lines = keeper.stdout.strip().splitlines()
    assert_that(lines[0] if lines else "", starts_with(word), keeper.describe())
    assert_that([line.split()[0] for line in lines[1:]], contains_exactly(name), keeper.describe())


@then('rbee-keeper\'s last line on stdout is "{line}"')
def step_last_stdout(context: StepContext, line):
    keeper = noted(context.world.keeper.result, "keeper")
    lines = keeper.stdout.strip().splitlines() or [""]
    assert_that(lines[-1], equal_to(line), keeper.describe())


@given("no queen listens at the address rbee-keeper is given")
def step_no_queen(context: StepContext):
    context.world.keeper.queen_url = f"http://127.0.0.1:{free_port()}"


@then('rbee-keeper printed "{text}" on stdout')
def step_stdout_has(context: StepContext, text):
    keeper = noted(context.world.keeper.result, "keeper")
    assert_that(keeper.stdout, contains_string(text), keeper.describe())


@then("rbee-keeper printed one line on stderr starting with \"{prefix}\"")
def step_one_line(context: StepContext, prefix):
    keeper = noted(context.world.keeper.result, "keeper")
    lines = keeper.stderr.strip().splitlines()
    assert_that(lines, has_length(1), keeper.describe())
    assert_that(lines[0], starts_with(prefix), keeper.describe())
