"""A worker lost around a job's first token: paused, then killed, while queen dispatches to it."""

import signal
import time

from behave import given, then, when
from hamcrest import (
    assert_that,
    equal_to,
    has_length,
    is_not,
)

from rbee_bdd.core.waiting import eventually, holds
from rbee_bdd.host.signals import process_state
from rbee_bdd.runner.world import StepContext, noted


@given('the "{model}" worker of hive "{hive}" is paused with SIGSTOP')
def step_pause(context: StepContext, model, hive):
    rows = context.stack.queen().workers(model=model, hive=hive)
    assert_that(rows, has_length(1), f"{model} workers queen lists on {hive}")
    worker_id = rows[0]["worker_id"]
    pid = context.stack.faults.pause_worker(hive, worker_id, context.cleanup)
    eventually(lambda: process_state(pid) == "T", 5, f"{worker_id} (pid {pid}) to be stopped")
    context.world.workers.paused = (hive, worker_id)
    context.world.workers.paused_at = time.monotonic()


@when("queen has sent the job to the paused worker")
def step_sent_to_paused(context: StepContext):
    paused = noted(context.world.workers.paused, "paused")
    _, worker_id = paused
    job = context.world.jobs.last

    def dispatched():
        targets = [e["target"] for e in job.stream.narration() if e["action"] == "dispatch"]
        assert_that(targets, equal_to([worker_id]), "workers queen dispatched the job to")

    holds(dispatched, 10, f"queen to dispatch {job.job_id} to {worker_id}")


@when("the paused worker is killed with SIGKILL")
def step_kill_paused(context: StepContext):
    paused = noted(context.world.workers.paused, "paused")
    context.stack.faults.kill_worker(*paused, signal.SIGKILL)


@then("the job ran on another worker than the paused one")
def step_other_worker(context: StepContext):
    paused = noted(context.world.workers.paused, "paused")
    ran_on = context.stack.job_worker(context.world.jobs.last)
    assert_that(ran_on, is_not(equal_to(paused[1])), "worker that finished the job")


@then('the job\'s stream has no narration "{action}"')
def step_no_narration(context: StepContext, action):
    events = [e for e in context.world.jobs.last.stream.narration() if e["action"] == action]
    assert_that(events, has_length(0), f"{action} narration on the job's stream")


@when('the job\'s spawned worker on hive "{hive}" is killed with SIGKILL while it starts')
def step_kill_starting(context: StepContext, hive):
    job = context.world.jobs.last

    def spawned():
        assert_that(job.spawned_workers(), has_length(1), f"workers spawned for {job.job_id}")
        return job.spawned_workers()[0]

    worker_id = eventually(spawned, 10, f"a worker spawned for {job.job_id}")
    state = context.stack.hive(hive).worker(worker_id)["state"]
    assert_that(state, equal_to("starting"), f"{worker_id} before the kill")
    context.stack.faults.kill_worker(hive, worker_id, signal.SIGKILL)
    context.world.workers.killed = worker_id


@then("the job ran on another worker than the killed one")
def step_other_than_killed(context: StepContext):
    ran_on = context.stack.job_worker(context.world.jobs.last)
    assert_that(ran_on, is_not(equal_to(context.world.workers.killed)), "worker that finished the job")
