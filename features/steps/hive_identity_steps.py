"""A credential per hive: who may speak for a hive, and a hive cut off by revoking its credential."""

from behave import then, when
from hamcrest import assert_that, equal_to

from rbee_bdd.core import timeline
from rbee_bdd.runner.world import StepContext, noted

ELSEWHERE = "http://127.0.0.1:9"  # where an impersonator would send the hive's jobs: nothing listens there


def impersonation(hive: str) -> dict[str, object]:
    return {"hive_id": hive, "url": ELSEWHERE, "protocol": "1.1", "workers": []}


@when('a heartbeat for hive "{hive}" pointing elsewhere is posted with the credential of hive "{owner}"')
def step_heartbeat_as_other(context: StepContext, hive, owner):
    token = noted(context.stack.credentials, "credentials").hive_tokens[owner]
    context.world.probe.answer = context.stack.queen().post_heartbeat(impersonation(hive), f"Bearer {token}")


@when('a heartbeat for hive "{hive}" pointing elsewhere is posted with the cluster credential')
def step_heartbeat_with_cluster(context: StepContext, hive):
    context.world.probe.answer = context.stack.queen().post_heartbeat(
        impersonation(hive), f"Bearer {context.stack.cluster_token}")


@when('queen revokes the credential of hive "{hive}"')
def step_revoke(context: StepContext, hive):
    timeline.fault(f"the credential of {hive} taken out of queen's --hive-token-file, SIGHUP to queen")
    context.stack.security.revoke_hive(hive)


@then('a job for model "{model}" pinned to hive "{hive}" completes there')
def step_pinned_job(context: StepContext, model, hive):
    job = context.stack.queen().submit_infer(model, max_tokens=8, hive_id=hive).wait_ended_with("[DONE]", 60)
    context.world.jobs.add(job)
    ran_on, worker_id = context.stack.job_worker_hive(job)
    assert_that(ran_on, equal_to(hive), f"the hive of {worker_id}, the worker the job ran on")
