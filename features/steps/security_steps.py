"""Security: who may call the daemons, what leaks, what bad input does, the audit trail."""

import json
import subprocess

from behave import then, when
from hamcrest import (
    assert_that,
    contains_string,
    empty,
    equal_to,
    greater_than,
    greater_than_or_equal_to,
    has_entries,
    has_item,
    has_length,
    starts_with,
)

from rbee_bdd.clients.api import infer_body
from rbee_bdd.clients.load import synthetic_heartbeat
from rbee_bdd.clients.metrics import scrape
from rbee_bdd.clients.security import (
    places_holding,
    request_body,
    secret_part,
    tamper,
    tamper_trail,
    unsafe_content,
    value_of,
)
from rbee_bdd.clients.sse import JobStream
from rbee_bdd.core.waiting import scaled
from rbee_bdd.runner.probe import probe
from rbee_bdd.runner.world import StepContext, noted


def answer_error(context: StepContext):
    answer = noted(context.world.probe.answer, "answer")
    return answer.json()["error"]


# --- authentication -----------------------------------------------------------------

@when("a client asks queen for a job with {credential}")
def step_job_with(context: StepContext, credential):
    probe(context, "POST", f"{context.stack.queen().url}/v1/jobs", credential,
          json=infer_body("tinyllama", max_tokens=8))


@then('{who} answers {status:d} with reason "{reason}" and a Bearer challenge')
def step_refused_challenge(context: StepContext, who, status, reason):
    answer = noted(context.world.probe.answer, "answer")
    step_refused(context, who, status, reason)
    challenge = answer.headers.get("WWW-Authenticate", "")
    assert_that(challenge, starts_with("Bearer"), "the WWW-Authenticate header")


def answered(context: StepContext, who, status, **error):
    """The last probe's answer had *status* and an error body with the *error* fields."""
    answer = noted(context.world.probe.answer, "answer")
    assert_that(answer.status_code, equal_to(status), f"status {who} answered: {answer.text[:300]}")
    assert_that(answer_error(context), has_entries(**error), f"the error body of {who}")


@then('{who} answers {status:d} with reason "{reason}"')
def step_refused(context: StepContext, who, status, reason):
    answered(context, who, status, reason=reason)


@then("the answer does not echo the credential")
def step_no_echo(context: StepContext):
    secret = secret_part(context.world.probe.sent_authorization)
    leaks = places_holding([secret], {"the answer's body": noted(context.world.probe.answer, "answer").text,
                                      "the answer's headers": str(dict(noted(context.world.probe.answer,
                                                                               "answer").headers))})
    assert_that(leaks, empty(), "places holding the credential sent")


@then("queen has taken {count:Jobs}")
def step_jobs_taken(context: StepContext, count):
    samples = scrape(context.stack.queen().url)
    assert_that(samples["rbee_queen_jobs_retained"], equal_to(float(count)), "jobs queen holds")


@then("queen has taken no job")
def step_no_job(context: StepContext):
    samples = scrape(context.stack.queen().url)
    taken = {name: samples[name] for name in ("rbee_queen_jobs_retained", "rbee_queen_jobs_active")}
    assert_that(taken, equal_to({"rbee_queen_jobs_retained": 0.0, "rbee_queen_jobs_active": 0.0}),
                "queen's job gauges")


@then('queen accepts the job and its stream ends with "{marker}" within {seconds:Seconds}')
def step_accepted_runs(context: StepContext, marker, seconds):
    answer = noted(context.world.probe.answer, "answer")
    assert_that(answer.status_code, equal_to(201), f"queen's answer: {answer.text[:300]}")
    stream = JobStream(context.stack.queen().url + answer.json()["sse_url"],
                       headers={"Authorization": context.world.probe.sent_authorization}).start()
    stream.wait_ended(scaled(seconds))
    assert_that(stream.terminal, equal_to(marker), f"the job's stream: {stream.summary()}")


@then('a client with {credential} sees hive "{hive}" in queen\'s registry')
def step_reads_registry(context: StepContext, credential, hive):
    answer = probe(context, "GET", f"{context.stack.queen().url}/v1/hives", credential)
    assert_that(answer.status_code, equal_to(200), f"GET /v1/hives: {answer.text[:300]}")
    assert_that([h["hive_id"] for h in answer.json()["hives"]], has_item(hive), "hives queen lists")


@when('a hive "{hive}" posts its heartbeat to queen with {credential}')
def step_fake_heartbeat(context: StepContext, hive, credential):
    probe(context, "POST", f"{context.stack.queen().url}/v1/hive-heartbeat", credential,
          json=synthetic_heartbeat(hive, 1, 0))


@then('queen\'s registry lists only hive "{hive}"')
def step_only_hive(context: StepContext, hive):
    assert_that([h["hive_id"] for h in context.stack.queen().hives()], equal_to([hive]), "hives queen lists")


