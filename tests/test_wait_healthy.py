"""Waiting for a daemon to answer /health: its exit code read at a bounded pace, a death always named."""

from __future__ import annotations

import itertools
import socket
import time

import pytest

from rbee_bdd.stack.targets.base import EXIT_LOOK_S, NodeStartError, wait_healthy


@pytest.fixture()
def refused_url() -> str:
    """A loopback port nothing listens on (bound, then closed): every poll is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_daemon_that_never_answers_has_its_exit_code_read_about_twice_a_second(refused_url: str) -> None:
    looks: list[float] = []

    def exit_code() -> int | None:
        looks.append(time.monotonic())
        return None

    with pytest.raises(NodeStartError, match="to answer /health"):
        wait_healthy(refused_url, "queen", exit_code, lambda: "", timeout=1.6)
    gaps = [b - a for a, b in itertools.pairwise(looks)]
    assert 3 <= len(looks) <= 6, f"expected 3 to 6 looks at the exit code in 1.6 s, saw {len(looks)}"
    assert all(gap >= EXIT_LOOK_S * 0.9 for gap in gaps[:-1]), f"looks closer than {EXIT_LOOK_S} s apart: {gaps}"


def test_a_daemon_dead_from_the_start_is_named_at_once(refused_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(NodeStartError, match="exited during start-up with exit code 3"):
        wait_healthy(refused_url, "hive-1", lambda: 3, lambda: "boom", timeout=5)
    assert time.monotonic() - started < 0.5


def test_a_daemon_that_dies_between_two_looks_is_named_as_dead_not_as_slow(refused_url: str) -> None:
    calls = iter([None, 7])  # alive at the first look, dead at the next
    with pytest.raises(NodeStartError, match="exit code 7"):
        wait_healthy(refused_url, "hive-2", lambda: next(calls, 7), lambda: "", timeout=0.3)
