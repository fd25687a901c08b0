"""Narration as the client sees it: what is relayed, what is not, and its size."""

from behave import then
from hamcrest import assert_that, empty, equal_to, less_than_or_equal_to

from rbee_bdd.runner.world import StepContext

NOT_NARRATION = ("ordinary log line", "missing the colon", "upper case actor")


@then("none of the worker's ordinary or malformed stdout lines is relayed")
def step_not_relayed(context: StepContext):
    relayed = [e["human"] for e in context.world.jobs.last.stream.narration()
               if any(text in e["human"] for text in NOT_NARRATION)]
    assert_that(relayed, empty(), "narration made of lines that are not narration")


@then("the human text of every narration event is at most {limit:d} characters")
def step_human_size(context: StepContext, limit):
    for event in context.world.jobs.last.stream.narration():
        assert_that(len(event["human"]), less_than_or_equal_to(limit), f"length of {event['human']!r}")


@then("the job's stream tells of its worker's model load, in this order, before its first token:")
def step_load_narrated(context: StepContext):
    events = context.world.jobs.last.stream.events
    first_token = next((n for n, e in enumerate(events) if e.name == "token"), len(events))
    loading = [e.json() for e in events[:first_token] if e.name == "narration"]
    said = [(n["action"], n["human"]) for n in loading
            if n["actor"] == "llm-worker-rbee" and n["action"] in ("model_load", "model_load_progress", "ready")]
    seen = [(action, row["mentioning"] in human) for (action, human), row in zip(said, context.table, strict=False)]
    assert_that((len(said), seen), equal_to((len(context.table.rows), [(r["action"], True) for r in context.table])),
                f"the worker's load narration before the first token: {said}")
