"""Workers under a memory limit, what is left after the kernel OOM-killed one, and spawned workers that failed."""

from behave import then
from hamcrest import assert_that, contains_string, equal_to, greater_than, has_entries, has_length, is_not

from rbee_bdd.host.kmsg import oom_kills_in_cgroup
from rbee_bdd.runner.world import StepContext


def spawned_worker(context: StepContext):
    """The worker the hive spawned for the last job, named by its worker_spawn narration."""
    spawned = context.world.jobs.last.spawned_workers()
    assert_that(spawned, has_length(1), "workers spawned for the job")
    return spawned[0]


@then('hive "{hive}" reports the job\'s spawned worker "{text}"')
def step_spawned_reported(context: StepContext, hive, text):
    worker_id = spawned_worker(context)
    worker = context.stack.hive(hive).worker(worker_id)
    assert_that(worker["state"], equal_to("failed"), f"state of {worker_id}: {worker}")
    assert_that(worker["error"] or "", contains_string(text), f"error of {worker_id}")
    assert_that(worker["oom_killed"], equal_to(True), f"oom_killed of {worker_id}")


@then("the job's spawned worker has no process, no cgroup and no registry entry left")
def step_spawned_gone(context: StepContext):
    worker_id = spawned_worker(context)
    left = context.stack.processes.worker_leftovers(context.stack.hive_of(worker_id), worker_id)
    assert_that(left, equal_to({what: [] for what in left}), f"what is left of {worker_id}")


@then('the next job for model "{model}" starts a new worker')
def step_next_job_new_worker(context: StepContext, model):
    before = spawned_worker(context)
    context.world.jobs.add(context.stack.run_job(model))
    assert_that(spawned_worker(context), is_not(equal_to(before)), "the worker spawned for the next job")


@then('hive "{hive}" reports the job\'s spawned worker failed with code "{code}"')
def step_spawned_failed_with(context: StepContext, hive, code):
    worker_id = spawned_worker(context)
    worker = context.stack.hive(hive).worker(worker_id)
    assert_that(worker, has_entries(state="failed", error_code=code), f"hive {hive}'s record of {worker_id}")


@then("the kernel's own log shows the OOM kill of the job's {which} worker")
def step_kernel_oom(context: StepContext, which):
    worker_id = spawned_worker(context) if which == "spawned" else context.stack.job_worker(context.world.jobs.last)
    kills = oom_kills_in_cgroup(worker_id)
    assert_that(len(kills), greater_than(0), f"OOM kills /dev/kmsg logged in the cgroup of {worker_id}")
