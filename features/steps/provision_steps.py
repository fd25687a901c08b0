"""A model hub run by the harness, and hives provisioning models from it."""

from concurrent.futures import ThreadPoolExecutor

from behave import given, then, when
from hamcrest import assert_that, equal_to, has_item, has_length


def provision(context, hive, name):
    hub, path = context.hub, context.hub_path
    return context.stack.hive(hive).provision(name, hub.url(path), hub.files[path].sha256)


@given('a model hub that serves "{name}" (the bytes of {source}) at {kib:d} KiB/s')
def step_hub_slow(context, name, source, kib):
    context.hub = context.stack.start_model_hub(context.cleanup, bytes_per_second=kib * 1024)
    context.hub_path = context.hub.add(name, context.suite_config.models_dir / f"{source}.gguf")


@given('a model hub that serves "{name}" (the bytes of {source}) and cuts its first download at {pct:d} %')
def step_hub_cut(context, name, source, pct):
    context.hub = context.stack.start_model_hub(context.cleanup)
    context.hub_path = context.hub.add(name, context.suite_config.models_dir / f"{source}.gguf", pct / 100)
    context.cut_at = int(len(context.hub.files[context.hub_path].data) * pct / 100)


@when('{count:d} clients ask hive "{hive}" at once to provision "{name}" from the hub')
def step_provision_many(context, count, hive, name):
    with ThreadPoolExecutor(count) as pool:
        context.provisioned = list(pool.map(lambda _: provision(context, hive, name), range(count)))


@when('a client asks hive "{hive}" to provision "{name}" from the hub')
def step_provision_one(context, hive, name):
    context.provisioned = [provision(context, hive, name)]


@then('all {count:d} clients get the model "{name}", exactly one of them by downloading it')
def step_all_get(context, count, name):
    answers = [a.json() for a in context.provisioned]
    assert_that([a.status_code for a in context.provisioned], equal_to([200] * count), f"answers: {answers}")
    assert_that([a["name"] for a in answers], equal_to([name] * count), "models the clients got")
    assert_that([a for a in answers if a["downloaded"]], has_length(1), f"answers that downloaded: {answers}")


@then('the client gets the model "{name}" with the hub\'s sha256')
def step_one_gets(context, name):
    (answer,) = context.provisioned
    assert_that(answer.status_code, equal_to(200), f"answer: {answer.text[:300]}")
    assert_that(answer.json()["sha256"], equal_to(context.hub.files[context.hub_path].sha256), "sha256 on the hive")
    context.provision_answer = answer.json()


@then('the hub was asked for "{name}" exactly once')
def step_hub_once(context, name):
    assert_that(context.hub.requests_for(context.hub_path), equal_to([""]), f"requests for {name} (Range headers)")


@then('the hub was asked for "{name}" twice, the second time from byte {pct:d} % on')
def step_hub_resumed(context, name, pct):
    ranges = context.hub.requests_for(context.hub_path)
    assert_that(ranges, equal_to(["", f"bytes={context.cut_at}-"]), f"requests for {name} (Range headers)")
    assert_that(context.provision_answer["resumed_from"], equal_to([context.cut_at]), "where the hive resumed")


@then('hive "{hive}" lists the model "{name}"')
def step_lists_model(context, hive, name):
    assert_that(context.stack.hive(hive).models()["models"], has_item(name), f"models {hive} lists")
