"""A model hub run by the harness, and hives provisioning models from it."""

import hashlib
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from behave import given, then, when
from hamcrest import (
    assert_that,
    close_to,
    contains_string,
    equal_to,
    greater_than_or_equal_to,
    has_item,
    has_length,
    less_than_or_equal_to,
)

from rbee_bdd.core.waiting import holds, scaled
from rbee_bdd.runner.world import StepContext, noted


def provision(context: StepContext, hive, name):
    hub, path = noted(context.world.provisioning.hub, "hub"), context.world.provisioning.hub_path
    return context.stack.hive(hive).provision(name, hub.url(path), hub.files[path].sha256)


@given('a model hub that serves "{name}" (the bytes of {source}) at {kib:d} KiB/s')
def step_hub_slow(context: StepContext, name, source, kib):
    hub = context.stack.provisioning.start_hub(context.cleanup, bytes_per_second=kib * 1024)
    context.world.provisioning.hub = hub
    context.world.provisioning.hub_path = hub.add(name, context.suite_config.models_dir / f"{source}.gguf")


@given('a model hub that serves "{name}" (the bytes of {source}) and cuts its first download at {pct:d} %')
def step_hub_cut(context: StepContext, name, source, pct):
    hub = context.world.provisioning.hub = context.stack.provisioning.start_hub(context.cleanup)
    context.world.provisioning.hub_path = hub.add(name, context.suite_config.models_dir / f"{source}.gguf", pct / 100)
    provisioning = context.world.provisioning
    size = len(noted(provisioning.hub, "hub").files[provisioning.hub_path].data)
    provisioning.cut_at = int(size * pct / 100)


@when('{count:d} clients ask hive "{hive}" at once to provision "{name}" from the hub')
def step_provision_many(context: StepContext, count, hive, name):
    with ThreadPoolExecutor(count) as pool:
        context.world.provisioning.answers = list(pool.map(lambda _: provision(context, hive, name), range(count)))


@when('a client asks hive "{hive}" to provision "{name}" from the hub')
def step_provision_one(context: StepContext, hive, name):
    context.world.provisioning.answers = [provision(context, hive, name)]


@then('all {count:d} clients get the model "{name}", exactly one of them by downloading it')
def step_all_get(context: StepContext, count, name):
    answers = [a.json() for a in context.world.provisioning.answers]
    statuses = [a.status_code for a in context.world.provisioning.answers]
    assert_that(statuses, equal_to([200] * count), f"answers: {answers}")
    assert_that([a["name"] for a in answers], equal_to([name] * count), "models the clients got")
    assert_that([a for a in answers if a["downloaded"]], has_length(1), f"answers that downloaded: {answers}")


@then('the client gets the model "{name}" with the hub\'s sha256')
def step_one_gets(context: StepContext, name):
    (answer,) = context.world.provisioning.answers
    assert_that(answer.status_code, equal_to(200), f"answer: {answer.text[:300]}")
    hub, path = noted(context.world.provisioning.hub, "hub"), context.world.provisioning.hub_path
    assert_that(answer.json()["sha256"], equal_to(hub.files[path].sha256), "sha256 on the hive")
    context.world.provisioning.resumed_from = list(answer.json().get("resumed_from", []))


@then('the hub was asked for "{name}" exactly once')
def step_hub_once(context: StepContext, name):
    hub = noted(context.world.provisioning.hub, "hub")
    requests = hub.requests_for(context.world.provisioning.hub_path)
    assert_that(requests, equal_to([""]), f"requests for {name} (Range headers)")


@then('the hub was asked for "{name}" twice, the second time from byte {pct:d} % on')
def step_hub_resumed(context: StepContext, name, pct):
    hub = noted(context.world.provisioning.hub, "hub")
    ranges = hub.requests_for(context.world.provisioning.hub_path)
    expected = ["", f"bytes={context.world.provisioning.cut_at}-"]
    assert_that(ranges, equal_to(expected), f"requests for {name} (Range headers)")
    resumed = context.world.provisioning.resumed_from
    assert_that(resumed, equal_to([context.world.provisioning.cut_at]), "where the hive resumed")


@then('hive "{hive}" lists the model "{name}"')
def step_lists_model(context: StepContext, hive, name):
    assert_that(context.stack.hive(hive).models()["models"], has_item(name), f"models {hive} lists")


