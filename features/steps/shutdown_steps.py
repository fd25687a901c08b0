"""SIGTERM to queen and the order in which the stack's processes end."""

import time

from behave import given, then, when
from hamcrest import assert_that, contains_string, empty, equal_to, has_length, less_than

from rbee_bdd.core.waiting import eventually, scaled
from rbee_bdd.runner.world import StepContext, noted
from rbee_bdd.stack.exits import ExitWatch


def first_token_or_end(job):
    return lambda: job.stream.tokens() or job.stream.ended


@given('{count:d} jobs for model "{model}" with {max_tokens:d} max tokens are streaming')
def step_jobs_streaming(context: StepContext, count, model, max_tokens):
    queen = context.stack.queen()
    jobs = context.world.jobs.add_batch([queen.submit_infer(model, max_tokens=max_tokens) for _ in range(count)])
    for job in jobs:
        eventually(first_token_or_end(job), 30, f"the first token of {job.job_id}")
        assert_that(job.stream.terminal, equal_to(None), f"{job.job_id} still streaming: {job.stream.summary()}")


@when("queen gets SIGTERM")
def step_queen_sigterm(context: StepContext):
    stack = context.stack
    workers = {row.worker_id: row.pid for hive in stack.hive_nodes for row in stack.processes.workers(hive)}
    nodes = {"queen": stack.node("queen"), **stack.hive_nodes}
    context.world.faults.exit_watch = ExitWatch(workers, nodes).start()
    context.cleanup.push("stop watching exits", noted(context.world.faults.exit_watch, "exit_watch").close)
    context.world.faults.sigterm_at = time.monotonic()
    stack.faults.terminate("queen")


@then('both streaming jobs end with "{marker}" within {seconds:Seconds}')
def step_streaming_done(context: StepContext, marker, seconds):
    for job in context.world.jobs.batch:
        job.wait_ended_with(marker, seconds)


@then("every worker, then every hive, then queen exits within {seconds:Seconds} of the SIGTERM")
def step_exit_order(context: StepContext, seconds):
    exit_watch = noted(context.world.faults.exit_watch, "exit_watch")
    watch = exit_watch
    finished = watch.wait(scaled(seconds) - (time.monotonic() - context.world.faults.sigterm_at))
    assert_that(watch.missing(), empty(), "processes still running")
    assert_that(finished, equal_to(True), "every watched process gone")
    order = [e.kind for e in watch.exits]
    took = {e.name: round(e.at - context.world.faults.sigterm_at, 2) for e in watch.exits}
    print(f"exits, in order, seconds after the SIGTERM: {took}")
    expected = sorted(order, key=["worker", "hive", "queen"].index)
    assert_that(order, equal_to(expected), f"kinds of process in the order they ended ({took})")
    assert_that(max(took.values()), less_than(scaled(seconds)), "seconds from the SIGTERM to the last exit")


@then("queen and every hive exited with code 0")
def step_codes(context: StepContext):
    exit_watch = noted(context.world.faults.exit_watch, "exit_watch")
    codes = {e.name: e.code for e in exit_watch.exits if e.kind != "worker"}
    assert_that(codes, equal_to(dict.fromkeys(codes, 0)), "exit codes of queen and the hives")
    assert_that(codes, has_length(1 + len(context.stack.hive_nodes)), "daemons seen exiting")


@then("queen and every hive exited with code 0, and each hive saw its workers exit with code 0")
def step_codes_and_workers(context: StepContext):
    exit_watch = noted(context.world.faults.exit_watch, "exit_watch")
    step_codes(context)
    logs = {hive: node.log_tail(1000) for hive, node in context.stack.hive_nodes.items()}
    for worker in (e.name for e in exit_watch.exits if e.kind == "worker"):
        reports = [line for log in logs.values() for line in log.splitlines() if f"{worker} exited (" in line]
        assert_that(reports, has_length(1), f"hive log lines reporting how {worker} exited")
        assert_that(reports[0], contains_string(f"{worker} exited (exit code 0)"), f"how {worker} exited")
