"""Telemetry as queen and the UI see it: heartbeats, ProcessStats, registry, capabilities."""

import itertools
import time

from behave import given, then, when
from hamcrest import (
    assert_that,
    contains_string,
    equal_to,
    greater_than,
    greater_than_or_equal_to,
    has_entries,
    has_length,
    is_in,
    less_than_or_equal_to,
)

from rbee_bdd.clients.load import HeartbeatFlood
from rbee_bdd.clients.slow_consumers import open_stalled_reader
from rbee_bdd.core import timeline
from rbee_bdd.core.bounds import in_bounds
from rbee_bdd.core.waiting import eventually, holds
from rbee_bdd.runner.world import StepContext, noted


@when("another hive sends heartbeats of {workers:Workers} {rate:d} times a second for up to {seconds:Seconds}")
def step_flood(context: StepContext, workers, rate, seconds):
    context.world.faults.flood = HeartbeatFlood(context.stack.queen().url, "synthetic-hive", workers, rate, seconds,
                                         context.stack.cluster_token)
    noted(context.world.faults.flood, "flood").start(context.cleanup)


@given("I watch queen's heartbeat stream")
def step_watch(context: StepContext):
    context.world.observed.ui = context.stack.telemetry.watch_heartbeats(context.cleanup)


def wait_process(context: StepContext, model, seconds, condition, what):
    ui = noted(context.world.observed.ui, "ui")
    def seen():
        process = ui.latest_process(model)
        assert process is not None, f"no {model} worker on the stream yet ({ui.summary()})"
        condition(process)
        return process

    return eventually(seen, seconds, what)


@then('the heartbeat stream shows a "{model}" worker with a pid and memory in use within {seconds:Seconds}')
def step_stream_shows_worker(context: StepContext, model, seconds):
    def check(process):
        assert_that(process["pid"], greater_than(0), "pid on the stream")
        assert_that(process["rss_mb"], greater_than(0), "rss_mb on the stream")

    process = wait_process(context, model, seconds, check, f"a {model} worker on the UI stream")
    context.world.workers.ui_pid = int(process["pid"])


@then('that pid is the worker\'s in hive "{hive}"\'s process table')
def step_pid_is_real(context: StepContext, hive):
    rows = context.stack.processes.workers(hive)
    assert_that(context.world.workers.ui_pid, is_in([row.node_pid for row in rows]),
                f"pids of {hive}'s worker processes: {rows}")


@then('the heartbeat stream shows the "{model}" worker using more than {pct:d}% CPU within {seconds:Seconds}')
def step_stream_shows_cpu(context: StepContext, model, pct, seconds):
    def check(process):
        assert_that(process["cpu_pct"], greater_than(pct), f"cpu_pct of the {model} worker")

    wait_process(context, model, seconds, check, f"the {model} worker to show CPU use")


def worker_dropped(context: StepContext, seconds):
    """Wait until queen no longer lists the last job's worker; returns when it saw it gone."""
    worker_id = context.stack.job_worker(context.world.jobs.last)

    def gone():
        listed = [w["worker_id"] for w in context.stack.queen().workers()]
        assert_that(worker_id in listed, equal_to(False), f"{worker_id} among the workers queen lists: {listed}")

    holds(gone, seconds, f"queen to drop {worker_id}", interval=0.05)
    return time.monotonic()


@then("queen no longer lists the job's worker within {seconds:Seconds}")
def step_gone(context: StepContext, seconds):
    worker_dropped(context, seconds)


@then("queen stops listing the job's worker between {low:g} and {high:g} seconds after the job ended")
def step_gone_between(context: StepContext, low, high):
    ended_at = context.world.jobs.last.stream.events[-1].at
    after = worker_dropped(context, high + 1) - ended_at
    assert_that(after, in_bounds(low, high),
                "seconds from the job's end until queen no longer listed its worker")


@then('hive "{hive}" reports the job\'s worker ended "{how}"')
def step_hive_reports_exit(context: StepContext, hive, how):
    worker_id = context.stack.job_worker(context.world.jobs.last)
    worker = context.stack.hive(hive).worker(worker_id)
    assert_that(worker["state"], equal_to("failed"), f"state of {worker_id}: {worker}")
    assert_that(worker["error"] or "", contains_string(how), f"error of {worker_id}")


