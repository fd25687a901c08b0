"""Network partitions between nodes: iptables rules inside a node's own network namespace.

The rules are applied with the host's iptables through ``nsenter --net``, so node images need
no firewall tools. Each partition registers its heal before the first rule goes in.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Literal

from rbee_bdd.core import timeline
from rbee_bdd.core.cleanup import CleanupStack

Mode = Literal["drop", "reject"]


def _verdict(mode: Mode) -> list[list[str]]:
    if mode == "drop":
        return [["-j", "DROP"]]
    # TCP peers get a reset (connections fail at once); anything else an ICMP port-unreachable
    return [["-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"], ["-j", "REJECT"]]


@dataclass
class Partition:
    """iptables *rules* in the namespace of *netns_pid*, in force until heal()."""

    netns_pid: int
    rules: list[list[str]]
    applied: list[list[str]] = field(default_factory=list)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = ["nsenter", f"--net=/proc/{self.netns_pid}/ns/net", "iptables", "-w", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)

    def _iptables(self, *args: str) -> None:
        done = self._run(*args)
        if done.returncode != 0:
            raise RuntimeError(f"iptables {' '.join(args)} in the netns of pid {self.netns_pid}: "
                               f"exit {done.returncode}: {done.stderr.strip()}")

    def in_force(self) -> bool:
        """Every rule is in the namespace's tables now, as iptables itself says (``-C``)."""
        return bool(self.applied) and all(self._run("-C", *rule).returncode == 0 for rule in self.applied)

    def apply(self) -> None:
        timeline.fault(f"iptables in netns of pid {self.netns_pid}: {self.rules}")
        for rule in self.rules:  # appended in order: a tcp-reset rule before its catch-all
            self._iptables("-A", *rule)
            self.applied.append(rule)

    def heal(self) -> None:
        if self.applied:
            timeline.fault(f"healed: iptables rules removed in netns of pid {self.netns_pid}")
        while self.applied:
            self._iptables("-D", *self.applied.pop())


def _cut(partition_: Partition, what: str, cleanup: CleanupStack) -> Partition:
    cleanup.push(f"heal the partition {what}", partition_.heal)
    partition_.apply()
    return partition_


def partition(netns_pid: int, peer: str, mode: Mode, cleanup: CleanupStack) -> Partition:
    """Cut all traffic between a node's namespace and *peer*; healed by *cleanup* at the latest."""
    rules = [rule for verdict in _verdict(mode)
             for rule in (["INPUT", "-s", peer, *verdict], ["OUTPUT", "-d", peer, *verdict])]
    return _cut(Partition(netns_pid, rules), f"from {peer}", cleanup)


def block_local_port(netns_pid: int, port: int, cleanup: CleanupStack) -> Partition:
    """Drop connections made inside the namespace (over loopback) to *port*; others still get through."""
    rules = [["INPUT", "-i", "lo", "-p", "tcp", "--dport", str(port), "-j", "DROP"]]
    return _cut(Partition(netns_pid, rules), f"of local port {port}", cleanup)
