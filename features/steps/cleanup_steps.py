"""What a job leaves behind, seen from outside: metrics and memory of the daemons."""

from behave import given, then, when
from hamcrest import assert_that, equal_to, less_than

from rbee_bdd.clients.metrics import scrape
from rbee_bdd.core.waiting import holds
from rbee_bdd.runner.world import StepContext, noted

OPEN_STATE = {
    "queen": ("rbee_queen_jobs_active", "rbee_queen_job_streams_open", "rbee_queen_reservations"),
    "worker": ("rbee_worker_jobs_active", "rbee_worker_job_streams_open", "rbee_worker_busy"),
}


def wait_released(url, kind, seconds):
    def released():
        samples = scrape(url)
        state = {name: samples[name] for name in OPEN_STATE[kind]}
        assert_that(state, equal_to(dict.fromkeys(OPEN_STATE[kind], 0.0)), f"{kind}'s metrics")

    holds(released, seconds, f"{kind}'s job state and streams to be released")


@given('I note the "{model}" worker of hive "{hive}"')
def step_note_worker(context: StepContext, model, hive):
    rows = context.stack.queen().workers(model=model, hive=hive)
    assert_that(len(rows), equal_to(1), f"{model} workers on {hive}")
    context.world.workers.noted = context.stack.worker(hive, rows[0]["worker_id"])


@then("queen's metrics show no active job, open stream or reservation within {seconds:Seconds}")
def step_queen_clean(context: StepContext, seconds):
    wait_released(context.stack.queen().url, "queen", seconds)


@then("the worker's metrics show no active job, open stream or busy flag within {seconds:Seconds}")
def step_worker_clean(context: StepContext, seconds):
    noted_worker = noted(context.world.workers.noted, "noted_worker")
    wait_released(noted_worker.url, "worker", seconds)


@when('I run {count:d} sequential jobs for model "{model}" with {max_tokens:d} max tokens')
def step_sequential(context: StepContext, count, model, max_tokens):
    queen = context.stack.queen()
    context.world.observed.memory_before = context.stack.telemetry.daemon_memory()
    for _ in range(count):
        job = queen.submit_infer(model, max_tokens=max_tokens)
        job.wait_ended_with("[DONE]", 30)
    context.world.observed.memory_after = context.stack.telemetry.daemon_memory()


@then("no daemon's memory grew by more than {mib:d} MiB")
def step_memory_flat(context: StepContext, mib):
    world = context.world
    observed = world.observed
    growth = {name: (observed.memory_after[name] - before) / 2**20 for name, before in observed.memory_before.items()}
    print(f"RSS growth in MiB: { {k: round(v, 2) for k, v in growth.items()} }")
    for name, grown in growth.items():
        assert_that(grown, less_than(mib), f"RSS growth of {name} in MiB (all: {growth})")
