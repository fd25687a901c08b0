"""Names and labels that tie everything a run creates to that run and scenario."""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass

RUN_LABEL = "rbee.bdd.run"
SCENARIO_LABEL = "rbee.bdd.scenario"
OWNER_LABEL = "rbee.bdd.owner"
RUN_ENV = "RBEE_BDD_RUN"
SCENARIO_ENV = "RBEE_BDD_SCENARIO"
OWNER_ENV = "RBEE_BDD_OWNER"


def slug(text: str, limit: int = 60) -> str:
    """A file- and docker-name-safe form of *text*."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit] or "unnamed"


@dataclass(frozen=True)
class RunIdentity:
    """One behave run: its id and the pid that owns what it creates."""

    run_id: str
    owner_pid: int

    @classmethod
    def new(cls) -> RunIdentity:
        return cls(uuid.uuid4().hex[:8], os.getpid())

    def scenario(self, index: int) -> ScenarioIdentity:
        return ScenarioIdentity(self, f"{self.run_id}-s{index}")


@dataclass(frozen=True)
class ScenarioIdentity:
    run: RunIdentity
    scenario_id: str

    def labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.run.run_id, SCENARIO_LABEL: self.scenario_id,
                OWNER_LABEL: str(self.run.owner_pid)}

    def env(self) -> dict[str, str]:
        return {RUN_ENV: self.run.run_id, SCENARIO_ENV: self.scenario_id, OWNER_ENV: str(self.run.owner_pid)}

    def name(self, node: str) -> str:
        return f"rbee-{self.scenario_id}-{node}"
