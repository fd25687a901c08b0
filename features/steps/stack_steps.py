"""Starting the stack and looking at its nodes' real process tables and registries."""

from behave import given, then
from hamcrest import assert_that, equal_to, has_length

from rbee_bdd.core.waiting import holds
from rbee_bdd.runner.stack_settings import settings_of, table_rows
from rbee_bdd.runner.world import StepContext, start_stack


@given("a stack with {count:Hives}")
def step_stack(context: StepContext, count):
    start_stack(context, count)


@given("a stack with {count:Hives} where:")
def step_stack_where(context: StepContext, count):
    start_stack(context, count, **settings_of(table_rows(context.table)).start_options())


@given('hive "{hive}" runs no worker')
def step_no_worker(context: StepContext, hive):
    assert_that(context.stack.processes.workers(hive), has_length(0), f"worker processes on {hive}")
    assert_that(context.stack.hive(hive).workers(), has_length(0), f"workers {hive} reports")


@then('hive "{hive}" runs {count:WorkerProcesses} for model "{model}"')
def step_worker_processes(context: StepContext, hive, count, model):
    rows = [r for r in context.stack.processes.workers(hive) if f"{model}.gguf" in r.command]
    assert_that(rows, has_length(count), f"{model} worker processes in {hive}'s process table")
    running = sorted(r.worker_id for r in rows)
    reported = sorted(w["worker_id"] for w in context.stack.hive(hive).workers() if w["model"] == model)
    assert_that(running, equal_to(reported), f"worker ids in {hive}'s process table vs. those it reports")


@given('queen lists {count:ReadyWorkers} for model "{model}" on hive "{hive}"')
@then('queen lists {count:ReadyWorkers} for model "{model}" on hive "{hive}"')
def step_queen_lists(context: StepContext, count, model, hive):
    def listed():
        workers = [w for w in context.stack.queen().workers(model=model, hive=hive) if w["state"] == "ready"]
        assert_that(workers, has_length(count), f"ready {model} workers queen lists on {hive}")

    # a spawn's start-up and model load, which take longer when other scenarios run beside this one
    holds(listed, 30, f"queen to list {count} ready {model} worker(s) on {hive}")
