"""Acting on the stack's real processes: kill, stop, start, restart; bad requests to the daemons."""

import secrets
import signal
import time

from behave import then, when
from hamcrest import assert_that, contains_string, equal_to, has_entries, has_key

from rbee_bdd.core.waiting import eventually
from rbee_bdd.runner.world import StepContext, noted


@when("the job's worker is killed with {sig}")
def step_kill_worker(context: StepContext, sig):
    hive, worker_id = context.stack.job_worker_hive(context.world.jobs.last)
    context.stack.faults.kill_worker(hive, worker_id, signal.Signals[sig])


@when("{node:Node} is stopped")
def step_stop(context: StepContext, node):
    # the node may fall silent as soon as it is told to stop: the stop's start is when its silence may begin
    context.world.faults.stopped_at[node] = time.monotonic()
    context.stack.node(node).stop(timeout=20)


@when("{node:Node} is started again")
def step_start(context: StepContext, node):
    context.stack.node(node).start()


@when("{node:Node} restarts")
def step_restart(context: StepContext, node):
    context.world.workers.before_restart = {w["worker_id"] for w in context.stack.queen().workers()}
    target = context.stack.node(node)
    target.stop(timeout=20)
    target.start()


@when('the rbee-hive process of hive "{hive}" is killed with SIGKILL and comes back')
def step_crash_recover(context: StepContext, hive):
    context.world.workers.before_restart = {w["worker_id"] for w in context.stack.queen().workers()}
    context.stack.node(hive).crash_and_recover()


@when("{node:Node} is killed with SIGKILL")
def step_crash(context: StepContext, node):
    context.stack.node(node).kill(signal.SIGKILL)


@then('hive "{hive}" still answers and spawns a ready worker for "{model}"')
def step_hive_serves(context: StepContext, hive, model):
    client = context.stack.hive(hive)
    answer = client.spawn(model)
    assert_that(answer.status_code, equal_to(201), f"spawn answer: {answer.text}")
    worker_id = answer.json()["worker_id"]
    eventually(lambda: client.worker(worker_id)["state"] == "ready", 30, f"{worker_id} to be ready")


@then('{name:Node}\'s log says "{text}" within {seconds:Seconds}')
def step_node_log(context: StepContext, name, text, seconds):
    node = context.stack.node(name)
    eventually(lambda: text in node.log_tail(200), seconds, f"{name}'s log to say {text!r}")


@when("a heartbeat missing its hive_id is posted to queen")
def step_bad_heartbeat(context: StepContext):
    context.world.probe.answer = context.stack.queen().post_heartbeat({"url": "http://nowhere:1", "workers": []})


@when('I ask hive "{hive}" to spawn a worker for "{model}" with CPU limit "{limit}"')
def step_bad_limit(context: StepContext, hive, model, limit):
    context.world.probe.answer = context.stack.hive(hive).spawn(model, cpu_limit=limit)


@then('the answer is {status:d} with code "{code}" naming "{text}"')
def step_answer(context: StepContext, status, code, text):
    answer = noted(context.world.probe.answer, "answer")
    assert_that(answer.status_code, equal_to(status), f"status of {answer.request.url}: {answer.text}")
    assert_that(answer.json()["error"], has_entries(code=code), "error body")
    assert_that(answer.json()["error"]["message"], contains_string(text), "error message")


CLAIMED_URL = "http://127.0.0.1:9"  # the other instance's address: queen's own loopback, where nothing listens


@when('another hive instance sends queen a heartbeat as "{hive}"')
def step_other_instance(context: StepContext, hive):
    body = {"hive_id": hive, "instance_id": secrets.token_hex(8), "url": CLAIMED_URL, "protocol": "1.1",
            "workers": []}
    context.world.probe.answer = context.stack.queen().post_heartbeat(body)


@then('queen lists hive "{hive}" as available at {whose} address')
def step_listed_at(context: StepContext, hive, whose):
    assert whose in ("its own", "the other instance's"), "whose address: 'its own' or 'the other instance's'"
    listed = {h["hive_id"]: h for h in context.stack.queen().hives()}
    assert_that(listed, has_key(hive), "hives queen lists")
    at_claimed = listed[hive]["url"].rstrip("/") == CLAIMED_URL
    assert_that((listed[hive]["available"], at_claimed), equal_to((True, whose != "its own")),
                f"(available, at {CLAIMED_URL}) of {hive} as queen lists it: {listed[hive]}")
