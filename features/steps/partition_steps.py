"""Partitions between queen and a hive, made and healed with iptables in the hive's namespace."""

from behave import then, when
from hamcrest import assert_that, equal_to

from rbee_bdd.waiting import eventually


@when('hive "{hive}" is cut off from queen with {mode}')
def step_cut_off(context, hive, mode):
    context.partition = context.stack.partition_from_queen(hive, mode.lower(), context.cleanup)


@when("the partition heals")
def step_heal(context):
    context.partition.heal()


@then('a new job for model "{model}" is refused with {status:d} and code "{code}"')
@then('a new job for model "{model}" on hive "{hive}" is refused with {status:d} and code "{code}"')  # first
def step_refused(context, model, status, code, hive=None):
    answer = context.stack.queen().post_infer(model, hive)
    assert_that(answer.status_code, equal_to(status), f"status of POST /v1/jobs: {answer.text[:300]} "
                f"(queen's hives: {context.stack.queen().hives()})")
    assert_that(answer.json()["error"]["code"], equal_to(code), f"error of POST /v1/jobs: {answer.text[:300]}")


@then('queen lists hive "{hive}" as available within {seconds:d} seconds')
def step_available_again(context, hive, seconds):
    def available():
        rows = [h for h in context.stack.queen().hives() if h["hive_id"] == hive]
        assert_that([h["available"] for h in rows], equal_to([True]), f"{hive} in queen's hive list")
        return True

    eventually(available, seconds, f"queen to list {hive} as available")


@then("the noted worker stops generating within {seconds:d} seconds")
def step_noted_idle(context, seconds):
    worker = context.noted_worker
    eventually(lambda: worker.ready()["state"] == "ready", seconds, "the noted worker to stop generating")