@then("queen's worker queries answer")
def step_queries(context: StepContext):
    queen = context.stack.queen()
    for row in context.table:
        params = dict(part.split("=", 1) for part in row["query"].split("&"))
        expected = sorted(filter(None, (w.strip() for w in row["workers"].split(","))))
        seen = sorted(f"{w['hive_id']}:{w['model']}" for w in queen.workers(**params))
        assert_that(seen, equal_to(expected), f"GET /v1/workers?{row['query']}")


@then('queen marks hive "{hive}" unavailable between {low:g} and {high:g} seconds after it went silent')
def step_unavailable(context: StepContext, hive, low, high):
    silent_at = timeline.last_fault_at()
    assert silent_at is not None, "no fault was injected: nothing made the hive go silent"

    def unavailable():
        rows = [h for h in context.stack.queen().hives() if h["hive_id"] == hive]
        assert_that(rows, has_length(1), f"{hive} in queen's hive list")
        assert_that(rows[0]["available"], equal_to(False), f"{hive} availability")

    holds(unavailable, high + 1, f"queen to mark {hive} unavailable", interval=0.05)
    after = time.monotonic() - silent_at
    assert_that(after, in_bounds(low, high),
                f"seconds from the last fault ({hive} going silent) until queen marked it unavailable")


@then('queen forgets hive "{hive}" within {seconds:Seconds}')
def step_forgets(context: StepContext, hive, seconds):
    def forgotten():
        listed = [h["hive_id"] for h in context.stack.queen().hives()]
        assert_that(hive in listed, equal_to(False), f"{hive} among the hives queen lists: {listed}")

    holds(forgotten, seconds, f"queen to forget {hive}")


@when('nvidia-smi on hive "{hive}" hangs')
def step_smi_hangs(context: StepContext, hive):
    context.stack.node(hive).write_gpu_state({"mode": "hang"})


@then('the next {count:d} heartbeats of hive "{hive}" come at most {gap:g} seconds apart')
def step_rhythm(context: StepContext, count, hive, gap):
    ui = noted(context.world.observed.ui, "ui")
    since = time.monotonic()
    eventually(lambda: len(ui.heartbeat_times(hive, since)) >= count, count * gap + 2,
               f"{count} heartbeats of {hive}")
    times = [since, *ui.heartbeat_times(hive, since)[:count]]
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(times)]
    assert_that(max(gaps), less_than_or_equal_to(gap), f"gaps between {hive}'s heartbeats: {gaps}")


@then('hive "{hive}" reports the GPU status "{text}" within {seconds:Seconds}')
def step_gpu_status(context: StepContext, hive, text, seconds):
    def status():
        gpu = context.stack.hive(hive).capabilities()["gpu"]
        assert_that(gpu["status"], contains_string(text), f"{hive}'s GPU status")

    holds(status, seconds, f"{hive}'s GPU status to say {text!r}")


@then('hive "{hive}" reports cgroups as degraded because they are not writable')
def step_degraded(context: StepContext, hive):
    cgroups = context.stack.hive(hive).capabilities()["cgroups"]
    assert_that(cgroups, has_entries(enabled=False, degraded=True), f"{hive}'s cgroup capability")
    assert_that(cgroups["reason"], contains_string("not writable"), f"{hive}'s reason")


@then('hive "{hive}" reports cgroups as enabled')
def step_enabled(context: StepContext, hive):
    cgroups = context.stack.hive(hive).capabilities()["cgroups"]
    assert_that(cgroups, has_entries(enabled=True, degraded=False), f"{hive}'s cgroup capability")


@when('I spawn a worker for "{model}" on hive "{hive}" with CPU limit "{cpu}" and memory limit "{memory}"')
def step_spawn_limited(context: StepContext, model, hive, cpu, memory):
    answer = context.stack.hive(hive).spawn(model, cpu_limit=cpu, memory_limit=memory)
    assert_that(answer.status_code, equal_to(201), f"spawn answer: {answer.text}")
    context.world.workers.spawned_one = (hive, answer.json()["worker_id"])


