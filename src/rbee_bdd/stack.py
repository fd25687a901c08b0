"""One scenario's rbee stack: queen and hives on the chosen target, and ways to reach them."""

from __future__ import annotations

from pathlib import Path

from rbee_bdd.cleanup import CleanupStack
from rbee_bdd.clients import HiveClient, QueenClient
from rbee_bdd.config import SuiteConfig
from rbee_bdd.identity import ScenarioIdentity
from rbee_bdd.keeper import KeeperResult, run_keeper
from rbee_bdd.targets.base import HiveSpec, Node, ProcessRow, Target
from rbee_bdd.waiting import eventually


def make_target(config: SuiteConfig, identity: ScenarioIdentity, log_dir: Path) -> Target:
    if config.target == "docker":
        from rbee_bdd.targets.docker import DockerTarget

        return DockerTarget(config, identity, log_dir)
    from rbee_bdd.targets.local import LocalTarget

    return LocalTarget(config, identity, log_dir)


class Stack:
    """Queen plus N hives; torn down by the scenario's cleanup, whatever happens."""

    def __init__(self, config: SuiteConfig, identity: ScenarioIdentity, log_dir: Path,
                 cleanup: CleanupStack) -> None:
        self.config = config
        self.target: Target | None = None
        self.queen_node: Node | None = None
        self.hive_nodes: dict[str, Node] = {}
        cleanup.push("tear down the stack", self.teardown)
        self.target = make_target(config, identity, log_dir)

    def start(self, hives: int) -> None:
        """Start queen, then the hives, and wait until queen has heard from each."""
        assert self.target is not None
        self.queen_node = self.target.start_queen()
        queen_url = self.target.queen_url_for_hives()
        for index in range(1, hives + 1):
            name = f"hive-{index}"
            self.hive_nodes[name] = self.target.start_hive(HiveSpec(name, queen_url, self.config.heartbeat_interval))
        expected = set(self.hive_nodes)
        eventually(lambda: expected <= {h["hive_id"] for h in self.queen().hives() if h["available"]},
                   10, f"queen to list hives {sorted(expected)}")

    def queen(self) -> QueenClient:
        assert self.queen_node is not None, "the stack has not been started"
        return QueenClient(self.queen_node.url)

    def hive(self, name: str = "hive-1") -> HiveClient:
        return HiveClient(self.hive_nodes[name].url)

    def worker_processes(self, hive: str = "hive-1") -> list[ProcessRow]:
        """The hive node's worker processes, from its real process table."""
        return [row for row in self.hive_nodes[hive].processes() if row.worker_id]

    def keeper(self, args: list[str], timeout: float = 60.0) -> KeeperResult:
        return run_keeper(self.config.keeper_cmd, self.queen().url, args, timeout)

    def teardown(self) -> None:
        if self.target is not None:
            self.target.teardown()

    def leftovers(self) -> list[str]:
        return self.target.leftovers() if self.target is not None else []
