"""A stack's real processes, cgroups and environments, read by the host from the kernel."""

from __future__ import annotations

from pathlib import Path

from rbee_bdd.core.waiting import eventually
from rbee_bdd.host.cgroupfs import cgroup_limits, worker_cgroups
from rbee_bdd.host.signals import process_state
from rbee_bdd.stack.facets.base import Facet
from rbee_bdd.stack.targets.base import ProcessRow


class StackProcesses(Facet):
    """The nodes' process tables, their workers' cgroups, and what a worker leaves behind."""

    def workers(self, hive: str = "hive-1") -> list[ProcessRow]:
        """The hive node's worker processes, from its real process table."""
        return [row for row in self.stack.hive_nodes[hive].processes() if row.worker_id]

    def worker(self, hive: str, worker_id: str) -> ProcessRow:
        """The worker's row in its hive node's process table; AssertionError when it has none."""
        rows = [row for row in self.workers(hive) if row.worker_id == worker_id]
        assert rows, f"no process of {worker_id} in {hive}'s process table: {self.workers(hive)}"
        return rows[0]

    def worker_cgroups(self, hive: str = "hive-1") -> list[str]:
        """The worker cgroups under the hive's slice, read by the host from the kernel (instance names)."""
        daemons = [row for row in self.stack.hive_nodes[hive].processes() if not row.worker_id]
        assert daemons, f"{hive} runs no process"
        return [path.name for path in worker_cgroups(daemons[0].pid, self.target.hive_slice(hive))]

    def worker_cgroup_limits(self, hive: str, worker_id: str) -> dict[str, int | None]:
        """The CPU and memory limits of the worker's cgroup, read by the host from the kernel."""
        eventually(lambda: any(r.worker_id == worker_id for r in self.workers(hive)), 10,
                   f"{worker_id} in {hive}'s process table")
        return cgroup_limits(self.worker(hive, worker_id).pid)

    def worker_leftovers(self, hive: str, worker_id: str) -> dict[str, list[str]]:
        """What is left of a worker that ended: its processes, cgroups, and listings at hive and queen."""
        return {
            "processes": [str(r.pid) for r in self.workers(hive) if r.worker_id == worker_id],
            "cgroups": [name for name in self.worker_cgroups(hive) if name == worker_id],
            "listed by the hive": [w["worker_id"] for w in self.stack.hive(hive).workers()
                                   if w["worker_id"] == worker_id],
            "listed by queen": [w["worker_id"] for w in self.stack.queen().workers() if w["worker_id"] == worker_id],
        }

    def zombies(self, hive: str = "hive-1") -> list[ProcessRow]:
        """The processes of the hive's node in state Z (ended, not reaped by their parent), by /proc."""
        return [row for row in self.stack.hive_nodes[hive].processes() if process_state(row.pid) == "Z"]

    @staticmethod
    def environ(pid: int) -> dict[str, str]:
        """A process's environment as the kernel holds it (host pid; root reads any)."""
        raw = Path(f"/proc/{pid}/environ").read_bytes()
        pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
        return {key: value for key, _, value in pairs}
