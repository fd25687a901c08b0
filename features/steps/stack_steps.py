"""Starting the stack and looking at its nodes' real process tables and registries."""

from behave import given, then
from hamcrest import assert_that, equal_to, has_length

from rbee_bdd.hooks import start_stack
from rbee_bdd.waiting import eventually


@given("a stack with {count:d} hive")
@given("a stack with {count:d} hives")
def step_stack(context, count):
    start_stack(context, count)


@given("a stack with {count:d} hive whose queen stops alone")
def step_stack_queen_alone(context, count):
    start_stack(context, count, queen_args=("--no-cascade-shutdown",))


@given('hive "{hive}" runs no worker')
def step_no_worker(context, hive):
    assert_that(context.stack.worker_processes(hive), has_length(0), f"worker processes on {hive}")
    assert_that(context.stack.hive(hive).workers(), has_length(0), f"workers {hive} reports")


@then('hive "{hive}" runs {count:d} worker process for model "{model}"')
@then('hive "{hive}" runs {count:d} worker processes for model "{model}"')
def step_worker_processes(context, hive, count, model):
    rows = [r for r in context.stack.worker_processes(hive) if f"{model}.gguf" in r.command]
    assert_that(rows, has_length(count), f"{model} worker processes in {hive}'s process table")
    running = sorted(r.worker_id for r in rows)
    reported = sorted(w["worker_id"] for w in context.stack.hive(hive).workers() if w["model"] == model)
    assert_that(running, equal_to(reported), f"worker ids in {hive}'s process table vs. those it reports")


@given('queen lists {count:d} ready workers for model "{model}" on hive "{hive}"')
@then('queen lists {count:d} ready worker for model "{model}" on hive "{hive}"')
@then('queen lists {count:d} ready workers for model "{model}" on hive "{hive}"')
def step_queen_lists(context, count, model, hive):
    def listed():
        workers = [w for w in context.stack.queen().workers(model=model, hive=hive) if w["state"] == "ready"]
        assert_that(workers, has_length(count), f"ready {model} workers queen lists on {hive}")
        return True

    # a spawn's start-up and model load, which take longer when other scenarios run beside this one
    eventually(listed, 30, f"queen to list {count} ready {model} worker(s) on {hive}")
