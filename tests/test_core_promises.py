"""The harness's core promises: cleanups always run, capability tags skip with a reason, the
sweep removes only what it should."""

from __future__ import annotations

import os
import signal

import pytest

from rbee_bdd.core.cleanup import CleanupStack, install_signal_handlers
from rbee_bdd.core.identity import owner_mark
from rbee_bdd.host import capabilities
from rbee_bdd.host.sweep import Mark, of_dead_runs, of_every_run, of_run, of_scenario


def test_cleanups_run_last_in_first_out_and_a_failure_stops_none() -> None:
    ran: list[str] = []
    stack = CleanupStack("scenario")
    stack.push("first", lambda: ran.append("first"))
    stack.push("broken", lambda: 1 / 0)
    stack.push("last", lambda: ran.append("last"))
    errors = stack.run()
    assert ran == ["last", "first"]
    assert errors == ["broken: ZeroDivisionError: division by zero"]
    assert stack.run() == [], "each action runs once"


def test_ctrl_c_during_cleanup_is_raised_only_after_every_action_ran() -> None:
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    install_signal_handlers()
    try:
        ran: list[str] = []
        stack = CleanupStack("scenario")
        stack.push("after the signal", lambda: ran.append("still ran"))
        stack.push("interrupted", lambda: os.kill(os.getpid(), signal.SIGINT))
        with pytest.raises(KeyboardInterrupt, match="interrupted by SIGINT"):
            stack.run()
        assert ran == ["still ran"]
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])


def test_a_capability_tag_skips_with_the_reason_and_an_unknown_one_is_named() -> None:
    assert capabilities.missing(["integration", "p1"], "docker") is None
    reason = capabilities.missing(["needs.node-netns"], "local")
    assert reason is not None and "needs node-netns: the local target runs every node" in reason
    unknown = capabilities.missing(["needs.quantum"], "docker")
    assert unknown is not None and "unknown capability tag @needs.quantum" in unknown


def test_the_gpu_check_says_why() -> None:
    reason = capabilities.gpu_reason()
    assert reason is None or "/dev/nvidia0" in reason


def test_sweep_selectors_pick_only_their_own() -> None:
    alive = owner_mark(os.getpid())
    mine = Mark(run="r1", owner=alive, scenario="r1-s2")
    dead = Mark(run="r0", owner="1:0", scenario="r0-s1")  # pid 1 never started at time 0
    assert not of_dead_runs(mine) and of_dead_runs(dead)
    assert of_run("r1")(mine) and not of_run("r1")(dead)
    assert of_scenario("r1-s2")(mine) and not of_scenario("r1-s1")(mine)
    assert of_every_run(mine) and of_every_run(dead)


def test_counts_read_right_in_the_singular_and_the_plural() -> None:
    import parse

    from rbee_bdd.runner.vocabulary import count_of

    workers = {"Workers": count_of("worker", "workers")}
    assert parse.parse("spawn {n:Workers}", "spawn 1 worker", workers)["n"] == 1
    assert parse.parse("spawn {n:Workers}", "spawn 3 workers", workers)["n"] == 3
    with pytest.raises(ValueError, match="say 1 'worker', not '1 workers'"):
        parse.parse("spawn {n:Workers}", "spawn 1 workers", workers)


def test_the_worlds_jobs_say_what_is_missing() -> None:
    from rbee_bdd.runner.world import Jobs

    jobs = Jobs()
    with pytest.raises(AssertionError, match="no job was submitted in this scenario"):
        _ = jobs.last
    first, second = object(), object()
    jobs.add(first)
    with pytest.raises(AssertionError, match="two jobs needed, 1 submitted"):
        jobs.last_two()
    jobs.add_batch([second])
    assert jobs.last_two() == (first, second) and jobs.batch == [second]
