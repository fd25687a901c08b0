"""Many jobs at once: they all finish, keep their own tokens, and get workers in turn."""

from behave import then, when
from hamcrest import assert_that, equal_to, has_length

from rbee_bdd.core.waiting import scaled
from rbee_bdd.runner.world import StepContext

ASSIGNED = ("worker_found", "worker_spawn_request")


@when('I submit {count:d} infer jobs for model "{model}" at once, each with {max_tokens:d} max tokens and its own seed')
def step_many(context: StepContext, count, model, max_tokens):
    queen = context.stack.queen()
    context.world.jobs.add_batch([queen.submit_infer(model, max_tokens=max_tokens, seed=100 + i) for i in range(count)])


@then("all {count:d} jobs' streams end with \"{marker}\" within {seconds:Seconds}")
def step_all_end(context: StepContext, count, marker, seconds):
    assert_that(context.world.jobs.batch, has_length(count), "jobs submitted")
    for job in context.world.jobs.batch:
        job.wait_ended_with(marker, seconds)


@then("each job's tokens equal the completion its seed gives when run alone")
def step_own_tokens(context: StepContext):
    queen = context.stack.queen()
    for job in context.world.jobs.batch:
        alone = queen.submit_infer(job.request["model"], max_tokens=job.request["max_tokens"], seed=job.request["seed"])
        alone.stream.wait_ended(scaled(30))
        assert_that(job.stream.text(), equal_to(alone.stream.text()), f"tokens of {job.job_id} (seed "
                                                                       f"{job.request['seed']}) vs. the seed alone")


@then("the jobs got their workers in the order they were submitted")
def step_fifo(context: StepContext):
    assigned = []
    for job in context.world.jobs.batch:
        times = [e["emitted_at_ms"] for e in job.stream.narration()
                 if e["actor"] == "queen-rbee" and e["action"] in ASSIGNED]
        assert_that(times, has_length(1), f"worker assignments narrated for {job.job_id}")
        assigned.append(times[0])
    assert_that(assigned, equal_to(sorted(assigned)), "times at which the jobs, in submission order, got a worker")
