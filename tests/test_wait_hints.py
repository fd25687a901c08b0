"""A wait that gives up says what the stack looked like, and a hint where a common cause shows."""

from __future__ import annotations

import pytest

from rbee_bdd.core.waiting import EventuallyTimeout, eventually, set_diagnosis
from rbee_bdd.stack.config import PROJECT, SuiteConfig
from rbee_bdd.stack.diagnosis import SLOW_HINT, describe


class GoneNode:
    """A node whose daemon exited, its log ending with a bind failure."""

    url = "http://127.0.0.1:9"

    def exit_code(self) -> int | None:
        return 1

    def log_tail(self, lines: int = 20) -> str:
        return "starting\nERROR: [Errno 98] error while attempting to bind: address already in use\nexit"


class Stack:
    def __init__(self) -> None:
        self.config = SuiteConfig.from_userdata({"target": "local"}, PROJECT)
        self.queen_node = GoneNode()
        self.hive_nodes = {"hive-1": GoneNode()}


def test_a_timeout_names_each_node_its_log_and_the_port_hint() -> None:
    text = describe(Stack())  # type: ignore[arg-type]
    assert "queen: exited with code 1" in text and "hive-1: exited with code 1" in text
    assert "| exit" in text
    assert text.count("hint: a port is in use") == 1  # once, though both nodes say it
    assert SLOW_HINT not in text


def test_the_diagnosis_is_added_to_the_timeout_and_never_hides_it() -> None:
    set_diagnosis(lambda: "the stack: all quiet")
    try:
        expected = r"(?s)waited .* for nothing; last saw: False\nthe stack: all quiet"
        with pytest.raises(EventuallyTimeout, match=expected):
            eventually(lambda: False, 0.05, "nothing")

        def broken() -> str:
            raise RuntimeError("engine gone")

        set_diagnosis(broken)
        with pytest.raises(EventuallyTimeout, match="could not be read: RuntimeError"):
            eventually(lambda: False, 0.05, "nothing")
    finally:
        set_diagnosis(None)
    with pytest.raises(EventuallyTimeout) as raised:
        eventually(lambda: False, 0.05, "nothing")
    assert "\n" not in str(raised.value)
