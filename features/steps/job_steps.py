"""Submitting infer jobs to queen and checking what their SSE streams carried."""

from behave import given, then, when
from hamcrest import (
    assert_that,
    contains_exactly,
    equal_to,
    greater_than,
    has_item,
    has_length,
    is_not,
    less_than,
    not_none,
    only_contains,
)

from rbee_bdd.core.waiting import eventually, holds
from rbee_bdd.runner.world import StepContext

SETUP_TIMEOUT_S = 120  # a job made to warm a worker up: its cold start must not meet a scenario's short default


def submit(context: StepContext, model, max_tokens=16, seed=None, hive=None, timeout_s=None):
    job = context.stack.queen().submit_infer(model, max_tokens=max_tokens, seed=seed, hive_id=hive,
                                             timeout_s=timeout_s)
    context.world.jobs.add(job)
    return job


@given('a completed job for model "{model}" on hive "{hive}"')
def step_completed_job_on(context: StepContext, model, hive):
    submit(context, model, hive=hive, timeout_s=SETUP_TIMEOUT_S).wait_ended_with()


@given('a completed job for model "{model}"')  # after the longer form, which it would also match
def step_completed_job(context: StepContext, model):
    submit(context, model, timeout_s=SETUP_TIMEOUT_S).wait_ended_with()


@given('a job for model "{model}" with {max_tokens:d} max tokens is streaming on hive "{hive}"')
def step_streaming_on(context: StepContext, model, max_tokens, hive):
    job = submit(context, model, max_tokens, hive=hive)
    eventually(lambda: job.stream.tokens() or job.stream.ended, 60, f"the first token of {job.job_id}")
    assert_that(job.stream.terminal, equal_to(None), f"{job.job_id} still streaming: {job.stream.summary()}")


@then('a job for model "{model}" completes')
def step_a_job_completes(context: StepContext, model):
    submit(context, model, max_tokens=8).wait_ended_with()


@then("it ran on a worker queen knew before the restart")
def step_same_as_before(context: StepContext):
    worker_id = context.stack.job_worker(context.world.jobs.last)
    before = sorted(context.world.workers.before_restart)
    assert_that(before, has_item(worker_id), "workers before the restart vs. the job's")


@when('I submit an infer job for model "{model}" with {max_tokens:d} max tokens')
def step_submit(context: StepContext, model, max_tokens):
    submit(context, model, max_tokens)


@when('I submit an infer job for model "{model}" with {max_tokens:d} max tokens and seed {seed:d}')
def step_submit_seeded(context: StepContext, model, max_tokens, seed):
    submit(context, model, max_tokens, seed)


@when("it completes")
def step_it_completes(context: StepContext):
    context.world.jobs.last.wait_ended_with()


@when("I submit the same infer job again and it completes")
def step_submit_same(context: StepContext):
    first = context.world.jobs.last.request
    submit(context, first["model"], first["max_tokens"], first.get("seed")).wait_ended_with()


@then('the job\'s stream ends with "{marker}" within {seconds:Seconds}')
def step_stream_ends(context: StepContext, marker, seconds):
    job = context.world.jobs.last
    job.wait_ended_with(marker, seconds)


@then("every stream's token indexes increase strictly from 0")
def step_indexes(context: StepContext):
    for job in context.world.jobs.submitted:
        indexes = [t["i"] for t in job.stream.tokens()]
        assert_that(indexes, has_length(greater_than(0)), f"tokens of {job.job_id}")
        assert_that(indexes, equal_to(list(range(len(indexes)))), f"token indexes of {job.job_id}")


@then("the last two completions are identical")
def step_identical(context: StepContext):
    first, second = (j.stream.text() for j in context.world.jobs.last_two())
    assert_that(second, equal_to(first), "completion of the repeated request")


@then("the last two completions differ")
def step_differ(context: StepContext):
    first, second = (j.stream.text() for j in context.world.jobs.last_two())
    assert_that(second, is_not(equal_to(first)), "completions for different seeds")


@then("the job ran on the same worker as the previous job")
def step_same_worker(context: StepContext):
    queen = context.stack.queen()
    previous, last = (queen.job(j.job_id)["worker_id"] for j in context.world.jobs.last_two())
    assert_that(last, equal_to(previous), "worker of the warm job vs. the cold job")


@then("the job's first token came sooner than the previous job's")
def step_sooner(context: StepContext):
    previous, last = (j.stream.first_token_after(j.submitted_at) for j in context.world.jobs.last_two())
    assert_that(previous, not_none(), "first-token latency of the previous job")
    assert_that(last, not_none(), "first-token latency of the last job")
    assert_that(last, less_than(previous), f"warm first token ({last:.3f} s) vs. cold ({previous:.3f} s)")


@then('the job\'s stream has narration from "{a}", "{b}" and "{c}"')
def step_narration_from(context: StepContext, a, b, c):
    actors = sorted({str(event["actor"]) for event in context.world.jobs.last.stream.narration()})
    for actor in (a, b, c):
        assert_that(actors, has_item(actor), "actors that narrated on the stream")


@then("every narration event on the job's stream carries the job's id")
def step_narration_job_id(context: StepContext):
    job = context.world.jobs.last
    ids = [event["job_id"] for event in job.stream.narration()]
    assert_that(ids, has_length(greater_than(0)), "narration events on the stream")
    assert_that(ids, only_contains(job.job_id), "job ids carried by the narration events")


@then("the job's worker is idle again within {seconds:Seconds}")
def step_idle_again(context: StepContext, seconds):
    queen = context.stack.queen()
    worker_id = context.stack.job_worker(context.world.jobs.last)

    def idle():
        rows = [w for w in queen.workers() if w["worker_id"] == worker_id]
        assert_that([w["idle"] for w in rows], contains_exactly(True), f"idle flag of {worker_id} at queen")

    holds(idle, seconds, f"{worker_id} to be idle again")


@then("the job's stream has exactly {count:d} tokens, or fewer with the worker saying why")
def step_exact_tokens(context: StepContext, count):
    stream = context.world.jobs.last.stream
    said = [e["human"] for e in stream.narration() if e["action"] == "infer_complete"]
    early = ("the model ended the sequence", "the model's context is full")
    expected = len(stream.tokens()) if any(why in text for text in said for why in early) else count
    assert_that(len(stream.tokens()), equal_to(expected), f"tokens on the stream (max_tokens {count}); worker: {said}")
    assert_that(len(stream.tokens()), less_than(count + 1), "never more than max_tokens")
