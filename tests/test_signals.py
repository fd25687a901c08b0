"""Signals the harness sends return only once their effect can be seen (the cascading-shutdown
flake: the check after SIGTERM ran before queen had taken the signal in)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rbee_bdd.host.engine import diagnose
from rbee_bdd.host.signals import process_state, signal_process
from rbee_bdd.stack.facets.faults import StackFaults
from rbee_bdd.stack.stack import Stack


class SlowToDrain(BaseHTTPRequestHandler):
    """A queen that takes the SIGTERM in only at its 4th /health answer."""

    answers = 0

    def do_GET(self) -> None:
        SlowToDrain.answers += 1
        state = "draining" if SlowToDrain.answers >= 4 else "serving"
        body = f'{{"status": "ok", "state": "{state}"}}'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


class QueenNode:
    def __init__(self, url: str) -> None:
        self.url = url
        self.direct_url = url
        self.signals: list[int] = []

    def kill(self, sig: int) -> None:
        self.signals.append(sig)

    def exit_code(self) -> int | None:
        return None


def test_sigterm_to_queen_returns_only_once_queen_shows_it_is_draining() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowToDrain)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        stack = Stack.__new__(Stack)  # the method under test needs only the queen node
        node = QueenNode(f"http://127.0.0.1:{server.server_address[1]}")
        stack.queen_node = node  # type: ignore[assignment]
        stack.credentials = None
        StackFaults(stack).terminate("queen")
        assert node.signals == [signal.SIGTERM]
        assert SlowToDrain.answers >= 4, "it returned before queen said it was draining"
    finally:
        server.shutdown()


def test_sigkill_and_sigstop_return_once_the_kernel_shows_them() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        signal_process(child.pid, signal.SIGSTOP, "a sleeper")
        assert process_state(child.pid) in ("T", "t")
        signal_process(child.pid, signal.SIGKILL, "a sleeper")
        assert process_state(child.pid) in ("Z", "gone")
    finally:
        child.kill()
        child.wait()


def test_engine_errors_are_told_apart() -> None:
    prefix = "Error while fetching server API version: ('Connection aborted.', "  # docker-py's own words
    refused = prefix + "PermissionError(13, 'Permission denied'))"
    missing = prefix + "FileNotFoundError(2, 'No such file or directory'))"
    assert diagnose(refused).startswith("permission denied on the Docker engine at ")
    assert " is not running " in diagnose(missing)