@when("a client posts a job straight to the job's worker with {credential}")
def step_worker_direct(context: StepContext, credential):
    hive, worker_id = context.stack.job_worker_hive(context.world.jobs.last)
    url = context.stack.worker(hive, worker_id).url
    probe(context, "POST", f"{url}/v1/jobs", credential, json={"prompt": "Hello bee", "max_tokens": 4})


@when('a client asks hive "{hive}" to spawn a worker for "{model}" with {credential}')
def step_hive_direct(context: StepContext, hive, model, credential):
    probe(context, "POST", f"{context.stack.hive(hive).url}/v1/workers", credential, json={"model": model})


@then("the job's worker has run {count:Jobs}")
def step_worker_ran(context: StepContext, count):
    hive, worker_id = context.stack.job_worker_hive(context.world.jobs.last)
    samples = scrape(context.stack.worker(hive, worker_id).url)
    assert_that(samples["rbee_worker_jobs_retained"], equal_to(float(count)), f"jobs {worker_id} has run")


@when("the admin token is replaced by a new one in queen's token file and queen gets SIGHUP")
def step_rotate(context: StepContext):
    context.world.probe.replaced_token = context.stack.security.replace_client_token("admin")
    stream = context.world.jobs.last.stream
    assert_that(stream.terminal, equal_to(None), f"the job still streaming once the tokens rotated: {stream.summary()}")


@then("a job asked for with the new token is accepted at once")
def step_new_token(context: StepContext):
    new = noted(context.world.probe.replaced_token, "replaced token")[1]
    answer = context.stack.queen().post_job(infer_body("tinyllama", max_tokens=4), {"Authorization": f"Bearer {new}"})
    assert_that(answer.status_code, equal_to(201), f"queen's answer to the new token: {answer.text[:300]}")


@then('a job asked for with the replaced token is refused with 401 and reason "{reason}" at once')
def step_old_token(context: StepContext, reason):
    old = noted(context.world.probe.replaced_token, "replaced token")[0]
    answer = context.stack.queen().post_job(infer_body("tinyllama", max_tokens=4), {"Authorization": f"Bearer {old}"})
    assert_that(answer.status_code, equal_to(401), f"queen's answer to the replaced token: {answer.text[:300]}")
    assert_that(answer.json()["error"], has_entries(reason=reason), "the error body")


# --- secrets ------------------------------------------------------------------------

@when('rbee-keeper runs a job for model "{model}" with the submit token from its environment')
def step_keeper_env_token(context: StepContext, model):
    result = context.stack.keeper.run(["infer", "--model", model, "--max-tokens", "4", "--quiet", "Hello bee"])
    assert_that(result.exit_code, equal_to(0), result.describe())


@then("no secret of the scenario or of its refused requests appears in any daemon's log, command line, "
      "worker environment, audit record or error body")
def step_no_leak(context: StepContext):
    stack = context.stack
    places = stack.security.places_secrets_could_leak(audit="audit" in context.suite_config.profile.claims)
    places |= {f"error body #{i}": body for i, body in enumerate(context.world.probe.error_bodies, 1)}
    secrets = noted(stack.credentials, "credentials").secrets() + context.world.probe.refused_secrets
    environments = [place for place in places if place.startswith("the environment of")]
    assert_that(len(environments), greater_than(0), "worker environments looked at")
    assert_that(places_holding(secrets, places), empty(), f"places holding a secret (of {len(places)} looked at)")


# --- validation ---------------------------------------------------------------------

@when("a client asks queen for a job whose {field} is {value}")
def step_job_field(context: StepContext, field, value):
    body = infer_body("tinyllama", max_tokens=8) | {field: value_of(value)}
    probe(context, "POST", f"{context.stack.queen().url}/v1/jobs", json=body)


# the request each kind of refusal is asked with, before the field under test is set: (path, body)
MATRIX_REQUESTS = {
    "job": ("/v1/jobs", lambda: infer_body("tinyllama", max_tokens=8)),
    "spawn": ("/v1/workers", lambda: {"model": "tinyllama"}),
    "provisioning": ("/v1/models/provision",
                     lambda: {"name": "hubllama", "url": "http://127.0.0.1:9/never-fetched", "sha256": "0" * 64}),
}


@then("{node:Node} refuses a {kind} whose {field} is each of these values with 422 naming the field:")
def step_matrix(context: StepContext, node, kind, field):
    path, body = MATRIX_REQUESTS[kind]
    url = f"{context.stack.node_url(node)}{path}"
    seen = []
    for row in noted(context.table, "table"):
        answer = probe(context, "POST", url, json=body() | {field: value_of(row["value"])})
        error = answer.json().get("error", {})
        seen.append((row["value"], answer.status_code, error.get("code"), error.get("field")))
    wanted = [(value, 422, "INVALID_REQUEST", field) for value, _, _, _ in seen]
    assert_that(seen, equal_to(wanted), f"(value, status, code, field) of each {kind} to {node}")


