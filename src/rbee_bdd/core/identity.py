"""Names and labels that tie everything a run creates to that run and scenario."""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass

import psutil

RUN_LABEL = "rbee.bdd.run"
SCENARIO_LABEL = "rbee.bdd.scenario"
OWNER_LABEL = "rbee.bdd.owner"
RUN_ENV = "RBEE_BDD_RUN"
SCENARIO_ENV = "RBEE_BDD_SCENARIO"
OWNER_ENV = "RBEE_BDD_OWNER"
NODE_ENV = "RBEE_BDD_NODE"  # in each local daemon and its workers: the node's name (hive-1, queen)
PART_ENV = "RBEE_BDD_PART"  # in each process of a parallel run: its part's name (part1, …, serial)


def slug(text: str, limit: int = 60) -> str:
    """A file- and docker-name-safe form of *text*."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit] or "unnamed"


def owner_mark(pid: int) -> str:
    """``pid:start-time`` of a live process: stays unique when the pid is reused later."""
    return f"{pid}:{psutil.Process(pid).create_time():.0f}"


def owner_alive(mark: str) -> bool:
    """Whether the process that *mark* names still runs (a zombie does not)."""
    pid, _, started = mark.partition(":")
    try:
        proc = psutil.Process(int(pid))
        return proc.status() != psutil.STATUS_ZOMBIE and f"{proc.create_time():.0f}" == started
    except (ValueError, psutil.Error):
        return False


@dataclass(frozen=True)
class RunIdentity:
    """One behave run: its id and the process that owns what it creates."""

    run_id: str
    owner: str

    @classmethod
    def new(cls) -> RunIdentity:
        return cls(uuid.uuid4().hex[:8], owner_mark(os.getpid()))

    def scenario(self, index: int) -> ScenarioIdentity:
        return ScenarioIdentity(self, f"{self.run_id}-s{index}")


@dataclass(frozen=True)
class ScenarioIdentity:
    run: RunIdentity
    scenario_id: str

    def labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.run.run_id, SCENARIO_LABEL: self.scenario_id, OWNER_LABEL: self.run.owner}

    def env(self) -> dict[str, str]:
        return {RUN_ENV: self.run.run_id, SCENARIO_ENV: self.scenario_id, OWNER_ENV: self.run.owner}

    def name(self, node: str) -> str:
        return f"rbee-{self.scenario_id}-{node}"
