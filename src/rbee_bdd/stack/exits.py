"""Watching a stack's processes end: when each worker, hive and queen was gone, and how."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psutil

from rbee_bdd.stack.targets.base import Node

POLL_S = 0.02


@dataclass(frozen=True)
class Exit:
    name: str
    kind: str  # worker | hive | queen
    at: float  # time.monotonic() when first seen gone
    code: int | None  # a node's exit code; None for a worker (its hive reports it)


def _pid_gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


@dataclass
class ExitWatch:
    """Polls workers (by host pid) and nodes until each is gone; ``exits`` in the order seen."""

    workers: dict[str, int]
    nodes: dict[str, Node]
    exits: list[Exit] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ExitWatch:
        self._thread = threading.Thread(target=self._poll, name="exit watch", daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        pending_workers = dict(self.workers)
        pending_nodes = dict(self.nodes)
        while (pending_workers or pending_nodes) and not self._stop.is_set():
            now = time.monotonic()
            for name, pid in list(pending_workers.items()):
                if _pid_gone(pid):
                    self.exits.append(Exit(name, "worker", now, None))
                    del pending_workers[name]
            for name, node in list(pending_nodes.items()):
                code = node.exit_code()
                if code is not None:
                    self.exits.append(Exit(name, "queen" if name == "queen" else "hive", now, code))
                    del pending_nodes[name]
            self._stop.wait(POLL_S)

    def wait(self, timeout: float) -> bool:
        """True once every watched process is gone, False if *timeout* passed first."""
        assert self._thread is not None
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        self._stop.set()

    def missing(self) -> list[str]:
        seen = {e.name for e in self.exits}
        return [name for name in [*self.workers, *self.nodes] if name not in seen]