@when('a client asks queen for a job, sending the header {header} "{value}"')
def step_job_header(context: StepContext, header, value):
    body = infer_body("tinyllama", max_tokens=8)
    probe(context, "POST", f"{context.stack.queen().url}/v1/jobs", json=body, headers={header: value})


@when("a client posts to queen's jobs a body that is {kind}")
def step_bad_body(context: StepContext, kind):
    content, headers = request_body(kind)
    probe(context, "POST", f"{context.stack.queen().url}/v1/jobs", content=content, headers=headers)


@then('{who} answers {status:d} with code "{code}" naming the field "{field}"')
def step_code_field(context: StepContext, who, status, code, field):
    answered(context, who, status, code=code, field=field)


@then('{who} answers {status:d} with code "{code}"')
def step_code(context: StepContext, who, status, code):
    answered(context, who, status, code=code)


@then("the error body is safe and carries the request's correlation id")
def step_safe_error(context: StepContext):
    answer = noted(context.world.probe.answer, "answer")
    sent_cid = noted(context.world.probe.sent_cid, "sent_cid")
    assert_that(unsafe_content(answer.text), empty(), f"what the error body carries: "
                f"{answer.text[:300]}")
    assert_that(answer_error(context).get("correlation_id"), equal_to(sent_cid), "the error body's correlation_id")


@then("queen still answers its health check")
def step_still_healthy(context: StepContext):
    assert_that(context.stack.queen().health()["status"], equal_to("ok"), "queen's /health")


@when('I ask hive "{hive}" to provision the model {name}')
def step_provision_bad(context: StepContext, hive, name):
    client = context.stack.hive(hive)
    provisioning = context.world.provisioning
    provisioning.traced_name = str(value_of(name))
    provisioning.traces_before = context.stack.provisioning.traces(hive, provisioning.traced_name)
    probe(context, "POST", f"{client.url}/v1/models/provision",
          json={"name": value_of(name), "url": "http://127.0.0.1:9/never-fetched", "sha256": "0" * 64})


@then('hive "{hive}"\'s model catalog and folders are as they were')
def step_catalog_unchanged(context: StepContext, hive):
    provisioning = context.world.provisioning
    after = context.stack.provisioning.traces(hive, provisioning.traced_name)
    assert_that(after, equal_to(provisioning.traces_before),
                f"hive {hive}'s catalog, download directory and /tmp, after refusing {provisioning.traced_name!r}")


# --- audit --------------------------------------------------------------------------

def audited(context: StepContext, node, action, **fields):
    records = context.stack.security.audit_records(node)
    found = [r for r in records if r["action"] == action and all(r.get(k) == v for k, v in fields.items())]
    actions = [r["action"] for r in records]
    assert_that(len(found), greater_than(0), f"{node}'s audit records of {action} with {fields}; all: {actions}")
    return found


@then('{node:Node}\'s audit trail records "{action}" by "{principal}" with the job\'s correlation id')
def step_audit_by_cid(context: StepContext, node, action, principal):
    audited(context, node, action, principal=principal, correlation_id=context.world.jobs.last.correlation_id,
            outcome="ok")


@then('{node:Node}\'s audit trail records "{action}" by "{principal}"')
def step_audit_by(context: StepContext, node, action, principal):
    audited(context, node, action, principal=principal, outcome="ok")


@then('{node:Node}\'s audit trail records "{action}" refused as "{outcome}" from the client\'s address')
def step_audit_refused(context: StepContext, node, action, outcome):
    found = audited(context, node, action, outcome=outcome)
    harness = noted(context.stack.target, "target").harness_address()
    addresses = [r["client"].rpartition(":")[0] for r in found]
    assert_that(any(a in (harness, "127.0.0.1") for a in addresses), equal_to(True),
                f"the client addresses recorded {addresses}, one of them {harness} or 127.0.0.1")


def verify_audit(context: StepContext, path):
    return subprocess.run([*context.suite_config.keeper_cmd, "audit", "verify", str(path)], capture_output=True,
                          text=True, timeout=scaled(30), check=False)


def copy_audit(context: StepContext, node, with_anchor=False):
    """A copy of the node's trail in the scenario's log folder (and of its anchor beside it, as
    ``<copy>.anchor``, where verify looks for it)."""
    path = context.log_dir / f"{node}-audit-copy.jsonl"
    path.write_bytes(context.stack.security.audit_bytes(node))
    anchor = path.with_name(path.name + ".anchor")
    anchor.unlink(missing_ok=True)
    if with_anchor:
        anchor.write_bytes(context.stack.security.audit_anchor_bytes(node))
    return path


