"""What every facet of a Stack holds: the stack it works on, seen through what facets need of it."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from rbee_bdd.clients.api import HiveClient, QueenClient
from rbee_bdd.clients.credentials import ScenarioCredentials
from rbee_bdd.stack.config import SuiteConfig
from rbee_bdd.stack.targets.base import Node, ProcessRow, Target


class ProcessView(Protocol):
    """What facets read of the stack's process tables (``stack.processes``)."""

    def worker(self, hive: str, worker_id: str) -> ProcessRow: ...

    def environ(self, pid: int) -> dict[str, str]: ...

class StackView(Protocol):
    """The part of a Stack its facets use (the Stack has it; facets never import the Stack)."""

    config: SuiteConfig
    target: Target | None
    credentials: ScenarioCredentials | None
    hive_nodes: dict[str, Node]
    ca_file: Path | None  # over TLS: the scenario's CA certificate on the host

    @property
    def processes(self) -> ProcessView: ...

    def node(self, name: str) -> Node: ...

    def daemon_nodes(self) -> list[tuple[str, Node]]: ...

    def queen(self) -> QueenClient: ...

    def hive(self, name: str = "hive-1") -> HiveClient: ...

    def client_token(self, scope: str = "admin") -> str: ...


class Facet:
    """One job of a Stack, done on its nodes."""

    def __init__(self, stack: StackView) -> None:
        self.stack = stack

    @property
    def target(self) -> Target:
        assert self.stack.target is not None, "the stack has no target"
        return self.stack.target
