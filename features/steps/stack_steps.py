"""Starting the stack and looking at its nodes' real process tables and registries."""

from behave import given, then
from hamcrest import assert_that, equal_to, has_length

from rbee_bdd.core.waiting import holds
from rbee_bdd.runner.world import StepContext, start_stack


@given("a stack with {count:Hives}")
def step_stack(context: StepContext, count):
    start_stack(context, count)


@given("a stack with {count:Hives} whose queen stops alone")
def step_stack_queen_alone(context: StepContext, count):
    start_stack(context, count, queen_args=("--no-cascade-shutdown",))


@given("a stack with {count:Hives} whose queen disconnects a stalled stream reader after {seconds:Seconds}")
def step_stack_stall(context: StepContext, count, seconds):
    start_stack(context, count, queen_args=("--stall-timeout", str(seconds)))

@given("a stack with {count:Hives} that run at most {workers:Workers} each, each worker in at most {mib:d} MiB "
       "of memory")
def step_capped_memory_hives(context: StepContext, count, workers, mib):
    start_stack(context, count, hive_args=("--max-workers", str(workers), "--worker-memory-limit", f"{mib}M"))


@given("a stack with {count:Hives} that run at most {workers:Workers} each")
def step_capped_hives(context: StepContext, count, workers):
    start_stack(context, count, hive_args=("--max-workers", str(workers)))

@given("a stack with 1 hive that runs at most {count:Workers}")
def step_capped_stack(context: StepContext, count):
    start_stack(context, 1, hive_args=("--max-workers", str(count)))

@given("a stack with 1 hive that runs its workers on GPUs")
def step_gpu_stack(context: StepContext):
    start_stack(context, 1, hive_args=("--device", "gpu"))

@given("a stack with no hive")
def step_no_hive(context: StepContext):
    start_stack(context, 0)

@given("a stack with 1 hive whose workers also print ordinary and malformed lines")
def step_chatty(context: StepContext):
    start_stack(context, 1, worker_wrapper="chatty-worker")

@given("a stack with 1 hive whose workers read their weights into at most {mib:d} MiB of memory")
def step_memory_capped(context: StepContext, mib):
    start_stack(context, 1, hive_args=("--worker-memory-limit", f"{mib}M", "--worker-args=--no-mmap"))

@given("a stack with 1 hive that checks its workers' health every {seconds:g} seconds and never removes one")
def step_health_stack(context: StepContext, seconds):
    start_stack(context, 1, hive_args=("--worker-health-interval", str(seconds), "--worker-health-failures", "0"))


@given("a stack with 1 hive that checks its workers' health every {seconds:g} seconds "
       "and removes a worker after {count:d} failed checks")
def step_health_removal_stack(context: StepContext, seconds, count):
    start_stack(context, 1, hive_args=("--worker-health-interval", str(seconds),
                                       "--worker-health-failures", str(count)))

@given("a stack with 1 hive whose workers ignore SIGTERM and get {seconds:Seconds} to stop")
def step_stubborn_stack(context: StepContext, seconds):
    start_stack(context, 1, worker_wrapper="stubborn-worker", hive_args=("--worker-stop-grace", str(seconds)))


@given("a stack with 1 hive that stops workers idle for {seconds:Seconds}")
def step_idle_stack(context: StepContext, seconds):
    # idleness is checked with the health checks: every half second here
    start_stack(context, 1, hive_args=("--worker-idle-timeout", str(seconds), "--worker-health-interval", "0.5"))


@given("a stack with 1 hive whose workers hang before they are ready, with {seconds:Seconds} to start")
def step_hanging_stack(context: StepContext, seconds):
    start_stack(context, 1, worker_wrapper="hanging-worker", hive_args=("--worker-start-timeout", str(seconds)))


@given("a stack with 1 hive that runs its own copy of the worker program")
def step_own_worker_program(context: StepContext):
    start_stack(context, 1, worker_wrapper="exec-worker")


@given("a stack with 1 hive whose queen gives jobs {seconds:Seconds} by default")
def step_default_deadline_stack(context: StepContext, seconds):
    start_stack(context, 1, queen_args=("--default-job-timeout", str(seconds)))


@given("a stack with 1 hive whose workers start {seconds:Seconds} late")
def step_slow_start_stack(context: StepContext, seconds):
    assert seconds == 4, "fixtures/bin/slow-start-worker starts the worker 4 seconds late"
    start_stack(context, 1, worker_wrapper="slow-start-worker")


@given("a stack with 1 hive that gives busy workers {seconds:Seconds} to finish when it stops")
def step_hive_grace_stack(context: StepContext, seconds):
    start_stack(context, 1, hive_args=("--shutdown-grace", str(seconds)))


@given('a stack with 1 hive whose queen is started with "{flags}"')
def step_queen_flags_stack(context: StepContext, flags):
    start_stack(context, 1, queen_args=tuple(flags.split()))


@given('a stack with 1 hive started with "{flags}"')
def step_hive_flags_stack(context: StepContext, flags):
    start_stack(context, 1, hive_args=tuple(flags.split()))


@given('a stack with {count:Hives} whose queen forgets a silent hive after {seconds:Seconds}')
def step_stack_remove_after(context: StepContext, count, seconds):
    start_stack(context, count, queen_args=("--hive-remove-after", str(seconds)))


@given('a stack with 1 hive whose config file says "{text}", started with "{flags}"')
def step_hive_config_flags_stack(context: StepContext, text, flags):
    start_stack(context, 1, hive_config=text + "\n", hive_args=tuple(flags.split()))


@given('a stack with 1 hive whose config file says "{text}"')  # after the longer form, which it would match
def step_hive_config_stack(context: StepContext, text):
    start_stack(context, 1, hive_config=text + "\n")


@given("a stack with 1 hive whose downloads stall out after {seconds:Seconds}")
def step_stall_bound_stack(context: StepContext, seconds):
    start_stack(context, 1, hive_args=("--download-stall-timeout", str(seconds)))


@given("a stack with 1 hive whose downloads go to a disk of {kib:d} KiB")
def step_small_disk_stack(context: StepContext, kib):
    start_stack(context, 1, download_disk_bytes=kib * 1024)


@given("a stack with 1 hive whose workers get at most {mib:d} MiB of memory")
def step_memory_limit_stack(context: StepContext, mib):
    start_stack(context, 1, hive_args=("--worker-memory-limit", f"{mib}M"))


@given("a stack with {count:Hives} without cgroup rights")
def step_stack_no_cgroups(context: StepContext, count):
    start_stack(context, count, cgroups=False)

@given("a stack with {count:Hives} and a UI buffer of {events:d} events")
def step_stack_ui_buffer(context: StepContext, count, events):
    start_stack(context, count, queen_args=("--ui-buffer", str(events)))


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