@then('rbee-keeper audit verify passes on the audit trails of queen and hive "{hive}"')
def step_verify_passes(context: StepContext, hive):
    for node in ("queen", hive):
        done = verify_audit(context, copy_audit(context, node, with_anchor=True))
        assert_that((done.returncode, done.stdout), equal_to((0, done.stdout)), f"verify of {node}: {done.stderr}")
        assert_that(done.stdout, contains_string("chain intact, matches its anchor"), f"verify of {node}")


@then("rbee-keeper audit verify with the anchor catches each of these changes to a copy of queen's audit trail:")
def step_tamper_trail(context: StepContext):
    seen = []
    for row in noted(context.table, "table"):
        path = copy_audit(context, "queen", with_anchor=True)
        path.write_bytes(tamper_trail(path.read_bytes(), row["change"]))
        done = verify_audit(context, path)
        seen.append((row["change"], done.returncode, row["found"] in done.stdout, done.stdout.strip()[-90:]))
    wanted = [(change, 1, True, said) for (change, _, _, said) in seen]
    assert_that(seen, equal_to(wanted), "(change, verify's exit code, says what was found, its words)")


def step_verify_says(context: StepContext, code, found):
    done = verify_audit(context, noted(context.world.probe.audit_copy, "audit_copy"))
    assert_that(done.returncode, equal_to(code), f"verify's exit code; it said {done.stdout} {done.stderr}")
    assert_that(done.stdout, contains_string(found), "what verify said")


@when("the last record of {node:Node}'s audit trail is cut away")
def step_cut_real_trail(context: StepContext, node):
    trail = context.stack.security.audit_bytes(node).decode().splitlines(keepends=True)
    assert_that(len(trail), greater_than(1), f"records in {node}'s audit trail")
    context.stack.security.rewrite_audit(node, "".join(trail[:-1]).encode())


@then('{node:Node}\'s audit trail records the break, and rbee-keeper audit verify of it and its anchor says "{found}"')
def step_break_recorded(context: StepContext, node, found):
    actions = [r["action"] for r in context.stack.security.audit_records(node)]
    assert_that(actions, has_item("audit.break"), f"actions in {node}'s audit trail")
    context.world.probe.audit_copy = copy_audit(context, node, with_anchor=True)
    step_verify_says(context, 1, found)


@when("I copy queen's audit trail and {change} record {number:d}")
def step_tamper(context: StepContext, change, number):
    path = copy_audit(context, "queen")
    path.write_bytes(tamper(path.read_bytes(), change, number))
    context.world.probe.audit_copy = path


@then("rbee-keeper audit verify exits with {code:d} naming record {number:d} of the copy")
def step_verify_fails(context: StepContext, code, number):
    audit_copy = noted(context.world.probe.audit_copy, "audit_copy")
    done = verify_audit(context, audit_copy)
    assert_that(done.returncode, equal_to(code), f"verify's exit code; it said {done.stdout} {done.stderr}")
    assert_that(done.stdout, contains_string(f"broken at record {number}:"), "what verify said")


@then('{node:Node}\'s audit trail is in {count:d} or more files, and rbee-keeper audit verify of them all '
      'says "{found}"')
def step_rotated_trail_verifies(context: StepContext, node, count, found):
    chain = context.stack.security.audit_chain(node)
    assert_that(len(chain), greater_than_or_equal_to(count), f"files of {node}'s audit trail: {[n for n, _ in chain]}")
    copy = context.log_dir / f"{node}-trail-copy"
    copy.mkdir(exist_ok=True)
    for name, data in context.stack.security.audit_files(node).items():  # the anchor too
        (copy / name).write_bytes(data)
    done = verify_audit(context, copy / chain[-1][0])
    records = sum(data.count(b"\n") for _, data in chain)
    assert_that((done.returncode, found in done.stdout, f"{records} record(s)" in done.stdout),
                equal_to((0, True, True)), f"verify of {node}'s {len(chain)} files: {done.stdout} {done.stderr}")


@then("{node:Node}'s audit trail holds its shutdown record with records of the restarted daemon after it")
def step_chain_over_restart(context: StepContext, node):
    chain = context.stack.security.audit_chain(node)
    records = [json.loads(line) for _, data in chain for line in data.splitlines() if line.strip()]
    shutdowns = [n for n, r in enumerate(records) if r["action"] == "shutdown"]
    assert_that(shutdowns, has_length(1), f"shutdown records in {node}'s audit trail")
    after = records[shutdowns[0] + 1:]
    assert_that(len(after), greater_than(0), f"records after {node}'s shutdown record")
    assert_that(after[0]["prev"], equal_to(records[shutdowns[0]]["hash"]),
                "the prev of the first record after the restart")
