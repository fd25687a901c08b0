"""What a hive leaves after a worker's lifecycle events: failed spawns, removals, reaped exits."""

import time

from behave import given, then, when
from hamcrest import (
    assert_that,
    contains_string,
    empty,
    equal_to,
    greater_than,
    has_entries,
    has_length,
    starts_with,
)

from rbee_bdd.core.bounds import in_bounds
from rbee_bdd.core.waiting import eventually, holds, scaled
from rbee_bdd.host.signals import process_state
from rbee_bdd.runner.world import StepContext, noted


@given('hive "{hive}"\'s worker program is {how}')
def step_break_worker_program(context: StepContext, hive, how):
    context.stack.faults.break_worker_program(hive, how)


@then('hive "{hive}" has no worker, no worker cgroup and no worker queen knows of')
def step_no_worker_left(context: StepContext, hive):
    stack = context.stack

    def nothing_left():
        assert_that(stack.processes.workers(hive), empty(), f"worker processes in {hive}'s process table")
        assert_that(stack.processes.worker_cgroups(hive), empty(), f"worker cgroups under {hive}'s slice")
        assert_that(stack.hive(hive).workers(), empty(), f"workers {hive} lists")
        assert_that(stack.queen().workers(hive=hive), empty(), f"workers queen lists on {hive}")

    holds(nothing_left, 5, f"nothing of a worker to be left on {hive}")  # queen learns at the next heartbeat


@when("the paused worker is resumed with SIGCONT")
def step_resume_paused(context: StepContext):
    paused = noted(context.world.workers.paused, "paused")
    hive, worker_id = paused
    context.stack.faults.resume_worker(hive, worker_id)


@given('queen lists the paused worker as "{state}" within {seconds:Seconds}')
@then('queen lists the paused worker as "{state}" within {seconds:Seconds}')
def step_paused_listed_as(context: StepContext, state, seconds):
    paused = noted(context.world.workers.paused, "paused")
    _, worker_id = paused

    def listed():
        states = [w["state"] for w in context.stack.queen().workers() if w["worker_id"] == worker_id]
        assert_that(states, equal_to([state]), f"state of {worker_id} at queen")

    holds(listed, seconds, f"queen to list {worker_id} as {state}")


@then('hive "{hive}" reports the paused worker failed with code "{code}" between {low:g} and {high:g} seconds '
      "after it was paused")
def step_paused_failed(context: StepContext, hive, code, low, high):
    paused = noted(context.world.workers.paused, "paused")
    _, worker_id = paused
    holds(lambda: assert_that(context.stack.hive(hive).worker(worker_id), has_entries(state="failed", error_code=code),
                              f"hive {hive}'s record of {worker_id}"), high + 1, f"{hive} to end {worker_id}",
          interval=0.05)
    after = time.monotonic() - context.world.workers.paused_at
    assert_that(after, in_bounds(low, high),
                f"seconds from the pause until {hive} reported {worker_id} failed")


@then("the paused worker has no process, no cgroup and no registry entry left")
def step_paused_gone(context: StepContext):
    paused = noted(context.world.workers.paused, "paused")
    hive, worker_id = paused

    def nothing_left():
        left = context.stack.processes.worker_leftovers(hive, worker_id)
        assert_that(left, equal_to({what: [] for what in left}), f"what is left of {worker_id}")

    holds(nothing_left, 5, f"nothing of {worker_id} to be left")  # queen learns at the hive's next heartbeat


@then('the next job for model "{model}" runs on the paused worker')
def step_next_on_paused(context: StepContext, model):
    paused = noted(context.world.workers.paused, "paused")
    _, worker_id = paused
    job = context.world.jobs.add(context.stack.run_job(model))
    assert_that(context.stack.job_worker(job), equal_to(worker_id), "the worker the job ran on")


@then('hive "{hive}" has no zombie process within {seconds:Seconds}')
def step_no_zombie(context: StepContext, hive, seconds):
    holds(lambda: assert_that(context.stack.processes.zombies(hive), empty(), f"processes in state Z on {hive}"),
          seconds, f"every ended process of {hive} to be reaped")


@then('the next job for model "{model}" runs on the worker spawned for the timed-out job')
def step_next_on_spawned(context: StepContext, model):
    spawned = context.world.jobs.last.spawned_workers()
    assert_that(spawned, has_length(1), "workers spawned for the timed-out job")
    job = context.world.jobs.add(context.stack.run_job(model))
    assert_that(context.stack.job_worker(job), equal_to(spawned[0]), "the worker the next job ran on")