def source_bytes(context: StepContext, source):
    return (context.suite_config.models_dir / f"{source}.gguf").read_bytes()


def hub_serving(context: StepContext, name, data, **options):
    """Serve *data* as *name* on the scenario's hub (started at the first call)."""
    hub = context.world.provisioning.hub
    if hub is None:
        hub = context.world.provisioning.hub = context.stack.provisioning.start_hub(context.cleanup)
    context.world.provisioning.hub_path = hub.add_bytes(name, data, **options)


@given('a model hub that answers {status:d} for "{name}"')
def step_hub_refuses(context: StepContext, name, status):
    if status == 404:  # a hub that runs, without that file
        hub_serving(context, "another-model", b"GGUF")
        context.world.provisioning.hub_path = f"/models/{name}.gguf"
    else:
        hub_serving(context, name, b"", status=status)


@given('a model hub that serves "{name}" (the bytes of {source}) and stalls at {pct:d} %')
def step_hub_stalls(context: StepContext, name, source, pct):
    hub_serving(context, name, source_bytes(context, source), stall_at=pct / 100)


@given('a model hub that serves "{name}" (the bytes of {source}) without announcing its size')
def step_hub_unsized(context: StepContext, name, source):
    hub_serving(context, name, source_bytes(context, source), unsized=True)


