"""A model hub run by the harness, and hives provisioning models from it."""

from concurrent.futures import ThreadPoolExecutor

from behave import given, then, when
from hamcrest import assert_that, equal_to, has_item, has_length


def provision(context, hive, name):
    hub, path = context.world.hub, context.world.hub_path
    return context.stack.hive(hive).provision(name, hub.url(path), hub.files[path].sha256)


@given('a model hub that serves "{name}" (the bytes of {source}) at {kib:d} KiB/s')
def step_hub_slow(context, name, source, kib):
    context.world.hub = context.stack.start_model_hub(context.cleanup, bytes_per_second=kib * 1024)
    context.world.hub_path = context.world.hub.add(name, context.suite_config.models_dir / f"{source}.gguf")


@given('a model hub that serves "{name}" (the bytes of {source}) and cuts its first download at {pct:d} %')
def step_hub_cut(context, name, source, pct):
    context.world.hub = context.stack.start_model_hub(context.cleanup)
    context.world.hub_path = context.world.hub.add(name, context.suite_config.models_dir / f"{source}.gguf", pct / 100)
    context.world.cut_at = int(len(context.world.hub.files[context.world.hub_path].data) * pct / 100)


@when('{count:d} clients ask hive "{hive}" at once to provision "{name}" from the hub')
def step_provision_many(context, count, hive, name):
    with ThreadPoolExecutor(count) as pool:
        context.world.provisioned = list(pool.map(lambda _: provision(context, hive, name), range(count)))


@when('a client asks hive "{hive}" to provision "{name}" from the hub')
def step_provision_one(context, hive, name):
    context.world.provisioned = [provision(context, hive, name)]


@then('all {count:d} clients get the model "{name}", exactly one of them by downloading it')
def step_all_get(context, count, name):
    answers = [a.json() for a in context.world.provisioned]
    assert_that([a.status_code for a in context.world.provisioned], equal_to([200] * count), f"answers: {answers}")
    assert_that([a["name"] for a in answers], equal_to([name] * count), "models the clients got")
    assert_that([a for a in answers if a["downloaded"]], has_length(1), f"answers that downloaded: {answers}")


@then('the client gets the model "{name}" with the hub\'s sha256')
def step_one_gets(context, name):
    (answer,) = context.world.provisioned
    assert_that(answer.status_code, equal_to(200), f"answer: {answer.text[:300]}")
    hub, path = context.world.hub, context.world.hub_path
    assert_that(answer.json()["sha256"], equal_to(hub.files[path].sha256), "sha256 on the hive")
    context.world.provision_answer = answer.json()


@then('the hub was asked for "{name}" exactly once')
def step_hub_once(context, name):
    requests = context.world.hub.requests_for(context.world.hub_path)
    assert_that(requests, equal_to([""]), f"requests for {name} (Range headers)")


@then('the hub was asked for "{name}" twice, the second time from byte {pct:d} % on')
def step_hub_resumed(context, name, pct):
    ranges = context.world.hub.requests_for(context.world.hub_path)
    assert_that(ranges, equal_to(["", f"bytes={context.world.cut_at}-"]), f"requests for {name} (Range headers)")
    resumed = context.world.provision_answer["resumed_from"]
    assert_that(resumed, equal_to([context.world.cut_at]), "where the hive resumed")


@then('hive "{hive}" lists the model "{name}"')
def step_lists_model(context, hive, name):
    assert_that(context.stack.hive(hive).models()["models"], has_item(name), f"models {hive} lists")
