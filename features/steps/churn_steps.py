"""Bursts of workers through the hive's API, checked against the real process table and cgroups."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from behave import given, then, when
from hamcrest import assert_that, empty, equal_to, greater_than_or_equal_to, has_length

from rbee_bdd.core.waiting import holds
from rbee_bdd.host.cgroupfs import cgroup_dirs_named
from rbee_bdd.runner.world import StepContext


@given('I ask hive "{hive}" to spawn {count:Workers} for "{model}" at once')
@when('I ask hive "{hive}" to spawn {count:Workers} for "{model}" at once')
def step_spawn_burst(context: StepContext, hive, count, model):
    client = context.stack.hive(hive)
    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(lambda _: client.spawn(model), range(count)))
    for answer in answers:
        assert_that(answer.status_code, equal_to(201), f"spawn answer: {answer.text[:200]}")
    context.world.workers.churn_hive = hive
    context.world.workers.spawned = [answer.json()["worker_id"] for answer in answers]


@then("all the spawned workers are ready within {seconds:Seconds}")
def step_spawned_ready(context: StepContext, seconds):
    client = context.stack.hive(context.world.workers.churn_hive)

    def ready():
        states = {w: client.worker(w)["state"] for w in context.world.workers.spawned}
        expected = dict.fromkeys(context.world.workers.spawned, "ready")
        assert_that(states, equal_to(expected), "states of the spawned workers")

    holds(ready, seconds, f"{len(context.world.workers.spawned)} spawned workers to be ready")


@when("I stop {count:d} of the spawned workers")
def step_stop_some(context: StepContext, count):
    client = context.stack.hive(context.world.workers.churn_hive)
    context.world.workers.stopped = context.world.workers.spawned[:count]
    with ThreadPoolExecutor(count) as pool:
        ended = list(pool.map(client.stop_worker, context.world.workers.stopped))
    assert_that([w["state"] for w in ended], equal_to(["exited"] * count), f"stopped workers: {ended}")


@then('the workers of hive "{hive}" have unique ids, ports and pids')
def step_unique(context: StepContext, hive):
    workers = context.stack.hive(hive).workers()
    rows = context.stack.processes.workers(hive)
    for key in ("worker_id", "port", "pid"):
        repeated = [value for value, n in Counter(w[key] for w in workers).items() if n > 1]
        assert_that(repeated, empty(), f"repeated {key}s among {hive}'s workers")
    assert_that(sorted(w["pid"] for w in workers), equal_to(sorted(r.node_pid for r in rows)),
                f"pids {hive} reports vs. its process table")
    listed = [w["worker_id"] for w in context.stack.queen().workers(hive=hive)]
    assert_that(sorted(listed), equal_to(sorted(w["worker_id"] for w in workers)), "worker ids queen lists")


@then("the stopped workers have no process and no cgroup left")
def step_stopped_gone(context: StepContext):
    running = {r.worker_id for r in context.stack.processes.workers(context.world.workers.churn_hive)}
    assert_that(running & set(context.world.workers.stopped), empty(), "stopped workers still in the process table")
    assert_that([d for w in context.world.workers.stopped for d in cgroup_dirs_named(w)], empty(),
                "cgroup directories of the stopped workers")


@then("each hive served at least {count:d} of the jobs")
def step_fair_share(context: StepContext, count):
    queen = context.stack.queen()
    hive_of = {w["worker_id"]: w["hive_id"] for w in queen.workers()}
    served = Counter(hive_of.get(queen.job(job.job_id)["worker_id"] or "", "?") for job in context.world.jobs.batch)
    print(f"jobs served per hive: {dict(served)}")
    for hive in context.stack.hive_nodes:
        assert_that(served[hive], greater_than_or_equal_to(count), f"jobs served by {hive} (all: {dict(served)})")
    assert_that(sum(served.values()), equal_to(len(context.world.jobs.batch)), "jobs served in all")
    assert_that(list(served), has_length(len(context.stack.hive_nodes)), "hives that served jobs")
