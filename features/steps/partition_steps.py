"""Partitions between queen and a hive, made and healed with iptables in the hive's namespace."""

from behave import then, when
from hamcrest import assert_that, equal_to, is_not

from rbee_bdd.core.waiting import eventually, holds
from rbee_bdd.runner.world import StepContext, noted


@when('hive "{hive}" is cut off from queen with {mode}')
def step_cut_off(context: StepContext, hive, mode):
    context.world.faults.partition = context.stack.faults.partition_from_queen(hive, mode.lower(), context.cleanup)


@when("the partition heals")
def step_heal(context: StepContext):
    partition = noted(context.world.faults.partition, "partition")
    partition.heal()


@then('a new job for model "{model}" is refused with {status:d} and code "{code}"')
@then('a new job for model "{model}" on hive "{hive}" is refused with {status:d} and code "{code}"')  # first
def step_refused(context: StepContext, model, status, code, hive=None):
    answer = context.stack.queen().post_infer(model, hive)
    assert_that(answer.status_code, equal_to(status), f"status of POST /v1/jobs: {answer.text[:300]} "
                f"(queen's hives: {context.stack.queen().hives()})")
    assert_that(answer.json()["error"]["code"], equal_to(code), f"error of POST /v1/jobs: {answer.text[:300]}")


@then('queen lists hive "{hive}" as available within {seconds:Seconds}')
def step_available_again(context: StepContext, hive, seconds):
    def available():
        rows = [h for h in context.stack.queen().hives() if h["hive_id"] == hive]
        assert_that([h["available"] for h in rows], equal_to([True]), f"{hive} in queen's hive list")

    holds(available, seconds, f"queen to list {hive} as available")


@then("the noted worker stops generating within {seconds:Seconds}")
def step_noted_idle(context: StepContext, seconds):
    noted_worker = noted(context.world.workers.noted, "noted_worker")
    worker = noted_worker
    eventually(lambda: worker.ready()["state"] == "ready", seconds, "the noted worker to stop generating")


@when('hive "{hive}" is cut off from that worker')
def step_cut_worker(context: StepContext, hive):
    (row,) = context.stack.queen().workers(hive=hive)
    context.world.workers.cut_off = row["worker_id"]
    context.world.faults.partition = context.stack.faults.partition_from_worker(hive, row["worker_id"], context.cleanup)


@then('queen lists that worker as "{state}" within {seconds:Seconds}')
def step_worker_state(context: StepContext, state, seconds):
    def listed():
        cut_off = context.world.workers.cut_off
        states = [w["state"] for w in context.stack.queen().workers() if w["worker_id"] == cut_off]
        assert_that(states, equal_to([state]), f"state of {context.world.workers.cut_off} at queen")

    holds(listed, seconds, f"queen to list {context.world.workers.cut_off} as {state}")


@then('a job for model "{model}" runs on another worker')
def step_runs_elsewhere(context: StepContext, model):
    job = context.stack.queen().submit_infer(model, max_tokens=8)
    job.wait_ended_with("[DONE]", 60)
    ran_on = context.stack.job_worker(job)
    assert_that(ran_on, is_not(equal_to(context.world.workers.cut_off)), "worker that ran the job")
