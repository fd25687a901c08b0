"""GPU hives: the (fake) nvidia-smi's memory figures and where the hive placed a worker."""

from behave import given, then, when
from hamcrest import assert_that, equal_to, has_length

from rbee_bdd.core.waiting import holds
from rbee_bdd.runner.world import StepContext, noted


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


NVIDIA_SMI_MODES = {"fails": "no-gpu", "hangs": "hang", "answers garbage": "garbage"}  # fixtures/bin/nvidia-smi


@then('hive "{hive}" refuses to spawn a "{model}" worker with {status:d} "{code}" naming the cause, '
      "whichever way its nvidia-smi breaks:")
def step_refused_per_gpu_fault(context: StepContext, hive, model, status, code):
    node, client = context.stack.node(hive), context.stack.hive(hive)
    seen = {}
    for row in context.table:
        node.write_gpu_state({"mode": NVIDIA_SMI_MODES[row["nvidia-smi"]]})
        answer = client.spawn(model)
        error = answer.json().get("error", {}) if answer.headers.get("content-type", "").startswith(
            "application/json") else {}
        seen[row["nvidia-smi"]] = (answer.status_code, error.get("code"), row["cause"] in error.get("message", ""))
    expected = {row["nvidia-smi"]: (status, code, True) for row in context.table}
    assert_that(seen, equal_to(expected), f"(status, code, cause named) of {hive}'s answers to a spawn")
    assert_that(context.stack.processes.workers(hive), has_length(0), f"worker processes on {hive}")


@when('hive "{hive}"\'s nvidia-smi reports the job\'s worker using {mib:d} MiB of GPU {gpu:d}')
def step_worker_vram(context: StepContext, hive, mib, gpu):
    _, worker_id = context.stack.job_worker_hive(context.world.jobs.last)
    pid = context.stack.processes.worker(hive, worker_id).node_pid  # nvidia-smi sees the hive's own pids
    context.stack.node(hive).write_gpu_state({"mode": "two-gpus", "pids": {str(pid): {"gpu": gpu, "mb": mib}}})


@then('the heartbeat stream and hive "{hive}"\'s telemetry show the job\'s worker with {mib:d} of {total:d} MiB '
      "of GPU memory within {seconds:Seconds}")
def step_vram_shown(context: StepContext, hive, mib, total, seconds):
    ui = noted(context.world.observed.ui, "ui")
    _, worker_id = context.stack.job_worker_hive(context.world.jobs.last)

    def on_stream():
        rows = [p for beat in ui.heartbeats() for p in beat.get("processes", []) if p["instance"] == worker_id]
        assert rows, f"{worker_id} on the stream yet: {ui.summary()}"
        assert_that((rows[-1]["vram_mb"], rows[-1]["total_vram_mb"]), equal_to((mib, total)),
                    f"(vram_mb, total_vram_mb) of {worker_id} on the stream")

    holds(on_stream, seconds, f"the stream to show {worker_id} with {mib} MiB of GPU memory")
    telemetry = context.stack.telemetry.worker(hive, worker_id)
    assert_that((telemetry["vram_mb"], telemetry["total_vram_mb"]), equal_to((mib, total)),
                f"(vram_mb, total_vram_mb) of {worker_id} in {hive}'s telemetry")