@given('a model hub that serves "{name}" as the bytes of {source} with one byte changed')
def step_hub_corrupt(context: StepContext, name, source):
    data = bytearray(source_bytes(context, source))
    data[len(data) // 2] ^= 0xFF
    hub_serving(context, name, bytes(data))


@when('the hub serves the true bytes of {source} as "{name}"')
def step_hub_fixed(context: StepContext, source, name):
    hub_serving(context, name, source_bytes(context, source))


@when('a client asks hive "{hive}" to provision "{name}" from the hub, expecting the sha256 of {source}')
def step_provision_expecting(context: StepContext, hive, name, source):
    hub = noted(context.world.provisioning.hub, "hub")
    expected = hashlib.sha256(source_bytes(context, source)).hexdigest()
    url = hub.url(context.world.provisioning.hub_path)
    context.world.provisioning.answers = [context.stack.hive(hive).provision(name, url, expected)]


@when('a client follows hive "{hive}"\'s provisioning of "{name}" from the hub')
def step_follow_provision(context: StepContext, hive, name):
    hub, path = noted(context.world.provisioning.hub, "hub"), context.world.provisioning.hub_path
    stream = context.stack.hive(hive).follow_provision(name, hub.url(path), hub.files[path].sha256)
    context.cleanup.push("close the provision stream", stream.close)
    context.world.provisioning.stream = stream


@when("the provision stream has reported at least {pct:d} %")
def step_stream_reached(context: StepContext, pct):
    provision_stream = noted(context.world.provisioning.stream, "provision_stream")
    stream = provision_stream

    def reached():
        percents = [e.json()["percent"] or 0 for e in stream.named("progress")]
        assert_that(max(percents, default=0), greater_than_or_equal_to(pct), f"progress so far: {stream.summary()}")

    holds(reached, 30, f"the provisioning to pass {pct} %")
    context.world.provisioning.reached_bytes = stream.named("progress")[-1].json()["bytes"]


@then('the provision stream ends with "{marker}" within {seconds:Seconds}')
def step_stream_ends(context: StepContext, marker, seconds):
    provision_stream = noted(context.world.provisioning.stream, "provision_stream")
    stream = provision_stream
    stream.wait_ended(scaled(seconds))
    assert_that(stream.terminal, equal_to(marker), f"the provision stream: {stream.summary()}")


@then("its progress events report bytes, total and percent, at least every 10 % and at 100 %")
def step_progress_events(context: StepContext):
    hub = noted(context.world.provisioning.hub, "hub")
    provision_stream = noted(context.world.provisioning.stream, "provision_stream")
    progress = [e.json() for e in provision_stream.named("progress")]
    size = len(hub.files[context.world.provisioning.hub_path].data)
    assert_that({p["total"] for p in progress}, equal_to({size}), f"the totals the progress events report: {progress}")
    for event in progress:
        assert_that(event["percent"], close_to(100 * event["bytes"] / size, 0.1), f"percent of {event}")
    steps = [p["percent"] for p in progress]
    gaps = [b - a for a, b in zip([0.0, *steps], steps, strict=False)]
    print(f"progress events at: {steps}")
    assert_that(max(gaps), less_than_or_equal_to(10.0 + 100 * 64 * 1024 / size), "largest gap between reports "
                "(10 % plus at most one read of 64 KiB)")
    assert_that(steps[-1], equal_to(100.0), "the last progress event's percent")


@then('the hive answers {status:d} with code "{code}"')
def step_hive_answers(context: StepContext, status, code):
    (answer,) = context.world.provisioning.answers
    assert_that((answer.status_code, answer.json().get("error", {}).get("code")), equal_to((status, code)),
                f"the hive's answer: {answer.text[:300]}")


@then('the hive\'s answer names {what}')
def step_answer_names(context: StepContext, what):
    hub = noted(context.world.provisioning.hub, "hub")
    (answer,) = context.world.provisioning.answers
    expected = {"the file's size": str(len(hub.files[context.world.provisioning.hub_path].data))}[what]
    assert_that(answer.json()["error"]["message"], contains_string(expected), "the hive's error message")


@then('hive "{hive}" neither lists the model "{name}" nor keeps any file of it')
def step_nothing_installed(context: StepContext, hive, name):
    models = context.stack.hive(hive).models()["models"]
    assert_that(name in models, equal_to(False), f"{name} among the models {hive} lists: {models}")
    kept = [f for f in context.stack.provisioning.downloaded_files(hive) if f.startswith(name)]
    assert_that(kept, equal_to([]), f"files of {name} in {hive}'s download directory")


@then('the hub was asked for "{name}" twice, each time from the start')
def step_hub_twice_fresh(context: StepContext, name):
    hub = noted(context.world.provisioning.hub, "hub")
    assert_that(hub.requests_for(context.world.provisioning.hub_path), equal_to(["", ""]),
                f"requests for {name} (Range headers)")


@then('the hub\'s last request for "{name}" went on from where the crashed hive had got to')
def step_hub_resumed_after_crash(context: StepContext, name):
    hub = noted(context.world.provisioning.hub, "hub")
    ranges = hub.requests_for(context.world.provisioning.hub_path)
    assert_that(len(ranges), greater_than_or_equal_to(2), f"requests for {name}: {ranges}")
    start = int(ranges[-1].removeprefix("bytes=").removesuffix("-") or 0)
    reached = context.world.provisioning.reached_bytes
    assert_that(start, greater_than_or_equal_to(reached), f"where the last request began: {ranges}")
    resumed = context.world.provisioning.resumed_from
    assert_that(resumed, equal_to([start]), "where the hive says it resumed")


@then('hive "{hive}" does not list the model "{name}"')
def step_not_listed(context: StepContext, hive, name):
    models = context.stack.hive(hive).models()["models"]
    assert_that(name in models, equal_to(False), f"{name} among the models {hive} lists: {models}")


@then("the hive's answer does not carry the sha256 of what the hub served")
def step_no_digest(context: StepContext):
    hub = noted(context.world.provisioning.hub, "hub")
    (answer,) = context.world.provisioning.answers
    served = hub.files[context.world.provisioning.hub_path].sha256
    assert_that(served in answer.text, equal_to(False), f"the digest of the served bytes in {answer.text[:300]}")


@then('hive "{hive}" refuses to provision "{name}" from each of these URLs with {status:d} "{code}":')
def step_provision_refused_urls(context: StepContext, hive, name, status, code):
    hub = noted(context.world.provisioning.hub, "hub")
    on_hub = urlsplit(hub.url(context.world.provisioning.hub_path))
    urls = {
        "queen's address": f"{context.stack.queen_url_for_hives()}/metrics",
        "the hub's host under https": on_hub._replace(scheme="https").geturl(),
        "the hub's host with a user name": on_hub._replace(netloc=f"bdd@{on_hub.netloc}").geturl(),
    }
    seen = []
    for row in noted(context.table, "table"):
        answer = context.stack.hive(hive).provision(name, urls[row["where"]], "0" * 64)
        seen.append((row["where"], answer.status_code, answer.json().get("error", {}).get("code")))
    assert_that(seen, equal_to([(where, status, code) for where, _, _ in seen]), "(URL, status, code)")


@then("the hub was asked for nothing")
def step_hub_untouched(context: StepContext):
    hub = noted(context.world.provisioning.hub, "hub")
    assert_that(hub.requests, equal_to([]), "requests the hub received")
