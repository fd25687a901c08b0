"""Heartbeats of hives that speak another protocol version, posted as such a hive would."""

from behave import then, when
from hamcrest import assert_that, contains_string, equal_to, has_entries, has_length, matches_regexp

from rbee_bdd.runner.world import StepContext, noted

# where the posed hive says it listens: loopback's discard port, so nothing could ever reach a worker there
NOWHERE = "http://127.0.0.1:9"


def skew_heartbeat(hive, protocol, worker_model, models):
    worker = {"worker_id": f"{hive}-worker-1", "model": worker_model, "port": 9, "state": "ready"}
    return {"hive_id": hive, "url": NOWHERE, "protocol": protocol, "version": f"{protocol}.7-posed",
            "models": models, "workers": [worker]}


@when('a hive "{hive}" speaking protocol {protocol} reports a ready "{model}" worker')
def step_skew_hive(context: StepContext, hive, protocol, model):
    context.world.probe.answer = context.stack.queen().post_heartbeat(skew_heartbeat(hive, protocol, model, [model]))


@when('a hive "{hive}" speaking protocol {protocol} reports a ready "{model}" worker and model "{other}"')
def step_skew_hive_models(context: StepContext, hive, protocol, model, other):
    body = skew_heartbeat(hive, protocol, model, [model, other])
    context.world.probe.answer = context.stack.queen().post_heartbeat(body)


@then("queen answered the heartbeat with {status:d}")
def step_heartbeat_answer(context: StepContext, status):
    answer = noted(context.world.probe.answer, "answer")
    assert_that(answer.status_code, equal_to(status), f"queen's answer to the heartbeat: {answer.text[:300]}")


@then('queen answered the heartbeat with {status:d} "{code}" naming protocols {protocol} and the one queen speaks')
def step_heartbeat_refused(context: StepContext, status, code, protocol):
    answer = noted(context.world.probe.answer, "answer")
    error = answer.json().get("error", {})
    assert_that((answer.status_code, error.get("code")), equal_to((status, code)), f"answer: {answer.text[:300]}")
    ours = context.stack.queen().hives()[0]["queen_protocol"]
    assert_that(error.get("message", ""), contains_string(f"protocol {protocol}"), "the refusal's message")
    assert_that(error.get("message", ""), contains_string(f"speaks {ours}"), "the refusal's message")


def hive_row(context: StepContext, hive):
    rows = [h for h in context.stack.queen().hives() if h["hive_id"] == hive]
    assert_that(rows, has_length(1), f"rows of {hive} in queen's /v1/hives")
    return rows[0]


@then('queen lists hive "{hive}" with the protocol queen speaks and a version')
def step_hive_protocol(context: StepContext, hive):
    row = hive_row(context, hive)
    assert_that(row, has_entries(protocol=row.get("queen_protocol"), state="serving"), f"queen's row of {hive}")
    assert_that(row.get("version", ""), matches_regexp(r"^\d+\.\d+"), f"{hive}'s version")
    assert_that(row["protocol"], matches_regexp(r"^\d+\.\d+$"), f"{hive}'s protocol")


@then('queen lists hive "{hive}" as "{state}", speaking protocol {protocol}')
def step_hive_state(context: StepContext, hive, state, protocol):
    assert_that(hive_row(context, hive), has_entries(state=state, protocol=protocol), f"queen's row of {hive}")


@then('queen lists the "{model}" worker of hive "{hive}"')
def step_lists_worker(context: StepContext, model, hive):
    assert_that(context.stack.queen().workers(model=model, hive=hive), has_length(1), f"{model} workers of {hive}")


@then('queen lists no worker of hive "{hive}"')
def step_lists_no_worker(context: StepContext, hive):
    assert_that(context.stack.queen().workers(hive=hive), has_length(0), f"workers queen lists of {hive}")


@then('a job for model "{model}" runs on hive "{hive}"')
def step_job_on_hive(context: StepContext, model, hive):
    job = context.stack.queen().submit_infer(model, max_tokens=8).wait_ended_with("[DONE]", 60)
    context.world.jobs.add(job)
    ran_on, worker_id = context.stack.job_worker_hive(job)
    assert_that(ran_on, equal_to(hive), f"the hive of {worker_id}, the worker the job ran on")
