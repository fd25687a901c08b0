"""Attacks that once got through: what a worker inherits, credential rotation, odd JWT headers, '#' in tokens."""

import json
import uuid

from behave import given, then, when
from hamcrest import (
    assert_that,
    contains_string,
    empty,
    equal_to,
    greater_than,
    has_length,
    less_than_or_equal_to,
    starts_with,
)

from rbee_bdd.credentials import HARNESS_WORKER_ENV, new_token
from rbee_bdd.http import request
from rbee_bdd.load import synthetic_heartbeat
from rbee_bdd.metrics import scrape
from rbee_bdd.probe import probe
from rbee_bdd.security import FORGED_LOG_TEXT, places_holding, unpassed_variables, unsafe_content, value_of
from rbee_bdd.waiting import eventually, holds
from rbee_bdd.world import StepContext, noted, start_stack


@given("a stack with 1 hive given its cluster token and a user's token in its environment")
def step_env_credentials_stack(context: StepContext):
    start_stack(context, 1, hive_credentials_in_env=True)


@then("the environment of the job's worker holds no credential and only the variables the contract passes")
def step_worker_environment(context: StepContext):
    stack = context.stack
    hive, worker_id = stack.job_worker_hive(context.world.jobs.last)
    env = stack.process_environ(stack.worker_process(hive, worker_id).pid)
    text = "\n".join(f"{name}={value}" for name, value in env.items())
    secrets = noted(stack.credentials, "credentials").secrets()
    assert_that(places_holding(secrets, {f"the environment of {worker_id}": text}), empty(),
                "credentials in the worker's environment")
    assert_that(unpassed_variables(env, HARNESS_WORKER_ENV), empty(),
                f"variables of {worker_id}'s environment that neither the contract nor --worker-env passes")


@when("the cluster token is replaced by a new one and queen and every hive get SIGHUP")
def step_rotate_cluster(context: StepContext):
    context.world.replaced_token = context.stack.replace_cluster_token()


@then("the job's worker takes the new cluster token and refuses the replaced one within {seconds:Seconds}")
def step_worker_rotated(context: StepContext, seconds):
    old, new = noted(context.world.replaced_token, "replaced token")
    hive, worker_id = context.stack.job_worker_hive(context.world.jobs.last)
    url = f"{context.stack.worker(hive, worker_id).url}/metrics"

    def answers() -> None:
        seen = (request("GET", url, headers={"Authorization": f"Bearer {new}"}).status_code,
                request("GET", url, headers={"Authorization": f"Bearer {old}"}).status_code)
        assert_that(seen, equal_to((200, 401)), f"{worker_id}'s answers to (the new token, the replaced one)")

    holds(answers, seconds, f"{worker_id} to take the new cluster token and refuse the replaced one")


@given('queen\'s submit token has a "#" in its middle')
def step_hash_token(context: StepContext):
    token = f"{new_token()[:24]}#{new_token()[:16]}"
    context.world.replaced_token = context.stack.replace_client_token("submit", token)
    assert_that(context.stack.client_token("submit"), contains_string("#"), "the submit token in force")


@then("{node:Node}'s log tells of the JWT header in one line, with no traceback and no text of the token's")
def step_log_clean(context: StepContext, node):
    daemon = context.stack.node(node)
    told = eventually(lambda: [line for line in daemon.log_text().splitlines() if "JWT header" in line], 5,
                      f"{node}'s log to tell of the refused JWT header")
    assert_that(told, has_length(1), f"lines of {node}'s log that tell of the JWT header")
    log = daemon.log_text()
    found = [what for what in ("Traceback (most recent call last)", FORGED_LOG_TEXT) if what in log]
    assert_that(found, empty(), f"what {node}'s log holds that it must not")


@then("nothing a client sees of the job holds a filesystem path")
def step_no_paths(context: StepContext):
    job = context.world.jobs.last
    queen = context.stack.queen()
    seen = {
        "the stream's end": job.stream.terminal or "",
        **{f"narration {e['action']}": e["human"] for e in job.stream.narration()},
        "the job's state": json.dumps(queen.job(job.job_id)),
        "queen's workers": json.dumps(queen.workers()),
    }
    assert_that([place for place, text in seen.items() if "a filesystem path" in unsafe_content(text)], empty(),
                f"what clients see of the job that names a path: {seen}")


@when("a hive posts its heartbeat to queen with its {field} set to {value}")
def step_bad_heartbeat(context: StepContext, field, value):
    body = synthetic_heartbeat("hive-bdd-probe", 1, 0) | {field: value_of(value)}
    probe(context, "POST", f"{context.stack.queen().url}/v1/hive-heartbeat", "the cluster token", json=body)


@when("a client sends queen {count:d} requests with made-up HTTP methods")
def step_made_up_methods(context: StepContext, count):
    url = f"{context.stack.queen().url}/v1/hives"
    context.world.made_up_methods = [f"BDD{uuid.uuid4().hex[:8].upper()}" for _ in range(count)]
    for method in context.world.made_up_methods:
        request(method, url)


@then('queen\'s request metrics have no label for a made-up method, and {count:d} requests under "other"')
def step_methods_collapsed(context: StepContext, count):
    samples = scrape(context.stack.queen().url)
    labelled = [name for name in samples for method in context.world.made_up_methods if method in name]
    assert_that(labelled, empty(), "series labelled with a made-up method")
    other = sum(value for name, value in samples.items()
                if name.startswith("rbee_queen_request_seconds_count{") and 'method="other"' in name)
    assert_that(other, equal_to(float(count)), 'requests counted under method="other"')


@when("a client asks queen for a path of {count:d} characters with {credential}")
def step_long_path(context: StepContext, count, credential):
    prefix = "/v1/"
    probe(context, "GET", f"{context.stack.queen().url}{prefix}{'a' * (count - len(prefix))}", credential)


@then('queen\'s audit trail records the refusal with a target of at most {limit:d} characters')
def step_audit_clipped(context: StepContext, limit):
    refusals = [r for r in context.stack.audit_records("queen") if r["action"] == "auth"]
    assert_that(len(refusals), greater_than(0), "queen's audit records of refusals")
    target = str(refusals[-1]["target"])
    assert_that(target, starts_with("GET /v1/aaaa"), "the refusal's target")
    assert_that(len(target), less_than_or_equal_to(limit), f"characters of the target {target[:80]}…")
