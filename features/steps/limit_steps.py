"""Limits: connections, header and body bounds, held open by a client as an attacker would."""

from behave import then, when
from hamcrest import (
    all_of,
    assert_that,
    equal_to,
    greater_than_or_equal_to,
    has_length,
    less_than_or_equal_to,
    starts_with,
)

from rbee_bdd.clients.half_requests import half_headers, hold, watch
from rbee_bdd.clients.metrics import scrape
from rbee_bdd.clients.security import authorization
from rbee_bdd.core.waiting import eventually, scaled
from rbee_bdd.runner.probe import probe
from rbee_bdd.runner.world import StepContext, noted


@when("a client opens {count:d} connections to queen and sends half a request's headers on each")
def step_hold_headers(context: StepContext, count):
    url = f"{context.stack.queen_direct_url()}/health"
    context.world.probe.held = hold(url, count, half_headers(url), context.cleanup)


@when("a client opens {count:d} connections to queen and never starts their TLS handshake")
def step_hold_handshake(context: StepContext, count):
    url = context.stack.queen_direct_url()
    assert_that(url, starts_with("https://"), "queen's address: the scenario runs over TLS")
    context.world.probe.held = hold(url, count, b"", context.cleanup)  # TCP only: no ClientHello is ever sent


@when("a client opens {count:d} connection to queen and sends a request whose body never comes")
def step_hold_body(context: StepContext, count):
    url = f"{context.stack.queen_direct_url()}/v1/jobs"
    head = (f"POST /v1/jobs HTTP/1.1\r\nHost: queen\r\nAuthorization: Bearer {context.stack.client_token('submit')}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"operation\": ").encode()
    context.world.probe.held = hold(url, count, head, context.cleanup)


@when("a client opens {count:d} connection to queen and sends a request without a credential whose body never "
      "comes")
def step_hold_body_unauthenticated(context: StepContext, count):
    url = f"{context.stack.queen_direct_url()}/v1/jobs"
    head = (b"POST /v1/jobs HTTP/1.1\r\nHost: queen\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n{")
    context.world.probe.held = hold(url, count, head, context.cleanup)


@then('queen answers at least {count:d} of them {status:d} with code "{code}" at once, and serves at most {cap:d}')
def step_refused_at_once(context: StepContext, count, status, code, cap):
    held = noted(context.world.probe.held, "held connections")
    watch(held, scaled(0.5))
    refused = [c for c in held if c.status == status]
    assert_that(len(refused), greater_than_or_equal_to(count), f"connections answered {status}")
    assert_that([c for c in refused if code.encode() not in c.answer], has_length(0),
                f"answers {status} without the code {code}")
    assert_that([c for c in refused if (c.closed_after or 99) > scaled(0.5)], has_length(0),
                "refused connections closed later than at once")
    assert_that(len(held) - len(refused), less_than_or_equal_to(cap), "connections queen kept open")
    context.world.probe.held = [c for c in held if c.status is None]
    context.world.probe.held_refused = len(refused)


@then("queen closes the other connections without an answer "
      "between {low:g} and {high:g} seconds after they were opened")
def step_closed_between(context: StepContext, low, high):
    held = noted(context.world.probe.held, "held connections")
    assert_that(len(held), greater_than_or_equal_to(1), "connections queen kept open")
    watch(held, scaled(high) + 1)
    seen = sorted((round(c.closed_after, 2) if c.closed_after is not None else None, c.answer[:40]) for c in held)
    outside = [c for c in held if c.closed_after is None or not low <= c.closed_after <= scaled(high) or c.answer]
    assert_that(outside, has_length(0), f"connections closed outside [{low}, {high}] s or answered: {seen}")


@then('queen answers {status:d} with code "{code}" between {low:g} and {high:g} seconds after the request began')
def step_answered_between(context: StepContext, status, code, low, high):
    held = noted(context.world.probe.held, "held connections")
    watch(held, scaled(high) + 1)
    seen = [(c.status, round(c.answered_after, 2) if c.answered_after is not None else None) for c in held]
    assert_that([status for status, _ in seen], equal_to([status] * len(held)),
                f"each connection's (status, seconds to the answer): {seen}")
    assert_that([c for c in held if code.encode() not in c.answer], has_length(0), f"answers without {code}")
    answered = [c.answered_after for c in held if c.answered_after is not None]
    assert_that(min(answered), greater_than_or_equal_to(low), "seconds until queen answered, at least")
    assert_that(max(answered), less_than_or_equal_to(scaled(high)), "seconds until queen answered, at most")


@then("queen's metrics count each refused connection and each header timeout")
def step_limits_counted(context: StepContext):
    before = context.world.observed.metrics_before["queen"]
    now = scrape(context.stack.queen().url)
    moved = {name: now[name] - before.get(name, 0.0)
             for name in ("rbee_connections_refused_total", "rbee_header_timeouts_total")}
    held = noted(context.world.probe.held, "held connections")
    refused = float(context.world.probe.held_refused)
    assert_that(moved["rbee_connections_refused_total"], greater_than_or_equal_to(refused),
                f"refused connections queen counted, {moved}")
    assert_that(moved["rbee_header_timeouts_total"], greater_than_or_equal_to(float(len(held))),
                f"header timeouts queen counted, {moved}")


@when("a client sends queen {count:Requests} with {credential}")
def step_many_with(context: StepContext, count, credential):
    statuses = [probe(context, "GET", f"{context.stack.queen().url}/v1/hives", credential).status_code
                for _ in range(count)]
    assert_that(statuses, equal_to([401] * count), f"queen's answers to {count} requests with {credential}")


@then("queen answers a request with {credential} {status:d} with code \"{code}\" and a Retry-After of {low:d} "
      "to {high:d} seconds")
def step_throttled(context: StepContext, credential, status, code, low, high):
    answer = probe(context, "GET", f"{context.stack.queen().url}/v1/hives", credential)
    assert_that((answer.status_code, answer.json()["error"]["code"]), equal_to((status, code)),
                f"queen's answer: {answer.text[:200]}")
    wait = int(answer.headers.get("Retry-After", "0"))
    assert_that(wait, all_of(greater_than_or_equal_to(low), less_than_or_equal_to(high)), "Retry-After seconds")


@then("queen answers a request with {credential} 200")
def step_heard(context: StepContext, credential):
    answer = probe(context, "GET", f"{context.stack.queen().url}/v1/hives", credential)
    assert_that(answer.status_code, equal_to(200), f"queen's answer with {credential}: {answer.text[:200]}")


@when('{count:d} jobs for model "{model}" with {max_tokens:d} max tokens are submitted with {credential}')
def step_jobs_as(context: StepContext, count, model, max_tokens, credential):
    sent = authorization(credential, noted(context.stack.credentials, "credentials"))
    for _ in range(count):
        context.world.jobs.add(context.stack.queen().submit_infer(model, max_tokens=max_tokens,
                                                                  headers={"Authorization": sent}))


@when("{count:d} clients read queen's UI stream")
def step_ui_readers(context: StepContext, count):
    for _ in range(count):
        context.stack.telemetry.watch_heartbeats(context.cleanup)
    eventually(lambda: context.stack.queen().ui_subscribers() == count, 10, f"queen to count {count} UI readers")


@when("one more client asks for queen's UI stream")
def step_one_more_ui_reader(context: StepContext):
    probe(context, "GET", f"{context.stack.queen().url}/v1/heartbeats/stream", headers={"Accept": "text/event-stream"})
