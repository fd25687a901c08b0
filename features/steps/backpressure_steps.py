"""Slow and stalled readers of job streams, over raw sockets with small receive buffers."""

import json

from behave import then, when
from hamcrest import assert_that, equal_to, greater_than, less_than

from rbee_bdd.clients.slow_consumers import PacedReader, open_stalled_reader, read_to_end
from rbee_bdd.core.waiting import holds, scaled
from rbee_bdd.runner.world import SlowRead, StepContext, noted


@when('a slow client reads a {tokens:d}-token job for model "{model}" with seed {seed:d}, '
      '{chunk:d} bytes every {pause:d} ms')
def step_slow_client(context: StepContext, tokens, model, seed, chunk, pause):
    context.world.observed.memory_before = context.stack.telemetry.daemon_memory()
    job_id, path = context.stack.queen().create_infer(model, tokens, seed)
    url = context.stack.node("queen").direct_url + path
    reader = PacedReader(url, chunk, pause / 1000).start(context.cleanup)
    context.world.observed.slow = SlowRead(job_id, model, tokens, seed, reader)


@when('a slow client reads a {tokens:d}-token job for model "{model}" with seed {seed:d}, '
      '{chunk:d} bytes every {pause:d} ms, beside a full-speed reader of a job with the same seed')
def step_slow_and_fast(context: StepContext, tokens, model, seed, chunk, pause):
    step_slow_client(context, tokens, model, seed, chunk, pause)
    context.world.jobs.add(context.stack.queen().submit_infer(model, max_tokens=tokens, seed=seed))


@then("the slow client received more than {kib:d} KiB, more than the buffers between it and queen hold")
def step_slow_bytes(context: StepContext, kib):
    received = len(noted(context.world.observed.slow, "slow").reader.raw)
    print(f"the slow client received {received / 1024:.1f} KiB")
    assert_that(received, greater_than(kib * 1024), "bytes the slow client received")


@then("the slow client's tokens are those of the full-speed reader, byte for byte")
def step_slow_vs_fast(context: StepContext):
    fast = context.world.jobs.last.wait_ended_with("[DONE]", 240)
    reader = noted(context.world.observed.slow, "slow").reader
    slow = [json.loads(data) for name, data in reader.events() if name == "token"]
    assert_that([t["i"] for t in slow], equal_to(list(range(len(slow)))), "token indexes the slow client got")
    assert_that(len(slow), equal_to(len(fast.stream.tokens())), "tokens the slow client got (the model may end early)")
    assert_that("".join(t["t"] for t in slow).encode(), equal_to(fast.stream.text().encode()),
                "slow client's completion vs. the same seed read at full speed")


@then('the slow client\'s stream ends with "{marker}" within {seconds:Seconds}')
def step_slow_ends(context: StepContext, marker, seconds):
    reader = noted(context.world.observed.slow, "slow").reader
    reader.wait_ended(scaled(seconds))
    context.world.observed.memory_after = context.stack.telemetry.daemon_memory()
    assert_that(reader.terminal(), equal_to(marker), f"slow client's stream: {reader.summary()}")


@then("the slow client's tokens are those of the same job read at full speed")
def step_slow_tokens(context: StepContext):
    read = noted(context.world.observed.slow, "slow")
    fast = context.stack.queen().submit_infer(read.model, max_tokens=read.tokens, seed=read.seed)
    fast.wait_ended_with("[DONE]", 60)
    slow = [json.loads(data) for name, data in read.reader.events() if name == "token"]
    assert_that([t["i"] for t in slow], equal_to(list(range(len(slow)))), "token indexes the slow client got")
    assert_that("".join(t["t"] for t in slow), equal_to(fast.stream.text()),
                "slow client's completion vs. the same seed read at full speed")


@then("queen's memory grew by less than {mib:d} MiB while the slow client read")
def step_slow_memory(context: StepContext, mib):
    grown = (context.world.observed.memory_after["queen"] - context.world.observed.memory_before["queen"]) / 2**20
    print(f"queen RSS growth while the slow client read: {grown:.2f} MiB")
    assert_that(grown, less_than(mib), "queen's RSS growth in MiB")


@when('a client opens the stream of a {tokens:d}-token job for model "{model}" and never reads it')
def step_stalled_client(context: StepContext, tokens, model):
    job_id, path = context.stack.queen().create_infer(model, tokens, seed=5)
    context.world.observed.stalled_job = job_id
    url = context.stack.node("queen").direct_url + path
    context.world.observed.stalled_reader = open_stalled_reader(url, context.cleanup)


@then("queen cancels the stalled client's job within {seconds:Seconds} and closes its connection")
def step_stalled_closed(context: StepContext, seconds):
    stalled_reader = noted(context.world.observed.stalled_reader, "stalled_reader")
    queen = context.stack.queen()

    def cancelled():
        job = queen.job(context.world.observed.stalled_job)
        assert_that(job["state"], equal_to("cancelled"), f"state of {context.world.observed.stalled_job} at queen")

    holds(cancelled, seconds, "queen to cancel the stalled client's job")  # the client still reads nothing
    data, how = read_to_end(stalled_reader, scaled(5))
    print(f"stalled client: {len(data)} bytes were buffered for it; then its connection was {how}")
