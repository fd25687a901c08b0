"""Narration as the client sees it: what is relayed, what is not, and its size."""

from behave import then
from hamcrest import assert_that, empty, less_than_or_equal_to

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
