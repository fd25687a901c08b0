"""Attacks that once got through: what a worker inherits, credential rotation, odd JWT headers, '#' in tokens."""

from behave import given, then, when
from hamcrest import assert_that, contains_string, empty, equal_to, has_length

from rbee_bdd.credentials import HARNESS_WORKER_ENV, new_token
from rbee_bdd.http import request
from rbee_bdd.security import FORGED_LOG_TEXT, places_holding, unpassed_variables
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
