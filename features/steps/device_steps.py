"""GPU hives: the (fake) nvidia-smi's memory figures and where the hive placed a worker."""

from behave import given, then
from hamcrest import assert_that, equal_to

from rbee_bdd.runner.world import StepContext


@given('the GPUs of hive "{hive}" have {first:d} and {second:d} MiB of their 24576 MiB in use')
def step_gpu_memory(context: StepContext, hive, first, second):
    context.stack.node(hive).write_gpu_state({"mode": "two-gpus", "used_mb": [first, second]})


@then('the job\'s worker process has CUDA_VISIBLE_DEVICES "{value}"')
def step_worker_gpu(context: StepContext, value):
    stack = context.stack
    hive, worker_id = stack.job_worker_hive(context.world.jobs.last)
    pid = stack.processes.worker(hive, worker_id).pid
    environ = stack.processes.environ(pid)
    assert_that(environ.get("CUDA_VISIBLE_DEVICES"), equal_to(value), f"CUDA_VISIBLE_DEVICES of {worker_id}")