@when('hive "{hive}" gets SIGTERM')
def step_hive_sigterm(context: StepContext, hive):
    context.world.workers.pids_at_sigterm = {row.worker_id: row.pid for row in context.stack.processes.workers(hive)}
    context.world.faults.sigterm_at = time.monotonic()
    context.stack.faults.terminate(hive)


@then('hive "{hive}" refuses to spawn a "{model}" worker with {status:d} "{code}"')
def step_spawn_refused(context: StepContext, hive, model, status, code):
    answer = context.stack.hive(hive).spawn(model)
    assert_that((answer.status_code, answer.json().get("error", {}).get("code")), equal_to((status, code)),
                f"{hive}'s answer to a spawn: {answer.text[:300]}")


@then('a job for model "{model}" submitted now ends with a marker starting "{prefix}"')
def step_job_now_ends(context: StepContext, model, prefix):
    job = context.stack.queen().submit_infer(model, max_tokens=8)
    job.stream.wait_ended(scaled(30))
    assert_that(job.stream.terminal or "", starts_with(prefix), f"terminal marker: {job.stream.summary()}")


@then("the streaming job is still running")
def step_still_running(context: StepContext):
    job = context.world.jobs.last
    assert_that(job.stream.terminal, equal_to(None), f"{job.job_id}: {job.stream.summary()}")


@then('hive "{hive}" exits with code {code:d} within {seconds:Seconds}')
def step_hive_exits(context: StepContext, hive, code, seconds):
    node = context.stack.node(hive)
    exited = eventually(lambda: node.exit_code() is not None, seconds, f"{hive} to exit")
    assert_that((exited, node.exit_code()), equal_to((True, code)), f"{hive}'s exit code")


@then('every worker process hive "{hive}" ran at the SIGTERM is gone')
def step_workers_gone(context: StepContext, hive):
    pids = context.world.workers.pids_at_sigterm
    assert_that(len(pids), greater_than(0), f"worker processes {hive} ran at the SIGTERM")
    assert_that({w: process_state(pid) for w, pid in pids.items()}, equal_to(dict.fromkeys(pids, "gone")),
                "state of each worker process (by /proc)")


@then("queen still serves")
def step_queen_serves(context: StepContext):
    assert_that(context.stack.queen().health().get("state"), equal_to("serving"), "queen's /health state")


@when('the rbee-hive process of hive "{hive}" is paused with SIGSTOP')
def step_pause_hive(context: StepContext, hive):
    context.stack.faults.pause_daemon(hive, context.cleanup)


@then('hive "{hive}"\'s process table still holds {count:WorkerProcesses} for model "{model}"')
def step_process_table_holds(context: StepContext, hive, count, model):
    rows = [r for r in context.stack.processes.workers(hive) if f"{model}.gguf" in r.command]
    assert_that(rows, has_length(count), f"{model} worker processes in {hive}'s process table")


@then('the next {count:d} jobs for model "{model}" all run on hive "{hive}"')
def step_jobs_all_on(context: StepContext, count, model, hive):
    ran_on = []
    for _ in range(count):
        job = context.stack.queen().submit_infer(model, max_tokens=8).wait_ended_with("[DONE]", 60)
        context.world.jobs.add(job)
        ran_on.append(context.stack.job_worker_hive(job)[0])
    assert_that(ran_on, equal_to([hive] * count), "the hive each job ran on")


@then('the job\'s error names what "{model}" needs and the {mib:d} MiB limit, in bytes')
def step_memory_numbers(context: StepContext, model, mib):
    # the contract's estimate: the model file's size plus 20 %
    need = int((context.suite_config.models_dir / f"{model}.gguf").stat().st_size * 1.2)
    marker = context.world.jobs.last.stream.terminal or ""
    assert_that(marker, contains_string(f"{need} bytes"), "the job's error")
    assert_that(marker, contains_string(f"{mib * 2**20} bytes"), "the job's error")


@then("the job ran on the paused worker")
def step_ran_on_paused(context: StepContext):
    paused = noted(context.world.workers.paused, "paused")
    _, worker_id = paused
    assert_that(context.stack.job_worker(context.world.jobs.last), equal_to(worker_id), "the worker the job ran on")