@then("the worker's process runs in a cgroup with a CPU quota of {quota:d} per {period:d} µs and {mib:d} MiB of memory")
def step_cgroup_limits(context: StepContext, quota, period, mib):
    spawned_worker = noted(context.world.workers.spawned_one, "spawned_worker")
    hive, worker_id = spawned_worker
    limits = context.stack.processes.worker_cgroup_limits(hive, worker_id)
    assert_that(limits, equal_to({"cpu_quota_us": quota, "cpu_period_us": period, "memory_bytes": mib * 1024 * 1024}),
                f"limits of {worker_id}'s cgroup, read from the host")


@then('queen lists hive "{hive}" as available')
def step_hive_available(context: StepContext, hive):
    rows = [h for h in context.stack.queen().hives() if h["hive_id"] == hive]
    assert_that([h["available"] for h in rows], equal_to([True]), f"{hive} in queen's hive list")


@given("a UI subscriber that never reads")
def step_stalled(context: StepContext):
    url = context.stack.queen().url + "/v1/heartbeats/stream"
    context.world.observed.stalled_subscriber = open_stalled_reader(url, context.cleanup)
    eventually(lambda: context.stack.queen().ui_subscribers() >= 2, 5, "queen to count both UI subscribers")


@then("queen drops the subscriber that never reads within {seconds:Seconds}")
def step_dropped(context: StepContext, seconds):
    eventually(lambda: context.stack.queen().ui_subscribers() == 1, seconds, "queen to drop the stalled subscriber")


@then('meanwhile the watching stream got hive "{hive}"\'s heartbeats at least every {gap:g} seconds')
def step_watcher_rhythm(context: StepContext, hive, gap):
    ui = noted(context.world.observed.ui, "ui")
    # the drop can come within a second of the flood's start: give the watcher 3 beats to compare
    eventually(lambda: len(ui.heartbeat_times(hive)) > 2, 5, f"3 heartbeats of {hive} on the watcher")
    times = ui.heartbeat_times(hive)
    assert_that(len(times), greater_than(2), f"heartbeats the watcher got: {ui.summary()}")
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(times)]
    assert_that(max(gaps), less_than_or_equal_to(gap), f"gaps between {hive}'s heartbeats on the watching stream: "
                                                      f"{gaps}")
    assert_that(ui.failure, equal_to(None), "the watching stream's own end")


@then('queen forgets hive "{hive}" between {low:g} and {high:g} seconds after it was stopped')
def step_forgets_between(context: StepContext, hive, low, high):
    step_forgets(context, hive, high)
    after = time.monotonic() - context.world.faults.stopped_at[hive]
    assert_that(after, greater_than(low), f"seconds from {hive}'s stop until queen forgot it")


@then('the heartbeat stream told of hive "{hive}" becoming unavailable, then removed')
def step_ui_hive_events(context: StepContext, hive):
    ui = noted(context.world.observed.ui, "ui")

    def told():  # the event may still be on its way when queen's list already shows the removal
        names = [e.name for e in list(ui.events) if e.name in ("hive_unavailable", "hive_removed")
                 and e.json().get("hive_id") == hive]
        assert_that(names, equal_to(["hive_unavailable", "hive_removed"]), f"UI events about {hive}")

    holds(told, 5, f"the UI stream to tell of {hive}'s removal")


@then('hive "{hive}"\'s telemetry of the job\'s worker agrees with what the kernel says of its process')
def step_telemetry_is_kernel(context: StepContext, hive):
    job = context.world.jobs.last
    worker_id = context.stack.job_worker(job)
    row = context.stack.processes.worker(hive, worker_id)
    stats, kernel = context.stack.telemetry.worker(hive, worker_id), context.stack.telemetry.kernel_view(row.pid)
    identity = {"pid": row.node_pid, "group": "llm", "instance": worker_id, "model": job.request["model"]}
    assert_that(stats, has_entries(identity), "the worker's identity in the telemetry")
    assert_that(abs(stats["rss_mb"] - kernel["rss_mb"]), less_than_or_equal_to(max(4.0, 0.1 * kernel["rss_mb"])),
                f"rss_mb {stats['rss_mb']} vs the kernel's {kernel['rss_mb']:.1f} MiB")
    assert_that(abs(stats["uptime_s"] - kernel["uptime_s"]), less_than_or_equal_to(3.0),
                f"uptime_s {stats['uptime_s']} vs the kernel's {kernel['uptime_s']:.1f} s")
    assert_that(min(stats["cpu_pct"], stats["io_r_mb_s"], stats["io_w_mb_s"]), greater_than_or_equal_to(0), str(stats))



