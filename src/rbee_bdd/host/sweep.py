"""Removing what earlier runs left behind: their containers, networks and processes.

A run owns what it creates through the owner pid in labels and environment. At start,
everything whose owner is no longer alive is removed; ``--all`` removes every run's.
Usage: python -m rbee_bdd.host.sweep [--all]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from docker.errors import APIError, NotFound

from rbee_bdd.core.identity import OWNER_ENV, OWNER_LABEL, RUN_ENV, RUN_LABEL, SCENARIO_ENV, SCENARIO_LABEL, owner_alive
from rbee_bdd.host.cgroupfs import own_slices, remove_tree
from rbee_bdd.host.engine import EngineUnavailable, connect
from rbee_bdd.host.processes import kill_all


@dataclass(frozen=True)
class Mark:
    """How a leftover was marked: by which run, owner pid and scenario."""

    run: str
    owner: str
    scenario: str


Select = Callable[[Mark], bool]


def of_dead_runs(mark: Mark) -> bool:
    return not owner_alive(mark.owner)


def of_every_run(_: Mark) -> bool:
    return True


def of_scenario(scenario_id: str) -> Select:
    return lambda mark: mark.scenario == scenario_id


def of_run(run_id: str) -> Select:
    return lambda mark: mark.run == run_id


def sweep_processes(select: Select) -> list[str]:
    victims: list[psutil.Process] = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            env = proc.environ()
            if RUN_ENV in env and select(Mark(env[RUN_ENV], env.get(OWNER_ENV, ""), env.get(SCENARIO_ENV, ""))):
                victims.append(proc)
    described = []
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            described.append(f"process {proc.pid} ({' '.join(proc.cmdline())[:60]})")
    kill_all(victims, grace=5)
    return described


def _mark(labels: dict[str, str]) -> Mark:
    return Mark(labels.get(RUN_LABEL, ""), labels.get(OWNER_LABEL, ""), labels.get(SCENARIO_LABEL, ""))


def sweep_docker(select: Select) -> list[str]:
    """Remove the containers and networks *select* picks; nothing to do where no engine answers."""
    try:
        client = connect(timeout=30)
    except EngineUnavailable:
        return []
    removed = []
    # ignore_removed: a container that goes between the listing and its inspection (another run's part
    # ending a scenario) is no error; without it, two parts sweeping at once aborted a run
    for container in client.containers.list(all=True, filters={"label": RUN_LABEL}, ignore_removed=True):
        if select(_mark(container.labels)):
            with contextlib.suppress(NotFound, APIError):
                container.remove(force=True)
                removed.append(f"container {container.name}")
    for network in client.networks.list(filters={"label": RUN_LABEL}):
        if select(_mark(network.attrs.get("Labels") or {})):
            with contextlib.suppress(NotFound, APIError):
                network.remove()
                removed.append(f"network {network.name}")
    return removed


def sweep_slices(run_id: str) -> list[str]:
    """The local target's cgroup slices of *run_id* (``rbee-<run>-s<n>-<hive>.slice``), once empty."""
    removed = []
    for path in own_slices(f"rbee-{run_id}-s*.slice"):
        with contextlib.suppress(OSError):
            remove_tree(path)
            removed.append(f"cgroup {path}")
    return removed


def sweep_dirs(run_id: str) -> list[str]:
    """The temporary folders of *run_id*'s scenarios (``rbee-bdd-<run>-s<n>-…``: local work
    folders, Docker nodes' harness folders)."""
    removed = []
    for path in Path(tempfile.gettempdir()).glob(f"rbee-bdd-{run_id}-s*"):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(f"directory {path}")
    return removed


def sweep(select: Select = of_dead_runs) -> list[str]:
    """Remove the leftovers *select* picks (default: those of dead runs); say what was removed."""
    return sweep_docker(select) + sweep_processes(select)


def main() -> int:
    parser = argparse.ArgumentParser(description="Remove what rbee-bdd runs left behind.")
    parser.add_argument("--all", action="store_true", help="also what live runs own")
    removed = sweep(of_every_run if parser.parse_args().all else of_dead_runs)
    for item in removed:
        print(f"rbee-bdd: removed {item}")
    print(f"rbee-bdd: sweep removed {len(removed)} leftover(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
