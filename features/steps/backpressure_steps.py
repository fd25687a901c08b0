"""Slow and stalled readers of job streams, over raw sockets with small receive buffers."""

import json

from behave import then, when
from hamcrest import assert_that, equal_to, less_than

from rbee_bdd.slow_consumers import PacedReader, open_stalled_reader, read_to_end
from rbee_bdd.waiting import holds, scaled


@when('a slow client reads a {tokens:d}-token job for model "{model}" with seed {seed:d}, '
      '{chunk:d} bytes every {pause:d} ms')
def step_slow_client(context, tokens, model, seed, chunk, pause):
    context.memory_before = context.stack.daemon_memory()
    job_id, path = context.stack.queen().create_infer(model, tokens, seed)
    url = context.stack.node("queen").direct_url + path
    context.slow = PacedReader(url, chunk, pause / 1000).start(context.cleanup)
    context.slow_job = (job_id, model, tokens, seed)


@then('the slow client\'s stream ends with "{marker}" within {seconds:Seconds}')
def step_slow_ends(context, marker, seconds):
    context.slow.wait_ended(scaled(seconds))
    context.memory_after = context.stack.daemon_memory()
    assert_that(context.slow.terminal(), equal_to(marker), f"slow client's stream: {context.slow.summary()}")


@then("the slow client's tokens are those of the same job read at full speed")
def step_slow_tokens(context):
    _, model, tokens, seed = context.slow_job
    fast = context.stack.queen().submit_infer(model, max_tokens=tokens, seed=seed)
    fast.wait_ended_with("[DONE]", 60)
    slow = [json.loads(data) for name, data in context.slow.events() if name == "token"]
    assert_that([t["i"] for t in slow], equal_to(list(range(len(slow)))), "token indexes the slow client got")
    assert_that("".join(t["t"] for t in slow), equal_to(fast.stream.text()),
                "slow client's completion vs. the same seed read at full speed")


@then("queen's memory grew by less than {mib:d} MiB while the slow client read")
def step_slow_memory(context, mib):
    grown = (context.memory_after["queen"] - context.memory_before["queen"]) / 2**20
    print(f"queen RSS growth while the slow client read: {grown:.2f} MiB")
    assert_that(grown, less_than(mib), "queen's RSS growth in MiB")


@when('a client opens the stream of a {tokens:d}-token job for model "{model}" and never reads it')
def step_stalled_client(context, tokens, model):
    job_id, path = context.stack.queen().create_infer(model, tokens, seed=5)
    context.stalled_job = job_id
    context.stalled = open_stalled_reader(context.stack.node("queen").direct_url + path, context.cleanup)


@then("queen cancels the stalled client's job within {seconds:Seconds} and closes its connection")
def step_stalled_closed(context, seconds):
    queen = context.stack.queen()

    def cancelled():
        job = queen.job(context.stalled_job)
        assert_that(job["state"], equal_to("cancelled"), f"state of {context.stalled_job} at queen")

    holds(cancelled, seconds, "queen to cancel the stalled client's job")  # the client still reads nothing
    data, how = read_to_end(context.stalled, scaled(5))
    print(f"stalled client: {len(data)} bytes were buffered for it; then its connection was {how}")
