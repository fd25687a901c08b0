"""Job flows from outside: cancelling, deadlines, correlation ids, errors reaching the client."""

import re
import time

from behave import given, then, when
from hamcrest import (
    assert_that,
    contains_string,
    equal_to,
    has_item,
    is_not,
    matches_regexp,
    only_contains,
    starts_with,
)

from rbee_bdd.core.bounds import in_bounds
from rbee_bdd.core.waiting import eventually, scaled
from rbee_bdd.runner.world import StepContext

CORRELATION_ID = r"^[A-Za-z0-9._:-]{1,128}$"


def last(context: StepContext):
    return context.world.jobs.last


def remember(context: StepContext, job):
    context.world.jobs.add(job)
    return job


@when('I submit an infer job for model "{model}" with {max_tokens:d} max tokens and a {seconds:d} second deadline')
def step_submit_deadline(context: StepContext, model, max_tokens, seconds):
    remember(context, context.stack.queen().submit_infer(model, max_tokens=max_tokens, timeout_s=seconds))


@when('I submit an infer job for model "{model}" with {max_tokens:d} max tokens, timeout_s {timeout:d} '
      'and a deadline {seconds:d} seconds away')
def step_submit_own_deadline(context: StepContext, model, max_tokens, timeout, seconds):
    deadline_ms = int((time.time() + seconds) * 1000)
    remember(context, context.stack.queen().submit_infer(model, max_tokens=max_tokens, timeout_s=timeout,
                                                         headers={"X-Request-Deadline": str(deadline_ms)}))


@when('I submit an infer job for model "{model}" with correlation id "{cid}"')
def step_submit_cid(context: StepContext, model, cid):
    context.world.probe.sent_cid = cid
    remember(context, context.stack.queen().submit_infer(model, max_tokens=8, headers={"X-Correlation-ID": cid}))


@when('I submit an infer job for model "{model}" without a correlation id')
def step_submit_no_cid(context: StepContext, model):
    context.world.probe.sent_cid = None
    remember(context, context.stack.queen().submit_infer(model, max_tokens=8))


@when("I cancel the job with DELETE")
def step_delete(context: StepContext):
    context.stack.queen().cancel(last(context).job_id)


@when("the job's client disconnects")
def step_disconnect(context: StepContext):
    last(context).stream.close()


def job_worker(context: StepContext):
    worker_id = context.stack.job_worker(last(context))
    assert_that(worker_id, is_not(equal_to("")), "the job's worker")
    hive = next(w["hive_id"] for w in context.stack.queen().workers() if w["worker_id"] == worker_id)
    return hive, worker_id


@given("the job's worker is generating")
def step_generating(context: StepContext):
    hive, worker_id = job_worker(context)
    assert_that(context.stack.worker(hive, worker_id).ready()["state"], equal_to("busy"), f"{worker_id}'s state")


@then("the job's worker stops generating within {seconds:Seconds}")
def step_stops_generating(context: StepContext, seconds):
    hive, worker_id = job_worker(context)
    worker = context.stack.worker(hive, worker_id)
    eventually(lambda: worker.ready()["state"] == "ready", seconds, f"{worker_id} to stop generating")


@then('the job\'s state is "{state}" within {seconds:Seconds}')
def step_job_state(context: StepContext, state, seconds):
    queen = context.stack.queen()
    eventually(lambda: queen.job(last(context).job_id)["state"] == state, seconds, f"the job to be {state}")


@then('the job\'s stream ends with a marker starting "{prefix}" within {seconds:Seconds}')
def step_marker_prefix(context: StepContext, prefix, seconds):
    job = last(context)
    job.stream.wait_ended(scaled(seconds))
    assert_that(job.stream.terminal or "", starts_with(prefix), f"terminal marker: {job.stream.summary()}")


@then('the job\'s stream has narration "{action}" from "{actor}" mentioning "{text}"')
def step_narration_mentioning(context: StepContext, action, actor, text):
    humans = [e["human"] for e in last(context).stream.narration() if (e["actor"], e["action"]) == (actor, action)]
    assert_that(" | ".join(humans), contains_string(text), f"{actor}'s {action} narration")


@then('the job\'s stream has narration "{action}" from "{actor}"')
def step_narration_action(context: StepContext, action, actor):
    seen = [(e["actor"], e["action"]) for e in last(context).stream.narration()]
    assert_that(seen, has_item((actor, action)), "(actor, action) of the narration on the stream")


@then('queen answered with correlation id "{cid}"')
def step_answered_cid(context: StepContext, cid):
    assert_that(last(context).correlation_id, equal_to(cid), "X-Correlation-ID in queen's answer")


@then("queen answered with a well-formed correlation id of its own")
def step_minted(context: StepContext):
    sent_cid = context.world.probe.sent_cid  # None when the job was sent without one
    job = last(context)
    assert_that(job.correlation_id, matches_regexp(CORRELATION_ID), "the minted correlation id")
    assert_that(job.correlation_id, is_not(equal_to(sent_cid)), "the minted id vs. the one sent")


@then("every narration event on the job's stream carries queen's correlation id")
def step_narration_cid(context: StepContext):
    job = last(context)
    ids = [e["correlation_id"] for e in job.stream.narration()]
    assert_that(ids, only_contains(job.correlation_id), "correlation ids on the narration events")


@then("the job's worker process has queen's correlation id as CORRELATION_ID")
def step_worker_env(context: StepContext):
    hive, worker_id = job_worker(context)
    environ = context.stack.processes.environ(context.stack.processes.worker(hive, worker_id).pid)
    assert_that(environ.get("CORRELATION_ID"), equal_to(last(context).correlation_id), f"{worker_id}'s environment")


@then('the logs of queen and hive "{hive}" and its worker mention queen\'s correlation id')
def step_logs_cid(context: StepContext, hive):
    cid = last(context).correlation_id
    queen_log = context.stack.node("queen").log_tail(500)
    hive_log = context.stack.node(hive).log_tail(500)
    assert_that(queen_log, contains_string(f"correlation_id={cid}"), "queen's log")
    hive_own = [line for line in hive_log.splitlines() if "spawned" in line]
    worker_lines = [line for line in hive_log.splitlines() if re.search(r"worker-\S+ stderr:", line)]
    assert_that(" ".join(hive_own), contains_string(cid), "the hive's own log lines for the job")
    assert_that(" ".join(worker_lines), contains_string(cid), "the worker's log lines (captured by the hive)")


SINCE = {  # what a bound counts from → when it happened (time.monotonic())
    "it was submitted": lambda context: last(context).submitted_at,
    "the SIGTERM": lambda context: context.world.faults.sigterm_at,
    "the worker was paused": lambda context: context.world.workers.paused_at,
}


@then('the job\'s stream ends with a marker starting "{prefix}" between {low:g} and {high:g} seconds after {since}')
def step_marker_between(context: StepContext, prefix, low, high, since):
    assert since in SINCE, f"a bound counts from one of {sorted(SINCE)}, not {since!r}"
    job = last(context)
    job.stream.wait_ended(scaled(high) + 5)
    assert_that(job.stream.terminal or "", starts_with(prefix), f"terminal marker: {job.stream.summary()}")
    took = job.stream.events[-1].at - SINCE[since](context)  # when the marker arrived
    assert_that(took, in_bounds(low, high), f"seconds from {since} to {job.job_id}'s marker")
