"""Attacks that once got through, kept fixed: worker environments, rotation, JWTs, tokens, ownership, bad values."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

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

from rbee_bdd.clients.api import infer_body
from rbee_bdd.clients.credentials import HARNESS_WORKER_ENV, new_token
from rbee_bdd.clients.http import request
from rbee_bdd.clients.load import synthetic_heartbeat
from rbee_bdd.clients.metrics import scrape
from rbee_bdd.clients.security import (
    FORGED_LOG_TEXT,
    authorization,
    places_holding,
    secret_part,
    unpassed_variables,
    unsafe_content,
    value_of,
)
from rbee_bdd.clients.sse import JobStream
from rbee_bdd.core.waiting import eventually, holds
from rbee_bdd.runner.probe import probe
from rbee_bdd.runner.world import StepContext, noted


@then("the environment of the job's worker holds no credential and only the variables the contract passes")
def step_worker_environment(context: StepContext):
    stack = context.stack
    hive, worker_id = stack.job_worker_hive(context.world.jobs.last)
    env = stack.processes.environ(stack.processes.worker(hive, worker_id).pid)
    text = "\n".join(f"{name}={value}" for name, value in env.items())
    secrets = noted(stack.credentials, "credentials").secrets()
    assert_that(places_holding(secrets, {f"the environment of {worker_id}": text}), empty(),
                "credentials in the worker's environment")
    assert_that(unpassed_variables(env, HARNESS_WORKER_ENV), empty(),
                f"variables of {worker_id}'s environment that neither the contract nor --worker-env passes")


@when("the cluster token is replaced by a new one and queen and every hive get SIGHUP")
def step_rotate_cluster(context: StepContext):
    context.world.probe.replaced_token = context.stack.security.replace_cluster_token()


@then("the job's worker takes the new cluster token and refuses the replaced one within {seconds:Seconds}")
def step_worker_rotated(context: StepContext, seconds):
    old, new = noted(context.world.probe.replaced_token, "replaced token")
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
    context.world.probe.replaced_token = context.stack.security.replace_client_token("submit", token)
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


@when("a client sends queen {count:d} requests with made-up HTTP methods")
def step_made_up_methods(context: StepContext, count):
    url = f"{context.stack.queen().url}/v1/hives"
    context.world.probe.made_up_methods = [f"BDD{uuid.uuid4().hex[:8].upper()}" for _ in range(count)]
    for method in context.world.probe.made_up_methods:
        request(method, url)


@then('queen\'s request metrics have no label for a made-up method, and {count:d} requests under "other"')
def step_methods_collapsed(context: StepContext, count):
    samples = scrape(context.stack.queen().url)
    labelled = [name for name in samples for method in context.world.probe.made_up_methods if method in name]
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
    refusals = [r for r in context.stack.security.audit_records("queen") if r["action"] == "auth"]
    assert_that(len(refusals), greater_than(0), "queen's audit records of refusals")
    target = str(refusals[-1]["target"])
    assert_that(target, starts_with("GET /v1/aaaa"), "the refusal's target")
    assert_that(len(target), less_than_or_equal_to(limit), f"characters of the target {target[:80]}…")


# --- job ownership ------------------------------------------------------------------

@given('a job for model "{model}" with {max_tokens:d} max tokens is streaming, submitted with {credential}')
def step_streaming_as(context: StepContext, model, max_tokens, credential):
    sent = authorization(credential, noted(context.stack.credentials, "credentials"))
    job = context.world.jobs.add(context.stack.queen().submit_infer(model, max_tokens=max_tokens,
                                                                    headers={"Authorization": sent}))
    eventually(lambda: job.stream.tokens() or job.stream.ended, 60, f"the first token of {job.job_id}")
    assert_that(job.stream.terminal, equal_to(None), f"{job.job_id} still streaming: {job.stream.summary()}")


JOB_PARTS = {"state": ("GET", ""), "stream": ("GET", "/stream"), "cancel": ("DELETE", "")}


@given('a completed job for model "{model}", submitted with {credential}')
def step_completed_as(context: StepContext, model, credential):
    """Without credentials (a build that does not claim auth) the job is submitted as anyone."""
    credentials = context.stack.credentials
    headers = {"Authorization": authorization(credential, credentials)} if credentials is not None else {}
    job = context.stack.queen().submit_infer(model, max_tokens=8, headers=headers)
    context.world.jobs.add(job).wait_ended_with()


@then("a client with {credential} gets 404 for the job's {parts}")
def step_not_found_for(context: StepContext, credential, parts):
    """*parts*: "state and its stream", "state, its stream and its cancel", …"""
    job = context.world.jobs.last
    base = f"{context.stack.queen().url}/v1/jobs/{job.job_id}"
    asked = [JOB_PARTS[word] for word in parts.replace(",", " ").split() if word in JOB_PARTS]
    assert_that(len(asked), greater_than(0), f"parts of a job named in {parts!r}")
    for method, url in ((method, base + tail) for method, tail in asked):
        answer = probe(context, method, url, credential)
        assert_that((answer.status_code, answer.json()["error"]["code"]), equal_to((404, "JOB_NOT_FOUND")),
                    f"{method} {url.removeprefix(base) or '/v1/jobs/{id}'} with {credential}")
    assert_that(job.stream.terminal, equal_to(None), f"the job after those requests: {job.stream.summary()}")


@then("a client with {credential} sees the job's state")
def step_sees_state(context: StepContext, credential):
    job = context.world.jobs.last
    answer = probe(context, "GET", f"{context.stack.queen().url}/v1/jobs/{job.job_id}", credential)
    assert_that(answer.status_code, equal_to(200), f"GET the job's state with {credential}: {answer.text[:200]}")


@when("a client with {credential} reads the job's stream and leaves")
def step_reads_and_leaves(context: StepContext, credential):
    job = context.world.jobs.last
    sent = authorization(credential, noted(context.stack.credentials, "credentials"))
    visitor = JobStream(f"{context.stack.queen().url}/v1/jobs/{job.job_id}/stream",
                        headers={"Authorization": sent}).start()
    eventually(lambda: visitor.tokens() or visitor.ended, 30, f"a token on {credential}'s reading of the stream")
    visitor.close()
    context.world.observed.tokens_seen = len(job.stream.tokens())


@then("the job's stream goes on: {count:d} more tokens and no end")
def step_goes_on(context: StepContext, count):
    stream = context.world.jobs.last.stream
    wanted = context.world.observed.tokens_seen + count
    eventually(lambda: len(stream.tokens()) >= wanted or stream.ended, 30, f"{count} more tokens on the stream")
    assert_that(stream.terminal, equal_to(None), f"the job's own stream: {stream.summary()}")


@when("the job's own reader leaves")
def step_owner_leaves(context: StepContext):
    context.world.jobs.last.stream.close()


@then('queen reports the job "{state}" within {seconds:Seconds}')
def step_job_state_within(context: StepContext, state, seconds):
    job = context.world.jobs.last
    eventually(lambda: context.stack.queen().job(job.job_id)["state"] == state, seconds,
               f"queen to report {job.job_id} {state}")


# --- credentials under concurrency ---------------------------------------------------

MIXED = {"the read token": (200, ""), "an unknown token": (401, "invalid"), "no token": (401, "missing"),
         "an HS256 JWT with scope read": (200, ""), "an expired JWT": (401, "expired")}


@when("{count:d} clients at once ask queen for its registry, with credentials of every kind in turn")
def step_mixed_credentials(context: StepContext, count):
    credentials = noted(context.stack.credentials, "credentials")
    asked = [(words, authorization(words, credentials)) for words in list(MIXED) * (count // len(MIXED) + 1)][:count]
    url = f"{context.stack.queen().url}/v1/hives"

    def ask(sent: str) -> tuple[int, str]:
        answer = request("GET", url, headers={"Authorization": sent}, timeout=60.0)
        return answer.status_code, answer.json().get("error", {}).get("reason", "") if answer.status_code >= 400 \
            else ""

    with ThreadPoolExecutor(50) as pool:
        got = list(pool.map(ask, [sent for _, sent in asked]))
    context.world.probe.mixed_answers = [(words, answer) for (words, _), answer in zip(asked, got, strict=True)]


@then("each got the answer its own credential calls for")
def step_mixed_right(context: StepContext):
    answers = context.world.probe.mixed_answers
    assert_that(len(answers), greater_than(0), "answers")
    wrong = [(words, got) for words, got in answers if got != MIXED[words]]
    assert_that(wrong, empty(), f"answers that were not the one their credential calls for, of {len(answers)}")


# --- many credentials or values against one stack ------------------------------------

@then("queen refuses a job asked for with each of these credentials with 401, its reason and a Bearer challenge:")
def step_each_refused(context: StepContext):
    credentials = noted(context.stack.credentials, "credentials")
    url = f"{context.stack.queen().url}/v1/jobs"
    seen = []
    for row in noted(context.table, "table"):
        answer = probe(context, "POST", url, row["credential"], json=infer_body("tinyllama", max_tokens=8))
        reason = answer.json().get("error", {}).get("reason") if answer.status_code >= 400 else None
        echoed = secret_part(authorization(row["credential"], credentials)) in answer.text
        challenged = answer.headers.get("WWW-Authenticate", "").startswith("Bearer")
        seen.append((row["credential"], answer.status_code, reason, challenged, echoed))
    wanted = [(row["credential"], 401, row["reason"], True, False) for row in noted(context.table, "table")]
    assert_that(seen, equal_to(wanted), "(credential, status, reason, Bearer challenge, credential echoed)")


@then("queen refuses a heartbeat whose field is set to each of these values with 422 naming the field:")
def step_each_heartbeat_refused(context: StepContext):
    seen = []
    for row in noted(context.table, "table"):
        body = synthetic_heartbeat("hive-bdd-probe", 1, 0) | {row["field"]: value_of(row["value"])}
        answer = probe(context, "POST", f"{context.stack.queen().url}/v1/hive-heartbeat", "the cluster token",
                       json=body)
        error = answer.json().get("error", {})
        seen.append((row["field"], row["value"], answer.status_code, error.get("code"), error.get("field")))
    rows = noted(context.table, "table")
    wanted = [(row["field"], row["value"], 422, "INVALID_REQUEST", row["field"]) for row in rows]
    assert_that(seen, equal_to(wanted), "(field, value, status, code, field named)")
